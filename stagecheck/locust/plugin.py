"""Locust event listeners that connect a Locust run to stagecheck's run, alone or distributed.

Installed explicitly by a locustfile (``install(events)``), never at import time. Thin glue:
the run's totals and lifecycle are :class:`~stagecheck.run.RunController`'s and
:mod:`stagecheck.run.lifecycle`'s, the load side is :class:`~stagecheck.run.RunSession`'s.
Roles:

- local (one process) and master: load and check the scenario at ``init`` (bad input exits 2,
  an unreachable endpoint 3), start a :class:`RunController` at each ``test_start`` and end it at
  ``test_stop``; serve the Prometheus metrics (``--metrics-port``, the web UI's ``/metrics``);
- worker, and the master's side of workers: :mod:`stagecheck.locust.distributed`;
- signals, the run's greenlets and pauses: :mod:`stagecheck.locust.lifecycle`.

The options it adds to Locust's command line are :mod:`stagecheck.locust.options`'.
"""

from __future__ import annotations

import gevent
import gevent.event
from locust.runners import WorkerRunner

import logging
import os
from typing import TYPE_CHECKING, Any

from stagecheck.errors import EXIT_BAD_INPUT, StagecheckError
from stagecheck.exporter.server import MetricsExporter
from stagecheck.load.plan import LoadPlan
from stagecheck.locust.console import LogFile, guard_log_file, route_console
from stagecheck.locust.distributed import MasterSide, WorkerSide
from stagecheck.locust.environment import ScenarioSource
from stagecheck.locust.lifecycle import LoopProbe, Signals
from stagecheck.locust.options import RunOptions, add_arguments, compute_locust_defaults_once
from stagecheck.locust.processes import die_with_parent
from stagecheck.locust.runs import Runs
from stagecheck.run import LiveView, RunController, RunSession
from stagecheck.run.lifecycle import CurrentRun
from stagecheck.run.preparation import PreparedScenario
from stagecheck.runfolder.layout import check_writable

if TYPE_CHECKING:
    from stagecheck.locust.webui import WebRun

__all__ = ["install", "StagecheckPlugin"]

log = logging.getLogger("stagecheck")


