"""Run a prepared scenario inside this process and return its summary: the public Python
entry point (``stagecheck.run_scenario``) that capacity search and tests use, so that no code
re-enters ``locust.main`` through ``sys.argv``.

Locust's library mode (``Environment`` + a local runner + the scenario's load shape): the same
users, shape and plugin as ``stagecheck run``; the caller's process must be gevent-patched (as
``import locust`` does).
"""

from __future__ import annotations

from locust.env import Environment
from locust.event import Events

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagecheck.errors import RunError
from stagecheck.load.plan import LoadPlan
from stagecheck.locust.environment import attach
from stagecheck.locust.options import RunOptions
from stagecheck.locust.plugin import install
from stagecheck.locust.shape import ScenarioShape
from stagecheck.locust.user import ValidationUser
from stagecheck.run import RunSession
from stagecheck.run.preparation import PreparedScenario
from stagecheck.runfolder.layout import check_writable

__all__ = ["RunResult", "run_scenario"]

FINISH_GRACE_S = 60.0  # beyond the plan and stop timeout, for the end of the run to be written


class _User(ValidationUser):
    """Replays the scenario's validation dataset (in-process runs)."""


class _Shape(ScenarioShape):
    """Follows the scenario's load plan (in-process runs)."""


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    exit_code: int
    run_dir: Path


def run_scenario(
    prepared: PreparedScenario,
    *,
    plan: LoadPlan | None = None,
    options: RunOptions | None = None,
) -> RunResult:
    """Run ``prepared`` to its end (its plan, or ``plan``) and return the summary, the exit code
    its verdict maps to, and the run folder. The endpoint is not pre-checked here: callers do
    that once (``stagecheck.endpoint.check.check_reachable``)."""
    options = options or RunOptions()
    # before any load: a folder that cannot be written is bad input (InputError, exit 2)
    check_writable(options.run_dir or options.runs_root,
                   "run_dir" if options.run_dir else "runs_root")  # fmt: skip
    events = Events()
    plugin = install(events)
    plan = plan or LoadPlan.from_scenario(prepared.loaded)
    user = type("ScenarioUser", (_User,), {"abstract": False})
    env = Environment(user_classes=[user], shape_class=_Shape(), events=events)
    runner = env.create_local_runner()
    session = RunSession.from_prepared(prepared, plan)
    attach(env, session)
    plugin.prepared = prepared
    plugin.begin(env, session, options)
    try:
        runner.start_shape()
        timeout = plan.duration + (env.stop_timeout or 0) + FINISH_GRACE_S
        if not plugin.done.wait(timeout):
            runner.quit()
            raise RunError(f"the run did not end within {timeout:.0f}s of its start")
    finally:
        runner.quit()
        plugin.exporter.stop()
    controller = plugin.controller
    assert controller is not None and controller.summary is not None
    assert controller.exit_code is not None
    return RunResult(controller.summary, controller.exit_code, controller.run_dir)
