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


@dataclass(frozen=True)
class LoadPlan:
    stages: tuple[Stage, ...]
    exact_pass: bool
    arrival_rate: float | None = None  # open loop: requests per second (users are a pool)
    arrivals: str = "constant"

    @property
    def duration(self) -> float:
        return self.stages[-1].end

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
            for i, s in enumerate(load.stages):
                end += s.duration
                rate = s.spawn_rate or float(max(s.users, 1))
                stages.append(Stage(s.name or f"stage {i + 1}", s.users, rate, end))
            return cls(tuple(stages), exact)
        n = users if users is not None else load.users
        rate = spawn_rate or load.spawn_rate or float(n)
        total = duration if duration is not None else load.duration
        return cls((Stage("steady", n, rate, total),), exact, load.arrival_rate, load.arrivals)

    def as_dict(self) -> dict[str, Any]:
        """The ``run.load`` block of summary.json."""
        single = len(self.stages) == 1
        return {
            "mode": "arrival_rate" if self.arrival_rate else ("users" if single else "stages"),
            "users": max(s.users for s in self.stages),
            "spawn_rate": self.stages[0].spawn_rate if single else None,
            "duration_s": self.duration,
            "arrival_rate": self.arrival_rate,
            "arrivals": self.arrivals if self.arrival_rate else None,
            "exact_pass": self.exact_pass,
            "stages": []
            if single
            else [
                {"name": s.name, "users": s.users, "spawn_rate": s.spawn_rate, "end_s": s.end}
                for s in self.stages
            ],
        }
