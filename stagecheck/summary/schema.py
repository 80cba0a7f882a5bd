"""``summary.json`` (schema version 1) as one typed model: what the engine writes, checked.

:func:`stagecheck.summary.build.build_summary` builds plain dicts section by section (cheap enough
to rebuild every second for the live view); :func:`check_summary` validates a final summary
against :class:`Summary` before it is written, with ``extra="forbid"`` everywhere, so a field
that drifts from the contract fails the run's own tests rather than a consumer's parser. The
published JSON Schema (``reporting/summary.schema.json``) is generated from
this model (``python -m stagecheck.summary.schema``) and kept current by a test.

Reading is the other direction and is lenient on purpose (older and half-written files):
``reporting/read.py`` turns any summary into the reports' view of it.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from stagecheck.analysis.model import Analysis
from stagecheck.datasets.profile import DatasetProfile
from stagecheck.recording.recorder import Outcome

__all__ = ["Summary", "check_summary", "summary_json_schema"]

Interval = list[float] | None  # 95 % two-sided [low, high]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tool(_Strict):
    name: Literal["stagecheck"]
    version: str


class Endpoint(_Strict):
    url: str | None  # credentials and secret query values redacted
    protocol: str
    model: str | None = None


class PlanStage(_Strict):
    name: str
    users: int  # open loop: the most requests in flight at once
    spawn_rate: float | None
    end_s: float
    arrival_rate: float | None = None  # open loop: requests per second in this stage


class Load(_Strict):
    mode: Literal["users", "stages", "arrival_rate"]
    users: int
    spawn_rate: float | None
    duration_s: float | None
    arrival_rate: float | None  # staged open loop: the highest stage's
    arrivals: str | None
    exact_pass: bool
    stages: list[PlanStage]


class DatasetInfo(_Strict):
    path: str
    rows: int
    skipped_rows: int
    order: str
    seed: int | None
    passes: int | None


class Scoring(_Strict):
    kind: str


class Run(_Strict):
    id: str
    scenario: str
    started_at: str  # ISO 8601, UTC, milliseconds
    ended_at: str
    duration_s: float
    endpoint: Endpoint
    load: Load
    dataset: DatasetInfo
    scoring: Scoring
    #: Load processes that took part: sent results, or were lost during the run (1: a single
    #: process). None when not known (a summary rebuilt by ``stagecheck report``).
    workers: int | None
    #: Of those, the workers lost before the run's end (killed, cut off, or their last results
    #: never came): their latest requests are missing. None when not known.
    workers_lost: int | None = 0


class Validity(_Strict):
    valid: bool
    reasons: list[str]


class ByOutcome(_Strict):
    correct: int
    incorrect: int
    unparseable: int
    http_error: int
    timeout: int
    connection_error: int
    unfinished: int = 0  # still open when the run ended: not an error (older summaries: absent)


class Requests(_Strict):
    total: int
    by_outcome: ByOutcome
    by_cause: dict[str, int]  # "HTTP 503", "timeout", "cut", … → requests, most first
    dropped_arrivals: int
    error_rate: float
    error_rate_ci: Interval
    unparseable_rate: float


class Throughput(_Strict):
    requests_per_s: float
    answers_per_s: float


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


class SliceFigures(_Strict):
    field: str
    value: str
    requests: int
    by_outcome: ByOutcome
    error_rate: float
    error_rate_ci: Interval
    quality: Quality | None


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


class ThresholdVerdict(_Strict):
    expression: str
    metric: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    target: float
    observed: float | None  # None: the figure was not available (fails)
    unit: Literal["s", "%", "/s", ""]
    passed: bool
    confidence: float | None = None  # "… at 95% confidence": observed is the interval's bound
    estimate: float | None = None


class SampleRequest(_Strict):
    row: int
    id: str
    input: str
    expected: str
    got: str | None
    outcome: Outcome
    latency_us: int
    slices: dict[str, str]
    error: str | None


class TargetUsage(_Strict):
    metrics_url: str | None
    samples: int
    errors: int
    last_error: str | None
    cpu_percent_mean: float | None
    cpu_percent_max: float | None
    memory_bytes_mean: float | None
    memory_bytes_max: float | None


class Files(_Strict):
    results: str
    rows: str
    latency_log: str
    scenario: str
    html: str
    markdown: str
    junit: str


class Summary(_Strict):
    schema_version: Literal[1]
    tool: Tool
    run: Run
    validity: Validity
    verdict: Literal["passed", "failed", "invalid", "running"]
    requests: Requests
    throughput: Throughput
    latency: dict[Literal["e2e", "ttft", "itl"], Latency]
    tokens: Tokens | None = None  # streamed answers only
    target: TargetUsage | None
    quality: Quality | None
    classes: list[ClassFigures]
    confusion: ConfusionMatrix | None
    slices: list[SliceFigures]
    stages: list[StageFigures]
    thresholds: list[ThresholdVerdict]
    samples: list[SampleRequest]
    notes: list[str]
    files: Files
    dataset_profile: DatasetProfile | None = None
    analysis: Analysis | None = None


def check_summary(summary: dict[str, Any]) -> Summary:
    """Validate a summary the engine built; raises ``pydantic.ValidationError`` on drift."""
    return Summary.model_validate(summary)


def summary_json_schema() -> dict[str, Any]:
    schema = Summary.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stagecheck summary.json (schema_version 1)"
    return schema


if __name__ == "__main__":  # python -m stagecheck.summary.schema > reporting/summary.schema.json
    sys.stdout.write(json.dumps(summary_json_schema(), indent=2, ensure_ascii=False) + "\n")
