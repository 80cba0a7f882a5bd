"""``summary.json`` (schema version 1) as one typed model: what the engine writes, checked.

:func:`stagecheck.summary.build.build_summary` builds plain dicts section by section (cheap enough
to rebuild every second for the live view); :func:`check_summary` validates a final summary
against :class:`Summary` before it is written, with ``extra="forbid"`` everywhere, so a field
that drifts from the contract fails the run's own tests rather than a consumer's parser. The
published JSON Schema (``reporting/summary.schema.json``) is generated from
this model (``python -m stagecheck.summary.schema``) and kept current by a test.

Reading is the other direction and is lenient on purpose (older and half-written files):
:func:`stagecheck.summary.read.load_summary_model` reads any summary into this same model,
which every report (console, Markdown, HTML, JUnit, compare) reads by attribute.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Literal

from stagecheck.analysis.schema import Analysis
from stagecheck.datasets.profile import DatasetProfile
from stagecheck.judging.thresholds import judges_correctness
from stagecheck.production.schema import ProductionFigures
from stagecheck.recording.recorder import OUTCOMES, Outcome
from stagecheck.summary.conversations import ConversationFigures
from stagecheck.summary.figures import (
    TIMING_NAMES,
    ByOutcome,
    ClassFigures,
    ConfusionMatrix,
    Interval,
    Latency,
    Quality,
    SliceFigures,
    StageFigures,
    TargetUsage,
    Tokens,
    _Strict,
    accuracy_of,
)
from stagecheck.summary.variant_schema import Variants

__all__ = ["Summary", "check_summary", "summary_json_schema"]


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

    def workers_text(self) -> str:
        """``3 workers``, ``3 workers (1 lost)``; empty for a single process or when unknown."""
        lost = f" ({self.workers_lost} lost)" if self.workers_lost else ""
        if not self.workers or (self.workers == 1 and not lost):
            return ""
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}{lost}"

    def pass_text(self) -> str:
        """``exact pass: every row once`` (or ``twice``, ``3 times``); empty for timed load."""
        if not self.load.exact_pass:
            return ""
        passes = self.dataset.passes
        times = {None: "once", 1: "once", 2: "twice"}.get(passes, f"{passes} times")
        return f"exact pass: every row {times}"

    def load_summary(self) -> str:
        """:meth:`load_text` and, for an exact pass, :meth:`pass_text`, joined by `` · ``."""
        return " · ".join(part for part in (self.load_text(), self.pass_text()) if part)

    def load_text(self) -> str:
        """``8 users (spawn 4/s)``, ``arrival rate 40/s`` or ``3 stages``."""
        load, stages = self.load, len(self.load.stages)
        if load.mode == "arrival_rate" or (load.arrival_rate and not load.users):
            return f"arrival rate {_short(load.arrival_rate)}/s"
        if stages and load.arrival_rate:
            return f"{stages} stages of arrival rates, up to {_short(load.arrival_rate)}/s"
        if stages:
            peak = f", up to {load.users} users" if load.users is not None else ""
            return f"{stages} stages{peak}"
        if load.users is not None:
            spawn = f" (spawn {_short(load.spawn_rate)}/s)" if load.spawn_rate else ""
            return f"{load.users} users{spawn}"
        return load.mode or "n/a"


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


class Validity(_Strict):
    valid: bool
    reasons: list[str]


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


class Files(_Strict):
    results: str
    rows: str
    latency_log: str
    scenario: str
    html: str
    markdown: str
    junit: str


class ToolCallFigures(_Strict):
    """Turns scored on their tool call (``scoring.kind: tool-call``): a call expected, or none."""

    scored: int  # requests
    correct: int
    rows: int  # distinct dataset rows (turns): the unit of evidence
    design_effect: float
    accuracy: float
    accuracy_ci: Interval
    reasons: dict[str, int]  # why wrong ("wrong tool: x", "missing argument: y") → requests

    def describe(self) -> str:
        """``accuracy 0.9500 (76/80 turns) · wrong tool: open_return ×3, no call ×1``"""
        line = f"accuracy {self.accuracy:.4f} ({self.correct:,}/{self.scored:,} turns)"
        top = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        if top:
            line += " · " + ", ".join(f"{r} ×{n:,}" for r, n in top)
        return line


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
    #: ``--against PROD``: the production sample and the figures re-weighted to its mix
    production: ProductionFigures | None = None
    variants: Variants | None = None  # dataset.variants: figures per variant, flips
    tool_calls: ToolCallFigures | None = None  # scoring.kind: tool-call only
    conversations: ConversationFigures | None = None  # a conversation dataset's figures

    @property
    def valid(self) -> bool:
        return self.validity.valid is not False and self.verdict != "invalid"

    @property
    def causes(self) -> list[tuple[str, int]]:
        """Requests without a usable answer by cause ("HTTP 503", "timeout", …), most first."""
        return sorted(self.requests.by_cause.items(), key=lambda kv: -kv[1])

    @property
    def accuracy(self) -> float | None:
        return accuracy_of(self.quality, self.requests.by_outcome)

    def timings(self) -> list[tuple[str, Latency]]:
        """(key, figures) of each timing: e2e, ttft, itl, then any other."""
        keys = [k for k in TIMING_NAMES if k in self.latency]
        return [(k, self.latency[k]) for k in keys + [k for k in self.latency if k not in keys]]

    def timing(self, key: str) -> Latency | None:
        return self.latency.get(key)  # type: ignore[call-overload]

    def share(self, count: int) -> float | None:
        """``count`` as a fraction of all requests (None when there were none)."""
        total = self.requests.total
        return count / total if total else None

    def classes_worst_first(self) -> list[ClassFigures]:
        # Classes without an F1 (never expected nor predicted) go last: nothing to learn there.
        return sorted(self.classes, key=lambda c: (c.f1 is None, c.f1 or 0.0, c.label))

    def slices_worst_first(self) -> list[SliceFigures]:
        return sorted(self.slices, key=_slice_key)

    def samples_for_review(self) -> list[SampleRequest]:
        """Samples grouped for error analysis: by outcome, then expected label, then id.

        Outcomes go wrong answers first (incorrect, unparseable), then failures in
        :data:`OUTCOMES` order; ids compare as people read them (``v9`` before ``v10``).
        """
        return sorted(self.samples, key=_review_key)

    def failed_thresholds(self) -> list[ThresholdVerdict]:
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


def _slice_key(s: SliceFigures) -> tuple[object, ...]:
    accuracy = s.accuracy
    return (accuracy is None, accuracy if accuracy is not None else 0.0, -(s.error_rate or 0.0),
            s.field, s.value)  # fmt: skip


# Wrong answers first: they are what error analysis is about; "correct" only if a run keeps it.
_REVIEW_RANK = {name: i for i, name in enumerate(o for o in OUTCOMES if o != "correct")}


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key reading digit runs as numbers, so ``v9`` < ``v10`` and ``row2`` < ``row11``."""
    parts = re.split(r"(\d+)", text)
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts if p)


def _review_key(s: SampleRequest) -> tuple[object, ...]:
    rank = _REVIEW_RANK.get(s.outcome, len(_REVIEW_RANK) + (s.outcome == "correct"))
    return (rank, s.outcome, s.expected is None, s.expected or "", s.id is None,
            _natural(s.id or ""), -1 if s.row is None else s.row)  # fmt: skip


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
