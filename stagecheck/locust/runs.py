"""The runs a local or master process owns: each starts at Locust's ``test_start`` (a run folder,
a :class:`RunController`, its greenlets) and ends at ``test_stop`` or at the process's shutdown
with its summary, its exit code and its console table. Never before the summary is written."""

from __future__ import annotations

import gevent
import gevent.event
from locust.runners import MasterRunner, WorkerRunner

import logging
import os
import time
from pathlib import Path
from typing import Any

from stagecheck.endpoint.resources import ResourceSampler, resolve_metrics_url
from stagecheck.errors import EXIT_RUN_FAILED
from stagecheck.exporter.server import MetricsExporter
from stagecheck.locust.console import LogFile
from stagecheck.locust.distributed import FINAL_WAIT_EXTRA_S, MasterSide
from stagecheck.locust.lifecycle import LoopProbe, RunLoop, Signals, cycle, main_greenlet, pause
from stagecheck.locust.options import RunOptions
from stagecheck.locust.processes import reap_forked_workers
from stagecheck.run import RunController
from stagecheck.run.lifecycle import CurrentRun, end_of_run, freeze_heap
from stagecheck.runfolder.layout import new_run_dir

__all__ = ["Runs"]

log = logging.getLogger("stagecheck")

REAP_GRACE_S = 5.0  # forked workers still alive this long after the master's end are ended


