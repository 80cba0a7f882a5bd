"""Locust event listeners that connect a Locust run to stagecheck's run, alone or distributed.

Installed explicitly by a locustfile (``install(events)``), never at import time. Thin glue:
the run's totals and lifecycle are :class:`~stagecheck.run.RunController`'s, the load side is
:class:`~stagecheck.run.RunSession`'s. Roles:

- local (one process) and master: load and check the scenario at ``init`` (bad input exits 2,
  an unreachable endpoint 3), start a :class:`RunController` at each ``test_start`` and end it at
  ``test_stop``; serve the Prometheus metrics (``--metrics-port``, the web UI's ``/metrics``);
- worker: prepares the scenario at ``test_start`` (the master's options arrive with the spawn
  message), feeds its shard of rows, ships its recorder's deltas in Locust's own worker reports
  (``report_to_master``) and a last one when it stops (message ``stagecheck_final``);
- the master tells workers when the load shape enters a new stage (message ``stagecheck_stage``).

The options it adds to Locust's command line are listed on :class:`StagecheckPlugin`.
"""

from __future__ import annotations

import gevent
import gevent.event
import gevent.lock
from locust import constant
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

import gc
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from stagecheck.endpoint.check import check_endpoint
from stagecheck.endpoint.resources import SAMPLE_INTERVAL_S, ResourceSampler, resolve_metrics_url
from stagecheck.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, StagecheckError
from stagecheck.exporter.server import MetricsExporter
from stagecheck.load.plan import LoadPlan
from stagecheck.locust.console import LogFile, guard_log_file, route_console
from stagecheck.locust.early import EarlyPreparation
from stagecheck.locust.master_link import wait_for_lost_master
from stagecheck.locust.options import RunOptions, add_arguments, compute_locust_defaults_once
from stagecheck.locust.processes import die_with_parent, reap_forked_workers
from stagecheck.locust.user import ValidationUser
from stagecheck.recording import Interval
from stagecheck.recording.recorder import LOOP_LATE_US
from stagecheck.redact import split_credentials
from stagecheck.run import LiveView, RunController, RunSession
from stagecheck.run.preparation import PreparedScenario, prepare_loaded
from stagecheck.runfolder.layout import check_writable, new_run_dir
from stagecheck.scenario import load_scenario

__all__ = ["install", "attach", "StagecheckPlugin", "DRAIN_INTERVAL_S"]

log = logging.getLogger("stagecheck")

DRAIN_INTERVAL_S = 1.0  # local recorder → aggregate (one latency.hlog interval) every second
PROGRESS_EVERY = 5  # drains between two progress lines
LOOP_CHECK_S = 0.01  # event-loop checks (validity: a saturated generator)
PAYLOAD_KEY = "stagecheck"
MSG_STAGE = "stagecheck_stage"
MSG_FINAL = "stagecheck_final"
MSG_ERROR = "stagecheck_error"
MSG_FLUSH = "stagecheck_flush"
MSG_SCHEDULE = "stagecheck_schedule"  # worker → master: when its arrival schedule ends
FINAL_WAIT_EXTRA_S = 15.0  # beyond the stop timeout, for workers' last results to arrive
QUIT_GRACE_S = 2.0  # for the last results of a worker that has quit to arrive
REAP_GRACE_S = 5.0  # forked workers still alive this long after the master's end are ended
SECOND_SHUTDOWN_WAIT_S = 300.0  # a second shutdown waits this long for the first to exit


