"""Locust event listeners that run a stagecheck scenario, alone or distributed.

Installed explicitly by a locustfile (``install(events)``), never at import time. Roles:

- local (one process) and master: load and check the scenario at ``init`` (bad input exits 2,
  an unreachable endpoint 3), own the run's :class:`Aggregate` and write the run folder;
- worker: prepares the scenario at ``test_start`` (the master's options arrive with the spawn
  message), feeds its shard of rows, ships its recorder's deltas in Locust's own worker reports
  (``report_to_master``) and a last one when it stops (message ``stagecheck_final``);
- the master tells workers when the load shape enters a new stage (message ``stagecheck_stage``).

The options it adds to Locust's command line are listed on :class:`StagecheckPlugin`.
"""

from __future__ import annotations

import gevent
import gevent.event
from locust import constant
from locust.runners import MasterRunner, WorkerRunner

import logging
import signal
import time
from pathlib import Path
from typing import Any

from stagecheck.endpoint import check_reachable
from stagecheck.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, StagecheckError
from stagecheck.loadplan import LoadPlan
from stagecheck.locust.session import RunSession
from stagecheck.locust.user import ValidationUser
from stagecheck.recording import Delta
from stagecheck.runfolder import new_run_dir, write_scenario_copy, write_summary
from stagecheck.scenario import load_scenario
from stagecheck.summary import RunFacts, build_summary
from stagecheck.target_resources import SAMPLE_INTERVAL_S, ResourceSampler, resolve_metrics_url

__all__ = ["install", "attach", "StagecheckPlugin", "DRAIN_INTERVAL_S"]

log = logging.getLogger("stagecheck")

DRAIN_INTERVAL_S = 1.0  # local recorder → aggregate (one latency.hlog interval) every second
PROGRESS_EVERY = 5  # drains between two progress lines
PAYLOAD_KEY = "stagecheck"
MSG_STAGE = "stagecheck_stage"
MSG_FINAL = "stagecheck_final"
MSG_ERROR = "stagecheck_error"
MSG_FLUSH = "stagecheck_flush"
FINAL_WAIT_EXTRA_S = 15.0  # beyond the stop timeout, for workers' last results to arrive
_EXIT_FOR_VERDICT = {"passed": 0, "failed": 1, "invalid": EXIT_RUN_FAILED}


