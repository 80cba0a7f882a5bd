"""``kind: json-field``: one field of a JSON answer, compared like a label."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from stagecheck.protocols.jsonpath import compile_path
from stagecheck.scoring.scorers import (
    Scorer,
    ScorerOptions,
    UnparseableAnswer,
    answer_document,
    answer_text,
    expected_text,
)
from stagecheck.scoring.text import DEFAULT_LABEL_NORMALIZE, NormalizeStep, make_normalizer

__all__ = ["JSONFieldOptions", "JSONFieldScorer"]


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
        doc = answer_document(prediction)
        if not isinstance(doc, (dict, list)):
            raise UnparseableAnswer("answer is not a JSON object")
        value = self._get(doc)
        text = value if type(value) is str else answer_text(value)
        return self._norm(text) == expected, None
