"""A whole capacity search: its folder, its steps, its answer and its exit code.

``runs/<UTC>-<scenario>-capacity/`` holds ``capacity.json`` (:class:`CapacityResult`),
``capacity.md``, ``capacity.html`` and every step's own run folder under ``steps/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from stagecheck.capacity.schema import CapacityResult, SearchSettings, Step
from stagecheck.capacity.search import Phase, SearchOutcome, StepStatus, search
from stagecheck.capacity.slo import SloKind, min_requests
from stagecheck.capacity.step import POOL_SHORT, StepPlan, run_step
from stagecheck.errors import EXIT_PASSED, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED
from stagecheck.judging.thresholds import Threshold
from stagecheck.runfolder.layout import new_run_dir

__all__ = ["CapacityRequest", "run_capacity", "conclude"]


@dataclass(frozen=True)
class CapacityRequest:
    scenario: str
    scenario_name: str
    endpoint: str
    slos: Sequence[Threshold]
    min_rate: float
    max_rate: float
    step_duration_s: float
    warmup_s: float
    max_steps: int
    out: Path
    overrides: Sequence[str] = ()
    scenario_users: int = 0
    require: float | None = None
    processes: int | None = None
    master_port: int | None = None
    resolution: float = 0.10
    #: When the first step fails, halve the rate down to this (None: the user chose min_rate).
    floor: float | None = None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _reason(outcome: SearchOutcome, steps: Sequence[Step], require: float | None) -> str:
    last = steps[-1] if steps else None
    every, steps = steps, [s for s in steps if not s.superseded]
    if outcome.stopped == "down":
        why = last.note if last and last.note else "it answered nothing"
        return f"the endpoint is down at the lowest rate ({why}): no capacity can be measured"
    if outcome.stopped == "saturated":
        rate = last.offered_rate if last else 0.0
        why = f" ({last.note})" if last and last.note else ""
        runs = sum(1 for s in every if s.offered_rate == rate)
        tries = f" in {runs} runs" if runs > 1 else ""
        advice = " (add --processes)" if "CPU reached" in why else ""
        return (f"the load generator saturated at {rate:g}/s{tries} before "
                f"the endpoint failed an SLO{why}: its limit is not the model's"
                f"{advice}")  # fmt: skip
    if outcome.capacity is None:
        lowest = min(s.offered_rate for s in steps)
        return f"no rate from {lowest:g}/s up met every SLO"
    found = f"{outcome.capacity:g}/s"
    if outcome.at_max:
        found = f"at least {found} (every step passed up to --max-rate)"
    if require is not None and outcome.capacity < require:
        return f"capacity {found} is below the required {require:g}/s"
    return f"capacity {found}"


def _latency_seen(steps: Sequence[Step], rate: float) -> float | None:
    """The latency a step's pool must hold: the highest p99 of the steps at this rate or below
    that passed, or whose pool ran short. Not a failure's: a step whose answers are slower than
    the bound fails on latency whatever its pool, and hundreds more users only cost CPU."""
    seen = [s.figures.latency_p99_s for s in steps
            if s.offered_rate <= rate and s.figures and s.figures.latency_p99_s is not None
            and (s.status == "passed"
                 or any(POOL_SHORT in r for r in s.validity_reasons))]  # fmt: skip
    return max(seen, default=None)


def _so_far(steps: Sequence[Step]) -> SearchOutcome:
    """The search's bracket from the steps that ran (a search cut short)."""
    steps = [s for s in steps if not s.superseded]
    out = SearchOutcome(probed=[(s.offered_rate, s.phase, s.status) for s in steps])
    failed = [s.offered_rate for s in steps if s.status in ("failed", "down")]
    out.first_failing = min(failed) if failed else None
    passed = [s.offered_rate for s in steps if s.status == "passed"
              and (out.first_failing is None or s.offered_rate < out.first_failing)]  # fmt: skip
    out.capacity = max(passed) if passed else None
    return out


