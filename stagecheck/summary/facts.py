"""What the summary needs to know about a run besides its recorded figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunFacts"]


@dataclass
class RunFacts:
    """What the summary needs to know about the run besides the recorded figures."""

    run_id: str
    classification: bool
    load: dict[str, Any] | None = None  # LoadPlan.as_dict() of the plan actually run
    # workers that took part (sent results or were lost) and those lost before the run's end;
    # None: not known (a summary rebuilt from the results on disk)
    workers: int | None = 1
    workers_lost: int | None = 0
    generator_cpu_max: float = 0.0
    interrupted: bool = False
    incomplete: list[str] = field(default_factory=list)  # reasons results may be missing
    target: dict[str, Any] | None = None  # ResourceSampler.summary(): the target's CPU/memory
    notes: list[str] = field(default_factory=list)
