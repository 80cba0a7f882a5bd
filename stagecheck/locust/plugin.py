"""Locust event listeners that run a stagecheck scenario.

Installed explicitly by a locustfile (``install(events)``), never at import time. The options it
adds to Locust's command line are the catalogue below.
"""

from __future__ import annotations

import gevent
from locust import constant
from locust.runners import LocalRunner

import logging
import time
from pathlib import Path
from typing import Any

from stagecheck.endpoint import check_reachable
from stagecheck.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, StagecheckError
from stagecheck.loadplan import LoadPlan
from stagecheck.locust.session import RunSession
from stagecheck.locust.user import ValidationUser
from stagecheck.runfolder import new_run_dir, write_scenario_copy, write_summary
from stagecheck.scenario import load_scenario
from stagecheck.summary import RunFacts, build_summary

__all__ = ["install", "StagecheckPlugin", "DRAIN_INTERVAL_S"]

log = logging.getLogger("stagecheck")

DRAIN_INTERVAL_S = 1.0  # recorder → aggregate (and one latency.hlog interval) every second
_EXIT_FOR_VERDICT = {"passed": 0, "failed": 1, "invalid": EXIT_RUN_FAILED}


class StagecheckPlugin:
    """Command-line options added to Locust:

    ``--scenario FILE`` (env ``STAGECHECK_SCENARIO``): the scenario to run (required).
    ``--scenario-set KEY=VALUE`` (repeatable): override a scenario key.
    ``--run-dir DIR``: the run folder (default: ``<runs-root>/<UTC time>-<scenario>``).
    ``--runs-root DIR``: where run folders are made (default ``runs``).
    """

    def __init__(self, events: Any) -> None:
        self.session: RunSession | None = None
        self.summary: dict[str, Any] | None = None
        self._ticker: gevent.Greenlet | None = None
        self._run_dirs_used = 0
        events.init_command_line_parser.add_listener(self._add_arguments)
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.usage_monitor.add_listener(self._on_usage)
        events.quit.add_listener(self._on_quit)

    # -- listeners -------------------------------------------------------------------------
    @staticmethod
    def _add_arguments(parser: Any, **_: Any) -> None:
        if "--scenario" in parser._option_string_actions:  # fired again on every web UI GET /
            return
        group = parser.add_argument_group("stagecheck")
        group.add_argument(
            "--scenario",
            env_var="STAGECHECK_SCENARIO",
            default=None,
            help="stagecheck scenario file (YAML)",
        )
        group.add_argument(
            "--scenario-set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a scenario key, e.g. endpoint.url=http://…",
        )
        group.add_argument("--run-dir", default=None, help="run folder to write")
        group.add_argument("--runs-root", default="runs", help="where run folders are made")

    def _on_init(self, environment: Any, runner: Any, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:  # library mode: the caller attaches environment.stagecheck itself
            return
        if not isinstance(runner, LocalRunner):
            log.error(
                "stagecheck: distributed runs (--master/--worker/--processes) are not "
                "supported yet; run without them"
            )
            raise SystemExit(EXIT_BAD_INPUT)
        if not opts.scenario:
            log.error("stagecheck: --scenario FILE is required (or set STAGECHECK_SCENARIO)")
            raise SystemExit(EXIT_BAD_INPUT)
        try:
            loaded = load_scenario(opts.scenario, opts.scenario_set)
            plan = LoadPlan.from_scenario(
                loaded, users=opts.num_users, spawn_rate=opts.spawn_rate, duration=opts.run_time
            )
            session = RunSession.prepare(loaded, plan)
            check_reachable(loaded.scenario.endpoint.url, loaded.scenario.endpoint.connect_timeout)
        except StagecheckError as exc:
            for line in exc.problems:
                log.error(line)
            raise SystemExit(exc.exit_code) from None
        attach(environment, session)
        self.session = session

    def _on_test_start(self, environment: Any, **_: Any) -> None:
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
        session.start_feeding()
        session.start_aggregate(time.time())
        if session.stage_index >= 0:  # the shape's first tick comes before test_start
            session.set_stage(session.stage_index)
        self._ticker = gevent.spawn(self._drain_loop, environment)
        log.info("stagecheck: run folder %s", session.run_dir)

    def _drain_loop(self, environment: Any) -> None:
        session = self.session
        assert session is not None
        while True:
            gevent.sleep(DRAIN_INTERVAL_S)
            self._drain(session)
            if session.loaded.scenario.dataset.passes is not None and session.done_feeding():
                session.finished = True  # the shape ends the run at its next tick

    @staticmethod
    def _drain(session: RunSession) -> None:
        if session.recorder is not None and session.aggregate is not None:
            session.aggregate.merge(session.recorder.drain())

    def _on_usage(self, environment: Any, cpu_usage: float, **_: Any) -> None:
        if self.session is not None:
            self.session.generator_cpu_max = max(self.session.generator_cpu_max, cpu_usage)

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        session = self.session
        if session is None or session.aggregate is None:
            return
        if self._ticker is not None:
            self._ticker.kill(block=True)
            self._ticker = None
        self._drain(session)
        agg = session.aggregate
        agg.close()
        elapsed = agg.ended - agg.started
        exact = session.plan.exact_pass
        interrupted = (not session.done_feeding()) if exact else elapsed < session.plan.duration - 2
        facts = RunFacts(
            run_id=session.run_dir.name if session.run_dir else session.loaded.scenario.name,
            load=session.plan.as_dict(),
            classification=session.scorer.classification,
            generator_cpu_max=session.generator_cpu_max,
            interrupted=interrupted,
            notes=list(session.notes),
        )
        summary = build_summary(session.loaded, session.dataset, agg, facts)
        assert session.run_dir is not None
        write_summary(session.run_dir, summary)
        from stagecheck.reporting import write_reports

        write_reports(session.run_dir, summary)
        self.summary = summary
        environment.process_exit_code = _EXIT_FOR_VERDICT[summary["verdict"]]
        session.aggregate = None

    def _on_quit(self, exit_code: int, **_: Any) -> None:
        if self.summary is None or self.session is None:
            return
        from stagecheck.reporting import render_console

        print(render_console(self.summary), flush=True)
        print(f"Run folder: {self.session.run_dir}", flush=True)


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
