"""Free-text scorers: an LLM's answer against a reference, or against required phrases.

Each gives a per-row score in 0..1 (kept in results.jsonl as ``score``) and a pass rule:

- ``similarity``: score = similarity to the reference (``method``), pass when score ≥
  ``threshold``;
- ``phrases``: score = share of the checks met (each required phrase present, each forbidden one
  absent), pass when all are met.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from rapidfuzz import fuzz

from stagecheck.scoring.scorers import (
    Graded,
    Scorer,
    ScorerOptions,
    answer_text,
    expected_text,
)

__all__ = [
    "SimilarityOptions",
    "SimilarityScorer",
    "PhrasesOptions",
    "PhrasesScorer",
    "ExpectedPhrases",
    "normalised_tokens",
    "rouge_l",
]

_TOKEN = re.compile(r"[a-z0-9]+")


def normalised_tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits (punctuation and whitespace separate them): the
    tokenisation of the reference ROUGE implementation, without stemming."""
    return _TOKEN.findall(text.lower())


def _lcs_length(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (β = 1) of the longest common subsequence of normalised tokens."""
    p, r = normalised_tokens(prediction), normalised_tokens(reference)
    if not p or not r:
        return 0.0
    lcs = _lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _normalised(text: str) -> str:
    return " ".join(normalised_tokens(text))


def _exact(prediction: str, reference: str) -> float:
    return 1.0 if _normalised(prediction) == _normalised(reference) else 0.0


def _token_set(prediction: str, reference: str) -> float:
    return float(fuzz.token_set_ratio(_normalised(prediction), _normalised(reference))) / 100


def _fuzzy(prediction: str, reference: str) -> float:
    return float(fuzz.ratio(_normalised(prediction), _normalised(reference))) / 100


_METHODS: dict[str, Callable[[str, str], float]] = {
    "exact-normalised": _exact,
    "token-set": _token_set,
    "fuzzy": _fuzzy,
    "rouge-l": rouge_l,
}


class SimilarityOptions(ScorerOptions):
    """``kind: similarity`` — the answer is close enough to the reference answer."""

    kind: Literal["similarity"] = "similarity"
    method: Literal["exact-normalised", "token-set", "fuzzy", "rouge-l"] = Field(
        "token-set",
        description="exact-normalised (1 or 0), token-set / fuzzy (rapidfuzz ratio / 100), "
        "rouge-l (F-measure of the longest common token subsequence); all on lower-cased "
        "letter-and-digit tokens",
    )
    threshold: float = Field(0.7, gt=0, le=1, description="Pass when score >= threshold")


class SimilarityScorer(Scorer):
    """Similarity of the answer to the row's reference; the per-row score is that similarity."""

    kind: ClassVar[str] = "similarity"
    Options: ClassVar[type[SimilarityOptions]] = SimilarityOptions
    options: SimilarityOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        self._similarity = _METHODS[self.options.method]

    def prepare_expected(self, raw: Any) -> str:
        text = expected_text(raw)
        if not normalised_tokens(text):
            raise ValueError("reference answer has no words")
        return text

    def grade(self, prediction: Any, expected: Any) -> Graded:
        text = prediction if type(prediction) is str else answer_text(prediction)
        value = round(self._similarity(text, expected), 4)
        return value >= self.options.threshold, None, value, 0

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        return self.grade(prediction, expected)[:2]


@dataclass(frozen=True, slots=True)
class ExpectedPhrases:
    """A row's reference text (``str()``, for reports) and the checks its answer must pass."""

    reference: str
    required: tuple[re.Pattern[str], ...]
    forbidden: tuple[re.Pattern[str], ...]

    def __str__(self) -> str:
        return self.reference


class PhrasesOptions(ScorerOptions):
    """``kind: phrases`` — required phrases present, forbidden ones absent."""

    kind: Literal["phrases"] = "phrases"
    must_include: tuple[str, ...] = Field((), description="Phrases every answer must contain")
    must_not_include: tuple[str, ...] = Field(
        (), description="Phrases no answer may contain (e.g. an email pattern: no PII echoed)"
    )
    row_field: str | None = Field(
        None, description="Dataset field with the row's own required phrases (a list or a string)"
    )
    regex: bool = Field(False, description="Phrases are regular expressions (else: plain text)")
    case_sensitive: bool = False

    @field_validator("must_include", "must_not_include")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in v:
            if not phrase:
                raise ValueError("a phrase is empty (it would match any answer)")
        return v

    @model_validator(mode="after")
    def _checks(self) -> PhrasesOptions:
        if not (self.must_include or self.must_not_include or self.row_field):
            raise ValueError("give must_include, must_not_include or row_field")
        if self.regex:
            for phrase in (*self.must_include, *self.must_not_include):
                try:
                    re.compile(phrase)
                except re.error as exc:
                    raise ValueError(
                        f"{phrase!r} is not a valid regular expression: {exc}"
                    ) from None
        return self


class PhrasesScorer(Scorer):
    """Every required phrase found and no forbidden one; score = share of checks met."""

    kind: ClassVar[str] = "phrases"
    Options: ClassVar[type[PhrasesOptions]] = PhrasesOptions
    options: PhrasesOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        o = self.options
        self._required = tuple(self._compile(p) for p in o.must_include)
        self._forbidden = tuple(self._compile(p) for p in o.must_not_include)

    def _compile(self, phrase: str) -> re.Pattern[str]:
        source = phrase if self.options.regex else re.escape(phrase)
        return re.compile(source, 0 if self.options.case_sensitive else re.IGNORECASE)

    def prepare_expected(self, raw: Any) -> ExpectedPhrases:
        return ExpectedPhrases(expected_text(raw), self._required, self._forbidden)

    def prepare_row(self, raw: Any, record: Mapping[str, Any], question: str) -> ExpectedPhrases:
        expected = self.prepare_expected(raw)
        name = self.options.row_field
        if name is None:
            return expected
        value = record.get(name) if isinstance(record, Mapping) else None
        if value is None:
            value = []
        phrases = [value] if isinstance(value, str) else value
        if not isinstance(phrases, list) or not all(isinstance(p, str) and p for p in phrases):
            raise ValueError(f"field {name!r} must be a phrase or a list of non-empty phrases")
        try:
            own = tuple(self._compile(p) for p in phrases)
        except re.error as exc:
            raise ValueError(f"field {name!r}: not a valid regular expression: {exc}") from None
        if not (own or self._required or self._forbidden):
            raise ValueError(f"field {name!r} is empty and scoring has no phrases of its own")
        return ExpectedPhrases(expected.reference, self._required + own, self._forbidden)

    def grade(self, prediction: Any, expected: Any) -> Graded:
        text = prediction if type(prediction) is str else answer_text(prediction)
        met = sum(1 for p in expected.required if p.search(text))
        met += sum(1 for p in expected.forbidden if not p.search(text))
        total = len(expected.required) + len(expected.forbidden)
        return met == total, None, round(met / total, 4), 0

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        return self.grade(prediction, expected)[:2]
