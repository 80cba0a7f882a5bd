"""The tool-call scorer: every reason a call is wrong, the argument rules, and the text turns
handed to the nested scorer."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.protocols.openai_tools import ChatAnswer, ToolCall
from stagecheck.scoring import build_scorer
from stagecheck.scoring.toolcall import REASON_KINDS, ToolCallScorer, is_tool_row, reason_kind

pytestmark = pytest.mark.unit

LOOKUP = {"tool_call": {"name": "lookup_order", "arguments": {"order_id": "A1234"}}}
REFUND_ARGS = {"order_id": "A1", "amount": 19.99, "note": "late", "reason": "damaged"}
REFUND = {"tool_call": {"name": "refund", "arguments": REFUND_ARGS}}


def scorer(**options: Any) -> ToolCallScorer:
    s = build_scorer({"kind": "tool-call", **options})
    assert isinstance(s, ToolCallScorer)
    return s


def call(name: str, arguments: str) -> ChatAnswer:
    return ChatAnswer("", (ToolCall("call_1", name, arguments),))


def verdict(s: ToolCallScorer, answer: Any, expected: Any) -> tuple[bool, str | None]:
    return s.score(answer, s.prepare_expected(expected))


def test_the_expected_call_is_right_whatever_the_key_order_and_spacing() -> None:
    s = scorer()
    assert verdict(s, call("lookup_order", '{ "order_id" : "A1234" }'), LOOKUP) == (True, None)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (ChatAnswer("Your order has shipped."), "no call"),
        (call("open_return", '{"order_id": "A1234"}'), "wrong tool: open_return"),
        (call("lookup_order", "{}"), "missing argument: order_id"),
        (call("lookup_order", '{"order_id": "A1235"}'), "wrong argument: order_id"),
        (call("lookup_order", '{"order_id": 1234}'), "wrong argument: order_id"),
        (call("lookup_order", '{"order_id": "A1234", "x": 1}'), "extra argument: x"),
        (call("lookup_order", '{"order_id": "A12'), "unparseable arguments"),
        (call("lookup_order", '["A1234"]'), "unparseable arguments"),
        (
            ChatAnswer("", (ToolCall("a", "lookup_order", '{"order_id": "A1234"}'),
                            ToolCall("b", "lookup_order", '{"order_id": "A1234"}'))),
            "several calls",
        ),  # fmt: skip
    ],
)
def test_every_reason_a_call_is_wrong(answer: ChatAnswer, reason: str) -> None:
    correct, label = verdict(scorer(), answer, LOOKUP)
    assert (correct, label) == (False, reason)
    assert reason_kind(label) in REASON_KINDS


def test_a_call_where_none_was_expected_and_text_where_none_was() -> None:
    s = scorer()
    none = {"tool_call": None}
    assert verdict(s, call("lookup_order", "{}"), none) == (False, "unexpected call: lookup_order")
    assert verdict(s, ChatAnswer("Refunds take 5 days."), none) == (True, None)
    assert is_tool_row(s.prepare_expected(none))


def test_argument_rules_tolerance_any_contains_and_extra_arguments_ignored() -> None:
    s = scorer(arguments={"amount": {"tolerance": 0.01}, "note": "any", "reason": "contains"},
               extra_arguments="ignore")  # fmt: skip
    good = '{"order_id": "A1", "amount": 19.995, "note": 7, "reason": "It is DAMAGED", "z": 0}'
    assert verdict(s, call("refund", good), REFUND) == (True, None)
    off = good.replace("19.995", "20.1")
    assert verdict(s, call("refund", off), REFUND) == (False, "wrong argument: amount")
    text_number = good.replace("19.995", '"19.99"')  # a number sent as text is not a number
    assert verdict(s, call("refund", text_number), REFUND) == (False, "wrong argument: amount")
    no_note = '{"order_id": "A1", "amount": 19.99, "reason": "damaged"}'
    assert verdict(s, call("refund", no_note), REFUND) == (False, "missing argument: note")
    other = good.replace("DAMAGED", "lost")
    assert verdict(s, call("refund", other), REFUND) == (False, "wrong argument: reason")


def test_exact_is_json_equality_booleans_are_not_numbers() -> None:
    s = scorer()
    want = {"tool_call": {"name": "f", "arguments": {"n": 2, "flag": True, "tags": ["a"]}}}
    assert verdict(s, call("f", '{"n": 2.0, "flag": true, "tags": ["a"]}'), want)[0]
    assert verdict(s, call("f", '{"n": 2, "flag": 1, "tags": ["a"]}'), want)[1] == (
        "wrong argument: flag"
    )
    assert verdict(s, call("f", '{"n": 2, "flag": true, "tags": ["a", "b"]}'), want)[1] == (
        "wrong argument: tags"
    )


def test_text_turns_go_to_the_nested_scorer() -> None:
    s = scorer(text={"kind": "contains"})
    assert verdict(s, ChatAnswer("It arrives on 9 December."), "9 December") == (True, None)
    assert verdict(s, ChatAnswer("It arrives soon."), "9 December") == (False, None)
    assert verdict(s, "It arrives on 9 December.", "9 December") == (True, None)
    assert not is_tool_row(s.prepare_expected("9 December"))


def test_bad_expected_values_and_options_are_named() -> None:
    with pytest.raises(ValueError, match="scoring.text"):
        scorer().prepare_expected("9 December")
    with pytest.raises(ValueError, match="needs a name"):
        scorer().prepare_expected({"tool_call": {"arguments": {}}})
    with pytest.raises(ValueError, match="unknown keys"):
        scorer().prepare_expected({"tool_call": {"name": "f", "args": {}}})
    with pytest.raises(ValidationError):
        scorer(arguments={"amount": "roughly"})
    with pytest.raises(ValidationError):
        scorer(text={"kind": "tool-call"})
    with pytest.raises(ValidationError):
        scorer(text={"kind": "contains", "nope": 1})


@pytest.mark.parametrize(
    ("options", "text", "expected"),
    [
        ({"kind": "contains"}, "It arrives on 9 December.", "9 December"),
        ({"kind": "exact"}, "refund", "refund"),
        ({"kind": "label"}, "refund", "refund"),
        ({"kind": "numeric"}, "42", 42),
        ({"kind": "json-field", "field": "intent"}, '{"intent": "refund"}', "refund"),
        ({"kind": "json-schema", "schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', "x"),
        ({"kind": "similarity", "method": "rouge-l", "threshold": 0.5}, "a b c", "a b c"),
    ],
)
def test_text_scorers_read_a_chat_answers_text(options: Any, text: str, expected: Any) -> None:
    """With tools declared every answer is a ChatAnswer: the other scorers score its text."""
    s = build_scorer(options)
    assert s.score(ChatAnswer(text), s.prepare_expected(expected))[0] is True