class StagecheckPlugin:
    """The listeners of one Locust process (its options: :mod:`stagecheck.locust.options`).

    In a distributed run the scenario and its dataset must exist at the same path on every
    worker machine (``--processes`` workers share the master's files).
    """

    def __init__(self, events: Any) -> None:
        self.run = CurrentRun()  # what every part of the glue shares
        self.exporter = MetricsExporter(self.live_view)
        self._runner: Any = None
        self._log_file: LogFile | None = None  # Locust's --logfile (a write to it may fail)
        self.source = ScenarioSource(self.run)  # the scenario: handed over, early or loaded
        self.signals = Signals(self.run, lambda: self._runner)
        self._probe = LoopProbe()
        self.master = MasterSide(self.run)
        self.worker = WorkerSide(self.run, self._probe, self.source.worker_session)
        self.runs = Runs(self.run, self.master, self.signals, self._probe, self.exporter)
        os.register_at_fork(after_in_child=die_with_parent)
        events.init_command_line_parser.add_listener(add_arguments)
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stopping.add_listener(self._on_test_stopping)
        events.test_stop.add_listener(self._on_test_stop)
        events.report_to_master.add_listener(self.worker.on_report_to_master)
        events.worker_report.add_listener(self.master.on_worker_report)
        events.usage_monitor.add_listener(self._on_usage)
        events.heartbeat_received.add_listener(self.worker.on_heartbeat)
        events.quitting.add_listener(self.runs.on_quitting)
        events.quit.add_listener(self.runs.on_quit)

    # -- what callers read ---------------------------------------------------------------------
    @property
    def session(self) -> RunSession | None:
        return self.run.session

    @property
    def controller(self) -> RunController | None:
        return self.run.controller

    @property
    def prepared(self) -> PreparedScenario | None:
        return self.run.prepared

    @prepared.setter
    def prepared(self, prepared: PreparedScenario | None) -> None:
        self.run.prepared = prepared

    @property
    def options(self) -> RunOptions:
        return self.runs.options

    @property
    def done(self) -> gevent.event.Event:
        """Set when a run has ended (its summary written)."""
        return self.runs.done

    @property
    def is_worker(self) -> bool:
        """This process is a worker (forked by ``--processes`` or started with ``--worker``)."""
        return isinstance(self._runner, WorkerRunner)

    def live_view(self) -> LiveView | None:
        """The current (or last) run as it stands; None before the first run."""
        return self.controller.live() if self.controller is not None else None

    # -- preparation (the CLI's) ------------------------------------------------------------
    def hand_over(self, prepared: PreparedScenario) -> None:
        """The caller (the ``stagecheck`` CLI) has prepared and checked the scenario already:
        use it rather than preparing it again."""
        self.source.hand_over(prepared)

    def offer(self, prepared: PreparedScenario) -> None:
        """A separate ``--worker``: the scenario of its own command line, prepared by the CLI.
        Used at the start if the master's scenario asks for the same rows (the worker's set-up
        then takes no time away from its arrival schedule)."""
        self.source.offer(prepared)

    # -- listeners -----------------------------------------------------------------------------
    def _on_init(self, environment: Any, runner: Any, web_ui: Any = None, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:  # library mode: run_scenario() calls begin() itself
            return
        route_console(getattr(opts, "console_log", "all"))
        self._log_file = guard_log_file()
        self._runner = runner
        self.signals.install()
        if isinstance(runner, WorkerRunner):
            self.source.worker_init(opts)
            self.worker.listen(environment, runner)
            # Added after the runner's own quitting listener (which tells the master "quit"),
            # so it runs before it (quitting runs listeners in reverse): stop first, which
            # sends this worker's last results, then Locust says quit.
            environment.events.quitting.add_listener(self.worker.on_quitting)
            environment.events.quitting.add_listener(self.signals.on_first_quitting)  # runs 1st
            return
        environment.events.quitting.add_listener(self.signals.on_first_quitting)  # before Locust's
        if not opts.scenario and self.prepared is None:
            log.error("stagecheck: --scenario FILE is required (or set STAGECHECK_SCENARIO)")
            raise SystemExit(EXIT_BAD_INPUT)
        try:
            options = RunOptions.from_parsed(opts)
            check_writable(options.run_dir or options.runs_root,
                           "--run-dir" if options.run_dir else "--runs-root")  # fmt: skip
            session = self.source.session(environment, preflight=True)
            self.begin(environment, session, options, web_ui=web_ui)
        except StagecheckError as exc:
            for line in exc.problems:
                log.error(line)
            raise SystemExit(exc.exit_code) from None

    def begin(
        self, environment: Any, session: RunSession, options: RunOptions, web_ui: Any = None
    ) -> None:
        """Local or master: be ready to run ``session`` (the library path calls this directly).
        Raises :class:`StagecheckError` for a metrics port that cannot be served."""
        runner = environment.runner
        self.run.session = session
        self.runs.options = options
        session.on_stage = lambda index: self.master.stage_began(runner, index)
        self.master.listen(runner)
        if options.metrics_port is not None:
            port = self.exporter.serve(options.metrics_port, options.metrics_host)
            log.info("metrics on http://%s:%d/metrics", options.metrics_host, port)
        if web_ui is not None:
            from stagecheck.locust.webui import install_web_ui  # Flask: with the web UI only

            install_web_ui(web_ui, self._web_run())

    def _web_run(self) -> WebRun:
        """What the web UI reads of the runs, and how a start from its form sets the plan."""
        from stagecheck.locust.webui import LatestRun, WebRun

        def latest_run() -> LatestRun | None:
            c = self.controller
            return None if c is None else LatestRun(c.run_dir, c.finished)

        def replan(users: int, rate: float | None, duration: float | None) -> LoadPlan | None:
            session, prepared = self.session, self.prepared
            if session is None or prepared is None:
                return None
            session.plan = LoadPlan.from_scenario(prepared.loaded, users=users, spawn_rate=rate,
                                                  duration=duration)  # fmt: skip
            return session.plan

        return WebRun(
            live_view=self.live_view, latest_run=latest_run,
            request_name=lambda: None if self.session is None else self.session.request_name,
            replan=replan, metrics=self.exporter.render, run_ended=self.done,
            stopped_by_signal=lambda: self.signals.stopped_by_signal,
            quitting=lambda: self.signals.quitting, linger=self.options.web_linger,
        )  # fmt: skip

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            self.worker.start(environment)
            return
        if environment.parsed_options is not None:
            self.signals.install()  # again: Locust's web mode installs its own first
        self.runs.start(environment, self._log_file)

    def _on_test_stopping(self, **_: Any) -> None:
        self.run.stop.note_stopping()  # arrivals due after this are not dropped
        self._probe.stop()
        if self.session is not None:
            # Fired before Locust stops the users: from here on nothing more is sent, and
            # what is in flight gets the graceful stop (Locust's stop_timeout) to finish.
            self.session.stop_sending()

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            self.worker.stop(environment.runner)
        else:
            self.runs.on_test_stop(environment)

    def _on_usage(self, environment: Any, cpu_usage: float, **_: Any) -> None:
        if self.controller is not None:
            self.controller.note_generator_cpu(cpu_usage)


def install(events: Any) -> StagecheckPlugin:
    """Register stagecheck's listeners on a Locust ``events`` object (once per events object)."""
    plugin = getattr(events, "_stagecheck_plugin", None)
    compute_locust_defaults_once()
    if plugin is None:
        plugin = StagecheckPlugin(events)
        events._stagecheck_plugin = plugin
    return plugin

