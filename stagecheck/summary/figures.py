"""The figures of ``summary.json``: outcomes, latency, quality, classes, slices, stages.

Part of the one summary model (:mod:`stagecheck.summary.schema` holds the run and the whole):
the engine's summary is checked against these classes, and reports read them by attribute,
with the views reports share (an outcome's count, a latency's headline values, a confusion
row's fractions) as methods here. Read leniently (:mod:`stagecheck.summary.read`), a figure a
summary lacks is None, shown as "n/a".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from stagecheck.judging.catalogue import LATENCY_STATS
from stagecheck.recording.recorder import ANSWER_OUTCOMES, FAILURE_OUTCOMES, OUTCOMES

__all__ = ["ByOutcome", "Latency", "Quality", "ClassFigures", "ConfusionMatrix",
           "SliceFigures", "StageFigures", "StageLatency", "Tokens", "TokenFigures",
           "TargetUsage", "PercentileIntervals", "Interval", "TIMING_NAMES", "timing_name",
           "accuracy_of"]  # fmt: skip

Interval = list[float] | None  # 95 % two-sided [low, high]
#: Timing key in ``latency`` → human name.
TIMING_NAMES: dict[str, str] = {
    "e2e": "end-to-end",
    "ttft": "time to first token",
    "itl": "inter-token latency",
}


def timing_name(key: str) -> str:
    return TIMING_NAMES.get(key, key)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ByOutcome(_Strict):
    correct: int
    incorrect: int
    unparseable: int
    http_error: int
    timeout: int
    connection_error: int
    unfinished: int = 0  # still open when the run ended: not an error (older summaries: absent)

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(outcome, requests) in :data:`OUTCOMES` order; ``unfinished`` only when some was."""
        return [(o, self.get(o)) for o in OUTCOMES if o != "unfinished" or self.unfinished]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def get(self, name: str) -> int:
        value = getattr(self, name, 0) if name in OUTCOMES else 0
        return value if isinstance(value, int) else 0

    @property
    def answered(self) -> int:
        """Requests that got an answer to score: correct + incorrect + unparseable."""
        return sum(self.get(o) for o in ANSWER_OUTCOMES)

    @property
    def failed(self) -> int:
        """Requests without an answer at all (they count in ``error_rate``)."""
        return sum(self.get(o) for o in FAILURE_OUTCOMES)

    @property
    def accuracy(self) -> float | None:
        """correct / answered — the definition summary.json uses, for runs without ``quality``."""
        return self.correct / self.answered if self.answered else None


def accuracy_of(quality: Quality | None, outcomes: ByOutcome) -> float | None:
    """The summary's accuracy when it has one, else correct / answered from the outcomes."""
    if quality is not None and quality.accuracy is not None:
        return quality.accuracy
    return outcomes.accuracy


class PercentileIntervals(_Strict):
    """Distribution-free 95 % intervals (order statistics), None where the sample is too
    small (p99 needs 299 requests, p99.9 about 3,000)."""

    p50: Interval
    p90: Interval
    p95: Interval
    p99: Interval
    p99_9: Interval


class Latency(_Strict):
    count: int
    min_us: int
    mean_us: float
    p50_us: int
    p90_us: int
    p95_us: int
    p99_us: int
    p99_9_us: int
    max_us: int
    out_of_range: int
    distribution: list[tuple[float, int]]  # (percentile, µs) at "nines" levels
    ci_us: PercentileIntervals | None = None  # whole run only, not per stage

    def values(self) -> list[tuple[str, float | None]]:
        """(label, µs) for p50 p90 p95 p99 p99.9 max mean, in that order."""
        return [(label, getattr(self, key)) for label, key in LATENCY_STATS]


class TokenFigures(_Strict):
    p50: float
    p90: float
    p99: float
    mean: float


