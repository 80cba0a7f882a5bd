"""The per-process recorder: what the hot path touches, and nothing else.

Per request it does one HDR record (integer microseconds) and a few counter increments. Its state
is a :class:`Delta` that is drained at intervals (every second locally, every Locust worker
report in a distributed run) and merged exactly into the run's :class:`~.aggregate.Aggregate`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from hdrh.histogram import HdrHistogram

__all__ = [
    "OUTCOMES",
    "CORRECT",
    "INCORRECT",
    "UNPARSEABLE",
    "HTTP_ERROR",
    "TIMEOUT",
    "CONNECTION_ERROR",
    "FAILURES",
    "TIMINGS",
    "ALL",
    "LOWEST_US",
    "HIGHEST_US",
    "SIGNIFICANT_FIGURES",
    "new_histogram",
    "Delta",
    "DeltaPayload",
    "Recorder",
]

OUTCOMES = ("correct", "incorrect", "unparseable", "http_error", "timeout", "connection_error")
CORRECT, INCORRECT, UNPARSEABLE, HTTP_ERROR, TIMEOUT, CONNECTION_ERROR = range(6)
FAILURES = frozenset((HTTP_ERROR, TIMEOUT, CONNECTION_ERROR))
TIMINGS = ("e2e", "ttft", "itl")
ALL = -1  # slice index meaning "every request" (no slice)

# 0 .. 1 hour in µs at 3 significant digits: ~0.1 % value precision across the range.
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


# A result is a plain tuple so that appending it costs next to nothing on the hot path:
# (start epoch s, row index, outcome code, predicted text or None, latency µs, error or None, stage)
Result = tuple[float, int, int, "str | None", int, "str | None", int]


class DeltaPayload(TypedDict):
    """A :class:`Delta` as shipped from a Locust worker to the master (msgpack-safe)."""

    started: float
    ended: float
    histograms: list[list[Any]]  # [stage, timing, encoded]
    out_of_range: list[list[Any]]  # [stage, timing, count]
    outcomes: list[list[Any]]  # [stage, slice index, slice value, outcome, count]
    confusion: list[list[Any]]  # [stage, slice index, slice value, expected, predicted, count]
    results: list[list[Any]]


@dataclass
class Delta:
    """Everything recorded between two drains. Counter keys:
    outcomes ``(stage, slice_index, slice_value, outcome)``;
    confusion ``(stage, slice_index, slice_value, expected, predicted)``;
    ``slice_index`` is :data:`ALL` (value ``""``) for the whole run."""

    started: float
    ended: float = 0.0
    histograms: dict[tuple[int, str], HdrHistogram] = field(default_factory=dict)
    out_of_range: Counter[tuple[int, str]] = field(default_factory=Counter)
    outcomes: Counter[tuple[int, int, str, int]] = field(default_factory=Counter)
    confusion: Counter[tuple[int, int, str, str, str]] = field(default_factory=Counter)
    results: list[Result] = field(default_factory=list)

    def to_payload(self) -> DeltaPayload:
        return {
            "started": self.started,
            "ended": self.ended,
            "histograms": [
                [stage, timing, h.encode().decode("ascii")]
                for (stage, timing), h in self.histograms.items()
                if h.get_total_count()
            ],
            "out_of_range": [[s, t, n] for (s, t), n in self.out_of_range.items()],
            "outcomes": [[*k, n] for k, n in self.outcomes.items()],
            "confusion": [[*k, n] for k, n in self.confusion.items()],
            "results": [list(r) for r in self.results],
        }

    @classmethod
    def from_payload(cls, p: DeltaPayload) -> Delta:
        d = cls(started=float(p["started"]), ended=float(p["ended"]))
        for stage, timing, blob in p["histograms"]:
            h = new_histogram()
            h.decode_and_add(blob)
            d.histograms[(int(stage), str(timing))] = h
        for s, t, n in p["out_of_range"]:
            d.out_of_range[(int(s), str(t))] += int(n)
        for s, i, v, o, n in p["outcomes"]:
            d.outcomes[(int(s), int(i), str(v), int(o))] += int(n)
        for s, i, v, e, pr, n in p["confusion"]:
            d.confusion[(int(s), int(i), str(v), str(e), str(pr))] += int(n)
        d.results = [tuple(r) for r in p["results"]]  # type: ignore[misc]
        return d


class Recorder:
    """Hot-path recorder of one process. Not thread-safe; safe under gevent because
    nothing here yields."""

    def __init__(self, slice_count: int, clock: Any = time.time) -> None:
        self._slice_range = tuple(range(slice_count))
        self._clock = clock
        self.stage = 0
        self._delta = Delta(started=clock())
        self._hist: dict[tuple[int, str], HdrHistogram] = self._delta.histograms

    def _histogram(self, timing: str, stage: int) -> HdrHistogram:
        key = (stage, timing)
        h = self._hist.get(key)
        if h is None:
            h = self._hist[key] = new_histogram()
        return h

    def _latency(self, timing: str, us: int, stage: int) -> None:
        if us < 0 or us > HIGHEST_US:
            # hdrh drops out-of-range values silently: clamp, record and count them.
            self._delta.out_of_range[(stage, timing)] += 1
            us = 0 if us < 0 else HIGHEST_US
        self._histogram(timing, stage).record_value(us)

    def record(
        self,
        *,
        row_index: int,
        slices: Sequence[str],
        outcome: int,
        latency_us: int,
        started: float,
        stage: int | None = None,
        expected: str | None = None,
        predicted: str | None = None,
        got: str | None = None,
        error: str | None = None,
    ) -> None:
        """One request. ``stage``: the load stage when the request was sent (default: now);
        ``expected``/``predicted`` are labels for the confusion matrix (classification only);
        ``got`` is the answer text kept for error analysis."""
        if stage is None:
            stage = self.stage
        d = self._delta
        self._latency("e2e", latency_us, stage)
        d.outcomes[(stage, ALL, "", outcome)] += 1
        for i in self._slice_range:
            d.outcomes[(stage, i, slices[i], outcome)] += 1
        if predicted is not None and expected is not None:
            d.confusion[(stage, ALL, "", expected, predicted)] += 1
            for i in self._slice_range:
                d.confusion[(stage, i, slices[i], expected, predicted)] += 1
        d.results.append((started, row_index, outcome, got, latency_us, error, stage))

    def record_stream(self, ttft_us: int, itl_us: Sequence[int], stage: int | None = None) -> None:
        """Streaming timings of one answer: time to first token and each inter-token gap."""
        if stage is None:
            stage = self.stage
        self._latency("ttft", ttft_us, stage)
        for gap in itl_us:
            self._latency("itl", gap, stage)

    def drain(self) -> Delta:
        """Hand over what was recorded since the last drain and start afresh."""
        now = self._clock()
        delta = self._delta
        delta.ended = now
        self._delta = Delta(started=now)
        self._hist = self._delta.histograms
        return delta
