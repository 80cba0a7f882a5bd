"""The summary model every report is a view of.

``summary.json`` (schema_version 1) is read once into these frozen dataclasses by
:func:`stagecheck.reporting.read.build_report`; renderers (console, Markdown, HTML, JUnit) only
read the model and never look at the raw dict, so each is a view of the same figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stagecheck.analysis.model import Analysis
from stagecheck.datasets.profile import DatasetProfile
from stagecheck.judging.catalogue import LATENCY_STATS
from stagecheck.judging.thresholds import judges_correctness
from stagecheck.recording.recorder import FAILURE_OUTCOMES, OUTCOMES

__all__ = [
    "OUTCOMES",
    "ERROR_OUTCOMES",
    "PERCENTILE_KEYS",
    "TIMING_NAMES",
    "Outcomes",
    "Latency",
    "Quality",
    "ClassMetrics",
    "Confusion",
    "SliceMetrics",
    "StageMetrics",
    "ThresholdResult",
    "Sample",
    "RunInfo",
    "Report",
    "Tokens",
]

#: Outcomes where no answer came back at all (they count in ``error_rate``).
ERROR_OUTCOMES: frozenset[str] = frozenset(FAILURE_OUTCOMES)
#: (label shown, key in a latency block) — all values are integer microseconds except the mean.
PERCENTILE_KEYS = LATENCY_STATS
#: Timing key in ``latency`` → human name.
TIMING_NAMES: dict[str, str] = {
    "e2e": "end-to-end",
    "ttft": "time to first token",
    "itl": "inter-token latency",
}


@dataclass(frozen=True)
class Outcomes:
    """Request counts by outcome, in :data:`OUTCOMES` order then any unknown outcome."""

    counts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def get(self, name: str) -> int:
        return dict(self.counts).get(name, 0)

    @property
    def answered(self) -> int:
        """Requests that got an answer to score: correct + incorrect + unparseable."""
        return self.get("correct") + self.get("incorrect") + self.get("unparseable")

    @property
    def accuracy(self) -> float | None:
        """correct / answered — the definition summary.json uses, for runs without ``quality``."""
        return self.get("correct") / self.answered if self.answered else None


def accuracy_of(quality: Quality | None, outcomes: Outcomes) -> float | None:
    """The summary's accuracy when it has one, else correct / answered from the outcomes."""
    if quality is not None and quality.accuracy is not None:
        return quality.accuracy
    return outcomes.accuracy


@dataclass(frozen=True)
class Latency:
    """One timing's distribution, in microseconds."""

    key: str
    count: int
    min_us: float | None
    mean_us: float | None
    p50_us: float | None
    p90_us: float | None
    p95_us: float | None
    p99_us: float | None
    p99_9_us: float | None
    max_us: float | None
    out_of_range: int
    #: (percentile, µs) at "nines" levels (0, 50, 90, 99, 99.9 … 100) for the distribution plot.
    distribution: tuple[tuple[float, float], ...] = ()

    @property
    def name(self) -> str:
        return TIMING_NAMES.get(self.key, self.key)

    def values(self) -> list[tuple[str, float | None]]:
        """(label, µs) for p50 p90 p95 p99 p99.9 max mean, in that order."""
        return [(label, getattr(self, attr)) for label, attr in PERCENTILE_KEYS]


@dataclass(frozen=True)
class Quality:
    """Classification figures of a run, slice or stage (all fractions 0..1)."""

    scored: int
    correct: int
    accuracy: float | None
    precision_macro: float | None
    recall_macro: float | None
    f1_macro: float | None
    precision_weighted: float | None
    recall_weighted: float | None
    f1_weighted: float | None
    rows: int | None = None  # distinct dataset rows scored (None in older summaries)
    design_effect: float = 1.0  # of replayed rows: the accuracy's evidence is scored / this


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class precision, recall and F1; ``support`` is how many rows expected this label."""

    label: str
    support: int
    predicted: int
    precision: float | None
    recall: float | None
    f1: float | None
    recall_design_effect: float = 1.0  # of replayed rows (see Quality.design_effect)


@dataclass(frozen=True)
class Confusion:
    """Rows are expected labels, columns predicted labels (columns may add "(unparseable)")."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]

    @property
    def row_labels(self) -> tuple[str, ...]:
        return self.labels[: len(self.matrix)]

    def row_fractions(self) -> list[list[float]]:
        """Each cell divided by its row total (0 for an empty row)."""
        out = []
        for row in self.matrix:
            total = sum(row)
            out.append([cell / total if total else 0.0 for cell in row])
        return out


@dataclass(frozen=True)
class SliceMetrics:
    """Figures for the requests whose row has ``field == value``."""

    field: str
    value: str
    requests: int
    outcomes: Outcomes
    error_rate: float | None
    quality: Quality | None

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.outcomes)


