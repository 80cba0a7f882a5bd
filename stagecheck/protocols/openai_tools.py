"""OpenAI tool calling for ``openai-chat``: the declared ``tools``, the answer with its tool calls
(:class:`ChatAnswer`), and the assistant side of a conversation's history.

With ``endpoint.options.tools`` every request carries the tools (and ``tool_choice``), and an
answer is a :class:`ChatAnswer` (its text and its tool calls) instead of a ``str``. Arguments
stay the raw JSON text the model sent: whether they parse is the scorer's question (a model
that sends broken JSON answered wrongly; the answer itself was read).

Streamed tool calls come as fragments (``delta.tool_calls[i]``: the id and name once, the
arguments in pieces) joined by their ``index``. The stream reader joins the text pieces of a
stream and hands them to ``finish_stream``, and one adapter serves every concurrent stream, so a
fragment travels inside that text as a marked record (:func:`encode_fragments`), decoded once at
the end (:func:`decode_stream`). A fragment is a token for TTFT and ITL: the model generated it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stagecheck.protocols.base import ResponseParseError

__all__ = [
    "ToolCall",
    "ChatAnswer",
    "ToolFunction",
    "ToolSpec",
    "ToolChoice",
    "check_tool_choice",
    "assistant_messages",
    "answer_of_message",
    "encode_fragments",
    "escape_text",
    "decode_stream",
]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call of an answer: ``arguments`` is the raw JSON text the model sent."""

    id: str
    name: str
    arguments: str

    def __str__(self) -> str:
        return f"{self.name}({self.arguments})"


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """An ``openai-chat`` answer when tools are declared: its text ("" when it only called a
    tool) and its tool calls in order. ``str()`` shows both, for error analysis."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()

    def __str__(self) -> str:
        calls = "; ".join(map(str, self.tool_calls))
        if calls and self.text:
            return f"{calls} · {self.text}"
        return calls or self.text


# --- the scenario's tools (validated like every option: one line per problem) --------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolFunction(_Strict):
    """An OpenAI function tool's ``function`` object."""

    name: str = Field(description="Function name: letters, digits, _ and -, at most 64")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON Schema of the arguments")
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"not a function name OpenAI accepts (a-z, 0-9, _, -; 1-64): {v!r}")
        return v

    @field_validator("parameters")
    @classmethod
    def _schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        import jsonschema  # only tool scenarios need it

        try:
            jsonschema.Draft202012Validator.check_schema(v)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return v


class ToolSpec(_Strict):
    """One entry of the OpenAI ``tools`` list."""

    type: Literal["function"] = "function"
    function: ToolFunction


class _ChoiceFunction(_Strict):
    name: str


class _NamedChoice(_Strict):
    type: Literal["function"] = "function"
    function: _ChoiceFunction


ToolChoice = Literal["none", "auto", "required"] | _NamedChoice


def check_tool_choice(tools: Sequence[ToolSpec] | None, choice: ToolChoice | None) -> list[str]:
    """Problems of ``tools`` taken together with ``tool_choice`` (names, one line each)."""
    problems: list[str] = []
    names = [t.function.name for t in tools or ()]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"tools: the function name {name!r} is declared more than once")
    if tools is not None and not tools:
        problems.append("tools: an empty list (leave tools out to declare none)")
    if choice is not None and tools is None:
        problems.append("tool_choice: given without tools")
    if isinstance(choice, _NamedChoice) and tools and choice.function.name not in names:
        problems.append(
            f"tool_choice: names the function {choice.function.name!r}, which tools does not "
            f"declare (declared: {', '.join(names)})"
        )
    return problems


def request_fields(tools: Sequence[ToolSpec], choice: ToolChoice | None) -> dict[str, Any]:
    """The request body's ``tools`` (and ``tool_choice``) as OpenAI takes them."""
    fields: dict[str, Any] = {"tools": [t.model_dump(exclude_none=True) for t in tools]}
    if choice is not None:
        fields["tool_choice"] = choice if isinstance(choice, str) else choice.model_dump()
    return fields


# --- answers ------------------------------------------------------------------------------


def _arguments_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (dict, list)):  # some servers send an object, not its JSON text
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise ResponseParseError(f"a tool call's arguments are a {type(value).__name__}, not text")


def answer_of_message(message: Any) -> ChatAnswer:
    """The :class:`ChatAnswer` of a full response's ``choices[0].message``."""
    if not isinstance(message, dict):
        raise ResponseParseError("no choices[0].message in response")
    text = message.get("content")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ResponseParseError("choices[0].message.tool_calls is not a list")
    if text is None and not raw_calls:
        raise ResponseParseError("no choices[0].message.content nor tool_calls in response")
    if text is not None and not isinstance(text, str):
        raise ResponseParseError(f"choices[0].message.content is not text (got {text!r:.60})")
    calls = []
    for i, call in enumerate(raw_calls):
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise ResponseParseError(f"choices[0].message.tool_calls[{i}] has no function name")
        call_id = call.get("id")
        calls.append(
            ToolCall(
                call_id if isinstance(call_id, str) else f"call_{i}",
                name,
                _arguments_text(function.get("arguments")),  # type: ignore[union-attr]
            )
        )
    return ChatAnswer(text or "", tuple(calls))


