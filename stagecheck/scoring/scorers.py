"""Scorers: is a prediction right? One class per ``scoring.kind``.

``prepare_expected`` runs once per dataset row at load time and does the costly work (text
conversion, normalisation, regex compilation); ``score`` runs per request and stays lean. An
answer that cannot be interpreted raises :class:`UnparseableAnswer` (counted apart from wrong
answers, and shown in the confusion matrix as :data:`UNPARSEABLE_LABEL`).
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stagecheck.protocols import ResponseParseError
from stagecheck.protocols.jsonpath import compile_path
from stagecheck.registry import Registry
from stagecheck.scoring.text import (
    DEFAULT_LABEL_NORMALIZE,
    NormalizeStep,
    label_text,
    make_normalizer,
)

__all__ = [
    "SCORERS",
    "UNPARSEABLE_LABEL",
    "UnparseableAnswer",
    "Scorer",
    "ScorerOptions",
    "LabelScorer",
    "ExactScorer",
    "ContainsScorer",
    "RegexScorer",
    "JSONFieldScorer",
    "NumericScorer",
    "ExpectedPattern",
    "Graded",
    "answer_text",
    "expected_text",
    "load_json_answer",
]

UNPARSEABLE_LABEL = "(unparseable)"

# A verdict with its per-row score: (correct, predicted label or None, score 0..1 or None,
# judge call µs or 0: time spent outside the target, never in its latency).
Graded = tuple[bool, "str | None", "float | None", int]


class UnparseableAnswer(ResponseParseError):
    """The answer arrived but cannot be interpreted (not a number, no label found...)."""


SCORERS: Registry[Scorer] = Registry("Scorer kind", "kinds")
"""Every scorer by kind (read-only)."""


class ScorerOptions(BaseModel):
    """Base of every scorer's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Scorer(ABC):
    """Decides whether a prediction matches the expected value of its row. A subclass that
    sets ``kind`` registers itself in :data:`SCORERS`."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]
    classification: ClassVar[bool] = False  # True: confusion matrix + precision/recall/F1
    memoize: ClassVar[bool] = True  # False: every answer is scored anew (an LLM judge)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            SCORERS.add(cls.kind, cls)

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(
                f"{type(self).__name__} needs {self.Options.__name__} options, "
                f"got {type(options).__name__}"
            )
        self.options = options

    @abstractmethod
    def prepare_expected(self, raw: Any) -> Any:
        """The expected value as ``score`` wants it; ``ValueError`` if unusable."""

    @abstractmethod
    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        """``(correct, predicted label or None)``; ``UnparseableAnswer`` if uninterpretable."""

    def prepare_row(self, raw: Any, record: Mapping[str, Any], question: str) -> Any:
        """``prepare_expected`` with the whole row (``record``) and its input text at hand, for
        scorers that need more than the expected value (per-row phrases, a judge's question)."""
        return self.prepare_expected(raw)

    def grade(self, prediction: Any, expected: Any) -> Graded:
        """``score`` with the per-row score (free-text scorers) and judge time."""
        correct, label = self.score(prediction, expected)
        return correct, label, None, 0


def expected_text(raw: Any) -> str:
    try:
        return label_text(raw)
    except TypeError as exc:
        raise ValueError(f"expected value must be a string or a number ({exc})") from None


def answer_text(prediction: Any) -> str:
    if type(prediction) is str:
        return prediction
    try:
        return label_text(prediction)
    except TypeError:
        raise UnparseableAnswer(
            f"answer is a {type(prediction).__name__}, not a single value"
        ) from None


# --- label ---


class LabelOptions(ScorerOptions):
    """``kind: label`` — classification: the answer names one class."""

    kind: Literal["label"] = "label"
    normalize: tuple[NormalizeStep, ...] = Field(
        DEFAULT_LABEL_NORMALIZE, description="Applied in order to expected and predicted labels"
    )
    extract: Literal["none", "first-word", "regex", "contains-label"] = Field(
        "none", description="How the label is taken out of the answer"
    )
    pattern: str | None = Field(None, description="With extract: regex (group 1 or whole match)")
    labels: tuple[str, ...] | None = Field(None, description="The valid labels")
    aliases: dict[str, str] = Field(default_factory=dict, description="{variant: label}")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _extract_needs(self) -> LabelOptions:
        if self.extract == "regex" and self.pattern is None:
            raise ValueError("extract: regex needs a pattern")
        if self.extract != "regex" and self.pattern is not None:
            raise ValueError("pattern is only used with extract: regex")
        if self.extract == "contains-label" and not self.labels:
            raise ValueError("extract: contains-label needs labels")
        return self


class LabelScorer(Scorer):
    """Exact match of normalised labels; the predicted label feeds the confusion matrix."""

    kind: ClassVar[str] = "label"
    Options: ClassVar[type[LabelOptions]] = LabelOptions
    classification: ClassVar[bool] = True
    options: LabelOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        o = self.options
        self._norm = make_normalizer(o.normalize)
        self._aliases = {self._norm(k): self._norm(v) for k, v in o.aliases.items()}
        self.labels: tuple[str, ...] | None = (
            None if o.labels is None else tuple(dict.fromkeys(self.canonical(x) for x in o.labels))
        )
        self._extract: Callable[[str], str] | None = None
        if o.extract == "first-word":
            self._extract = _first_word
        elif o.extract == "regex":
            self._regex = re.compile(o.pattern or "")
            self._extract = self._by_regex
        elif o.extract == "contains-label":
            # Longest first, so that "payment issue" wins over "payment" at the same place;
            # a label only counts as a whole word (not alphanumerics on either side).
            names = sorted({*(self.labels or ()), *self._aliases}, key=len, reverse=True)
            alternation = "|".join(re.escape(n) for n in names if n)
            self._finder = re.compile(rf"(?<![^\W_])(?:{alternation})(?![^\W_])")
            self._extract = self._by_labels

    def canonical(self, text: str) -> str:
        """Normalised text with aliases resolved."""
        label = self._norm(text)
        return self._aliases.get(label, label)

    def prepare_expected(self, raw: Any) -> str:
        label = self.canonical(expected_text(raw))
        if not label:
            raise ValueError("expected label is empty after normalisation")
        if self.labels is not None and label not in self.labels:
            raise ValueError(f"{label!r} is not one of scoring.labels ({', '.join(self.labels)})")
        return label

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        text = prediction if type(prediction) is str else answer_text(prediction)
        if self._extract is not None:
            text = self._extract(text)
        label = self._norm(text)
        label = self._aliases.get(label, label)
        if not label:
            raise UnparseableAnswer("empty answer")
        return label == expected, label

    def _by_regex(self, text: str) -> str:
        m = self._regex.search(text)
        if m is None:
            raise UnparseableAnswer("answer does not match scoring.pattern")
        found = m.group(1) if self._regex.groups else m.group(0)
        if not found:
            raise UnparseableAnswer("scoring.pattern matched an empty label")
        return str(found)

    def _by_labels(self, text: str) -> str:
        m = self._finder.search(self._norm(text))
        if m is None:
            raise UnparseableAnswer("answer names none of scoring.labels")
        return m.group(0)


def _first_word(text: str) -> str:
    words = text.split(None, 1)
    if not words:
        raise UnparseableAnswer("empty answer")
    return words[0]


# --- exact / contains / regex ---


class ExactOptions(ScorerOptions):
    """``kind: exact`` — the whole answer equals the expected text (after ``normalize``)."""

    kind: Literal["exact"] = "exact"
    normalize: tuple[NormalizeStep, ...] = Field((), description="Applied to both sides")


class ExactScorer(Scorer):
    """String equality after optional normalisation."""

    kind: ClassVar[str] = "exact"
    Options: ClassVar[type[ExactOptions]] = ExactOptions
    options: ExactOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        self._norm = make_normalizer(self.options.normalize)

    def prepare_expected(self, raw: Any) -> str:
        return self._norm(expected_text(raw))

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        text = prediction if type(prediction) is str else answer_text(prediction)
        return self._norm(text) == expected, None


class ContainsOptions(ScorerOptions):
    """``kind: contains`` — the expected text occurs in the answer."""

    kind: Literal["contains"] = "contains"
    case_sensitive: bool = False


class ContainsScorer(Scorer):
    """Substring test."""

    kind: ClassVar[str] = "contains"
    Options: ClassVar[type[ContainsOptions]] = ContainsOptions
    options: ContainsOptions

    def prepare_expected(self, raw: Any) -> str:
        text = expected_text(raw)
        if not text:
            raise ValueError("expected text is empty (it would match any answer)")
        return text if self.options.case_sensitive else text.lower()

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        text = prediction if type(prediction) is str else answer_text(prediction)
        if not self.options.case_sensitive:
            text = text.lower()
        return expected in text, None


@dataclass(frozen=True, slots=True)
class ExpectedPattern:
    """A compiled expected pattern; ``str()`` is its source, for reports."""

    regex: re.Pattern[str]

    def __str__(self) -> str:
        return self.regex.pattern


class RegexOptions(ScorerOptions):
    """``kind: regex`` — the expected value is a regular expression the answer must match."""

    kind: Literal["regex"] = "regex"
    fullmatch: bool = Field(False, description="The whole answer must match (else: search)")
    ignore_case: bool = False


class RegexScorer(Scorer):
    """Regular-expression match against a per-row pattern, compiled at load time."""

    kind: ClassVar[str] = "regex"
    Options: ClassVar[type[RegexOptions]] = RegexOptions
    options: RegexOptions

    def prepare_expected(self, raw: Any) -> ExpectedPattern:
        if not isinstance(raw, str):
            raise ValueError("expected value must be a regular expression (a string)")
        try:
            regex = re.compile(raw, re.IGNORECASE if self.options.ignore_case else 0)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return ExpectedPattern(regex)

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        text = prediction if type(prediction) is str else answer_text(prediction)
        regex = expected.regex
        m = regex.fullmatch(text) if self.options.fullmatch else regex.search(text)
        return m is not None, None


# --- json-field / numeric ---


class JSONFieldOptions(ScorerOptions):
    """``kind: json-field`` — the answer is JSON (text or object); one field is compared."""

    kind: Literal["json-field"] = "json-field"
    field: str = Field(description="Path in the answer, e.g. intent or result.labels[0]")
    normalize: tuple[NormalizeStep, ...] = Field(
        DEFAULT_LABEL_NORMALIZE, description="Applied to both sides"
    )

    @field_validator("field")
    @classmethod
    def _field(cls, v: str) -> str:
        compile_path(v)
        return v


def load_json_answer(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    # LLMs wrap JSON in prose or ``` fences: try the outermost {...}.
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    raise UnparseableAnswer("answer is not JSON")


class JSONFieldScorer(Scorer):
    """Label-style comparison of one field of a JSON answer."""

    kind: ClassVar[str] = "json-field"
    Options: ClassVar[type[JSONFieldOptions]] = JSONFieldOptions
    options: JSONFieldOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        self._norm = make_normalizer(self.options.normalize)
        self._get = compile_path(self.options.field, error=UnparseableAnswer, where="answer")

    def prepare_expected(self, raw: Any) -> str:
        return self._norm(expected_text(raw))

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        doc = load_json_answer(prediction) if isinstance(prediction, str) else prediction
        if not isinstance(doc, (dict, list)):
            raise UnparseableAnswer("answer is not a JSON object")
        value = self._get(doc)
        text = value if type(value) is str else answer_text(value)
        return self._norm(text) == expected, None


class NumericOptions(ScorerOptions):
    """``kind: numeric`` — numbers equal within tolerances (``math.isclose``)."""

    kind: Literal["numeric"] = "numeric"
    abs_tol: float = Field(0.0, ge=0, description="Absolute tolerance")
    rel_tol: float = Field(1e-9, ge=0, description="Relative tolerance")


class NumericScorer(Scorer):
    """|answer - expected| <= max(rel_tol * max(|a|, |b|), abs_tol)."""

    kind: ClassVar[str] = "numeric"
    Options: ClassVar[type[NumericOptions]] = NumericOptions
    options: NumericOptions

    def prepare_expected(self, raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError("expected value must be a number, got a boolean")
        try:
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected value must be a number, got {raw!r}") from None
        if math.isnan(value):
            raise ValueError("expected value is NaN")
        return value

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        kind = type(prediction)
        if kind is float or kind is int:
            value = float(prediction)
        elif kind is str:
            try:
                value = float(prediction)
            except ValueError:
                raise UnparseableAnswer(f"answer is not a number: {prediction!r:.40}") from None
        else:
            raise UnparseableAnswer(f"answer is a {kind.__name__}, not a number")
        if value != value:  # NaN
            raise UnparseableAnswer("answer is NaN")
        o = self.options
        return math.isclose(value, expected, rel_tol=o.rel_tol, abs_tol=o.abs_tol), None
