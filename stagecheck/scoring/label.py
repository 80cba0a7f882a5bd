"""``kind: label``: classification, the answer names one class (confusion matrix, P/R/F1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from stagecheck.scoring.scorers import (
    Scorer,
    ScorerOptions,
    UnparseableAnswer,
    answer_text,
    expected_text,
)
from stagecheck.scoring.text import DEFAULT_LABEL_NORMALIZE, NormalizeStep, make_normalizer

__all__ = ["LabelOptions", "LabelScorer"]


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
