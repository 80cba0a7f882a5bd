"""The error analysis of a run: one pydantic model, written by the engine into ``summary.json``
(``analysis``) and read back by every report.

Built from the run folder (``results.jsonl`` joined with ``rows.jsonl``) at the end of a run and
again by ``stagecheck report``. Strict on the way out of the engine (``extra="forbid"``); a report
reads with :meth:`Analysis.read`, which tolerates older or partial files (a report of a
half-broken run is exactly when one is needed).

Times are seconds since the run's start; latencies are µs; rates are fractions 0..1;
intervals are 95 % two-sided ``[low, high]``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "Interval",
    "Replays",
    "OffLabelExample",
    "OffLabel",
    "RowSample",
    "Confusion",
    "Concentration",
    "FailureCause",
    "LoadLevel",
    "TimeBin",
    "Timeline",
    "Consistency",
    "InconsistentRow",
    "Goodput",
    "WrongAnswer",
    "Analysis",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: 95 % two-sided interval ``(low, high)``; ``None`` where the sample cannot give one.
Interval = tuple[float, float] | None


class Replays(_Strict):
    """Unique dataset rows against scored requests: a timed run replays rows."""

    unique_rows: int  # distinct rows sent at least once
    dataset_rows: int  # rows in the dataset
    requests: int  # requests sent (all outcomes)
    factor: float  # requests / unique_rows (1.0 for one exact pass)


class OffLabelExample(_Strict):
    got: str  # the answer text (excerpt)
    predicted: str | None  # the label extracted from it, if any
    expected: str
    count: int  # how many requests answered this (×N)


class OffLabel(_Strict):
    """Classification answers that are none of the dataset's labels (after extraction)."""

    count: int
    answers: int  # requests with an answer (correct + incorrect + unparseable)
    share: float  # count / answers
    examples: list[OffLabelExample] = Field(default_factory=list)
    hint: str | None = None  # set when off-label answers dominate: which extraction to try


class RowSample(_Strict):
    """One dataset row as an example, deduplicated: ``count`` requests behaved this way."""

    row: int
    id: str
    input: str  # excerpt
    expected: str
    got: str | None  # excerpt
    count: int


class Confusion(_Strict):
    """One cell of the confusion matrix off the diagonal: expected → predicted."""

    expected: str
    predicted: str  # a dataset label, or "(other)" for an off-label answer
    count: int
    share_of_expected: float  # count / requests scored with this expected label
    samples: list[RowSample] = Field(default_factory=list)


class Concentration(_Strict):
    """A group of requests (a slice value, a crossing of two slices, an input-length bucket, a
    conversation's turn position or context-length bucket), compared with the rest of the run."""

    kind: Literal["slice", "cross", "length", "class", "turn", "context"]
    group: dict[str, str]  # e.g. {"channel": "email"} or {"channel": "email", "lang": "de"}
    label: str  # "channel=email × lang=de", "input 200–400 chars"
    requests: int
    rows: int = 0  # distinct dataset rows among the requests (the unit of evidence; 0: older file)
    scored: int  # requests with an answer that was scored
    accuracy: float | None
    accuracy_ci: Interval = None  # from the rows: replays do not narrow it
    rest_accuracy: float | None = None  # accuracy of every other scored request
    failure_rate: float  # requests without a usable answer / requests
    p_value: float | None = None  # two-sided test against the rest, rows as the unit
    p_adjusted: float | None = None  # Holm-adjusted over every group of the analysis
    significant: bool = False  # p_adjusted < 0.05, worse than the rest, and not too few rows
    thin: bool = False  # under 10 scored rows, or an interval wider than ±10 pts
    samples: list[RowSample] = Field(default_factory=list)  # wrong answers in this group


class FailureCause(_Strict):
    """Requests without a usable answer, by cause ("HTTP 404", "timeout", "cut", …)."""

    cause: str
    count: int
    first_s: float
    last_s: float
    examples: list[RowSample] = Field(default_factory=list)
    errors: list[tuple[str, int]] = Field(default_factory=list)  # distinct error texts ×N


class LoadLevel(_Strict):
    """Accuracy and failures at one load level (a stage, a user count, a latency bucket)."""

    kind: Literal["stage", "users", "latency"]
    label: str  # "stage 2 (ramp)", "8 users", "100–200 ms"
    requests: int
    scored: int
    accuracy: float | None
    accuracy_ci: Interval = None
    failure_rate: float


