"""OpenAI tool calling in ``openai-chat``: the tools in every request, tool calls read from
full and streamed answers (fragments joined by index), bad tools named, history messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.protocols import STREAM_DONE, ResponseParseError, build_adapter
from stagecheck.protocols.openai_chat import ChatAnswer, ToolCall, assistant_messages

pytestmark = pytest.mark.unit

TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Find an order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                       "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "open_return"}},
]  # fmt: skip


def chat(**options: Any) -> Any:
    return build_adapter("openai-chat", model="m", inputs=("text",), options=options)


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode()


def delta(d: dict[str, Any], finish: str | None = None) -> bytes:
    return sse({"choices": [{"index": 0, "delta": d, "finish_reason": finish}]})


def read_stream(adapter: Any, lines: list[bytes]) -> Any:
    pieces = []
    for line in lines:
        piece = adapter.parse_stream_line(line)
        if piece is STREAM_DONE:
            return adapter.finish_stream("".join(pieces))
        if isinstance(piece, str) and piece:
            pieces.append(piece)
    raise AssertionError("no [DONE]")


def test_tools_and_tool_choice_are_sent_and_extra_body_keeps_the_last_word() -> None:
    a = chat(tools=TOOLS, tool_choice="required", extra_body={"seed": 1})
    body = json.loads(a.prepare({"text": "hi"}, {"text": "hi"}).body)
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "required"
    assert body["seed"] == 1
    assert a.problems() == []
    plain = json.loads(chat().prepare({"text": "hi"}, {"text": "hi"}).body)
    assert "tools" not in plain and "tool_choice" not in plain


def test_without_tools_the_answer_stays_text() -> None:
    a = chat()
    assert a.parse(b'{"choices":[{"message":{"content":"refund"}}]}') == "refund"
    assert type(a.parse(b'{"choices":[{"message":{"content":"refund"}}]}')) is str
    assert a.finish_stream("refund") == "refund"


def test_a_full_answer_with_a_tool_call() -> None:
    a = chat(tools=TOOLS)
    body = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_9", "type": "function",
         "function": {"name": "lookup_order", "arguments": '{"order_id":"A1234"}'}},
    ]}}]}  # fmt: skip
    answer = a.parse(json.dumps(body).encode())
    assert answer == ChatAnswer("", (ToolCall("call_9", "lookup_order", '{"order_id":"A1234"}'),))
    assert str(answer) == 'lookup_order({"order_id":"A1234"})'
    text = a.parse(b'{"choices":[{"message":{"content":"Hello"}}]}')
    assert text == ChatAnswer("Hello")
    # arguments sent as an object (some servers) become its JSON text
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = {"order_id": "A1"}
    assert a.parse(json.dumps(body).encode()).tool_calls[0].arguments == '{"order_id":"A1"}'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"choices":[{"message":{"content":null}}]}', "nor tool_calls"),
        (b'{"choices":[{"message":{"tool_calls":[{"function":{}}]}}]}', "no function name"),
        (b'{"choices":[]}', r"no choices\[0\]\.message"),
        (b'{"error":{"message":"tools unsupported"}}', "tools unsupported"),
        (b"nope", "not JSON"),
    ],
)
def test_a_full_answer_that_cannot_be_read(body: bytes, fragment: str) -> None:
    with pytest.raises(ResponseParseError, match=fragment):
        chat(tools=TOOLS).parse(body)


def test_streamed_tool_calls_are_joined_by_index() -> None:
    """As OpenAI streams them: id and name in the first fragment of each call, the arguments in
    pieces, two calls interleaved, text before them; a usage chunk; then [DONE]."""
    lines = [
        delta({"role": "assistant", "content": "Let me check \x1e."}),
        delta({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "lookup_order", "arguments": ""}}]}),
        delta({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "open_return", "arguments": "{\"order"}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": "{\"order_id\""}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": ": \"A1\"}"}}]}),
        delta({"tool_calls": [{"index": 1, "function": {"arguments": "_id\": \"B2\"}"}}]}),
        delta({}, "tool_calls"),
        sse({"choices": [], "usage": {"completion_tokens": 12}}),
        b"data: [DONE]",
    ]  # fmt: skip
    answer = read_stream(chat(tools=TOOLS, stream=True), lines)
    assert answer == ChatAnswer("Let me check \x1e.", (
        ToolCall("call_a", "lookup_order", '{"order_id": "A1"}'),
        ToolCall("call_b", "open_return", '{"order_id": "B2"}'),
    ))  # fmt: skip


def test_a_streamed_text_answer_with_tools_declared() -> None:
    lines = [delta({"role": "assistant", "content": "Refunds take"}),
             delta({"content": " 5 days."}), delta({}, "stop"), b"data: [DONE]"]  # fmt: skip
    assert read_stream(chat(tools=TOOLS, stream=True), lines) == ChatAnswer("Refunds take 5 days.")


def test_a_streamed_call_that_never_names_its_function() -> None:
    nameless = delta({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})
    lines = [nameless, b"data: [DONE]"]
    with pytest.raises(ResponseParseError, match="never named"):
        read_stream(chat(tools=TOOLS, stream=True), lines)


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"tools": [{"type": "function", "function": {"name": "has space"}}]},
         ("tools", 0, "function", "name")),
        ({"tools": [{"type": "retrieval", "function": {"name": "f"}}]}, ("tools", 0, "type")),
        ({"tools": [{"function": {"name": "f", "parameters": {"type": "thing"}}}]},
         ("tools", 0, "function", "parameters")),
        ({"tools": [{"function": {"name": "f", "descripton": "typo"}}]},
         ("tools", 0, "function", "descripton")),
        ({"tools": TOOLS, "tool_choice": "always"}, ("tool_choice",)),
    ],
)  # fmt: skip
def test_bad_tools_are_located(options: dict[str, Any], where: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        chat(**options)
    assert any(e["loc"][: len(where)] == where for e in info.value.errors())


def test_tools_problems_one_line_each() -> None:
    twice = [TOOLS[0], TOOLS[0]]
    named = {"type": "function", "function": {"name": "refund"}}
    assert chat(tools=twice, tool_choice=named).problems() == [
        "endpoint.options.tools: the function name 'lookup_order' is declared more than once",
        "endpoint.options.tool_choice: names the function 'refund', which tools does not "
        "declare (declared: lookup_order, lookup_order)",
    ]
    assert chat(tool_choice="auto").problems() == [
        "endpoint.options.tool_choice: given without tools"
    ]
    assert "extra_body.tools" in chat(extra_body={"tools": TOOLS}).problems()[0]


def test_assistant_messages_for_history() -> None:
    assert assistant_messages("Hello") == [{"role": "assistant", "content": "Hello"}]
    assert assistant_messages(ChatAnswer("Hi")) == [{"role": "assistant", "content": "Hi"}]
    live = ChatAnswer("", (ToolCall("call_1", "lookup_order", '{"order_id":"A1"}'),))
    assert assistant_messages(live, {"status": "shipped"}) == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "lookup_order", "arguments": '{"order_id":"A1"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
    ]  # fmt: skip
    # reference mode: the dataset's expected call
    ref = assistant_messages({"name": "lookup_order", "arguments": {"order_id": "A1"}}, "ok")
    assert ref[0]["tool_calls"][0]["function"] == {
        "name": "lookup_order", "arguments": '{"order_id":"A1"}'}  # fmt: skip
    assert ref[1] == {"role": "tool", "tool_call_id": "call_0", "content": "ok"}
