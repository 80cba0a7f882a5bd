"""The capacity search's result, as written to ``capacity.json``: one typed, frozen model.

Reports (console, Markdown, HTML) are views of this model; they never recompute a figure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from stagecheck.capacity.search import Phase, StepStatus
from stagecheck.capacity.slo import SloKind

__all__ = ["SCHEMA_VERSION", "SloCheck", "StepFigures", "Step", "SearchSettings", "CapacityResult"]

SCHEMA_VERSION = 1

Interval = tuple[float, float]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SloCheck(_Frozen):
    """One SLO judged on one step's figures (observed: the interval's bound for a confidence
    SLO, whose point estimate is ``estimate``)."""

    expression: str
    metric: str
    kind: SloKind
    op: str
    target: float
    unit: str
    observed: float | None
    estimate: float | None = None
    passed: bool


class StepFigures(_Frozen):
    """A step's figures over its measured window (warm-up excluded); seconds, fractions, /s."""

    requests: int
    correct: int
    incorrect: int
    unparseable: int
    failed: int  # HTTP errors, timeouts, connection errors
    window_s: float
    achieved_rate: float  # requests started per second in the window
    accuracy: float | None
    accuracy_ci: Interval | None
    error_rate: float | None
    error_rate_ci: Interval | None
    goodput: float  # correct and within the latency bound, per second
    latency_bound_s: float | None  # what goodput counts as in time (None: any latency)
    latency_p50_s: float | None
    latency_p90_s: float | None
    latency_p99_s: float | None
    latency_max_s: float | None
    latency_mean_s: float | None
    latency_p50_ci_s: Interval | None
    latency_p99_ci_s: Interval | None


class Step(_Frozen):
    """One load level: a real open-loop run in ``run_dir`` (relative to the capacity folder)."""

    index: int
    phase: Phase
    offered_rate: float
    users: int
    warmup_s: float
    duration_s: float  # measured window, after the warm-up
    stretched: bool  # the window was lengthened to reach the minimum request count
    status: StepStatus
    figures: StepFigures | None
    slos: list[SloCheck]
    failed_kinds: list[SloKind]
    #: the generator's validity over the measured window (the warm-up's start-up left out)
    validity_reasons: list[str]
    note: str | None = None  # a failed step: which SLO failed, by how much, and why
    run_dir: str | None
    wall_s: float
    recheck: str | None = None  # why this result is not final: the rate is run again
    reruns_allowed: int = 0  # how many re-runs that reason allows (stagecheck.capacity.recheck)
    superseded: bool = False  # a re-run at the same rate took its place in the search


class SearchSettings(_Frozen):
    min_rate: float
    max_rate: float
    step_duration_s: float
    warmup_s: float
    max_steps: int
    resolution: float  # bisection stops when the bracket is narrower than this fraction
    min_requests: int  # per step, from the percentile the SLOs name
    processes: int | None
    require: float | None


class CapacityResult(_Frozen):
    """The answer: the highest sustained rate at which every SLO held, and why not above."""

    schema_version: int = SCHEMA_VERSION
    scenario: str
    endpoint: str
    started_at: str
    ended_at: str
    wall_s: float
    slos: list[str]
    settings: SearchSettings
    steps: list[Step]
    capacity: float | None  # highest passing offered rate, requests/s
    capacity_achieved: float | None  # the achieved rate at that step
    at_max: bool  # every step passed up to --max-rate: the capacity is at least this
    first_failing_rate: float | None
    margin: float | None  # (first failing − capacity) / capacity
    failed_first: list[str]  # SLO expressions that failed at the first failing rate
    failed_first_kinds: list[SloKind]
    verdict: Literal["passed", "failed", "not_carried_out"]
    reason: str  # one line: what the search found, or why it could not be carried out
    exit_code: int
