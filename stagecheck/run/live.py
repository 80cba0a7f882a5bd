"""The live view of a run: what the Prometheus exporter and the web UI read while it goes.

A frozen snapshot built off the request path (at most once a second, and only when someone
reads it): the summary so far (``build_summary(final=False)``: counts, quality, per-class and
per-slice figures, HDR percentiles, thresholds judged on the figures so far) plus what only a
running run has: users, stage, achieved and offered rate, schedule lag, the last interval's
latency, and cumulative histogram buckets for Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from hdrh.histogram import HdrHistogram

from stagecheck.judging.catalogue import LATENCY_BUCKETS_S, PERCENTILES
from stagecheck.recording.hdr import recorded, values_at_percentiles

if TYPE_CHECKING:
    from stagecheck.recording import Aggregate

__all__ = ["LiveView", "RunState", "IntervalFigures", "build_live_view", "cumulative_buckets",
           "INTERVAL_S", "endpoint_host"]  # fmt: skip

INTERVAL_S = 10.0  # "last interval" figures cover this many seconds
LIVE_PERCENTILES = tuple(p.value for p in PERCENTILES)
# Workers report every 3 s: the newest seconds of a distributed run are not all in yet.
DISTRIBUTED_SETTLE_S = 4


@dataclass(frozen=True)
class IntervalFigures:
    """Latency of one timing over the last interval (µs)."""

    count: int
    percentiles_us: dict[float, int]  # percentile (0-100) → value
    max_us: int


@dataclass(frozen=True)
class RunState:
    """What the live view takes of the run besides its aggregate: values, not the controller."""

    run_id: str
    scenario: str
    model: str | None
    protocol: str
    url: str
    distributed: bool  # results arrive in workers' reports (a few seconds late)
    finished: bool
    users: int
    stage_index: int
    offered_rate: float | None
    generator_cpu_max: float
    target_cpu_percent: float | None
    target_memory_bytes: float | None


@dataclass(frozen=True)
class LiveView:
    at: float  # when it was built (epoch s)
    finished: bool
    summary: Mapping[str, Any]  # summary so far (verdict "running"), or the final summary
    scenario: str
    run_id: str
    model: str | None
    protocol: str
    endpoint_host: str
    started: float
    elapsed_s: float
    users: int
    stage_index: int
    offered_rate: float | None  # open loop: the planned arrival rate
    achieved_rate: float  # requests started per second over the last interval
    late: int  # open-loop requests that left late (over LATE_US)
    lag_max_us: int  # the largest schedule lag over the last interval
    generator_cpu_max: float  # percent of one core
    target_cpu_percent: float | None = None  # the target's own metrics, when it has them
    target_memory_bytes: float | None = None
    interval: dict[str, IntervalFigures] = field(default_factory=dict)
    # timing → cumulative counts at LATENCY_BUCKETS_S (then +Inf), and the sum in seconds
    buckets: dict[str, list[int]] = field(default_factory=dict)
    sums_s: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])


def endpoint_host(url: str) -> str:
    """host:port of a URL, without credentials, path or query (safe for labels and pages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def cumulative_buckets(h: HdrHistogram, bounds_s: tuple[float, ...]) -> tuple[list[int], float]:
    """Cumulative counts of ``h`` (µs) at each bound (seconds) and +Inf, and the sum in
    seconds: one walk over the recorded buckets. A value counts at a bound when its HDR bucket's
    highest equivalent value is at or below it (0.1 % resolution)."""
    values, counts = recorded(h)
    at = np.searchsorted(np.asarray([b * 1e6 for b in bounds_s]), values, side="left")
    per_bound = np.bincount(at, weights=counts, minlength=len(bounds_s) + 1)
    total_us = float(np.dot(values.astype(np.float64), counts.astype(np.float64)))
    return [int(c) for c in np.cumsum(per_bound)], total_us / 1e6


def build_live_view(
    agg: Aggregate,
    run: RunState,
    summary: Mapping[str, Any],
    now: float,
    *,
    pause: Callable[[], None],
) -> LiveView:
    settle = DISTRIBUTED_SETTLE_S if run.distributed else 1
    last = int(min(now, agg.ended)) - settle  # the newest second whose requests are all in
    first = max(last - int(INTERVAL_S) + 1, int(agg.started) + 1)  # whole seconds of the run
    span = last - first + 1
    interval: dict[str, IntervalFigures] = {}
    buckets: dict[str, list[int]] = {}
    sums: dict[str, float] = {}
    for timing in agg.timings():
        pause()
        h = agg.recent_histogram(timing, INTERVAL_S, pause)
        pause()
        if h is not None:
            pcts = dict(zip(LIVE_PERCENTILES, values_at_percentiles(h, LIVE_PERCENTILES),
                            strict=True))  # fmt: skip
            interval[timing] = IntervalFigures(h.get_total_count(), pcts, h.get_max_value())
        pause()
        whole = agg.histogram(timing)
        if whole is not None:
            buckets[timing], sums[timing] = cumulative_buckets(whole, LATENCY_BUCKETS_S)
        pause()
    return LiveView(
        at=now,
        finished=run.finished,
        summary=summary,
        scenario=run.scenario,
        run_id=run.run_id,
        model=run.model,
        protocol=run.protocol,
        endpoint_host=endpoint_host(run.url),
        started=agg.started,
        elapsed_s=max(agg.ended - agg.started, 0.0),
        users=run.users,
        stage_index=max(run.stage_index, 0),
        offered_rate=run.offered_rate,
        achieved_rate=agg.requests_started(first, last) / span if span > 0 else 0.0,
        late=agg.late,
        lag_max_us=agg.lag_max(first, last),
        generator_cpu_max=run.generator_cpu_max,
        target_cpu_percent=run.target_cpu_percent,
        target_memory_bytes=run.target_memory_bytes,
        interval=interval,
        buckets=buckets,
        sums_s=sums,
    )
