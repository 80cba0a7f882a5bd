"""The scenario of a Locust environment: prepared (handed over by the CLI, early on a separate
worker, or here), its overrides from Locust's options, and its session attached (host,
credentials, graceful stop, the users' timeouts and wait)."""

from __future__ import annotations

from locust import constant

from typing import Any

from stagecheck.endpoint.check import check_endpoint
from stagecheck.load.plan import LoadPlan
from stagecheck.locust.binding import bind_session
from stagecheck.locust.early import EarlyPreparation
from stagecheck.locust.lifecycle import cycle
from stagecheck.locust.user import ValidationUser
from stagecheck.redact import split_credentials
from stagecheck.run.lifecycle import CurrentRun, freeze_now
from stagecheck.run.preparation import PreparedScenario, prepare_loaded
from stagecheck.run.session import RunSession
from stagecheck.scenario import load_scenario

__all__ = ["ScenarioSource", "attach", "scenario_key", "scenario_overrides"]


class ScenarioSource:
    """Where this process's prepared scenario comes from: handed over by the ``stagecheck`` CLI
    (prepared and checked once), prepared early by a separate worker, or loaded here."""

    def __init__(self, run: CurrentRun) -> None:
        self._run = run
        self._early: EarlyPreparation | None = None  # separate worker: preparing at init
        self._handed_key: tuple[Any, ...] | None = None  # worker: options of the hand-over

    def hand_over(self, prepared: PreparedScenario) -> None:
        self._run.prepared = prepared
        freeze_now()  # before Locust forks --processes workers (see freeze_now)

    def offer(self, prepared: PreparedScenario) -> None:
        freeze_now()
        self._early = EarlyPreparation(prepared)

    def worker_init(self, opts: Any) -> None:
        """A worker's ``init``: note what was handed over, or start preparing early."""
        # Forked by --processes after the CLI prepared the scenario: that preparation is the
        # master's own, usable as long as the master's options name the same scenario.
        self._handed_key = scenario_key(opts) if self._run.prepared is not None else None
        if self._run.prepared is None and self._early is None and getattr(opts, "scenario", None):
            # a separate worker (locust --worker): its dataset loads while it waits
            self._early = EarlyPreparation.start(opts.scenario, opts.scenario_set or (), cycle)

    def session(self, environment: Any, *, preflight: bool) -> RunSession:
        """Load, check and prepare the scenario (unless handed over), and with ``preflight``
        check that the endpoint is reachable (the local process or the master: workers run
        what their master checked); the session, attached. Raises ``StagecheckError``."""
        opts = environment.parsed_options
        prepared = self._run.prepared
        if prepared is None:
            loaded = load_scenario(opts.scenario, scenario_overrides(environment))
            early, self._early = self._early, None
            prepared = early.take(loaded) if early is not None else None
            if prepared is None:
                prepared = prepare_loaded(loaded, pause=cycle)
            if preflight:
                ep = prepared.loaded.scenario.endpoint
                check_endpoint(ep)
            self._run.prepared = prepared
        plan = LoadPlan.from_scenario(
            prepared.loaded, users=opts.num_users, spawn_rate=opts.spawn_rate,
            duration=opts.run_time,
        )  # fmt: skip
        session = RunSession.from_prepared(prepared, plan)
        attach(environment, session)
        return session

    def worker_session(self, environment: Any) -> RunSession:
        # A worker runs what its master says: a scenario handed over locally only when it is
        # the master's own (a forked worker: no time lost preparing it again, which would
        # start this worker's arrival schedule late).
        if scenario_key(environment.parsed_options) != self._handed_key:
            self._run.prepared = None
        return self.session(environment, preflight=False)


def attach(environment: Any, session: RunSession) -> None:
    """Make ``session`` the run of ``environment``: configure the users from the scenario."""
    ep = session.loaded.scenario.endpoint
    bind_session(environment, session)
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


def scenario_overrides(environment: Any) -> list[str]:
    """The scenario's overrides from Locust's options: ``--scenario-set``, and ``-H`` as the
    endpoint (after the scenario file, before ``--scenario-set``; attach() then sets the host
    from it, credentials split off)."""
    opts = environment.parsed_options
    overrides = list(opts.scenario_set or [])
    if opts.host and not any(o.partition("=")[0].strip() == "endpoint.url" for o in overrides):
        overrides.insert(0, f"endpoint.url={opts.host}")
        environment.host = None
    return overrides


def scenario_key(opts: Any) -> tuple[Any, ...]:
    """What a prepared scenario depends on among Locust's options (the plan is made apart)."""
    return (opts.scenario, tuple(opts.scenario_set or ()), opts.host)
