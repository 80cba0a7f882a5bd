"""The bounded search for the highest passing rate: coarse steps, then bisection.

Coarse steps double the rate from ``min_rate`` (capped at ``max_rate``) until the first step
that fails. When the very first step fails and a ``floor`` is given (the user did not choose
``min_rate``: the search picked the lowest rate that fills a step), steps halve the rate
(``down``) until one passes or the floor is reached. Bisection then halves the gap between
the last passing and the first failing rate until it is under ``resolution`` of the passing
rate, or ``max_steps`` steps were run. The search assumes that passing is monotone in the
rate (a rate above a failing one fails too): it never probes above a failure, so a pass there
could not be seen.

A step that could not be judged stops the search: ``saturated`` (the load generator, not the
target, could not keep the schedule) or ``down`` at the lowest rate (the endpoint answered
nothing). ``down`` at a higher rate is a failure: the endpoint fell over under that load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["StepStatus", "Phase", "SearchOutcome", "search"]

StepStatus = Literal["passed", "failed", "saturated", "down"]
Phase = Literal["coarse", "down", "bisect"]
Probe = Callable[[float, Phase], StepStatus]


@dataclass
class SearchOutcome:
    """What the search found; ``probed`` lists (rate, phase, status) in order."""

    probed: list[tuple[float, Phase, StepStatus]] = field(default_factory=list)
    capacity: float | None = None  # the highest passing rate
    first_failing: float | None = None  # the lowest failing rate (above capacity)
    stopped: StepStatus | None = None  # "saturated" / "down" when a step could not be judged
    at_max: bool = False  # every step passed up to max_rate: capacity is a lower bound

    @property
    def gap(self) -> float | None:
        """(first failing − capacity) / capacity."""
        if self.capacity is None or self.first_failing is None:
            return None
        return (self.first_failing - self.capacity) / self.capacity


def search(
    probe: Probe,
    *,
    min_rate: float,
    max_rate: float,
    max_steps: int,
    resolution: float = 0.10,
    factor: float = 2.0,
    floor: float | None = None,
) -> SearchOutcome:
    """Probe rates (requests/s) with ``probe(rate, phase)`` and bracket the knee."""
    if not 0 < min_rate <= max_rate:
        raise ValueError(f"need 0 < min_rate <= max_rate, got {min_rate} and {max_rate}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    out = SearchOutcome()

    def step(rate: float, phase: Phase) -> StepStatus:
        status = probe(rate, phase)
        out.probed.append((rate, phase, status))
        if status == "down" and out.capacity is None and phase == "coarse":
            out.stopped = "down"
        elif status == "saturated":
            out.stopped = "saturated"
        elif status == "passed":
            out.capacity = rate
        else:  # failed, or down above a passing rate
            out.first_failing = rate
        return status

    rate = min_rate
    while len(out.probed) < max_steps:
        status = step(rate, "coarse")
        if status != "passed":
            break
        if rate >= max_rate:
            out.at_max = True
            break
        rate = min(rate * factor, max_rate)
    if out.stopped is not None or out.first_failing is None:
        return out
    rate = out.first_failing / factor
    while out.capacity is None and floor is not None and rate >= floor:
        if len(out.probed) >= max_steps or step(rate, "down") == "passed":
            break
        if out.stopped is not None:
            return out
        rate /= factor
    while (
        out.capacity is not None
        and (out.gap or 0.0) > resolution
        and len(out.probed) < max_steps
        and out.stopped is None
    ):
        step((out.capacity + out.first_failing) / 2, "bisect")
    return out
