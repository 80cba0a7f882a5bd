"""``kind: numeric``: numbers equal within tolerances (``math.isclose``)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.scoring.scorers import Scorer, ScorerOptions, UnparseableAnswer

__all__ = ["NumericOptions", "NumericScorer"]


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
        elif kind is ChatAnswer:  # tools declared: the answer's text
            return self.score(prediction.text, expected)
        else:
            raise UnparseableAnswer(f"answer is a {kind.__name__}, not a number")
        if value != value:  # NaN
            raise UnparseableAnswer("answer is NaN")
        o = self.options
        return math.isclose(value, expected, rel_tol=o.rel_tol, abs_tol=o.abs_tol), None
