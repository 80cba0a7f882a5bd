"""``openai-chat``: OpenAI-compatible chat completions (``/v1/chat/completions``), plain or
streamed.

The messages come either whole from a row field (``messages_field``) or from an optional
``system_prompt`` plus a user message: ``user_template`` filled from the row
(``"Classify: {text}"``) or, by default, the single input field's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from stagecheck.protocols.base import (
    MISSING,
    PreparedRequest,
    as_text,
    check_template,
    field_value,
    loads,
    render_template,
)
from stagecheck.protocols.openai_common import OpenAIAdapter, OpenAIOptions

__all__ = ["OpenAIChatAdapter", "OpenAIChatOptions"]


class OpenAIChatOptions(OpenAIOptions):
    """Options of the ``openai-chat`` protocol."""

    path: str = Field(
        "/v1/chat/completions", pattern=r"^/", description="Route, e.g. /v1/chat/completions"
    )
    messages_field: str | None = Field(
        None, description="Row field holding the whole messages list (a list or its JSON text)"
    )
    system_prompt: str | None = Field(None, description="System message sent before the user's")
    user_template: str | None = Field(
        None, description="User message, str.format_map over the row, e.g. 'Classify: {text}'"
    )

    @field_validator("user_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return None if v is None else check_template(v)

    @model_validator(mode="after")
    def _one_source(self) -> OpenAIChatOptions:
        if self.messages_field is not None and (
            self.user_template is not None or self.system_prompt is not None
        ):
            raise ValueError(
                "messages_field cannot be combined with system_prompt or user_template"
            )
        return self


def _check_messages(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError:
            raise ValueError("messages_field holds text that is not a JSON list") from None
    if not isinstance(value, list) or not value:
        raise ValueError("messages_field must hold a non-empty list of messages")
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or "role" not in msg:
            raise ValueError(f"messages_field item {i} is not a message with a 'role'")
    return value


class OpenAIChatAdapter(OpenAIAdapter):
    """Requests to an OpenAI-compatible chat completions route."""

    name: ClassVar[str] = "openai-chat"
    Options: ClassVar[type[OpenAIChatOptions]] = OpenAIChatOptions
    options: OpenAIChatOptions
    _text_path = "choices[0].message.content"
    _delta_path = "choices[0].delta.content"

    def problems(self) -> list[str]:
        o = self.options
        if o.messages_field is None and o.user_template is None and len(self.inputs) != 1:
            names = ", ".join(self.inputs) or "none"
            return [
                "endpoint.options.user_template: required when dataset.input is not exactly "
                f"one field (it is: {names}), e.g. user_template: 'Classify: {{text}}'"
            ]
        return []

    @property
    def reads_inputs_only(self) -> bool:
        o = self.options
        return o.messages_field is None and o.user_template is None

    def _messages(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> list[Any]:
        o = self.options
        if o.messages_field is not None:
            value = inputs.get(o.messages_field, MISSING)
            if value is MISSING:
                value = field_value(record, o.messages_field)
            if value is MISSING:
                raise ValueError(f"the row has no messages_field {o.messages_field!r}")
            return _check_messages(value)
        if o.user_template is not None:
            user = render_template(o.user_template, record, "user_template")
        elif len(inputs) == 1:
            user = as_text(next(iter(inputs.values())))
        else:
            raise ValueError("several input fields need a user_template")
        messages: list[Any] = []
        if o.system_prompt is not None:
            messages.append({"role": "system", "content": o.system_prompt})
        messages.append({"role": "user", "content": user})
        return messages

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        return self.prepare_messages(self._messages(inputs, record))

    def prepare_messages(self, messages: list[Any]) -> PreparedRequest:
        """The request of a whole messages list (a conversation turn with its history)."""
        body = self._body("messages", messages)
        return PreparedRequest(path=self.options.path, body=body, stream=self.stream)

    @staticmethod
    def _choice_text(choice: Any) -> Any:
        return choice["message"]["content"]

    @staticmethod
    def _delta_text(choice: Any) -> Any:
        return choice["delta"].get("content")