class Runs:
    """The local or master process's runs, one after another (a web UI starts several)."""

    def __init__(
        self,
        run: CurrentRun,
        master: MasterSide,
        signals: Signals,
        probe: LoopProbe,
        exporter: MetricsExporter,
    ) -> None:
        self._run = run
        self._master = master
        self._signals = signals
        self._probe = probe
        self._exporter = exporter
        self._loop = RunLoop()
        self.options = RunOptions()
        self.done = gevent.event.Event()  # set when a run has ended (summary written)
        self._runs = 0
        self._finisher: gevent.Greenlet | None = None

    def start(self, environment: Any, log_file: LogFile | None) -> None:
        """``test_start``: a new run folder and controller, and the run's greenlets."""
        session, prepared = self._run.session, self._run.prepared
        if session is None or prepared is None:
            return
        self._runs += 1
        run_dir = self._run_dir(prepared.loaded.scenario.name)
        freeze_heap()
        self._run.stop.begin_run()
        session.workers_schedule_end = None
        self.done.clear()
        controller = self._run.controller = RunController(
            prepared, session.plan, run_dir, started=time.time(), pause=pause, defer_rows=True,
            reports=_write_reports,
        )  # fmt: skip
        # In ~1 ms slices while the run goes: a large dataset's takes seconds, which neither
        # the first request nor the master's heartbeats should wait for. A master whose
        # workers it forked (--processes) shares the rows' pages with them: reading every row
        # (refcounts) would copy them all (~110 MB PSS with 1 M rows), so it writes them at
        # the end, once the workers have quit.
        runner = environment.runner
        is_master = isinstance(runner, MasterRunner)
        if not (is_master and getattr(environment.parsed_options, "processes", None)):
            self._loop.write_rows(controller)
        controller.distributed = is_master
        self._master.begin_run(runner)
        if not is_master:
            session.start_feeding(pause=cycle)
            self._probe.start(session)
        if session.stage_index >= 0:  # the shape's first tick comes before test_start
            controller.begin_stage(session.stage_index)
        ep = prepared.loaded.scenario.endpoint
        if ep.metrics_url:
            controller.resources = ResourceSampler(resolve_metrics_url(ep.url, ep.metrics_url))
        self._loop.start(runner, self._run, self._master, log_file, controller.resources)
        log.info("run folder %s", run_dir)

    def _run_dir(self, scenario_name: str) -> Path:
        opts = self.options
        if opts.run_dir is not None and self._runs == 1:
            return opts.run_dir
        return new_run_dir(opts.runs_root, scenario_name)

    def on_test_stop(self, environment: Any) -> None:
        runner = environment.runner
        controller = self._run.controller
        if controller is not None and not controller.finished and self._finisher is None:
            # Locust's quit path can kill the greenlet this listener runs in (the heartbeat
            # checker's, when the last worker is lost) while it waits for workers' results: the
            # run ends in a greenlet of its own, which the quitting listener waits for.
            self._finisher = gevent.spawn(self._end_run, environment, controller)
        current = gevent.getcurrent()
        if self._finisher is not None and current in (main_greenlet(), runner.shape_greenlet):
            # Hold Locust's quit (which would stop receiving the workers' last results) until
            # the run has ended. Not in the greenlet that receives messages or heartbeats (a
            # stop because workers quit or were lost): it must go on; quitting waits instead.
            self._finisher.join()

    def _end_run(self, environment: Any, controller: RunController) -> None:
        try:
            if isinstance(environment.runner, MasterRunner):
                self._master.collect_finals(environment, controller)
                self._master.release_workers(environment.runner)
            self._finish_run(environment, controller)
        except Exception:
            log.exception("stagecheck: the run could not be ended cleanly")
            environment.process_exit_code = EXIT_RUN_FAILED
        finally:
            self._finisher = None
            self._signals.signalled = False  # an idle UI (--keep-web) quits on the next signal
            self.done.set()

    def _finish_run(self, environment: Any, controller: RunController) -> None:
        self._loop.join()
        environment.process_exit_code = end_of_run(controller, self._run.session, self._run.stop)
        if self.options.pushgateway:
            problem = self._exporter.push(
                self.options.pushgateway,
                {"scenario": controller.live().scenario, "run_id": controller.run_id},
            )
            if problem:
                log.error(problem)
            else:
                log.info("metrics pushed to the pushgateway")

    def on_quitting(self, environment: Any, **_: Any) -> None:
        """The process is about to exit: never before the run's summary is written."""
        controller = self._run.controller
        if controller is None or isinstance(environment.runner, WorkerRunner):
            return
        if not controller.finished and self._finisher is None and not self._run.stop.stopping:
            # Locust's SIGTERM shutdown quits before it stops the users: stop them first, so
            # that their requests in flight are recorded before the run ends.
            self._stop_users(environment)
        finisher = self._finisher
        if finisher is not None:
            finisher.join(timeout=(environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S + 30)
        if not controller.finished:
            self._end_run(environment, controller)  # stopped before Locust's test_stop fired
        _move_locust_stats(environment.parsed_options, controller)

    def _stop_users(self, environment: Any) -> None:
        """Stop the users the way the plan's end does: the shape stops the runner at its next
        tick (within a second). Locust's main greenlet may be waiting for the shape (an
        ``--autostart`` run) and stops the runner when the shape ends: a runner.stop() of ours
        beside it would stop every user twice (Locust: "Tried to stop User in an unexpected
        state: stopping", one traceback per user)."""
        runner, session = environment.runner, self._run.session
        shape = runner.shape_greenlet
        if session is not None and shape is not None and not shape.dead:
            session.finished = True
            shape.join(timeout=(environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S)
        if not self._run.stop.stopping:  # no shape, or it did not stop in time
            runner.stop()

    def on_quit(self, exit_code: int, **_: Any) -> None:
        controller = self._run.controller
        self._exporter.stop()
        if controller is not None and controller.distributed:
            reap_forked_workers(REAP_GRACE_S)  # they have been told to quit by now
        if controller is None or controller.summary is None:
            return
        from stagecheck.reporting import render_console

        print(render_console(controller.summary), flush=True)
        print(f"Run folder: {controller.run_dir}", flush=True)
        if controller.summary_dir != controller.run_dir:
            where = controller.summary_dir or "nowhere: the summary above is all there is"
            print(f"Summary and reports (the run folder could not be written): {where}",
                  flush=True)  # fmt: skip


def _move_locust_stats(opts: Any, controller: RunController) -> None:
    """Locust writes its own statistics (``--json-file``) after the quitting listeners: into
    the run folder, unless stagecheck could not write there (then beside the summary, or not
    at all), so that Locust's writer does not fail where stagecheck's did."""
    json_file = getattr(opts, "json_file", None)
    if not json_file or controller.write_failure is None:
        return
    folder = controller.summary_dir
    if folder is not None and folder != controller.run_dir:
        opts.json_file = str(folder / os.path.basename(json_file))
    elif folder is None:
        opts.json_file = None  # Locust then prints its table on the console instead


def _write_reports(folder: Path, summary: dict[str, Any]) -> object:
    from stagecheck.reporting import write_reports  # report time only: pandas, templates

    return write_reports(folder, summary)
