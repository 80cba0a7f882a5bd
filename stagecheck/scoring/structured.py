"""``kind: json-schema`` — structured output: the answer is JSON that a JSON Schema accepts.

The answer is parsed as JSON (taken out of a Markdown ```json fence when there is one; else the
outermost ``{…}``); an answer that is not JSON is unparseable. A JSON answer the schema rejects
is wrong (score 0); with ``field``, that field must also equal the row's expected value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from stagecheck.protocols.jsonpath import compile_path
from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.scoring.scorers import (
    Graded,
    Scorer,
    ScorerOptions,
    UnparseableAnswer,
    answer_text,
    expected_text,
    load_json_answer,
)
from stagecheck.scoring.text import DEFAULT_LABEL_NORMALIZE, NormalizeStep, make_normalizer

__all__ = ["JSONSchemaOptions", "JSONSchemaScorer"]

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class JSONSchemaOptions(ScorerOptions):
    """``kind: json-schema`` — the answer is JSON valid against a schema; optionally a field
    equals the expected value."""

    kind: Literal["json-schema"] = "json-schema"
    json_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="The JSON Schema, inline"
    )
    schema_file: str | None = Field(
        None, description="The JSON Schema in a file (relative to the scenario)"
    )
    field: str | None = Field(None, description="Then compare this field to the expected value")
    normalize: tuple[NormalizeStep, ...] = Field(
        DEFAULT_LABEL_NORMALIZE, description="With field: applied to both sides"
    )

    @field_validator("field")
    @classmethod
    def _field(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @field_validator("schema_file")
    @classmethod
    def _file(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        base = (info.context or {}).get("base_dir")
        path = Path(v).expanduser()
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"{path} is not JSON: {exc}") from None
        return str(path)

    @model_validator(mode="after")
    def _one_schema(self) -> JSONSchemaOptions:
        if (self.json_schema is None) == (self.schema_file is None):
            raise ValueError("give exactly one of schema (inline) and schema_file")
        import jsonschema  # only a json-schema scorer needs it (0.2 s of a run's start-up)

        try:
            jsonschema.Draft202012Validator.check_schema(self.load_schema())
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return self

    def load_schema(self) -> Any:
        if self.json_schema is not None:
            return self.json_schema
        return json.loads(Path(str(self.schema_file)).read_text(encoding="utf-8"))


def _json_answer(text: str) -> Any:
    fence = _FENCE.search(text)
    if fence is not None:
        try:
            return json.loads(fence.group(1))
        except ValueError:
            raise UnparseableAnswer("the ```json block of the answer is not JSON") from None
    return load_json_answer(text)


class JSONSchemaScorer(Scorer):
    """Schema validation, then an optional label-style field comparison; score 1 or 0."""

    kind: ClassVar[str] = "json-schema"
    Options: ClassVar[type[JSONSchemaOptions]] = JSONSchemaOptions
    options: JSONSchemaOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        import jsonschema

        o = self.options
        self._validator = jsonschema.Draft202012Validator(o.load_schema())
        self._norm = make_normalizer(o.normalize)
        self._get = (
            None
            if o.field is None
            else compile_path(o.field, error=UnparseableAnswer, where="answer")
        )

    def prepare_expected(self, raw: Any) -> str:
        return self._norm(expected_text(raw)) if self._get is not None else expected_text(raw)

    def grade(self, prediction: Any, expected: Any) -> Graded:
        if type(prediction) is ChatAnswer:  # tools declared: the answer's text
            prediction = prediction.text
        doc = _json_answer(prediction) if isinstance(prediction, str) else prediction
        if not self._validator.is_valid(doc):
            return False, None, 0.0, 0
        if self._get is None:
            return True, None, 1.0, 0
        try:
            value = self._get(doc)
        except UnparseableAnswer:
            return False, None, 0.0, 0  # the schema allowed the field to be absent
        text = value if type(value) is str else answer_text(value)
        correct = self._norm(text) == expected
        return correct, None, 1.0 if correct else 0.0, 0

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        return self.grade(prediction, expected)[:2]
