"""The load plan a run follows: the scenario's users or stages, with Locust's ``-u/-r/-t``
taking precedence when given. No Locust import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagecheck.scenario import LoadedScenario

__all__ = ["LoadPlan", "Stage"]


@dataclass(frozen=True)
class Stage:
    name: str
    users: int
    spawn_rate: float
    end: float  # seconds since the start of the run
    arrival_rate: float | None = None  # open loop: requests per second in this stage


@dataclass(frozen=True)
class LoadPlan:
    stages: tuple[Stage, ...]
    exact_pass: bool
    # open loop: requests per second (users are a pool); staged: the highest stage's rate,
    # each stage's own is its ``arrival_rate``
    arrival_rate: float | None = None
    arrivals: str = "constant"

    @property
    def rate_stages(self) -> tuple[tuple[float, float], ...]:
        """A staged open loop: ``(end s, rate)`` per stage (the arrival schedule's stages);
        empty otherwise."""
        if not self.arrival_rate or len(self.stages) < 2:
            return ()
        return tuple((s.end, s.arrival_rate or self.arrival_rate) for s in self.stages)

    @property
    def duration(self) -> float:
        return self.stages[-1].end

    def rate_at(self, index: int) -> float | None:
        """Open loop: the arrival rate of stage ``index`` (the first before the run starts)."""
        if not self.arrival_rate:
            return None
        return self.stages[max(index, 0)].arrival_rate or self.arrival_rate

    def stage_at(self, run_time: float) -> int | None:
        for i, stage in enumerate(self.stages):
            if run_time < stage.end:
                return i
        return None

    @classmethod
    def from_scenario(
        cls,
        loaded: LoadedScenario,
        users: int | None = None,
        spawn_rate: float | None = None,
        duration: float | None = None,
    ) -> LoadPlan:
        """The scenario's load plan; Locust's ``-u/-r/-t`` (when given) replace it."""
        load = loaded.scenario.load
        exact = loaded.scenario.dataset.passes is not None
        if load.stages and users is None:
            end, stages = 0.0, []
            pool = 0
            for i, s in enumerate(load.stages):
                end += s.duration
                users = s.users
                if s.arrival_rate:
                    # Open loop: the pool never shrinks within a run. A user stopped while it
                    # waits gives its due time back, and the users left hold theirs up to a
                    # pool's worth ahead: that request would leave late.
                    users = pool = max(pool, s.users)
                rate = s.spawn_rate or float(max(users, 1))
                stages.append(Stage(s.name or f"stage {i + 1}", users, rate, end, s.arrival_rate))
            peak = max((s.arrival_rate or 0.0 for s in load.stages), default=0.0) or None
            return cls(tuple(stages), exact, peak, load.arrivals)
        n = users if users is not None else load.users
        rate = spawn_rate or load.spawn_rate or float(n)
        total = duration if duration is not None else load.duration
        steady = Stage("steady", n, rate, total, load.arrival_rate)
        return cls((steady,), exact, load.arrival_rate, load.arrivals)

    def as_dict(self) -> dict[str, Any]:
        """The ``run.load`` block of summary.json."""
        single = len(self.stages) == 1
        return {
            "mode": "stages" if not single else ("arrival_rate" if self.arrival_rate else "users"),
            "users": max(s.users for s in self.stages),
            "spawn_rate": self.stages[0].spawn_rate if single else None,
            "duration_s": self.duration,
            "arrival_rate": self.arrival_rate,
            "arrivals": self.arrivals if self.arrival_rate else None,
            "exact_pass": self.exact_pass,
            "stages": []
            if single
            else [
                {
                    "name": s.name,
                    "users": s.users,
                    "spawn_rate": s.spawn_rate,
                    "end_s": s.end,
                    "arrival_rate": s.arrival_rate,
                }
                for s in self.stages
            ],
        }
