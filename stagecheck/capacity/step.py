"""One capacity step: a real open-loop ``stagecheck run`` in a subprocess, then its figures.

The step is run through the CLI exactly as a user would (``stagecheck run SCENARIO --rate R
--duration W+D``), so Locust's own master and workers distribute it with ``--processes``; the
run folder it leaves is read back (results.jsonl, summary.json) and judged against the SLOs.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from stagecheck.capacity.figures import StepRequest, StepSample, measure, read_requests
from stagecheck.capacity.recheck import failure_note, recheck_reason
from stagecheck.capacity.schema import SloCheck, Step, StepFigures
from stagecheck.capacity.search import Phase, StepStatus
from stagecheck.capacity.slo import SloKind, latency_bound, slo_kind
from stagecheck.errors import InputError, RunError
from stagecheck.judging.thresholds import Threshold, evaluate_thresholds
from stagecheck.summary.validity import lateness_reason

__all__ = ["StepPlan", "run_step", "step_status", "step_figures", "users_for", "spawn_rate_for",
           "POOL_SHORT", "GENERATOR_REASONS"]  # fmt: skip

#: Validity reasons (stagecheck/summary/validity.py) that mean the generator, not the target,
#: failed.
GENERATOR_REASONS = ("load generator CPU", "arrival schedule was not kept", "never sent",
                     "the window was not filled")  # fmt: skip
_CPU_REASON, _LATE_REASON, _, _SHORT_REASON = GENERATOR_REASONS
#: The cause of a window's lateness when its users were mostly busy (else: the CPU).
POOL_SHORT = "the pool ran short"
#: The most users a step starts (a pool sized on timeouts at a high rate would be absurd).
MAX_USERS = 2000
#: Seconds a step runs past its measured window, not measured either: a run's stop begins a
#: little before its planned end, and the arrivals due in its last 0.1 s were seen leaving
#: 85-175 ms late (a 4 s step at 20/s) — the end of a run, not the rate.
COOLDOWN_S = 1.0
#: Seconds a distributed step runs beyond its plan: its workers' schedules start when each
#: worker gets its spawn message, 2-5 s after the master's start on a loaded 2-core machine
#: (the window is measured from the first arrival, so it needs that much more run).
START_ALLOWANCE_S = 5.0
#: Extra seconds a step's subprocess may take beyond its planned duration (start, spawn, end).
_STEP_GRACE_S = 90.0


@dataclass(frozen=True)
class StepPlan:
    """How every step of one search is run."""

    scenario: str
    steps_dir: Path
    slos: Sequence[Threshold]
    step_duration_s: float
    warmup_s: float
    min_requests: int
    overrides: Sequence[str] = ()
    scenario_users: int = 0
    processes: int | None = None
    master_port: int | None = None


def users_for(rate: float, plan: StepPlan, latency_seen_s: float | None = None) -> int:
    """The in-flight pool for a rate: twice rate × latency (Little's law with headroom), at
    least 8 and at least the scenario's. The latency is the larger of the latency SLO's bound
    and the highest p99 the search has seen so far (1 s before any step without a latency
    SLO), so a pool never runs dry on answers slower than the bound."""
    latency = max(latency_bound(plan.slos) or 0.0, latency_seen_s or 0.0) or 1.0
    return min(MAX_USERS, max(8, plan.scenario_users, math.ceil(2 * rate * latency)))


def spawn_rate_for(users: int) -> float:
    """Users started per second: all of them within a quarter of a second, well inside any
    warm-up (the scenario's own spawn rate, e.g. 4/s, would take 12 s for 48 users and leave
    the measured window short of users)."""
    return float(max(1, users) * 4)


def _window(rate: float, plan: StepPlan) -> tuple[float, bool]:
    need = math.ceil(plan.min_requests / rate) if rate > 0 else plan.step_duration_s
    if need > plan.step_duration_s:
        return float(need), True
    return plan.step_duration_s, False


def _run_s(window_s: float, plan: StepPlan) -> float:
    """The step run's whole planned length: warm-up, window, cool-down, start allowance."""
    return plan.warmup_s + window_s + COOLDOWN_S + (START_ALLOWANCE_S if plan.processes else 0)


def _argv(rate: float, users: int, window_s: float, plan: StepPlan) -> list[str]:
    argv = [sys.executable, "-m", "stagecheck.cli", "run", plan.scenario,
            "--rate", f"{rate:g}/s", "--duration", f"{_run_s(window_s, plan):g}s",
            "--users", str(users), "--out", str(plan.steps_dir), "--quiet"]  # fmt: skip
    for item in plan.overrides:
        argv += ["--set", item]
    # after the user's overrides: the step, not the scenario, decides how fast users start
    argv += ["--set", f"load.spawn_rate={spawn_rate_for(users):g}"]
    if plan.processes:
        argv += ["--processes", str(plan.processes)]
        if plan.master_port is not None:
            argv += ["--master-port", str(plan.master_port)]
    return argv


def _started(summary: dict[str, Any], requests: Sequence[StepRequest]) -> float:
    """When the step's arrivals began: its first request's due time (a distributed run's
    workers start seconds after the master), else the run's start."""
    if requests:
        return min(r.t for r in requests)
    text = str(summary["run"]["started_at"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def step_figures(sample: StepSample) -> StepFigures:
    def ci(metric: str) -> tuple[float, float] | None:
        return sample.interval(metric, 0.95)

    return StepFigures(
        requests=sample.requests,
        correct=sample.correct,
        incorrect=sample.outcomes["incorrect"],
        unparseable=sample.outcomes["unparseable"],
        failed=sample.failed,
        window_s=sample.window_s,
        achieved_rate=sample.requests / sample.window_s,
        accuracy=sample.lookup("accuracy"),
        accuracy_ci=ci("accuracy"),
        error_rate=sample.lookup("error_rate"),
        error_rate_ci=ci("error_rate"),
        goodput=sample.good / sample.window_s,
        latency_bound_s=sample.latency_bound_s,
        latency_p50_s=sample.lookup("latency.p50"),
        latency_p90_s=sample.lookup("latency.p90"),
        latency_p99_s=sample.lookup("latency.p99"),
        latency_max_s=sample.lookup("latency.max"),
        latency_mean_s=sample.lookup("latency.mean"),
        latency_p50_ci_s=ci("latency.p50"),
        latency_p99_ci_s=ci("latency.p99"),
    )


def step_status(
    sample: StepSample, slos: Sequence[Threshold], reasons: Sequence[str]
) -> tuple[StepStatus, list[SloCheck], list[SloKind], str | None]:
    """The step's status, its SLO checks, the kinds that failed and a note.

    The generator's CPU over its limit makes a step ``saturated`` whatever it measured (its
    latencies include the generator's queueing). Late or never-sent arrivals make it
    ``saturated`` only when every SLO held on what was sent; when an SLO failed anyway the
    target is the one falling behind (open-loop latency counts from the due time) — unless the
    generator, not a short pool, left them late and the requests it sent on time met every
    latency SLO: then its lateness failed the step, which is ``saturated``."""
    checks = [
        SloCheck(
            expression=r.threshold.expression,
            metric=r.threshold.metric,
            kind=slo_kind(r.threshold),
            op=r.threshold.op,
            target=r.threshold.target,
            unit=r.threshold.unit,
            observed=r.observed,
            estimate=r.estimate,
            passed=r.passed,
        )  # fmt: skip
        for r in evaluate_thresholds(slos, sample.lookup, sample.interval)
    ]
    failed_kinds: list[SloKind] = []
    for c in checks:
        if not c.passed and c.kind not in failed_kinds:
            failed_kinds.append(c.kind)
    generator = [r for r in reasons if any(g in r for g in GENERATOR_REASONS)]
    if sample.requests and sample.failed == sample.requests:
        return "down", checks, failed_kinds, f"every one of {sample.requests} requests failed"
    if sample.requests == 0:
        return "down", checks, failed_kinds, "no request was measured"
    if any(_CPU_REASON in r for r in generator):
        return "saturated", checks, failed_kinds, generator[0]
    if generator and not failed_kinds:
        return "saturated", checks, failed_kinds, generator[0]
    if failed_kinds == ["latency"] and _late_for_cpu(generator):
        met = _on_time_meets(sample, slos)
        if met:
            return "saturated", checks, failed_kinds, f"{generator[0]}; {met}"
    if failed_kinds:
        return "failed", checks, failed_kinds, generator[0] if generator else None
    return "passed", checks, failed_kinds, None


def _late_for_cpu(generator: Sequence[str]) -> bool:
    """The window's lateness came from the generator's CPU, not from a pool the endpoint's
    slow answers kept busy (stagecheck.capacity.step._window_reasons says which)."""
    return any(_LATE_REASON in r and POOL_SHORT not in r for r in generator)


def _on_time_meets(sample: StepSample, slos: Sequence[Threshold]) -> str | None:
    """What the requests that left on time say when they meet every latency SLO (else None).
    Their latency still holds any delay the generator took to read an answer, so a pass on
    them is the endpoint's; a failure on them is judged as a failure."""
    on_time = replace(sample, latencies_us=sample.on_time_latencies_us,
                      tail_latencies_us=(), timeline=())  # fmt: skip
    latency = [t for t in slos if slo_kind(t) == "latency"]
    results = evaluate_thresholds(latency, on_time.lookup, on_time.interval)
    if not on_time.requests or not all(r.passed for r in results):
        return None
    return (f"the {on_time.requests} requests sent on time met "
            f"{', '.join(t.expression for t in latency)}: the late ones failed it")  # fmt: skip


def _new_folder(before: set[Path], steps_dir: Path) -> Path | None:
    after = {p for p in steps_dir.iterdir() if p.is_dir()} if steps_dir.is_dir() else set()
    made = sorted(after - before)
    return made[-1] if made else None


def _window_reasons(
    summary_reasons: Sequence[str], sample: StepSample, users: int, rate: float | None = None
) -> list[str]:
    """The generator's validity over the measured window only: the run's own lateness (which
    counts the warm-up's start-up) is replaced by the window's, with its likely cause; a window
    the run did not fill (it ended before) is the generator's shortfall too."""
    reasons = [r for r in summary_reasons if _LATE_REASON not in r]
    expected = (rate or 0.0) * sample.window_s
    if expected and sample.requests < expected - 3 * math.sqrt(expected):  # Poisson: 3 SD
        reasons.insert(0, f"{_SHORT_REASON}: {sample.requests} requests measured of "
                          f"{expected:.0f} due (the run ended before it)")  # fmt: skip
    in_flight = sample.in_flight
    seen = f"about {in_flight:.0f} requests in flight for {users} users"
    # on average; a stall of the machine backs requests up too, so only a pool mostly busy
    # on average ran short (53 of 96 in flight at a stall was not)
    why = (f"{seen}: {POOL_SHORT}" if in_flight >= 0.8 * users else
           f"{seen}: the load generator was short of CPU (another process, or too much work "
           "per request: add --processes)")  # fmt: skip
    late = lateness_reason(sample.late, sample.requests, why)
    return [late, *reasons] if late else reasons


def run_step(
    rate: float,
    phase: Phase,
    index: int,
    plan: StepPlan,
    root: Path,
    latency_seen_s: float | None = None,
) -> Step:
    """Run one step at ``rate`` requests/s and judge it; ``root`` is the capacity folder,
    ``latency_seen_s`` the highest p99 of the search's steps so far (sizes the user pool)."""
    users = users_for(rate, plan, latency_seen_s)
    window_s, stretched = _window(rate, plan)
    plan.steps_dir.mkdir(parents=True, exist_ok=True)
    before = {p for p in plan.steps_dir.iterdir() if p.is_dir()}
    proc, wall = _launch(rate, users, window_s, index, plan)
    errors = [line.removeprefix("stagecheck: ") for line in proc.stderr.splitlines()
              if line.startswith("stagecheck: ")]  # fmt: skip
    if proc.returncode == 2:
        raise InputError(errors or [f"step {index}: stagecheck run refused its input"])
    folder = _new_folder(before, plan.steps_dir)
    summary_path = folder / "summary.json" if folder else None
    if folder is None or summary_path is None or not summary_path.is_file():
        why = errors[-1] if errors else f"stagecheck run exited {proc.returncode}"
        return Step(index=index, phase=phase, offered_rate=rate, users=users,
                    warmup_s=plan.warmup_s, duration_s=window_s, stretched=stretched,
                    status="down", figures=None, slos=[], failed_kinds=[],
                    validity_reasons=[], note=why, run_dir=None, wall_s=wall)  # fmt: skip
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    requests = read_requests(folder / "results.jsonl")
    sample = measure(
        requests,
        started=_started(summary, requests),
        warmup_s=plan.warmup_s,
        window_s=window_s,
        latency_bound_s=latency_bound(plan.slos),
    )
    run_reasons = [str(r) for r in (summary.get("validity") or {}).get("reasons") or []]
    reasons = _window_reasons(run_reasons, sample, users, rate)
    status, checks, kinds, note = step_status(sample, plan.slos, reasons)
    generator = [r for r in reasons if any(g in r for g in GENERATOR_REASONS)]
    recheck = recheck_reason(status, checks, sample, generator)
    if status == "failed":
        note = failure_note(checks, sample)
        if generator:
            note = f"{note}; {generator[0]}"
    return Step(index=index, phase=phase, offered_rate=rate, users=users,
                warmup_s=plan.warmup_s, duration_s=window_s, stretched=stretched,
                status=status, figures=step_figures(sample), slos=checks, failed_kinds=kinds,
                validity_reasons=reasons, note=note, run_dir=str(folder.relative_to(root)),
                wall_s=wall, recheck=recheck[0] if recheck else None,
                reruns_allowed=recheck[1] if recheck else 0)  # fmt: skip


def _launch(
    rate: float, users: int, window_s: float, index: int, plan: StepPlan
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The step's ``stagecheck run``, bounded in time: its process and its wall time (s)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            _argv(rate, users, window_s, plan),
            capture_output=True,
            text=True,
            timeout=_run_s(window_s, plan) + _STEP_GRACE_S,
        )
    except subprocess.TimeoutExpired:
        raise RunError(f"step {index} at {rate:g}/s did not end in time") from None
    return proc, time.monotonic() - t0