class TimeBin(_Strict):
    t_s: float  # bin start, seconds since the run's start
    requests: int  # requests started in the bin
    correct: int
    incorrect: int
    unparseable: int
    failed: int  # http_error + timeout + connection_error
    accuracy: float | None  # correct / (correct + incorrect + unparseable)
    p50_us: int | None
    p90_us: int | None
    p99_us: int | None


class Timeline(_Strict):
    bin_s: float  # width of a bin in seconds
    bins: list[TimeBin] = Field(default_factory=list)


class InconsistentRow(_Strict):
    row: int
    id: str
    input: str  # excerpt
    expected: str
    answers: list[tuple[str, int]]  # distinct answers (predicted label or text excerpt) ×N


class Consistency(_Strict):
    """Rows answered more than once: did the same input get the same answer (MLPerf TEST01)?"""

    rows_repeated: int  # rows with two or more answers
    rows_inconsistent: int  # of those, rows whose answers differ
    share: float  # rows_inconsistent / rows_repeated (0 when none repeated)
    examples: list[InconsistentRow] = Field(default_factory=list)


class Goodput(_Strict):
    """Requests both correct and within the latency bound, per second of the run."""

    latency_bound_s: float | None  # None: no latency threshold, so every correct answer counts
    source: str  # where the bound comes from, e.g. "threshold latency.p99 < 300ms"
    requests: int
    per_s: float


class WrongAnswer(_Strict):
    """Every wrong or unusable answer, deduplicated by (row, outcome, answer): the browsable
    table of the HTML report."""

    row: int
    id: str
    input: str  # excerpt
    expected: str
    got: str | None  # excerpt
    predicted: str | None
    outcome: str
    error: str | None
    slices: dict[str, str]
    count: int
    latency_us: int  # the largest latency among the ``count`` requests


class Analysis(_Strict):
    replays: Replays
    off_label: OffLabel | None = None  # classification only
    confusions: list[Confusion] = Field(default_factory=list)  # most frequent first
    concentrations: list[Concentration] = Field(default_factory=list)  # most significant first
    failures: list[FailureCause] = Field(default_factory=list)  # most frequent first
    load: list[LoadLevel] = Field(default_factory=list)
    timeline: Timeline | None = None
    consistency: Consistency | None = None
    goodput: Goodput | None = None
    wrong: list[WrongAnswer] = Field(default_factory=list)
    wrong_total: int = 0  # distinct wrong entries before any cap
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def read(cls, raw: Any) -> Analysis | None:
        """The analysis of a summary.json, or None when absent or unusable (older runs).

        Lenient, as a report of a half-broken or older run needs: keys this version does not
        know are ignored, at every depth; a section or list entry that does not validate is
        left out (its default is used) rather than losing the whole analysis. Only a missing
        or broken ``replays`` gives None."""
        if not isinstance(raw, dict):
            return None
        try:
            return cls.model_validate(raw)
        except ValidationError:
            pass
        cleaned = _lenient(cls, raw)
        if cleaned is None:
            return None
        try:
            return cls.model_validate(cleaned)
        except ValidationError:
            return None


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model class an annotation holds (``M``, ``M | None``, ``list[M]``), and whether it
    is a list."""
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation) or (None,)
        return (item if isinstance(item, type) and issubclass(item, BaseModel) else None), True
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, False
    return None, False


def _lenient(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any] | None:
    """``raw`` with unknown keys dropped and invalid optional parts removed, recursively; None
    when a required field cannot be had."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in raw:
            if info.is_required():
                return None
            continue
        value = raw[name]
        sub, is_list = _model_of(info.annotation)
        if sub is not None and is_list and isinstance(value, list):
            items = []
            for item in value:
                fixed = _lenient(sub, item) if isinstance(item, dict) else None
                if fixed is not None and _valid(sub, fixed):
                    items.append(fixed)
            value = items
        elif sub is not None and isinstance(value, dict):
            value = _lenient(sub, value)
            if value is None or not _valid(sub, value):
                if info.is_required():
                    return None
                continue
        else:
            try:
                TypeAdapter(info.annotation or Any).validate_python(value)
            except ValidationError:
                if info.is_required():
                    return None
                continue
        out[name] = value
    return out


def _valid(model: type[BaseModel], raw: dict[str, Any]) -> bool:
    try:
        model.model_validate(raw)
    except ValidationError:
        return False
    return True
