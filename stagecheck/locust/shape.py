"""The load shape that follows the scenario's load plan (users, or stages)."""

from __future__ import annotations

import gevent
from locust import LoadTestShape

from stagecheck.locust.binding import session_of

__all__ = ["ScenarioShape"]


_TICK_S = 1.0  # Locust calls tick() about once a second


class ScenarioShape(LoadTestShape):
    """Users and spawn rate per stage of the scenario's plan; Locust's ``-u/-r/-t``, when
    given, replace the plan (see ``LoadPlan.from_scenario``). In exact-pass mode the run ends
    when the last answer is in (the plan's duration is then a safety cap)."""

    abstract = True
    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        session = session_of(getattr(self.runner, "environment", None))
        if session is None:
            return None
        if session.finished:  # exact pass done, or stopped early
            return None
        plan = session.plan
        # Open loop: the plan ends when its last arrival is due on the arrival schedule's own
        # clock, which starts a moment after this shape's (and on workers later still): stop
        # then, not at the tick before (the last arrivals would be cut off) or after.
        left = session.plan_left_s()
        if left is not None and left < _TICK_S:
            if left > 0:
                gevent.sleep(left)
            return None
        index = plan.stage_at(self.get_run_time())
        if index is None:
            if left is None:
                return None
            index = len(plan.stages) - 1  # the schedule runs on: keep its last stage
        if index != session.stage_index:
            session.set_stage(index)
        stage = plan.stages[index]
        return stage.users, stage.spawn_rate
