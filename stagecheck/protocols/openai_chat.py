"""``openai-chat``: OpenAI-compatible chat completions (``/v1/chat/completions``), plain or
streamed.

The messages come either whole from a row field (``messages_field``) or from an optional
``system_prompt`` plus a user message: ``user_template`` filled from the row
(``"Classify: {text}"``) or, by default, the single input field's value.

With ``tools`` (OpenAI tool calling, :mod:`stagecheck.protocols.openai_tools`) every request
declares them and an answer is a :class:`ChatAnswer`; without, an answer stays its text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from stagecheck.protocols.base import (
    MISSING,
    PreparedRequest,
    ResponseParseError,
    as_text,
    check_template,
    field_value,
    loads,
    render_template,
)
from stagecheck.protocols.openai_common import OpenAIAdapter, OpenAIOptions, error_reason
from stagecheck.protocols.openai_tools import (
    ChatAnswer,
    ToolCall,
    ToolChoice,
    ToolSpec,
    answer_of_message,
    assistant_messages,
    check_tool_choice,
    decode_stream,
    encode_fragments,
    escape_text,
    request_fields,
)

__all__ = [
    "OpenAIChatAdapter",
    "OpenAIChatOptions",
    "ChatAnswer",
    "ToolCall",
    "assistant_messages",
]


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
    tools: list[ToolSpec] | None = Field(
        None, description="OpenAI tools sent with every request; answers then carry tool calls"
    )
    tool_choice: ToolChoice | None = Field(
        None, description="none | auto | required | {type: function, function: {name: …}}"
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

    def __new__(cls, *, options: Any, **kwargs: Any) -> OpenAIChatAdapter:
        # Tools change how answers are read: that adapter is chosen here, once, so that an
        # adapter without tools reads answers exactly as before (no test on the hot path).
        if cls is OpenAIChatAdapter and getattr(options, "tools", None) is not None:
            cls = _ToolsChatAdapter
        return super().__new__(cls)

    def problems(self) -> list[str]:
        o = self.options
        tools = [f"endpoint.options.{p}" for p in check_tool_choice(o.tools, o.tool_choice)]
        if "tools" in o.extra_body and o.tools is None:
            tools.append(
                "endpoint.options.extra_body.tools: declare tools as endpoint.options.tools, "
                "so that the answers' tool calls are read"
            )
        if tools:
            return tools
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


class _ToolsChatAdapter(OpenAIChatAdapter):
    """``openai-chat`` with ``tools``: answers are :class:`ChatAnswer` values."""

    def _extra_body(self) -> dict[str, Any]:
        o = self.options
        assert o.tools is not None
        return {**request_fields(o.tools, o.tool_choice), **o.extra_body}

    def parse(self, body: bytes) -> ChatAnswer:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("response is not JSON") from None
        try:
            message = obj["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            reason = error_reason(obj)
            raise ResponseParseError(reason or "no choices[0].message in response") from None
        return answer_of_message(message)

    @staticmethod
    def _delta_text(choice: Any) -> Any:
        delta = choice["delta"]
        text = delta.get("content")
        calls = delta.get("tool_calls")
        if not calls:
            return escape_text(text) if type(text) is str else text
        return (escape_text(text) if isinstance(text, str) else "") + encode_fragments(calls)

    def finish_stream(self, text: str) -> ChatAnswer:
        return decode_stream(text)