# A streamed tool-call fragment inside the joined text: MARK + JSON [index, id, name, arguments
# piece] + MARK. JSON escapes control characters, so a record holds no MARK; a MARK in the
# model's text is doubled (escape_text).
_MARK = "\x1e"


def escape_text(text: str) -> str:
    return text.replace(_MARK, _MARK + _MARK) if _MARK in text else text


def encode_fragments(calls: Any) -> str:
    """The ``delta.tool_calls`` of one stream chunk as marked records."""
    if not isinstance(calls, list):
        raise ResponseParseError("stream chunk delta.tool_calls is not a list")
    out = []
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            raise ResponseParseError("stream chunk delta.tool_calls holds a non-object")
        index = call.get("index", position)
        function = call.get("function") or {}
        if not isinstance(function, dict) or not isinstance(index, int):
            raise ResponseParseError("stream chunk delta.tool_calls item is malformed")
        piece = function.get("arguments")
        record = [index, call.get("id") or "", function.get("name") or "",
                  piece if isinstance(piece, str) else _arguments_text(piece)]  # fmt: skip
        if not all(isinstance(x, str) for x in record[1:3]):
            raise ResponseParseError("stream chunk tool call id or name is not text")
        out.append(_MARK + json.dumps(record, separators=(",", ":")) + _MARK)
    return "".join(out)


def decode_stream(joined: str) -> ChatAnswer:
    """The answer of a stream from its joined pieces: text, and tool calls joined by index
    (id and name: the first given; arguments: the pieces in order)."""
    if _MARK not in joined:
        return ChatAnswer(joined)
    text: list[str] = []
    calls: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
    pos = 0
    while True:
        start = joined.find(_MARK, pos)
        if start < 0:
            text.append(joined[pos:])
            break
        text.append(joined[pos:start])
        if joined.startswith(_MARK, start + 1):  # an escaped MARK of the model's text
            text.append(_MARK)
            pos = start + 2
            continue
        end = joined.find(_MARK, start + 1)
        index, call_id, name, piece = json.loads(joined[start + 1 : end])
        parts = calls.setdefault(index, ["", ""])
        parts[0] = parts[0] or call_id
        parts[1] = parts[1] or name
        parts.append(piece)
        pos = end + 1
    tool_calls = []
    for index in sorted(calls):
        call_id, name, *pieces = calls[index]
        if not name:
            raise ResponseParseError(f"streamed tool call {index} never named its function")
        tool_calls.append(ToolCall(call_id or f"call_{index}", name, "".join(pieces)))
    return ChatAnswer("".join(text), tuple(tool_calls))


# --- history ------------------------------------------------------------------------------


def _call_of(value: Any, position: int) -> ToolCall:
    """A :class:`ToolCall` from a ToolCall or a dataset's ``{"name", "arguments"}``."""
    if isinstance(value, ToolCall):
        return value
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise ValueError(f"not a tool call (a name and arguments): {value!r:.80}")
    return ToolCall(
        str(value.get("id") or f"call_{position}"),
        value["name"],
        _arguments_text(value.get("arguments") or {}),
    )


def assistant_messages(answer: Any, tool_result: Any = None) -> list[dict[str, Any]]:
    """The assistant's side of one turn in a conversation's history.

    ``answer``: the model's :class:`ChatAnswer` (live mode), its text, or the dataset's answer
    (reference mode: the ``assistant`` text, or an expected ``tool_call`` mapping
    ``{"name", "arguments"}``). An answer without a call is one assistant message. An answer
    with calls is the assistant message with its ``tool_calls``, then, when ``tool_result`` is
    given, one ``tool`` message per call carrying it as JSON text (a list of results, one per
    call, when there are several calls and ``tool_result`` is a list of that length)."""
    if isinstance(answer, str):
        return [{"role": "assistant", "content": answer}]
    if isinstance(answer, ChatAnswer):
        text, calls = answer.text, answer.tool_calls
    else:
        text, calls = "", (_call_of(answer, 0),)
    if not calls:
        return [{"role": "assistant", "content": text}]
    messages: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": text or None,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ],
        }
    ]
    if tool_result is None:
        return messages
    several = len(calls) > 1 and isinstance(tool_result, list) and len(tool_result) == len(calls)
    for i, call in enumerate(calls):
        result = tool_result[i] if several else tool_result
        content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
    return messages
