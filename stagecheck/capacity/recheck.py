"""When a capacity step is run again before it decides the search, and what a failed step says.

The rule (README, "Capacity"): a step is run again at the same rate

- up to :data:`STARVED_RERUNS` times when its load generator was starved in the measured window
  (over 1 % of its requests left over 50 ms after their due time, arrivals never sent, or the
  generator's CPU over its limit): it measured the machine, not the endpoint;
- once when it failed only by noise: every failing SLO's 95 % interval reaches its target, or
  misses it by less than :data:`NOISE_SHARE` of the target;
- up to :data:`BURST_RERUNS` times when a latency SLO failed in bursts: the requests over its
  bound all started within a tenth of the window's seconds (at least one: 3 of a 30 s window),
  or the window's last quarter met it. A stall of the machine (another process holding the CPU
  for a moment) makes a burst; a rate the endpoint cannot sustain keeps its answers slow
  through the window. (On a 2-core machine at load 10, the slowest 1 % of 30 s steps at
  160-360/s came in one to three of their seconds in most steps.)

A correctness miss (accuracy, F1, unparseable answers) is never run again for noise or a
latency burst: every step replays the same seeded rows in the same order, so a re-run gets the
same answers from a deterministic model and cannot change the outcome by noise; drawing other
rows instead and letting the last run decide would give a model at its target a second chance
to pass (about 3 in 4 rather than 1 in 2), a capacity biased up. The rows, not the load, set
that noise; it is the same at every rate. A correctness miss is run again only with a starved
generator, whose bursts of late arrivals change what the endpoint sees.

The last run at a rate decides. A step still starved after its re-runs stops the search
(``saturated``); a failure that repeats stands.
"""

from __future__ import annotations

from collections.abc import Sequence

from stagecheck.capacity.figures import StepSample
from stagecheck.capacity.schema import SloCheck
from stagecheck.summary.validity import lateness_reason

__all__ = ["NOISE_SHARE", "STARVED_RERUNS", "NOISE_RERUNS", "BURST_RERUNS",
           "recheck_reason", "failure_note", "show"]  # fmt: skip

#: A miss smaller than this share of the target is within noise.
NOISE_SHARE = 0.10
#: Re-runs of a step whose generator was starved, that failed by noise, or in bursts.
STARVED_RERUNS = 2
NOISE_RERUNS = 1
BURST_RERUNS = 2


def show(value: float | None, unit: str) -> str:
    """A figure in the SLO's unit: 412 ms, 2.5 s, 63.2 %, 40/s."""
    if value is None:
        return "none"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.3g} s"
    if unit == "%":
        return f"{value * 100:.3g} %"
    if unit == "/s":
        return f"{value:.3g}/s"
    return f"{value:.3g}"


def _miss(c: SloCheck) -> float | None:
    """How far a failing SLO's observed figure is past its target, as a share of the target."""
    if c.observed is None or c.target == 0:
        return None
    return abs(c.observed - c.target) / abs(c.target)


def _within_noise(c: SloCheck, sample: StepSample) -> bool:
    miss = _miss(c)
    if miss is not None and miss < NOISE_SHARE:
        return True
    if c.estimate is not None:  # "at 95% confidence": observed is already the interval's bound
        return False
    bounds = sample.interval(c.metric, 0.95)
    if bounds is None:
        return False
    lo, hi = bounds
    return lo <= c.target if c.op in ("<", "<=") else hi >= c.target


def _burst(c: SloCheck, sample: StepSample) -> bool:
    """A latency percentile failed by requests bunched in a few seconds, or that the window's
    last quarter met on its own."""
    head, _, stat = c.metric.partition(".")
    if c.kind != "latency" or not stat.startswith("p") or c.op not in ("<", "<="):
        return False
    tail = sample.tail_percentile_s(float(stat[1:]))
    if tail is not None and (tail < c.target if c.op == "<" else tail <= c.target):
        return True
    seconds = sample.seconds_over(c.target)
    return 0 < len(seconds) <= max(1.0, sample.window_s / 10)


def recheck_reason(
    status: str, checks: Sequence[SloCheck], sample: StepSample, generator: Sequence[str]
) -> tuple[str, int] | None:
    """Why this step is not final, and how many re-runs that reason allows (None: final)."""
    if status in ("saturated", "failed") and generator:
        return f"the load generator was starved ({generator[0]})", STARVED_RERUNS
    if status != "failed":
        return None
    failing = [c for c in checks if not c.passed]
    if not failing or any(c.kind == "correctness" for c in failing):
        return None  # a correctness miss stands: a re-run replays the same rows (docstring)
    noise = [_within_noise(c, sample) for c in failing]
    burst = [_burst(c, sample) for c in failing]
    if any(burst) and all(n or b for n, b in zip(noise, burst, strict=True)):
        return "its latency failed in a burst (the machine stalled?)", BURST_RERUNS
    if all(noise):
        return "it failed by a margin within noise", NOISE_RERUNS
    return None


def _why(c: SloCheck, sample: StepSample) -> str:
    if c.kind == "latency":
        if lateness_reason(sample.late, sample.requests):
            return f"{sample.late} requests left late: the load generator fell behind"
        p50, tail = sample.percentile_s(50), sample.tail_percentile_s(50)
        slow = len(sample.seconds_over(c.target)) if c.op in ("<", "<=") else 0
        return (f"the endpoint answers slower at this rate: p50 {show(p50, 's')}, last "
                f"quarter's p50 {show(tail, 's')}, answers over {show(c.target, 's')} in "
                f"{slow} of the window's {sample.window_s:g} s, about {sample.in_flight:.0f} "
                "in flight")  # fmt: skip
    if c.kind == "correctness":
        wrong = sample.scored - sample.correct
        return (f"{wrong} of {sample.scored} answers wrong, {sample.outcomes['unparseable']} "
                "unparseable")  # fmt: skip
    if c.kind == "errors":
        return f"{sample.failed} of {sample.requests} requests failed"
    return f"{sample.good} answers right and in time in {sample.window_s:g} s"


def failure_note(checks: Sequence[SloCheck], sample: StepSample) -> str | None:
    """Which SLOs failed, by how much, and why: ``latency.p99 < 200ms: 412 ms, 106 % over
    (the endpoint answers slower at this rate: …)``."""
    parts = []
    for c in checks:
        if c.passed:
            continue
        miss = _miss(c)
        by = "" if miss is None else (f", {miss * 100:.0f} % "
                                      f"{'over' if c.op in ('<', '<=') else 'under'}")  # fmt: skip
        parts.append(f"{c.expression}: {show(c.observed, c.unit)}{by} "
                     f"({_why(c, sample)})")  # fmt: skip
    return "; ".join(parts) or None