class Tokens(_Strict):
    """Output tokens of the streamed answers."""

    source: Literal["usage", "deltas", "mixed"]  # the server's usage count, or text deltas
    answers: int  # streamed answers counted
    output_total: int
    per_request: TokenFigures | None  # output tokens per answer
    per_s_overall: float  # output tokens / run duration
    # per answer: tokens after the first / (end to end − time to first token)
    per_s_per_request: TokenFigures | None
    # Arrivals the generator could not time (it fell behind and the kernel merged packets of
    # several tokens, keeping the last one's time): answers whose TTFT is an upper bound, and
    # inter-token gaps in the ITL figures that are bounds, not measurements.
    ttft_bounded: int = 0
    itl_merged: int = 0

    def describe(self) -> str:
        """One line: ``1,234 output (usage) · 41.2/s · per answer p50: 12 at 38.5 tokens/s
        (p90 44.0)``; ``deltas``: counted text deltas, the stream had no usage."""
        per_request, per_s = self.per_request, self.per_s_per_request
        tokens_p50 = per_request.p50 if per_request is not None else None
        rate_p50 = per_s.p50 if per_s is not None else None
        rate_p90 = per_s.p90 if per_s is not None else None
        parts = [f"{self.output_total:,} output ({self.source})"]
        if self.per_s_overall is not None:
            parts.append(f"{self.per_s_overall:,.1f}/s")
        if tokens_p50 is not None and rate_p50 is not None:
            p90 = f" (p90 {rate_p90:,.1f})" if rate_p90 is not None else ""
            parts.append(f"per answer p50: {tokens_p50:,.0f} at {rate_p50:,.1f} tokens/s{p90}")
        elif tokens_p50 is not None:
            parts.append(f"per answer p50: {tokens_p50:,.0f}")
        return " · ".join(parts)


class Quality(_Strict):
    scored: int
    correct: int
    # distinct dataset rows scored: the unit of evidence (a timed run replays rows)
    rows: int | None = None
    # Kish's design effect of the replays (1: no row repeats; the replays per row for a
    # deterministic model): the interval is Wilson's at scored / design_effect
    design_effect: float | None = None
    accuracy: float
    accuracy_ci: Interval
    thin: bool  # under 10 rows, or too few for a ±10-point interval
    # classification only
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None
    precision_weighted: float | None = None
    recall_weighted: float | None = None
    f1_weighted: float | None = None
    precision_micro: float | None = None
    recall_micro: float | None = None
    f1_micro: float | None = None
    off_label: int | None = None  # answers that are none of the dataset's labels


class ClassFigures(_Strict):
    label: str
    support: int
    predicted: int
    tp: int
    precision: float | None
    recall: float | None
    f1: float | None
    rows: int | None = None  # distinct dataset rows expecting this label
    precision_ci: Interval
    recall_ci: Interval
    precision_design_effect: float | None = None  # replays' design effect (see Quality)
    recall_design_effect: float | None = None
    thin: bool


class ConfusionMatrix(_Strict):
    labels: list[str]  # columns; the last may be "(other)"
    matrix: list[list[int]]  # rows: expected labels sent, in sorted order
    note: str

    @property
    def row_labels(self) -> list[str]:
        return self.labels[: len(self.matrix)]

    def row_fractions(self) -> list[list[float]]:
        """Each cell divided by its row total (0 for an empty row)."""
        out = []
        for row in self.matrix:
            total = sum(row)
            out.append([cell / total if total else 0.0 for cell in row])
        return out


class SliceFigures(_Strict):
    field: str
    value: str
    requests: int
    by_outcome: ByOutcome
    error_rate: float
    error_rate_ci: Interval
    quality: Quality | None

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.by_outcome)


class StageLatency(_Strict):
    e2e: Latency | None
    ttft: Latency | None = None  # streamed answers only
    itl: Latency | None = None


class StageFigures(_Strict):
    index: int
    name: str
    users: int
    start_s: float
    end_s: float
    requests: int
    by_outcome: ByOutcome
    error_rate: float
    error_rate_ci: Interval
    offered_rate_per_s: float | None = None  # open loop: the stage's planned arrival rate
    throughput_per_s: float  # achieved: requests sent in the stage per second of it
    quality: Quality | None
    latency: StageLatency

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.by_outcome)


class TargetUsage(_Strict):
    metrics_url: str | None
    samples: int
    errors: int
    last_error: str | None
    cpu_percent_mean: float | None
    cpu_percent_max: float | None
    memory_bytes_mean: float | None
    memory_bytes_max: float | None

    def describe(self) -> str:
        """One line: ``CPU 34% mean, 52% max (100% = one core) · memory 120 MB max``."""
        parts = []
        if self.cpu_percent_mean is not None:
            peak = f", {self.cpu_percent_max:.0f}% max" if self.cpu_percent_max is not None else ""
            parts.append(f"CPU {self.cpu_percent_mean:.0f}% mean{peak} (100% = one core)")
        if self.memory_bytes_max is not None:
            parts.append(f"memory {self.memory_bytes_max / 1e6:,.1f} MB max")
        if not parts:
            why = f": {self.last_error}" if self.last_error else ""
            return f"no readings from {self.metrics_url or ''} ({self.errors} failed{why})"
        missed = f" · {self.errors} readings failed" if self.errors else ""
        return " · ".join(parts) + f" · {self.samples} readings{missed}"
