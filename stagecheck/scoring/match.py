"""``kind: exact``, ``contains``, ``regex``: an answer's text against the expected text or
pattern."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from stagecheck.scoring.scorers import Scorer, ScorerOptions, answer_text, expected_text
from stagecheck.scoring.text import NormalizeStep, make_normalizer

__all__ = [
    "ExactOptions",
    "ExactScorer",
    "ContainsOptions",
    "ContainsScorer",
    "ExpectedPattern",
    "RegexOptions",
    "RegexScorer",
]


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
