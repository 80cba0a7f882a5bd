"""Wire shapes of the demo assistant with tools (``--agent``): the whole conversation read from
a chat request, and answers that carry a tool call, whole or streamed as OpenAI streams them
(the call's id and name first, then its arguments in pieces)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stagecheck.demo.agent import AgentTurn
from stagecheck.demo.payloads import (
    JSON,
    BadRequest,
    OpenAIRequest,
    _openai_common,
    _usage,
    chat_messages,
    openai_response,
    openai_stream_chunks,
)

__all__ = ["AgentRequest", "parse_agent_chat", "agent_response", "agent_stream_chunks"]

_ARGUMENT_PIECE = 8  # characters of the arguments per streamed chunk


@dataclass(frozen=True)
class AgentRequest(OpenAIRequest):
    """A chat request with its whole history and the names of the tools it declares."""

    messages: tuple[dict[str, Any], ...] = ()
    tools: tuple[str, ...] = ()


def _tool_names(body: JSON) -> tuple[str, ...]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be a list")
    names = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest("every tool must be {type: function, function: {name: ...}}")
        names.append(function["name"])
    return tuple(names)


def parse_agent_chat(body: object) -> AgentRequest:
    """``POST /v1/chat/completions`` with a history: user, assistant (text or tool calls) and
    tool messages."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    messages, user = chat_messages(body)
    for m in messages:
        if m["role"] == "tool" and not isinstance(m.get("content"), str):
            raise BadRequest("a 'tool' message's content must be text (the result as JSON)")
    texts = [m.get("content") for m in messages]
    prompt = " ".join(t for t in texts if isinstance(t, str))
    last = user[-1].get("content")
    stream, model, max_tokens, include_usage = _openai_common(body)
    return AgentRequest(
        last if isinstance(last, str) else "",
        prompt,
        stream,
        model,
        max_tokens,
        include_usage,
        tuple(messages),
        _tool_names(body),
    )


def _call_object(turn: AgentTurn, call_id: str) -> JSON:
    assert turn.call is not None
    name, arguments = turn.call
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def agent_response(
    request: AgentRequest, turn: AgentTurn, response_id: str, created: int, model: str
) -> JSON:
    """Non-streamed reply: a text answer, or the message with its tool call."""
    if turn.call is None:
        return openai_response("chat", request, turn.text, response_id, created, model)
    call = _call_object(turn, "call_" + response_id.rsplit("-", 1)[-1])
    arguments = call["function"]["arguments"]
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": _usage(request.prompt_text, _pieces(arguments)),
    }


def _pieces(arguments: str) -> int:
    return 1 + -(-len(arguments) // _ARGUMENT_PIECE)


def agent_stream_chunks(
    request: AgentRequest, turn: AgentTurn, response_id: str, created: int, model: str
) -> tuple[list[JSON], int]:
    """The SSE payloads of a streamed reply and how many carry a token: for a call, its id and
    name (arguments ""), then the arguments in pieces, the ``tool_calls`` finish, the usage."""
    if turn.call is None:
        return openai_stream_chunks("chat", request, turn.text, response_id, created, model)
    call = _call_object(turn, "call_" + response_id.rsplit("-", 1)[-1])
    arguments = call["function"]["arguments"]

    def chunk(choice: JSON) -> JSON:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    head = {**call, "index": 0, "function": {"name": call["function"]["name"], "arguments": ""}}
    chunks = [
        chunk({"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [head]},
               "finish_reason": None})
    ]  # fmt: skip
    for start in range(0, len(arguments), _ARGUMENT_PIECE):
        piece = {"index": 0, "function": {"arguments": arguments[start : start + _ARGUMENT_PIECE]}}
        chunks.append(chunk({"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}))
    tokens = len(chunks)
    chunks.append(chunk({"index": 0, "delta": {}, "finish_reason": "tool_calls"}))
    if request.include_usage:
        usage = chunk({})
        usage["choices"] = []
        usage["usage"] = _usage(request.prompt_text, tokens)
        chunks.append(usage)
    return chunks, tokens
