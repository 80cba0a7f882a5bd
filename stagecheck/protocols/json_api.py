"""``json``: any JSON HTTP API, mapped by configuration.

Request: ``body_template`` (a JSON-like structure in which a string that is exactly ``"{field}"``
becomes the row's value with its type, and other strings are ``format_map``'ed over the row),
or ``body_field`` (a row field holding the whole body), or by default
``{<input's last segment>: value, ...}``. ``GET`` sends no body: put ``{field}`` placeholders in
``path`` instead (their values are URL-quoted).

Response: ``prediction`` is a path into the JSON answer (``result.intent``,
``choices[0].message.content``, ``$`` for the whole answer, which may then also be plain text).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, field_validator, model_validator

from stagecheck.protocols.base import (
    MISSING,
    AdapterOptions,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    as_text,
    bounded_answer,
    check_template,
    encode_json,
    field_value,
    last_segment,
    loads,
    render_template,
)
from stagecheck.protocols.jsonpath import compile_path

__all__ = ["JSONAPIAdapter", "JSONAPIOptions", "render_body_template"]

_WHOLE_FIELD = re.compile(r"^\{([^{}]+)\}$")


class JSONAPIOptions(AdapterOptions):
    """Options of the ``json`` protocol."""

    path: str = Field(
        pattern=r"^/", description="Route (+query); {field} placeholders are URL-quoted"
    )
    method: Literal["POST", "PUT", "GET"] = Field("POST", description="HTTP method")
    body_template: Any = Field(None, description="JSON body with {field} placeholders")
    body_field: str | None = Field(None, description="Row field holding the whole body")
    prediction: str = Field(description="Path of the prediction in the answer, e.g. result.label")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_template(v)

    @field_validator("prediction")
    @classmethod
    def _prediction(cls, v: str) -> str:
        compile_path(v)  # raises ValueError with the reason
        return v

    @model_validator(mode="after")
    def _body_source(self) -> JSONAPIOptions:
        if self.body_template is not None and self.body_field is not None:
            raise ValueError("set body_template or body_field, not both")
        if self.method == "GET" and (self.body_template is not None or self.body_field):
            raise ValueError("GET sends no body: put {field} placeholders in path instead")
        return self


def render_body_template(template: Any, record: Mapping[str, Any]) -> Any:
    """Fill a body template from a row (see the module docstring); ``ValueError`` if it can't."""
    if isinstance(template, str):
        m = _WHOLE_FIELD.match(template)
        if m is not None:
            value = field_value(record, m.group(1).strip())
            if value is not MISSING:
                return value
        if "{" in template or "}" in template:
            return render_template(template, record, "body_template")
        return template
    if isinstance(template, list):
        return [render_body_template(item, record) for item in template]
    if isinstance(template, dict):
        return {key: render_body_template(value, record) for key, value in template.items()}
    return template


class _URLQuoted(dict[str, Any]):
    """Row values, URL-quoted, for ``format_map`` of a path."""

    def __getitem__(self, key: str) -> str:
        return quote(as_text(super().__getitem__(key)), safe="")


class JSONAPIAdapter(ProtocolAdapter):
    """Requests to any JSON API, shaped by templates; prediction read by a path."""

    name: ClassVar[str] = "json"
    Options: ClassVar[type[JSONAPIOptions]] = JSONAPIOptions
    options: JSONAPIOptions

    def __init__(self, *, model: str | None, inputs: Sequence[str], options: BaseModel) -> None:
        super().__init__(model=model, inputs=inputs, options=options)
        self._get: Callable[[Any], Any] = compile_path(self.options.prediction)
        self._whole = self.options.prediction.strip() == "$"  # then plain text is fine too
        self._path_has_fields = any(
            name is not None for _, name, _, _ in string.Formatter().parse(self.options.path)
        )

    def problems(self) -> list[str]:
        o = self.options
        if o.method == "GET" and not self._path_has_fields:
            return [
                "endpoint.options.path: a GET request sends no body, so the path needs "
                "{field} placeholders for the inputs, e.g. /predict?text={text}"
            ]
        return []

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        o = self.options
        path = o.path
        if self._path_has_fields:
            path = render_template(path, _URLQuoted(record), "path")
        if o.method == "GET":
            return PreparedRequest(path=path, body=b"", method="GET")
        if o.body_field is not None:
            body = field_value(record, o.body_field)
            if body is MISSING:
                raise ValueError(f"the row has no body_field {o.body_field!r}")
        elif o.body_template is not None:
            body = render_body_template(o.body_template, record)
        else:
            body = {last_segment(field): value for field, value in inputs.items()}
        return PreparedRequest(path=path, body=encode_json(body), method=o.method)

    def parse(self, body: bytes) -> Any:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            if self._whole:
                try:
                    return body.decode().strip()
                except UnicodeDecodeError:
                    pass
            raise ResponseParseError("response is not JSON") from None
        return bounded_answer(self._get(obj))