@dataclass(frozen=True)
class StageMetrics:
    """Figures for one load stage."""

    index: int
    name: str
    users: int | None
    start_s: float | None
    end_s: float | None
    requests: int
    outcomes: Outcomes
    error_rate: float | None
    throughput_per_s: float | None
    quality: Quality | None
    latency: Latency | None
    offered_rate_per_s: float | None = None  # open loop: the stage's planned arrival rate

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.outcomes)


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold as checked; ``target``/``observed`` are in base units given by ``unit``."""

    expression: str
    metric: str
    op: str
    target: float | None
    observed: float | None
    unit: str
    passed: bool
    #: ``… at 95% confidence``: 0.95, with ``observed`` the interval's bound and ``estimate``
    #: the figure itself.
    confidence: float | None = None
    estimate: float | None = None


@dataclass(frozen=True)
class Sample:
    """One wrong answer or failure kept for error analysis."""

    row: int | None
    #: The dataset's own id of the row, when it has one.
    id: str | None
    input: str
    expected: str | None
    got: str | None
    outcome: str
    latency_us: float | None
    slices: tuple[tuple[str, str], ...]
    error: str | None


@dataclass(frozen=True)
class RunInfo:
    """Who, what and how: the run's identity and set-up."""

    id: str
    scenario: str
    started_at: str
    ended_at: str
    duration_s: float | None
    endpoint_url: str
    protocol: str
    model: str
    load_mode: str
    users: int | None
    spawn_rate: float | None
    arrival_rate: float | None
    load_duration_s: float | None
    stage_count: int
    dataset_path: str
    dataset_rows: int | None
    skipped_rows: int
    order: str
    seed: int | None
    passes: int | None
    scoring_kind: str
    workers: int | None
    tool_version: str
    #: The load was one (or ``passes``) exact pass over the dataset: every row sent, then stop.
    exact_pass: bool = False
    #: Of ``workers``, those lost before the run's end (None: not known).
    workers_lost: int | None = None

    def workers_text(self) -> str:
        """``3 workers``, ``3 workers (1 lost)``; empty for a single process or when unknown."""
        lost = f" ({self.workers_lost} lost)" if self.workers_lost else ""
        if not self.workers or (self.workers == 1 and not lost):
            return ""
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}{lost}"

    def pass_text(self) -> str:
        """``exact pass: every row once`` (or ``twice``, ``3 times``); empty for timed load."""
        if not self.exact_pass:
            return ""
        times = {None: "once", 1: "once", 2: "twice"}.get(self.passes, f"{self.passes} times")
        return f"exact pass: every row {times}"

    def load_summary(self) -> str:
        """:meth:`load_text` and, for an exact pass, :meth:`pass_text`, joined by `` · ``."""
        return " · ".join(part for part in (self.load_text(), self.pass_text()) if part)

    def load_text(self) -> str:
        """``8 users (spawn 4/s)``, ``arrival rate 40/s`` or ``3 stages``."""
        if self.load_mode == "arrival_rate" or (self.arrival_rate and not self.users):
            return f"arrival rate {_short(self.arrival_rate)}/s"
        if self.stage_count and self.arrival_rate:
            rate = _short(self.arrival_rate)
            return f"{self.stage_count} stages of arrival rates, up to {rate}/s"
        if self.stage_count:
            peak = f", up to {self.users} users" if self.users is not None else ""
            return f"{self.stage_count} stages{peak}"
        if self.users is not None:
            spawn = f" (spawn {_short(self.spawn_rate)}/s)" if self.spawn_rate else ""
            return f"{self.users} users{spawn}"
        return self.load_mode or "n/a"


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


# Wrong answers first: they are what error analysis is about; "correct" only if a run keeps it.
_REVIEW_RANK = {name: i for i, name in enumerate(o for o in OUTCOMES if o != "correct")}


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key reading digit runs as numbers, so ``v9`` < ``v10`` and ``row2`` < ``row11``."""
    parts = re.split(r"(\d+)", text)
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts if p)


def _review_key(s: Sample) -> tuple[object, ...]:
    rank = _REVIEW_RANK.get(s.outcome, len(_REVIEW_RANK) + (s.outcome == "correct"))
    return (
        rank,
        s.outcome,
        s.expected is None,
        s.expected or "",
        s.id is None,
        _natural(s.id or ""),
        -1 if s.row is None else s.row,
    )


@dataclass(frozen=True)
class TargetUsage:
    """The target's resource usage, sampled from its Prometheus endpoint during the run."""

    metrics_url: str
    samples: int
    errors: int
    last_error: str | None
    cpu_percent_mean: float | None  # 100 = one core
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
            return f"no readings from {self.metrics_url} ({self.errors} failed{why})"
        missed = f" · {self.errors} readings failed" if self.errors else ""
        return " · ".join(parts) + f" · {self.samples} readings{missed}"