def conclude(
    outcome: SearchOutcome, steps: Sequence[Step], require: float | None
) -> tuple[str, int, list[str], list[SloKind]]:
    """Verdict, exit code, and the SLOs (expressions, kinds) that failed first above."""
    failing = next((s for s in steps if s.offered_rate == outcome.first_failing
                    and s.status in ("failed", "down") and not s.superseded), None)  # fmt: skip
    exprs = [c.expression for c in failing.slos if not c.passed] if failing else []
    kinds = list(failing.failed_kinds) if failing else []
    if outcome.stopped is not None:
        return "not_carried_out", EXIT_RUN_FAILED, exprs, kinds
    if outcome.capacity is None or (require is not None and outcome.capacity < require):
        return "failed", EXIT_THRESHOLD_FAILED, exprs, kinds
    return "passed", EXIT_PASSED, exprs, kinds


def run_capacity(
    req: CapacityRequest, progress: Callable[[Step], None] = lambda step: None
) -> tuple[CapacityResult, Path]:
    """Search, write nothing but the steps' run folders; the caller writes the reports."""
    started = time.time()
    folder = new_run_dir(req.out, f"{req.scenario_name}-capacity", started)
    need = min_requests(req.slos)
    plan = StepPlan(scenario=req.scenario, steps_dir=folder / "steps", slos=req.slos,
                    step_duration_s=req.step_duration_s, warmup_s=req.warmup_s,
                    min_requests=need, overrides=req.overrides,
                    scenario_users=req.scenario_users, processes=req.processes,
                    master_port=req.master_port)  # fmt: skip
    steps, outcome, interrupted = _search(req, plan, folder, progress)
    verdict, code, exprs, kinds = conclude(outcome, steps, req.require)
    reason = _reason(outcome, steps, req.require) if steps else "no step ran"
    if interrupted:  # what was found is kept, but a search cut short found no capacity
        verdict, code = "not_carried_out", EXIT_RUN_FAILED
        reason = f"interrupted after {len(steps)} steps; so far: {reason}"
    at = next((s for s in steps if s.offered_rate == outcome.capacity
               and s.status == "passed" and not s.superseded), None)  # fmt: skip
    ended = time.time()
    result = CapacityResult(
        scenario=req.scenario_name,
        endpoint=req.endpoint,
        started_at=_iso(started),
        ended_at=_iso(ended),
        wall_s=round(ended - started, 3),
        slos=[t.expression for t in req.slos],
        settings=SearchSettings(
            min_rate=req.min_rate,
            max_rate=req.max_rate,
            step_duration_s=req.step_duration_s,
            warmup_s=req.warmup_s,
            max_steps=req.max_steps,
            resolution=req.resolution,
            min_requests=need,
            processes=req.processes,
            require=req.require,
        ),  # fmt: skip
        steps=steps,
        capacity=outcome.capacity,
        capacity_achieved=at.figures.achieved_rate if at and at.figures else None,
        at_max=outcome.at_max,
        first_failing_rate=outcome.first_failing,
        margin=outcome.gap,
        failed_first=exprs,
        failed_first_kinds=kinds,
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        exit_code=code,
    )
    return result, folder


def _search(
    req: CapacityRequest, plan: StepPlan, folder: Path, progress: Callable[[Step], None]
) -> tuple[list[Step], SearchOutcome, bool]:
    """The search's steps, its outcome, and whether Ctrl-C cut it short."""
    steps: list[Step] = []

    def probe(rate: float, phase: Phase) -> StepStatus:
        reruns = 0
        while True:
            step = run_step(rate, phase, len(steps) + 1, plan, folder,
                            latency_seen_s=_latency_seen(steps, rate))
            if step.recheck is None or reruns >= step.reruns_allowed:
                steps.append(step)
                progress(step)
                return step.status
            # not final (stagecheck.capacity.recheck): the same rate again decides
            steps.append(step.model_copy(update={"superseded": True}))
            progress(steps[-1])
            reruns += 1

    interrupted = False
    try:
        outcome = search(probe, min_rate=req.min_rate, max_rate=req.max_rate,
                         max_steps=req.max_steps, resolution=req.resolution,
                         floor=req.floor)  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C (the step under way ends as its own run does)
        interrupted, outcome = True, _so_far(steps)
    return steps, outcome, interrupted
