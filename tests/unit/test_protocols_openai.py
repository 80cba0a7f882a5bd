"""The OpenAI-compatible adapters: request bodies, response parsing, SSE line parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.protocols import STREAM_DONE, ResponseParseError, build_adapter
from stagecheck.protocols.base import ProtocolAdapter

pytestmark = pytest.mark.unit


def chat(options: dict[str, Any] | None = None, inputs: tuple[str, ...] = ("text",)) -> Any:
    return build_adapter("openai-chat", model="m", inputs=inputs, options=options or {})


def completions(options: dict[str, Any] | None = None, inputs: tuple[str, ...] = ("q",)) -> Any:
    return build_adapter("openai-completions", model="m", inputs=inputs, options=options or {})


def body_of(adapter: ProtocolAdapter, record: dict[str, Any]) -> dict[str, Any]:
    inputs = {name: record[name] for name in adapter.inputs if name in record}
    req = adapter.prepare(inputs, record)
    assert req.method == "POST"
    assert req.content_type == "application/json"
    result: dict[str, Any] = json.loads(req.body)
    return result


# --- chat: requests ---


def test_chat_default_request() -> None:
    a = chat()
    req = a.prepare({"text": "where is my parcel"}, {"text": "where is my parcel", "label": "x"})
    assert req.path == "/v1/chat/completions"
    assert req.stream is False
    assert json.loads(req.body) == {
        "model": "m",
        "messages": [{"role": "user", "content": "where is my parcel"}],
        "stream": False,
        "temperature": 0.0,
    }
    assert b" " not in req.body.replace(b"where is my parcel", b"")  # compact separators


def test_chat_system_prompt_template_and_sampling() -> None:
    a = chat(
        {
            "system_prompt": "You classify support requests.",
            "user_template": "Classify ({channel}): {text}",
            "max_tokens": 5,
            "temperature": 0.2,
            "extra_body": {"seed": 7, "temperature": 0.3},
            "path": "/v1/inference/chat/completions",
        }
    )
    req = a.prepare({"text": "refund?"}, {"text": "refund?", "channel": "email"})
    assert req.path == "/v1/inference/chat/completions"
    assert json.loads(req.body) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You classify support requests."},
            {"role": "user", "content": "Classify (email): refund?"},
        ],
        "stream": False,
        "max_tokens": 5,
        "temperature": 0.3,  # extra_body has the last word
        "seed": 7,
    }


def test_chat_stream_request_asks_for_usage_unless_disabled() -> None:
    a = chat({"stream": True})
    req = a.prepare({"text": "hi"}, {"text": "hi"})
    assert req.stream is True and a.stream is True
    body = json.loads(req.body)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    b = chat({"stream": True, "include_usage": False})
    assert "stream_options" not in json.loads(b.prepare({"text": "hi"}, {"text": "hi"}).body)


def test_chat_temperature_null_is_not_sent_and_model_none_is_omitted() -> None:
    a = build_adapter("openai-chat", model=None, inputs=["text"], options={"temperature": None})
    assert json.loads(a.prepare({"text": "hi"}, {"text": "hi"}).body) == {
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }


@pytest.mark.parametrize(
    ("value", "content"),
    [("plain", "plain"), (42, "42"), (1.5, "1.5"), (True, "true"), ({"a": 1}, '{"a": 1}')],
)
def test_chat_single_input_values_become_text(value: Any, content: str) -> None:
    body = body_of(chat(), {"text": value})
    assert body["messages"][0]["content"] == content


def test_chat_messages_field_as_list_or_json_text() -> None:
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    a = chat({"messages_field": "conversation"}, inputs=("conversation",))
    assert body_of(a, {"conversation": msgs})["messages"] == msgs
    assert body_of(a, {"conversation": json.dumps(msgs)})["messages"] == msgs
    nested = chat({"messages_field": "meta.msgs"}, inputs=("text",))
    assert nested.prepare({"text": "x"}, {"text": "x", "meta": {"msgs": msgs}}).body


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"conversation": "not json"}, "not a JSON list"),
        ({"conversation": []}, "non-empty list"),
        ({"conversation": [{"content": "no role"}]}, "item 0"),
        ({"other": 1}, "no messages_field 'conversation'"),
    ],
)
def test_chat_bad_messages_field(record: dict[str, Any], fragment: str) -> None:
    a = chat({"messages_field": "conversation"}, inputs=("other",))
    with pytest.raises(ValueError, match=fragment):
        a.prepare({}, record)


def test_chat_template_missing_field_is_value_error() -> None:
    a = chat({"user_template": "Classify: {txt}"})
    with pytest.raises(ValueError, match="user_template refers to field 'txt'"):
        a.prepare({"text": "x"}, {"text": "x"})


def test_chat_problems_several_inputs_need_template() -> None:
    a = chat(inputs=("title", "body"))
    problems = a.problems()
    assert len(problems) == 1
    assert problems[0].startswith("endpoint.options.user_template: required")
    assert "title, body" in problems[0]
    assert chat({"user_template": "{title}: {body}"}, inputs=("title", "body")).problems() == []
    assert chat().problems() == []


@pytest.mark.parametrize(
    ("options", "loc"),
    [
        ({"messages_field": "m", "user_template": "{x}"}, ()),
        ({"user_template": "{unclosed"}, ("user_template",)),
        ({"max_tokens": 0}, ("max_tokens",)),
        ({"path": "v1/chat"}, ("path",)),
        ({"strem": True}, ("strem",)),
    ],
)
def test_chat_invalid_options(options: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        chat(options)
    assert tuple(info.value.errors()[0]["loc"]) == loc


# --- chat: responses ---


def test_chat_parse_good_body() -> None:
    body = json.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "refund"}}]}
    ).encode()
    assert chat().parse(body) == "refund"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>502</html>", "response is not JSON"),
        (b"\xff\xfe", "response is not JSON"),
        (b"{}", "no choices[0].message.content in response"),
        (b'{"choices": []}', "no choices[0].message.content"),
        (b'{"choices": [{"message": {}}]}', "no choices[0].message.content"),
        (b'{"choices": [{"message": {"content": null}}]}', "got None"),
        (b'{"choices": [{"message": "text"}]}', "no choices[0].message.content"),
        (b"[1, 2]", "no choices[0].message.content"),
        (b'{"error": {"message": "model overloaded"}}', "error: model overloaded"),
    ],
)
def test_chat_parse_malformed(body: bytes, fragment: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        chat().parse(body)
    assert fragment in str(info.value)


# --- chat: SSE ---


def chunk(content: Any, role: bool = False) -> bytes:
    delta: dict[str, Any] = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (chunk("Ref"), "Ref"),
        (chunk("und", role=True), "und"),
        (chunk(None, role=True), None),  # role-only chunk
        (chunk(""), None),  # empty delta: no token
        (b'data:{"choices":[{"delta":{"content":"x"}}]}', "x"),  # no space after data:
        (b'data: {"choices":[{"delta":{"content":"x"}}]}\r', "x"),  # CRLF stream
        (b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}', None),
        (b'data: {"choices":[],"usage":{"total_tokens":9}}', None),  # include_usage chunk
        (b"data: [DONE]", STREAM_DONE),
        (b"data:[DONE]", STREAM_DONE),
        (b"", None),
        (b": keep-alive", None),
        (b"event: message", None),
        (b"id: 3", None),
        (b"data:", None),
    ],
)
def test_chat_stream_lines(line: bytes, expected: Any) -> None:
    result = chat({"stream": True}).parse_stream_line(line)
    if expected is STREAM_DONE:
        assert result is STREAM_DONE
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"data: {not json", "stream line is not JSON"),
        (b'data: {"object": "chunk"}', "stream chunk has no choices"),
        (b'data: {"choices": [{"text": "x"}]}', "stream chunk has no choices[0].delta.content"),
        (b'data: {"choices": [{"delta": {"content": 5}}]}', "is not text"),
        (b'data: {"error": {"message": "boom"}}', "error: boom"),
    ],
)
def test_chat_stream_malformed(line: bytes, fragment: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        chat({"stream": True}).parse_stream_line(line)
    assert fragment in str(info.value)


def test_chat_whole_stream_round_trip() -> None:
    a = chat({"stream": True})
    lines = [
        chunk(None, role=True),
        b"",
        chunk("ship"),
        b"",
        chunk("ping"),
        b'data: {"choices":[],"usage":{}}',
        b"data: [DONE]",
    ]
    parts: list[str] = []
    for line in lines:
        got = a.parse_stream_line(line)
        if got is STREAM_DONE:
            break
        if got is not None:
            parts.append(got)
    assert a.finish_stream("".join(parts)) == "shipping"


# --- completions ---


def test_completions_request_default_and_template() -> None:
    a = completions()
    req = a.prepare({"q": "2+2="}, {"q": "2+2="})
    assert req.path == "/v1/completions"
    assert json.loads(req.body) == {
        "model": "m",
        "prompt": "2+2=",
        "stream": False,
        "temperature": 0.0,
    }
    b = completions({"prompt_template": "Q: {q}\nA:", "stream": True, "max_tokens": 3})
    req = b.prepare({"q": "why"}, {"q": "why"})
    assert req.stream is True
    assert json.loads(req.body) == {
        "model": "m",
        "prompt": "Q: why\nA:",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 3,
        "temperature": 0.0,
    }


def test_completions_problems_and_parse() -> None:
    assert (
        completions(inputs=("a", "b"))
        .problems()[0]
        .startswith("endpoint.options.prompt_template: required")
    )
    a = completions()
    assert a.parse(b'{"choices":[{"text":" 4","index":0}]}') == " 4"
    with pytest.raises(ResponseParseError, match=r"no choices\[0\]\.text in response"):
        a.parse(b'{"choices":[{"message":{"content":"4"}}]}')
    with pytest.raises(ResponseParseError, match="response is not JSON"):
        a.parse(b"")


def test_completions_stream_lines() -> None:
    a = completions({"stream": True})
    assert a.parse_stream_line(b'data: {"choices":[{"text":"4","index":0}]}') == "4"
    assert a.parse_stream_line(b'data: {"choices":[{"text":"","finish_reason":"stop"}]}') is None
    assert a.parse_stream_line(b"data: [DONE]") is STREAM_DONE
    with pytest.raises(ResponseParseError, match=r"choices\[0\]\.text"):
        a.parse_stream_line(b'data: {"choices":["oops"]}')
    assert a.finish_stream(" 4") == " 4"