@dataclass(frozen=True)
class Tokens:
    """Output tokens of the streamed answers (summary.json ``tokens``)."""

    source: str  # "usage" (the server's count), "deltas" (counted text deltas) or "mixed"
    output_total: int
    per_s_overall: float | None
    per_request_p50: float | None
    per_request_mean: float | None
    per_s_p50: float | None  # per answer: tokens after the first / (e2e − TTFT)
    per_s_p90: float | None

    def describe(self) -> str:
        """One line: ``1,234 output (usage) · 41.2/s · per answer p50: 12 at 38.5 tokens/s
        (p90 44.0)``; ``deltas``: counted text deltas, the stream had no usage."""
        parts = [f"{self.output_total:,} output ({self.source})"]
        if self.per_s_overall is not None:
            parts.append(f"{self.per_s_overall:,.1f}/s")
        if self.per_request_p50 is not None and self.per_s_p50 is not None:
            p90 = f" (p90 {self.per_s_p90:,.1f})" if self.per_s_p90 is not None else ""
            parts.append(
                f"per answer p50: {self.per_request_p50:,.0f} at {self.per_s_p50:,.1f} "
                f"tokens/s{p90}"
            )
        elif self.per_request_p50 is not None:
            parts.append(f"per answer p50: {self.per_request_p50:,.0f}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Report:
    """Everything a report shows, read from one summary.json."""

    run: RunInfo
    verdict: str
    valid: bool
    invalid_reasons: tuple[str, ...]
    outcomes: Outcomes
    #: Requests without a usable answer by cause ("HTTP 503", "timeout", "cut", …), most first.
    causes: tuple[tuple[str, int], ...]
    total_requests: int
    error_rate: float | None
    unparseable_rate: float | None
    requests_per_s: float | None
    answers_per_s: float | None
    latency: tuple[Latency, ...]
    quality: Quality | None
    classes: tuple[ClassMetrics, ...]
    confusion: Confusion | None
    slices: tuple[SliceMetrics, ...]
    stages: tuple[StageMetrics, ...]
    thresholds: tuple[ThresholdResult, ...]
    samples: tuple[Sample, ...]
    #: Remarks the run made about itself (e.g. what was adjusted or skipped).
    notes: tuple[str, ...] = ()
    #: The target's CPU and memory during the run (scenario endpoint.metrics_url), if sampled.
    target: TargetUsage | None = None
    #: The error analysis (summary.json ``analysis``), None for runs written before it.
    analysis: Analysis | None = None
    #: The dataset's profile (rows per class and slice, duplicates, lengths), None before it.
    dataset_profile: DatasetProfile | None = None
    #: Output tokens of streamed answers (None when nothing streamed).
    tokens: Tokens | None = None

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.outcomes)

    def timing(self, key: str) -> Latency | None:
        return next((lat for lat in self.latency if lat.key == key), None)

    def share(self, count: int) -> float | None:
        """``count`` as a fraction of all requests (None when there were none)."""
        return count / self.total_requests if self.total_requests else None

    def classes_worst_first(self) -> list[ClassMetrics]:
        # Classes without an F1 (never expected nor predicted) go last: nothing to learn there.
        return sorted(self.classes, key=lambda c: (c.f1 is None, c.f1 or 0.0, c.label))

    def slices_worst_first(self) -> list[SliceMetrics]:
        return sorted(
            self.slices,
            key=lambda s: (
                s.accuracy is None,
                s.accuracy if s.accuracy is not None else 0.0,
                -(s.error_rate or 0.0),
                s.field,
                s.value,
            ),
        )

    def samples_for_review(self) -> list[Sample]:
        """Samples grouped for error analysis: by outcome, then expected label, then id.

        Outcomes go wrong answers first (incorrect, unparseable), then failures in
        :data:`OUTCOMES` order; ids compare as people read them (``v9`` before ``v10``).
        """
        return sorted(self.samples, key=_review_key)

    def failed_thresholds(self) -> list[ThresholdResult]:
        return [t for t in self.thresholds if not t.passed]

    @property
    def ungated_correctness(self) -> str | None:
        """What every view says beside the verdict of a valid run that judged no correctness
        figure (a pass then says nothing about the answers), else None."""
        if not self.valid or any(judges_correctness(t.metric) for t in self.thresholds):
            return None
        return ungated_text(self.accuracy)


def ungated_text(accuracy: float | None) -> str:
    """The words every view puts beside the verdict of a run no correctness figure judged."""
    seen = f" (accuracy {accuracy:.2%})" if accuracy is not None else ""
    return f"no correctness gate was set: answers not judged{seen}; add e.g. 'accuracy >= 0.9'"