class StagecheckPlugin:
    """Command-line options added to Locust:

    ``--scenario FILE`` (env ``STAGECHECK_SCENARIO``): the scenario to run (required).
    ``--scenario-set KEY=VALUE`` (repeatable): override a scenario key.
    ``--run-dir DIR``: the run folder (default: ``<runs-root>/<UTC time>-<scenario>``).
    ``--runs-root DIR``: where run folders are made (default ``runs``).

    In a distributed run the scenario and its dataset must exist at the same path on every
    worker machine (``--processes`` workers share the master's files).
    """

    def __init__(self, events: Any) -> None:
        self.session: RunSession | None = None
        self.summary: dict[str, Any] | None = None
        self._ticker: gevent.Greenlet | None = None
        self._stop_ticker = gevent.event.Event()
        self._sampler: gevent.Greenlet | None = None
        self._run_dirs_used = 0
        self._pending_stage: int | None = None
        self._finals: set[str] = set()  # workers whose last results arrived (master)
        events.init_command_line_parser.add_listener(self._add_arguments)
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.report_to_master.add_listener(self._on_report_to_master)
        events.worker_report.add_listener(self._on_worker_report)
        events.usage_monitor.add_listener(self._on_usage)
        events.quit.add_listener(self._on_quit)

    # -- options and preparation -------------------------------------------------------------
    @staticmethod
    def _add_arguments(parser: Any, **_: Any) -> None:
        if "--scenario" in parser._option_string_actions:  # fired again on every web UI GET /
            return
        group = parser.add_argument_group("stagecheck")
        group.add_argument("--scenario", env_var="STAGECHECK_SCENARIO", default=None,
                           help="stagecheck scenario file (YAML)")  # fmt: skip
        group.add_argument("--scenario-set", action="append", default=[], metavar="KEY=VALUE",
                           help="override a scenario key, e.g. endpoint.url=http://…")  # fmt: skip
        group.add_argument("--run-dir", default=None, help="run folder to write")
        group.add_argument("--runs-root", default="runs", help="where run folders are made")

    @staticmethod
    def _prepare(environment: Any, *, preflight: bool) -> RunSession:
        """Load, check and prepare the scenario; raise :class:`StagecheckError`."""
        opts = environment.parsed_options
        loaded = load_scenario(opts.scenario, opts.scenario_set or [])
        plan = LoadPlan.from_scenario(
            loaded, users=opts.num_users, spawn_rate=opts.spawn_rate, duration=opts.run_time
        )
        session = RunSession.prepare(loaded, plan)
        if preflight:
            ep = loaded.scenario.endpoint
            check_reachable(ep.url, ep.connect_timeout)
        attach(environment, session)
        return session

    # -- listeners: every role ---------------------------------------------------------------
    def _on_init(self, environment: Any, runner: Any, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:  # library mode: the caller attaches environment.stagecheck itself
            return
        # Ctrl-C raises KeyboardInterrupt in whatever greenlet runs at that instant: a user
        # between send and record, or a merge half done, and measured requests are lost.
        # Deliver it to the main greenlet only, where Locust waits and shuts down gracefully.
        gevent.signal_handler(signal.SIGINT, _interrupt_main_greenlet)
        if isinstance(runner, WorkerRunner):
            runner.register_message(MSG_STAGE, self._on_stage_message)
            runner.register_message(MSG_FLUSH, self._on_flush_message, concurrent=True)
            return
        if not opts.scenario:
            log.error("stagecheck: --scenario FILE is required (or set STAGECHECK_SCENARIO)")
            raise SystemExit(EXIT_BAD_INPUT)
        try:
            self.session = self._prepare(environment, preflight=True)
        except StagecheckError as exc:
            for line in exc.problems:
                log.error(line)
            raise SystemExit(exc.exit_code) from None
        if isinstance(runner, MasterRunner):
            self.session.on_stage = lambda index: runner.send_message(MSG_STAGE, {"stage": index})
            runner.register_message(MSG_FINAL, self._on_final_message)
            runner.register_message(MSG_ERROR, self._on_worker_error)

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            self._start_worker(environment)
        else:
            self._start_run(environment)

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        runner = environment.runner
        session = self.session
        if isinstance(runner, WorkerRunner):
            if session is not None and session.recorder is not None:
                session.record_abandoned()
                runner.send_message(MSG_FINAL, {"delta": session.recorder.drain().to_payload()})
            return
        if session is not None and session.aggregate is not None:
            if isinstance(runner, MasterRunner):
                self._collect_finals(environment, session)
            self._finish_run(environment, session)

    def _on_usage(self, environment: Any, cpu_usage: float, **_: Any) -> None:
        if self.session is not None:
            self.session.generator_cpu_max = max(self.session.generator_cpu_max, cpu_usage)

    # -- worker side -------------------------------------------------------------------------
    def _start_worker(self, environment: Any) -> None:
        runner = environment.runner
        if self.session is None:
            try:
                self.session = self._prepare(environment, preflight=False)
            except StagecheckError as exc:
                for line in exc.problems:
                    log.error(line)
                runner.send_message(MSG_ERROR, {"problems": exc.problems})
                return
        shards = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
        self.session.start_feeding(shard_index=max(runner.worker_index, 0) % shards,
                                   shard_count=shards)  # fmt: skip
        if self._pending_stage is not None:
            self.session.set_stage(self._pending_stage)

    def _on_stage_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._pending_stage = int(msg.data["stage"])
        if self.session is not None:
            self.session.set_stage(self._pending_stage)

    @staticmethod
    def _on_flush_message(environment: Any, **_: Any) -> None:
        # The master is finishing (a headless master quits without stopping its workers
        # first): stop now, which sends the last results from our test_stop listener.
        environment.runner.stop()

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        session = self.session
        if session is not None and session.recorder is not None:
            data[PAYLOAD_KEY] = session.recorder.drain().to_payload()

    # -- master side -------------------------------------------------------------------------
    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        payload = data.get(PAYLOAD_KEY)
        if payload is not None:
            self._merge(payload, client_id)

    def _on_final_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._merge(msg.data["delta"], msg.node_id)
        self._finals.add(msg.node_id)

    def _collect_finals(self, environment: Any, session: RunSession) -> None:
        """Wait until every connected worker has sent its last results (asking the ones still
        running to stop); a worker that never does makes the run invalid."""
        runner = environment.runner
        expected = {c.id for c in runner.clients.all} | (
            session.aggregate.workers if session.aggregate else set()
        )
        for client_id in expected - self._finals:
            runner.send_message(MSG_FLUSH, {}, client_id=client_id)
        deadline = time.monotonic() + (environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S
        while expected - self._finals and time.monotonic() < deadline:
            gevent.sleep(0.05)
        missing = expected - self._finals
        if missing:
            session.incomplete.append(
                f"{len(missing)} worker(s) did not send their last results in time: "
                + ", ".join(sorted(missing))
            )

    def _merge(self, payload: Any, worker: str) -> None:
        session = self.session
        if session is not None and session.aggregate is not None:
            session.aggregate.merge(Delta.from_payload(payload), worker=worker, pause=_pause)

    def _on_worker_error(self, environment: Any, msg: Any, **_: Any) -> None:
        for line in msg.data["problems"]:
            log.error("worker %s: %s", msg.node_id, line)
        environment.process_exit_code = EXIT_BAD_INPUT
        gevent.spawn(environment.runner.quit)

    # -- local or master: the run ------------------------------------------------------------
    def _start_run(self, environment: Any) -> None:
        session = self.session
        if session is None:
            return
        opts = environment.parsed_options
        self._run_dirs_used += 1
        if opts.run_dir and self._run_dirs_used == 1:
            session.run_dir = Path(opts.run_dir)
            session.run_dir.mkdir(parents=True, exist_ok=True)
        else:
            session.run_dir = new_run_dir(Path(opts.runs_root), session.loaded.scenario.name)
        write_scenario_copy(session.run_dir, session.loaded)
        self._finals = set()
        session.start_aggregate(time.time())
        if not isinstance(environment.runner, MasterRunner):
            session.start_feeding()
        if session.stage_index >= 0:  # the shape's first tick comes before test_start
            session.set_stage(session.stage_index)
        self._stop_ticker = gevent.event.Event()
        self._ticker = gevent.spawn(
            self._drain_loop, environment.runner, session, self._stop_ticker
        )
        ep = session.loaded.scenario.endpoint
        if ep.metrics_url:
            session.resources = ResourceSampler(resolve_metrics_url(ep.url, ep.metrics_url))
            self._sampler = gevent.spawn(self._sample_loop, session.resources, self._stop_ticker)
        log.info("run folder %s", session.run_dir)

    def _drain_loop(self, runner: Any, session: RunSession, stop: gevent.event.Event) -> None:
        ticks = 0
        while not stop.wait(DRAIN_INTERVAL_S):
            self._drain_local(session)
            ticks += 1
            if ticks % PROGRESS_EVERY == 0 and session.aggregate is not None:
                log.info(progress_line(session.aggregate))
            if isinstance(runner, MasterRunner):
                for client in runner.clients.values():
                    cpu = float(getattr(client, "cpu_usage", 0) or 0)
                    session.generator_cpu_max = max(session.generator_cpu_max, cpu)
            if session.all_answers_in():
                session.finished = True  # the shape ends the run at its next tick

    @staticmethod
    def _sample_loop(sampler: ResourceSampler, stop: gevent.event.Event) -> None:
        sampler.sample()
        while not stop.wait(SAMPLE_INTERVAL_S):
            sampler.sample()
        sampler.sample()  # the last reading, at the end of the run

    @staticmethod
    def _drain_local(session: RunSession) -> None:
        if session.recorder is not None and session.aggregate is not None:
            session.aggregate.merge(session.recorder.drain(), pause=_pause)

    def _finish_run(self, environment: Any, session: RunSession) -> None:
        if self._ticker is not None:
            # Never kill it: a merge it has begun (it yields while merging) must complete.
            self._stop_ticker.set()
            self._ticker.join()
            self._ticker = None
        if self._sampler is not None:
            self._sampler.join(timeout=5)
            self._sampler = None
        session.record_abandoned()
        self._drain_local(session)
        agg = session.aggregate
        assert agg is not None and session.run_dir is not None
        agg.close()
        elapsed = agg.ended - agg.started
        if session.plan.exact_pass:
            interrupted = not session.all_answers_in()
        else:
            interrupted = elapsed < session.plan.duration - 2
        facts = RunFacts(
            run_id=session.run_dir.name,
            classification=session.scorer.classification,
            load=session.plan.as_dict(),
            workers=max(len(agg.workers), 1),
            generator_cpu_max=session.generator_cpu_max,
            interrupted=interrupted,
            incomplete=list(session.incomplete),
            target=session.resources.summary() if session.resources is not None else None,
            notes=list(session.notes),
        )
        summary = build_summary(session.loaded, session.dataset, agg, facts)
        write_summary(session.run_dir, summary)
        from stagecheck.reporting import write_reports

        write_reports(session.run_dir, summary)
        self.summary = summary
        environment.process_exit_code = _EXIT_FOR_VERDICT[summary["verdict"]]
        log.info("%s; report %s", summary["verdict"].upper(),
                 session.run_dir / "report.html")  # fmt: skip
        session.aggregate = None

    def _on_quit(self, exit_code: int, **_: Any) -> None:
        if self.summary is None or self.session is None:
            return
        from stagecheck.reporting import render_console

        print(render_console(self.summary), flush=True)
        print(f"Run folder: {self.session.run_dir}", flush=True)


def _interrupt_main_greenlet() -> None:
    gevent.get_hub().parent.throw(KeyboardInterrupt)


def _pause() -> None:
    """Let users' greenlets run while a delta is merged: keeps the merge from delaying the
    requests in flight (which would inflate their measured latency)."""
    gevent.sleep(0)


def progress_line(agg: Any) -> str:
    """One line on the run so far (off the hot path: every few seconds)."""
    counts = agg.outcome_counts()
    total = sum(counts.values())
    elapsed = max(agg.ended - agg.started, 1e-9)
    answered = counts["correct"] + counts["incorrect"] + counts["unparseable"]
    failed = total - answered
    h = agg.histogram("e2e")
    p99 = f"{h.get_value_at_percentile(99) / 1000:.1f}ms" if h is not None else "-"
    accuracy = f"{counts['correct'] / answered:.1%}" if answered else "-"
    errors = f"{failed / total:.1%}" if total else "-"
    return (f"{elapsed:5.0f}s  {total:,} requests  {total / elapsed:.1f}/s  "
            f"accuracy {accuracy}  errors {errors}  p99 {p99}")  # fmt: skip


def attach(environment: Any, session: RunSession) -> None:
    """Make ``session`` the run of ``environment``: configure the users from the scenario."""
    ep = session.loaded.scenario.endpoint
    environment.stagecheck = session
    if not environment.host:
        environment.host = ep.url
    # Let a stopping user finish (or time out) the request it has in flight, so every request
    # sent is accounted for.
    environment.stop_timeout = max(environment.stop_timeout or 0.0, ep.timeout + 1.0)
    for user_class in environment.user_classes:
        if issubclass(user_class, ValidationUser):
            user_class.network_timeout = ep.timeout
            user_class.connection_timeout = ep.connect_timeout
            user_class.insecure = not ep.verify_tls
            user_class.wait_time = constant(session.loaded.scenario.load.wait)


def install(events: Any) -> StagecheckPlugin:
    """Register stagecheck's listeners on a Locust ``events`` object (once per events object)."""
    plugin = getattr(events, "_stagecheck_plugin", None)
    if plugin is None:
        plugin = StagecheckPlugin(events)
        events._stagecheck_plugin = plugin
    return plugin
