"""Service-level objectives of a capacity search: the threshold grammar, on one step's figures.

An SLO is written as a threshold (``latency.p99 < 300ms``, ``accuracy >= 0.9``,
``error_rate < 1%``, ``goodput >= 20/s``, ``… at 95% confidence``) and parsed by
:func:`stagecheck.judging.thresholds.parse_threshold`; a capacity step is judged on the whole run's
figures, so class and slice metrics are refused here (one line each).

The minimum number of requests per step follows from the tail an SLO names, as MLPerf
Inference LoadGen sets its minimum query count from the percentile it reports and the
confidence it wants (LoadGen's ``min_query_count``; MLPerf Inference rules, "Scenarios": the
server scenario's query count makes the p99 bound hold at 99 % confidence). Here: the smallest n
for which :func:`stagecheck.stats.percentile_rank_interval` has an interval for that
percentile at 95 %, times :data:`SAFETY_FACTOR`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import Literal

from stagecheck.judging.catalogue import PRODUCTION, TIMINGS
from stagecheck.judging.thresholds import Threshold, parse_threshold
from stagecheck.stats import percentile_rank_interval

__all__ = [
    "SLO_METRICS",
    "SAFETY_FACTOR",
    "SloKind",
    "parse_slos",
    "slo_kind",
    "latency_bound",
    "min_requests",
    "min_requests_for_percentile",
]

SloKind = Literal["latency", "correctness", "errors", "goodput"]

#: Metrics a step is judged on (a capacity step is one load level: no class or slice figures).
SLO_METRICS = ("accuracy", "error_rate", "unparseable_rate", "goodput", "throughput", "requests")
# Production-weighted and variant figures are built from a whole run folder (a production
# sample, the varied rows' pairs), not from one load level's figures.
_FOLDER_ONLY = (
    "production-weighted and variant figures are not judged per capacity step; "
    "gate a run on them (stagecheck run --against PROD, dataset.variants)"
)
#: A step measures at least this many times the requests its percentile needs for an interval.
SAFETY_FACTOR = 2
#: Without a percentile SLO, a step still counts this many requests (a Wilson interval of
#: ±10 points at 95 % needs ~92, see :func:`stagecheck.stats.is_thin`).
BASE_MIN_REQUESTS = 50


def slo_kind(t: Threshold) -> SloKind:
    """Which side of the question an SLO guards: latency, correctness, errors or goodput."""
    head = t.metric.split(".", 1)[0]
    if head in TIMINGS:
        return "latency"
    if t.metric in ("error_rate",):
        return "errors"
    if t.metric in ("goodput", "throughput", "requests"):
        return "goodput"
    return "correctness"  # accuracy, unparseable_rate, precision/recall/F1 averages


def parse_slos(texts: Sequence[str]) -> tuple[list[Threshold], list[str]]:
    """The parsed SLOs and one problem line for each that cannot judge a capacity step."""
    slos, problems = [], []
    if not texts:
        problems.append("--slo is required, e.g. --slo 'latency.p99 < 300ms'")
    for text in texts:
        try:
            t = parse_threshold(text)
        except ValueError as exc:
            problems.append(f"--slo {text!r}: {exc}")
            continue
        head, _, stat = t.metric.partition(".")
        if head in TIMINGS:
            if head != "latency":
                problems.append(f"--slo {text!r}: a capacity step judges end-to-end latency only")
                continue
            if stat.startswith("p") and not 0 < float(stat[1:]) < 100:
                problems.append(f"--slo {text!r}: the percentile must be between 0 and 100")
                continue
        elif t.metric.endswith(PRODUCTION) or t.metric.startswith("variant["):
            problems.append(f"--slo {text!r}: {_FOLDER_ONLY}")
            continue
        elif t.metric not in SLO_METRICS:
            shown = ", ".join(["latency.<pNN|mean|max>", *SLO_METRICS])
            problems.append(f"--slo {text!r}: a capacity step is judged on {shown}")
            continue
        slos.append(t)
    return slos, problems


def latency_bound(slos: Sequence[Threshold]) -> float | None:
    """The tightest latency bound (seconds) of the SLOs: what goodput counts as in time."""
    bounds = [t.target for t in slos if slo_kind(t) == "latency" and t.op in ("<", "<=")]
    return min(bounds) if bounds else None


@cache
def min_requests_for_percentile(p: float, confidence: float = 0.95) -> int:
    """The smallest n for which the p-th percentile has an order-statistics interval."""
    n = 1
    while percentile_rank_interval(n, p, confidence) is None:
        n = n * 2 if n < 16 else n + max(1, n // 64)
        if n > 10_000_000:
            raise ValueError(f"no sample size gives an interval for p{p:g}")
    lo = n // 2
    while lo + 1 < n:  # bisect down to the smallest such n
        mid = (lo + n) // 2
        if percentile_rank_interval(mid, p, confidence) is None:
            lo = mid
        else:
            n = mid
    return n


def min_requests(slos: Sequence[Threshold]) -> int:
    """Requests a step must measure (after its warm-up) for its figures to mean something."""
    need = BASE_MIN_REQUESTS
    for t in slos:
        head, _, stat = t.metric.partition(".")
        if head in TIMINGS and stat.startswith("p"):
            confidence = t.confidence or 0.95
            tail = min_requests_for_percentile(float(stat[1:]), confidence)
            need = max(need, SAFETY_FACTOR * tail)
    return int(math.ceil(need))