class StagecheckPlugin:
    """The listeners of one Locust process (its options: :mod:`stagecheck.locust.options`).

    In a distributed run the scenario and its dataset must exist at the same path on every
    worker machine (``--processes`` workers share the master's files).
    """

    def __init__(self, events: Any) -> None:
        self.session: RunSession | None = None  # the load side in this process
        self.controller: RunController | None = None  # local/master: the current run
        self.prepared: PreparedScenario | None = None  # handed over (prepared once) or loaded
        self.options = RunOptions()
        self.exporter = MetricsExporter(self.live_view)
        self.done = gevent.event.Event()  # set when a run has ended (summary written)
        self._loop: gevent.Greenlet | None = None
        self._stop_loop = gevent.event.Event()
        self._sampler: gevent.Greenlet | None = None
        self._early: EarlyPreparation | None = None  # separate worker: preparing at init
        self._rows_writer: gevent.Greenlet | None = None  # writes rows.jsonl as the run starts
        self._runs = 0
        self._pending_stage: int | None = None
        self._finals: set[str] = set()  # workers whose last results arrived (master)
        self._lost: dict[str, float] = {}  # workers that stopped reporting → when (master)
        self._run_workers: set[str] = set()  # workers connected when the run began (master)
        self._finisher: gevent.Greenlet | None = None
        self._signal: str | None = None  # the signal that stopped the run, if one did
        self._signal_handlers: list[Any] = []
        self._signalled = False  # a signal's stop is under way (until its run has ended)
        self._quitting = False  # Locust's shutdown has begun
        self._runner: Any = None
        self._stopping = False  # the runner is stopping its users (once per run)
        self._stopping_ns = 0
        self._final_sent = gevent.event.Event()  # worker: this run's last results went out
        self._probe_stop = gevent.event.Event()  # ends this run's event-loop probe
        self._fold_lock = gevent.lock.Semaphore()  # worker: one fold of its recorder at a time
        self._last_heartbeat: float | None = None  # worker: the master's last heartbeat
        self._handed_key: tuple[Any, ...] | None = None  # worker: options of the hand-over
        self._log_file: LogFile | None = None  # Locust's --logfile (a write to it may fail)
        os.register_at_fork(after_in_child=die_with_parent)
        events.init_command_line_parser.add_listener(add_arguments)
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stopping.add_listener(self._on_test_stopping)
        events.test_stop.add_listener(self._on_test_stop)
        events.report_to_master.add_listener(self._on_report_to_master)
        events.worker_report.add_listener(self._on_worker_report)
        events.usage_monitor.add_listener(self._on_usage)
        events.heartbeat_received.add_listener(self._on_heartbeat)
        events.quitting.add_listener(self._on_quitting)
        events.quit.add_listener(self._on_quit)

    # -- preparation -------------------------------------------------------------------------
    @property
    def is_worker(self) -> bool:
        """This process is a worker (forked by ``--processes`` or started with ``--worker``)."""
        return isinstance(self._runner, WorkerRunner)

    def hand_over(self, prepared: PreparedScenario) -> None:
        """The caller (the ``stagecheck`` CLI) has prepared and checked the scenario already:
        use it rather than preparing it again."""
        self.prepared = prepared
        # Before Locust forks --processes workers: a collection in a worker would write the
        # GC header of every inherited object, copying the pages it shares with the master
        # (~140 MB per worker with 1 M rows). Frozen here, the workers' collections skip them.
        gc.collect()
        gc.freeze()

    def offer(self, prepared: PreparedScenario) -> None:
        """A separate ``--worker``: the scenario of its own command line, prepared by the CLI.
        Used at the start if the master's scenario asks for the same rows (the worker's set-up
        then takes no time away from its arrival schedule)."""
        gc.collect()
        gc.freeze()
        self._early = EarlyPreparation(prepared)

    def _prepare(self, environment: Any, *, preflight: bool) -> RunSession:
        """Load, check and prepare the scenario (unless handed over), and with ``preflight``
        check that the endpoint is reachable (the local process or the master: workers run
        what their master checked); raise :class:`StagecheckError`."""
        opts = environment.parsed_options
        prepared = self.prepared
        if prepared is None:
            loaded = load_scenario(opts.scenario, _overrides(environment))
            early, self._early = self._early, None
            prepared = early.take(loaded) if early is not None else None
            if prepared is None:
                prepared = prepare_loaded(loaded, pause=_cycle)
            if preflight:
                ep = prepared.loaded.scenario.endpoint
                check_endpoint(ep)
            self.prepared = prepared
        plan = LoadPlan.from_scenario(
            prepared.loaded, users=opts.num_users, spawn_rate=opts.spawn_rate,
            duration=opts.run_time,
        )  # fmt: skip
        session = RunSession.from_prepared(prepared, plan)
        attach(environment, session)
        return session

    # -- listeners: every role ---------------------------------------------------------------
    def _on_init(self, environment: Any, runner: Any, web_ui: Any = None, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:  # library mode: run_scenario() calls begin() itself
            return
        route_console(getattr(opts, "console_log", "all"))
        self._log_file = guard_log_file()
        self._runner = runner
        self._install_signal_handlers()
        if isinstance(runner, WorkerRunner):
            # Forked by --processes after the CLI prepared the scenario: that preparation is
            # the master's own, usable as long as the master's options name the same scenario.
            self._handed_key = _scenario_key(opts) if self.prepared is not None else None
            if self.prepared is None and self._early is None and getattr(opts, "scenario", None):
                # a separate worker (locust --worker): its dataset loads while it waits
                self._early = EarlyPreparation.start(opts.scenario, opts.scenario_set or (), _cycle)
            runner.register_message(MSG_STAGE, self._on_stage_message)
            runner.register_message(MSG_FLUSH, self._on_flush_message, concurrent=True)
            # Added after the runner's own quitting listener (which tells the master "quit"),
            # so it runs before it (quitting runs listeners in reverse): stop first, which
            # sends this worker's last results, then Locust says quit.
            environment.events.quitting.add_listener(self._on_worker_quitting)
            environment.events.quitting.add_listener(self._on_first_quitting)  # runs first
            gevent.spawn(self._watch_master, environment)
            return
        environment.events.quitting.add_listener(self._on_first_quitting)  # before the runner's
        if not opts.scenario and self.prepared is None:
            log.error("stagecheck: --scenario FILE is required (or set STAGECHECK_SCENARIO)")
            raise SystemExit(EXIT_BAD_INPUT)
        try:
            options = RunOptions.from_parsed(opts)
            check_writable(options.run_dir or options.runs_root,
                           "--run-dir" if options.run_dir else "--runs-root")  # fmt: skip
            session = self._prepare(environment, preflight=True)
            self.begin(environment, session, options, web_ui=web_ui)
        except StagecheckError as exc:
            for line in exc.problems:
                log.error(line)
            raise SystemExit(exc.exit_code) from None

    def _install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM end the run the same way: through Locust's own graceful stop in
        the main greenlet, which ends the run with a summary. A signal would otherwise raise in
        whatever greenlet runs at that instant (a user between send and record, a merge half
        done: measured requests lost), and Locust handles SIGTERM only once a headless run has
        ended (before that, it kills the process outright)."""
        for handler in self._signal_handlers:
            handler.cancel()
        self._signal_handlers = [gevent.signal_handler(signum, self._on_signal, signum)
                                 for signum in (signal.SIGINT, signal.SIGTERM)]  # fmt: skip

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        first = self._signal is None
        if first:
            self._signal = name
            log.warning("%s: stopping the run", name)
        if self._absorbs_signal():
            # A second Ctrl-C (or SIGTERM) would interrupt the stop itself: the run's end half
            # done, no summary, exit 130. The stop is bounded (stop timeout, workers' wait).
            if not first:
                log.warning("%s: already stopping; the run ends with its summary", name)
            return
        self._signalled = True
        if signum == signal.SIGTERM and self._locust_handles_sigterm():
            return  # Locust's own handler shuts down gracefully (see _on_quitting)
        gevent.get_hub().parent.throw(KeyboardInterrupt)

    @property
    def stopped_by_signal(self) -> bool:
        """The current (or last) run was stopped by a signal, or the process is quitting."""
        return self._signal is not None or self._quitting

    @property
    def quitting(self) -> bool:
        """Locust's shutdown has begun (the process exits by itself)."""
        return self._quitting

    def _absorbs_signal(self) -> bool:
        """A stop is already under way: a signal's, Locust's shutdown, or a headless run's end
        (the process exits by itself). An idle web UI (``--keep-web``) still quits on one."""
        if self._signalled or self._quitting:
            return True
        controller = self.controller
        return self._headless() and controller is not None and controller.finished

    def _headless(self) -> bool:
        env = getattr(self._runner, "environment", None)
        return bool(getattr(getattr(env, "parsed_options", None), "headless", False))

    def _on_first_quitting(self, **_: Any) -> None:
        """Locust runs its whole shutdown for every SIGTERM it receives: a second one waits
        here for the first, which ends the process (rather than stop, print and exit twice)."""
        if self._quitting:
            gevent.event.Event().wait(timeout=SECOND_SHUTDOWN_WAIT_S)
            return
        self._quitting = True

    def _locust_handles_sigterm(self) -> bool:
        """Locust installs its SIGTERM handler (a graceful shutdown) right after ``init`` on
        workers and with the web UI, and only once the run is over in a headless run."""
        controller = self.controller
        over = controller is None or controller.finished
        return isinstance(self._runner, WorkerRunner) or not self._headless() or over

    def _on_heartbeat(self, **_: Any) -> None:
        self._last_heartbeat = time.monotonic()

    def _watch_master(self, environment: Any) -> None:
        """Worker: stop when the master is gone, rather than load the endpoint for a minute
        unaccounted (Locust's own timeout). Workers forked by ``--processes`` also end with
        the master's process (:func:`die_with_parent`)."""

        def last_heard() -> float | None:
            # once this worker's last results went out there is no load left to stop, and
            # the master may be busy ending the run (a large dataset's analysis takes many
            # seconds without a heartbeat): its silence then is no loss
            return time.monotonic() if self._final_sent.is_set() else self._last_heartbeat

        why = wait_for_lost_master(environment.runner, last_heard)
        log.error("worker stopping: %s", why)
        environment.process_exit_code = EXIT_RUN_FAILED
        gevent.get_hub().parent.throw(KeyboardInterrupt)

    def begin(
        self, environment: Any, session: RunSession, options: RunOptions, web_ui: Any = None
    ) -> None:
        """Local or master: be ready to run ``session`` (the library path calls this directly).
        Raises :class:`StagecheckError` for a metrics port that cannot be served."""
        runner = environment.runner
        self.session = session
        self.options = options
        session.on_stage = lambda index: self._on_stage(runner, index)
        if isinstance(runner, MasterRunner):
            runner.register_message(MSG_FINAL, self._on_final_message)
            runner.register_message(MSG_ERROR, self._on_worker_error)
            runner.register_message(MSG_SCHEDULE, self._on_schedule_message)
        if options.metrics_port is not None:
            port = self.exporter.serve(options.metrics_port, options.metrics_host)
            log.info("metrics on http://%s:%d/metrics", options.metrics_host, port)
        if web_ui is not None:
            self._add_web_routes(web_ui)

    def _add_web_routes(self, web_ui: Any) -> None:
        from flask import Response

        from stagecheck.locust.webui import install_web_ui

        install_web_ui(web_ui, self)  # our tabs, the run folders' reports, starts from the form

        @web_ui.app.route("/metrics")
        @web_ui.auth_required_if_enabled
        def metrics() -> Response:
            return Response(self.exporter.render(), mimetype="text/plain; version=0.0.4")

    def live_view(self) -> LiveView | None:
        """The current (or last) run as it stands; None before the first run."""
        return self.controller.live() if self.controller is not None else None

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            self._start_worker(environment)
            return
        if environment.parsed_options is not None:
            self._install_signal_handlers()  # again: Locust's web mode installs its own first
        self._start_run(environment)

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        runner = environment.runner
        session = self.session
        if isinstance(runner, WorkerRunner):
            if session is not None and session.recorder is not None:
                session.record_abandoned()
                session.record_dropped_arrivals(self._stopping_ns or time.perf_counter_ns())
                with self._fold_lock:  # after a report's fold that is under way
                    final = session.fold(_pause).to_payload()
                    runner.send_message(MSG_FINAL, {"interval": final})
            self._final_sent.set()
            return
        controller = self.controller
        if controller is not None and not controller.finished and self._finisher is None:
            # Locust's quit path can kill the greenlet this listener runs in (the heartbeat
            # checker's, when the last worker is lost) while it waits for workers' results: the
            # run ends in a greenlet of its own, which the quitting listener waits for.
            self._finisher = gevent.spawn(self._end_run, environment, controller)
        current = gevent.getcurrent()
        if self._finisher is not None and current in (_main_greenlet(), runner.shape_greenlet):
            # Hold Locust's quit (which would stop receiving the workers' last results) until
            # the run has ended. Not in the greenlet that receives messages or heartbeats (a
            # stop because workers quit or were lost): it must go on; quitting waits instead.
            self._finisher.join()

    def _end_run(self, environment: Any, controller: RunController) -> None:
        try:
            if isinstance(environment.runner, MasterRunner):
                self._collect_finals(environment, controller)
                self._release_workers(environment)
            self._finish_run(environment, controller)
        except Exception:
            log.exception("stagecheck: the run could not be ended cleanly")
            environment.process_exit_code = EXIT_RUN_FAILED
        finally:
            self._finisher = None
            self._signalled = False  # an idle UI (--keep-web) quits on the next signal
            self.done.set()

    def _on_quitting(self, environment: Any, **_: Any) -> None:
        """The process is about to exit: never before the run's summary is written."""
        controller = self.controller
        if controller is None or self.is_worker:
            return
        if not controller.finished and self._finisher is None and not self._stopping:
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
        runner, session = environment.runner, self.session
        shape = runner.shape_greenlet
        if session is not None and shape is not None and not shape.dead:
            session.finished = True
            shape.join(timeout=(environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S)
        if not self._stopping:  # no shape, or it did not stop in time
            runner.stop()

    def _on_usage(self, environment: Any, cpu_usage: float, **_: Any) -> None:
        if self.controller is not None:
            self.controller.note_generator_cpu(cpu_usage)

    # -- worker side -------------------------------------------------------------------------
    def _start_worker(self, environment: Any) -> None:
        runner = environment.runner
        if self.session is None:
            try:
                # A worker runs what its master says: a scenario handed over locally only when
                # it is the master's own (a forked worker: no time lost preparing it again,
                # which would start this worker's arrival schedule late).
                if _scenario_key(environment.parsed_options) != self._handed_key:
                    self.prepared = None
                # Set-up runs in the greenlet that reads the master's messages: its heartbeats
                # wait meanwhile, which is no silence of the master's.
                self._last_heartbeat = None
                self.session = self._prepare(environment, preflight=False)
            except StagecheckError as exc:
                for line in exc.problems:
                    log.error(line)
                runner.send_message(MSG_ERROR, {"problems": exc.problems})
                return
            finally:
                self._last_heartbeat = time.monotonic()
        _freeze_heap()
        self._stopping = False
        self._final_sent.clear()
        shards = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
        self.session.start_feeding(shard_index=max(runner.worker_index, 0) % shards,
                                   shard_count=shards, pause=_cycle)  # fmt: skip
        if self._pending_stage is not None:
            self.session.set_stage(self._pending_stage)
        self._start_probe(self.session)
        end = self.session.schedule_end_epoch()
        if end is not None:  # the master ends the run when the last worker's schedule ends
            runner.send_message(MSG_SCHEDULE, {"end": end})

    def _on_stage_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._pending_stage = int(msg.data["stage"])
        if self.session is not None:
            self.session.set_stage(self._pending_stage)

    def _on_flush_message(self, environment: Any, **_: Any) -> None:
        # The master is finishing (a headless master quits without stopping its workers
        # first): stop now, which sends the last results from our test_stop listener. Only
        # once: two concurrent stops of Locust's runner fail on users already stopping.
        if not self._stopping:
            environment.runner.stop()

    def _on_test_stopping(self, **_: Any) -> None:
        self._stopping = True
        self._probe_stop.set()  # the stop's own work is not the load's
        self._stopping_ns = time.perf_counter_ns()  # arrivals due after this are not dropped
        if self.session is not None:
            # Fired before Locust stops the users: from here on nothing more is sent, and
            # what is in flight gets the graceful stop (Locust's stop_timeout) to finish.
            self.session.stop_sending()

    def _on_worker_quitting(self, environment: Any, **_: Any) -> None:
        if self.session is None:
            return
        if not self._stopping:
            environment.runner.stop()  # sends the last results (test_stop) before it returns
        else:  # a stop is under way (the master's flush): let it send them before we exit
            self._final_sent.wait(timeout=(environment.stop_timeout or 0) + 5)

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        session = self.session
        if session is not None and session.recorder is not None:
            # Folded here: the master only adds fixed-size figures and appends the lines. The
            # fold yields; one at a time, so that the last results (test_stop) never go out
            # before a report's fold that began earlier (its requests would come too late).
            with self._fold_lock:
                data[PAYLOAD_KEY] = session.fold(_pause).to_payload()

    # -- master side -------------------------------------------------------------------------
    def _on_stage(self, runner: Any, index: int) -> None:
        if self.controller is not None:
            self.controller.begin_stage(index)
        if isinstance(runner, MasterRunner):
            runner.send_message(MSG_STAGE, {"stage": index})

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        payload = data.get(PAYLOAD_KEY)
        if payload is not None and self.controller is not None:
            self.controller.absorb(Interval.from_payload(payload), worker=client_id)

    def _on_schedule_message(self, environment: Any, msg: Any, **_: Any) -> None:
        session = self.session
        if session is not None:
            end = float(msg.data["end"])
            session.workers_schedule_end = max(session.workers_schedule_end or end, end)

    def _on_final_message(self, environment: Any, msg: Any, **_: Any) -> None:
        if self.controller is not None:
            interval = Interval.from_payload(msg.data["interval"])
            self.controller.absorb(interval, worker=msg.node_id)
        self._finals.add(msg.node_id)

    def _release_workers(self, environment: Any) -> None:
        """A headless master whose workers' last results are in tells them to quit now, not
        after the summary: with a large dataset each worker holds ~150 MB that the end of the
        run (profile, analysis, reports) would otherwise add to. A web UI keeps its workers
        for the next run."""
        if not self._headless():
            return
        runner = environment.runner
        for client in list(runner.clients.all):
            runner.send_message("quit", None, client_id=client.id)

    def _collect_finals(self, environment: Any, controller: RunController) -> None:
        """Wait until every connected worker has sent its last results (asking the ones still
        running to stop); a worker that never does makes the run invalid."""
        runner = environment.runner
        self._note_lost_workers(runner, controller)
        expected = ({c.id for c in runner.clients.all} | controller.aggregate.workers) - set(
            self._lost
        )
        for client_id in expected - self._finals:
            runner.send_message(MSG_FLUSH, {}, client_id=client_id)
        deadline = time.monotonic() + (environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S
        quit_at: dict[str, float] = {}  # workers that quit (Locust removed them) → when seen
        while expected - self._finals and time.monotonic() < deadline:
            gevent.sleep(0.05)
            self._note_lost_workers(runner, controller)
            expected -= set(self._lost)
            present = {c.id for c in runner.clients.all}
            now = time.monotonic()
            for worker in expected - self._finals - present:
                quit_at.setdefault(worker, now)
            # a worker that quit sent its last results before it did: give them a moment
            gone = {w for w, t in quit_at.items() if now - t > QUIT_GRACE_S} - self._finals
            if gone and gone >= expected - self._finals:
                break
        missing = expected - self._finals
        controller.lost_workers.update(missing, self._lost)
        if missing:
            controller.incomplete.append(
                f"{len(missing)} worker(s) did not send their last results in time: "
                + ", ".join(sorted(missing))
            )
        for worker, at in sorted(self._lost.items(), key=lambda kv: kv[1]):
            controller.incomplete.append(
                f"worker {worker} was lost {at - controller.started:.1f}s into the run: its "
                "requests in flight and since its last report (up to 3 s) are missing"
            )

    def _shard_lost(self, runner: Any, controller: RunController) -> bool:
        """Master of an exact pass: a worker lost, or gone before the last answer was in, leaves
        rows of its shard unsent for good. The run cannot complete (it is invalid already):
        end it now rather than at the plan's duration, a safety cap minutes away."""
        if controller.prepared.loaded.scenario.dataset.passes is None:
            return False
        if not isinstance(runner, MasterRunner):
            return False
        present = {c.id for c in runner.clients.all}
        took_part = self._run_workers | controller.aggregate.workers
        return bool(self._lost) or bool(took_part - present)

    def _note_lost_workers(self, runner: Any, controller: RunController) -> None:
        """Workers that stopped reporting: Locust marks them missing when their heartbeats stop
        (a worker that quits is removed without that, and sends its last results)."""
        for client in runner.clients.all:
            worker = client.id
            if (client.state == STATE_MISSING and worker not in self._lost
                    and worker not in self._finals):  # fmt: skip
                self._lost[worker] = time.time()
                log.error("worker %s stopped reporting: its latest results are missing", worker)

    def _on_worker_error(self, environment: Any, msg: Any, **_: Any) -> None:
        for line in msg.data["problems"]:
            log.error("worker %s: %s", msg.node_id, line)
        environment.process_exit_code = EXIT_BAD_INPUT
        gevent.spawn(environment.runner.quit)

    # -- local or master: the run ------------------------------------------------------------
    def _start_run(self, environment: Any) -> None:
        session, prepared = self.session, self.prepared
        if session is None or prepared is None:
            return
        opts = self.options
        self._runs += 1
        if opts.run_dir is not None and self._runs == 1:
            run_dir = opts.run_dir
        else:
            run_dir = new_run_dir(opts.runs_root, prepared.loaded.scenario.name)
        _freeze_heap()
        self._finals = set()
        self._lost = {}
        self._signal = None
        self._stopping = False
        session.workers_schedule_end = None
        self.done.clear()
        controller = self.controller = RunController(
            prepared, session.plan, run_dir, started=time.time(), pause=_pause, defer_rows=True,
            reports=_write_reports,
        )
        # In ~1 ms slices while the run goes: a large dataset's takes seconds, which neither
        # the first request nor the master's heartbeats should wait for. A master whose
        # workers it forked (--processes) shares the rows' pages with them: reading every row
        # (refcounts) would copy them all (~110 MB PSS with 1 M rows), so it writes them at
        # the end, once the workers have quit.
        is_master = isinstance(environment.runner, MasterRunner)
        if not (is_master and getattr(environment.parsed_options, "processes", None)):
            self._rows_writer = gevent.spawn(controller.write_rows, _cycle)
        controller.distributed = is_master
        self._run_workers = {c.id for c in environment.runner.clients.all} if is_master else set()
        if not is_master:
            session.start_feeding(pause=_cycle)
            self._start_probe(session)
        if session.stage_index >= 0:  # the shape's first tick comes before test_start
            controller.begin_stage(session.stage_index)
        self._stop_loop = gevent.event.Event()
        self._loop = gevent.spawn(self._drain_loop, environment.runner, self._stop_loop)
        ep = prepared.loaded.scenario.endpoint
        if ep.metrics_url:
            controller.resources = ResourceSampler(resolve_metrics_url(ep.url, ep.metrics_url))
            self._sampler = gevent.spawn(_sample_loop, controller.resources, self._stop_loop)
        log.info("run folder %s", run_dir)

    def _start_probe(self, session: RunSession) -> None:
        """Check this process's event loop while its users send (validity: a saturated
        generator)."""
        self._probe_stop.set()
        self._probe_stop = stop = gevent.event.Event()
        gevent.spawn(_loop_probe, session, stop)

    def _drain_loop(self, runner: Any, stop: gevent.event.Event) -> None:
        ticks = 0
        # This process's CPU over each 5 s: Locust's own usage event comes first after 10 s
        # (and its first reading is always 0), too late for a short run's validity.
        process = psutil.Process()
        process.cpu_percent()
        while not stop.wait(DRAIN_INTERVAL_S):
            controller, session = self.controller, self.session
            if controller is None or session is None:
                return
            self._drain_local(controller)
            controller.users = int(runner.user_count)
            ticks += 1
            if ticks % PROGRESS_EVERY == 0:
                log.info(controller.progress_line())
            if isinstance(runner, MasterRunner):
                self._note_lost_workers(runner, controller)
                for client in runner.clients.values():
                    controller.note_generator_cpu(float(getattr(client, "cpu_usage", 0) or 0))
            elif ticks % PROGRESS_EVERY == 0:
                controller.note_generator_cpu(process.cpu_percent())
            if self._log_file is not None and self._log_file.failure:
                controller.note_write_failure(self._log_file.failure)
            if (controller.all_answers_in() or controller.check_early_stop()
                    or controller.check_write_failure()
                    or self._shard_lost(runner, controller)):  # fmt: skip
                session.finished = True  # the shape ends the run at its next tick

    def _drain_local(self, controller: RunController) -> None:
        session = self.session
        if session is not None and session.recorder is not None:
            controller.merge(session.recorder.drain())

    def _finish_run(self, environment: Any, controller: RunController) -> None:
        if self._loop is not None:
            # Never kill it: a merge it has begun (it yields while merging) must complete.
            self._stop_loop.set()
            self._loop.join()
            self._loop = None
        if self._sampler is not None:
            self._sampler.join(timeout=5)
            self._sampler = None
        if self._rows_writer is not None:
            self._rows_writer.join()  # before the summary, which reads rows.jsonl
            self._rows_writer = None
        if self.session is not None:
            self.session.record_abandoned()
            self.session.record_dropped_arrivals(self._stopping_ns or time.perf_counter_ns())
        self._drain_local(controller)
        controller.users = 0
        stopped_by = f"the run was stopped by {self._signal}" if self._signal else None
        environment.process_exit_code = controller.finish(
            interrupted=True if self._signal else None, reason=stopped_by
        )
        if self.options.pushgateway:
            problem = self.exporter.push(
                self.options.pushgateway,
                {"scenario": controller.live().scenario, "run_id": controller.run_id},
            )
            if problem:
                log.error(problem)
            else:
                log.info("metrics pushed to the pushgateway")

    def _on_quit(self, exit_code: int, **_: Any) -> None:
        controller = self.controller
        self.exporter.stop()
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


def _sample_loop(sampler: ResourceSampler, stop: gevent.event.Event) -> None:
    sampler.sample()
    while not stop.wait(SAMPLE_INTERVAL_S):
        sampler.sample()
    sampler.sample()  # the last reading, at the end of the run


def _freeze_heap() -> None:
    """Move what the process holds before the load (Locust, the prepared dataset, its request
    bytes) out of the garbage collector's reach: a full collection then scans only what the
    run allocates, rather than holding the event loop for tens of ms now and then (measured:
    ``benchmarks/drain_hold.py``). Once per process; later runs' garbage is young."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()
        gc.freeze()


_FROZEN = False


def _overrides(environment: Any) -> list[str]:
    """The scenario's overrides from Locust's options: ``--scenario-set``, and ``-H`` as the
    endpoint (after the scenario file, before ``--scenario-set``; attach() then sets the host
    from it, credentials split off)."""
    opts = environment.parsed_options
    overrides = list(opts.scenario_set or [])
    if opts.host and not any(o.partition("=")[0].strip() == "endpoint.url" for o in overrides):
        overrides.insert(0, f"endpoint.url={opts.host}")
        environment.host = None
    return overrides


def _scenario_key(opts: Any) -> tuple[Any, ...]:
    """What a prepared scenario depends on among Locust's options (the plan is made apart)."""
    return (opts.scenario, tuple(opts.scenario_set or ()), opts.host)


def _main_greenlet() -> Any:
    return gevent.get_hub().parent


def _pause() -> None:
    """Let users' greenlets run while a delta is merged: keeps the merge from delaying the
    requests in flight (which would inflate their measured latency)."""
    gevent.sleep(0)


def _cycle() -> None:
    """Let the event loop go round during long set-up work (a large dataset): timers and
    sockets, so heartbeats and requests in flight, are served. ``sleep(0)`` only runs the
    greenlets ready now, and gevent polls for I/O once in ~50 of them: 50 chunks of a dataset,
    seconds without a heartbeat."""
    gevent.sleep(0.0001)


def attach(environment: Any, session: RunSession) -> None:
    """Make ``session`` the run of ``environment``: configure the users from the scenario."""
    ep = session.loaded.scenario.endpoint
    environment.stagecheck = session
    if not environment.host:
        # Locust shows its host (web UI, logs): keep URL credentials out of it, and send them
        # as the Basic auth header Locust would have made of them.
        environment.host, auth = split_credentials(ep.url)
        if auth and not any(k.lower() == "authorization" for k in session.headers):
            session.headers["Authorization"] = auth
    # The graceful stop: a stopping user finishes (or times out) the request it has in flight,
    # so that every request sent ends with its own outcome; by default long enough for any
    # request to end by its own timeout. What is still open after it is "unfinished".
    grace = session.loaded.scenario.load.graceful_stop
    environment.stop_timeout = (
        grace if grace is not None else max(environment.stop_timeout or 0.0, ep.timeout + 1.0)
    )
    for user_class in environment.user_classes:
        if issubclass(user_class, ValidationUser):
            user_class.network_timeout = ep.timeout
            user_class.connection_timeout = ep.connect_timeout
            user_class.insecure = not ep.verify_tls
            user_class.wait_time = constant(session.loaded.scenario.load.wait)


def install(events: Any) -> StagecheckPlugin:
    """Register stagecheck's listeners on a Locust ``events`` object (once per events object)."""
    plugin = getattr(events, "_stagecheck_plugin", None)
    compute_locust_defaults_once()
    if plugin is None:
        plugin = StagecheckPlugin(events)
        events._stagecheck_plugin = plugin
    return plugin


def _loop_probe(session: RunSession, stop: gevent.event.Event) -> None:
    """Every LOOP_CHECK_S, how late the event loop woke this greenlet: over LOOP_LATE_US, the
    users' sends and reads waited as long (the recorder counts checks and late ones)."""
    due_ns = int(LOOP_CHECK_S * 1e9)
    late_ns = LOOP_LATE_US * 1000
    while not stop.is_set():
        before = time.perf_counter_ns()
        if stop.wait(LOOP_CHECK_S):
            return
        recorder = session.recorder
        if recorder is not None:
            recorder.record_loop_check(time.perf_counter_ns() - before - due_ns > late_ns)
