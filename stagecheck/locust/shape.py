"""The load shape that follows the scenario's load plan (users, or stages)."""

from __future__ import annotations

from locust import LoadTestShape

from stagecheck.run import RunSession

__all__ = ["ScenarioShape"]


class ScenarioShape(LoadTestShape):
    """Users and spawn rate per stage of the scenario's plan; Locust's ``-u/-r/-t``, when
    given, replace the plan (see ``LoadPlan.from_scenario``). In exact-pass mode the run ends
    when the last answer is in (the plan's duration is then a safety cap)."""

    abstract = True
    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        session: RunSession | None = getattr(
            getattr(self.runner, "environment", None), "stagecheck", None
        )
        if session is None:
            return None
        plan = session.plan
        run_time = self.get_run_time()
        index = plan.stage_at(run_time)
        if index is None or session.finished:  # exact pass done, or stopped early
            return None
        if index != session.stage_index:
            session.set_stage(index)
        stage = plan.stages[index]
        return stage.users, stage.spawn_rate
