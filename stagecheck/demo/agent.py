"""The demo's multi-turn assistant with tools (``stagecheck demo-server --agent``).

A deterministic support assistant that reads the whole conversation: it calls
``lookup_order(order_id)`` for "where is my order A1234?", ``open_return(order_id, reason)`` for
"I want to return it, it arrived damaged", answers refund, shipping, exchange and warranty
policy questions in text, and answers follow-ups from the history: "when does it arrive?" reads
the ``eta`` of the last ``lookup_order`` result, "return it" takes the order id of the earlier
turns, "how long does that take?" the policy topic of the previous question.

Two knobs make it worse by known amounts, each fixed by a hash of the conversation so far (the
same in every run, independent across conversations):

- ``forget_rate``: that share of requests sees only the last user message: every answer that
  needs the history then asks which order is meant (or does not understand), a wrong answer;
- ``wrong_tool_rate``: that share of requests that call a tool call the other one.

With both at 0 it answers every turn of ``scenarios/data/support_conversations.jsonl`` right.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Agent",
    "AgentTurn",
    "POLICIES",
    "ORDER_ID",
    "RETURN_REASONS",
    "TOOLS",
    "ASK_ORDER",
    "NOT_UNDERSTOOD",
]

ORDER_ID = re.compile(r"\b([A-Z]\d{4})\b")

#: The tools the demo assistant knows, as a scenario declares them (OpenAI ``tools``).
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look an order up: its status, delivery date and amount paid.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "e.g. A1234"}},
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "open_return",
            "description": "Open a return for an order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "reason": {"type": "string", "description": "why it goes back"},
                },
                "required": ["order_id", "reason"],
            },
        },
    },
]

#: Words of a user message -> the ``reason`` sent to ``open_return`` (first match wins).
RETURN_REASONS: tuple[tuple[str, str], ...] = (
    ("damaged", "damaged"),
    ("broken", "damaged"),
    ("size", "wrong size"),
    ("too small", "wrong size"),
    ("too big", "wrong size"),
    ("changed my mind", "changed my mind"),
    ("late", "arrived late"),
)


@dataclass(frozen=True)
class Policy:
    keywords: tuple[str, ...]
    answer: str  # to the direct question
    follow_up: str  # to "how long does that take?", "is that free?" after it


POLICIES: dict[str, Policy] = {
    "refund": Policy(
        ("refund",),
        "You can ask for a refund within 30 days of delivery.",
        "The money reaches your original payment method within 5 business days.",
    ),
    "shipping": Policy(
        ("shipping", "delivery options"),
        "Standard shipping takes 3 to 5 business days; express takes 1 to 2.",
        "Standard shipping is free on orders over 50 euros.",
    ),
    "exchange": Policy(
        ("exchange",),
        "You can exchange an item for another size within 30 days.",
        "Exchanges cost nothing: the exchange shipping is free both ways.",
    ),
    "warranty": Policy(
        ("warranty", "guarantee"),
        "All electronics come with a 2-year warranty.",
        "Start a warranty claim from the Orders page with a photo of the fault.",
    ),
}

ASK_ORDER = "Which order do you mean? Please give me the order number."
NOT_UNDERSTOOD = "Sorry, I did not understand. Could you say what you need?"
_FOLLOW_UP = re.compile(r"\b(it|that|this|them)\b")
_WORD_RETURN = re.compile(r"\b(return|send it back|send back)\b")


@dataclass(frozen=True)
class AgentTurn:
    """The assistant's answer: a text, or one tool call (name and arguments)."""

    text: str = ""
    call: tuple[str, dict[str, Any]] | None = None


@dataclass
class _Context:
    """What the history tells: the last order id, tool results, the last policy topic."""

    order_id: str | None = None
    order: dict[str, Any] = field(default_factory=dict)  # the last lookup_order result
    ret: dict[str, Any] = field(default_factory=dict)  # the last open_return result
    topic: str | None = None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _context(history: Sequence[dict[str, Any]]) -> _Context:
    ctx = _Context()
    for m in history:
        role = m.get("role")
        if role == "user":
            text = _text(m.get("content"))
            found = ORDER_ID.findall(text)
            if found:
                ctx.order_id = found[-1]
            topic = _policy_topic(text.lower())
            if topic is not None:
                ctx.topic = topic
        elif role == "assistant":
            for call in m.get("tool_calls") or ():
                try:
                    args = json.loads(call["function"]["arguments"])
                    ctx.order_id = str(args["order_id"])
                except (KeyError, TypeError, ValueError):
                    continue
        elif role == "tool":
            try:
                result = json.loads(_text(m.get("content")))
            except ValueError:
                continue
            if isinstance(result, dict) and "return_id" in result:
                ctx.ret = result
            elif isinstance(result, dict):
                ctx.order = result
    return ctx


def _policy_topic(lower: str) -> str | None:
    for name, policy in POLICIES.items():
        if any(k in lower for k in policy.keywords):
            return name
    return None


def _reason(lower: str) -> str | None:
    return next((reason for word, reason in RETURN_REASONS if word in lower), None)


def _share(seed: int, salt: str, messages: Sequence[dict[str, Any]]) -> float:
    """A fixed number in [0, 1) for this conversation so far (its user messages)."""
    users = "\x1f".join(_text(m.get("content")) for m in messages if m.get("role") == "user")
    digest = hashlib.blake2b(f"{seed}/{salt}/{users}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Agent:
    """Answers a conversation (OpenAI ``messages``) given the tools its request declares."""

    def __init__(self, forget_rate: float = 0.0, wrong_tool_rate: float = 0.0, seed: int = 0):
        self.forget_rate = forget_rate
        self.wrong_tool_rate = wrong_tool_rate
        self.seed = seed

    def reply(self, messages: Sequence[dict[str, Any]], tools: Sequence[str]) -> AgentTurn:
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        if last_user < 0:
            return AgentTurn(NOT_UNDERSTOOD)
        if _share(self.seed, "forget", messages) < self.forget_rate:
            messages = messages[last_user:]  # the context is lost
            last_user = 0
        ctx = _context(messages[:last_user])
        if messages[-1].get("role") == "tool":  # a result just came back: tell the user
            after = _context(messages)
            return AgentTurn(_summary(after))
        turn = self._answer(_text(messages[last_user].get("content")), ctx, tools)
        if turn.call is not None and _share(self.seed, "tool", messages) < self.wrong_tool_rate:
            turn = _other_tool(turn.call, tools) or turn
        return turn

    def _answer(self, text: str, ctx: _Context, tools: Sequence[str]) -> AgentTurn:
        lower = text.lower()
        ids = ORDER_ID.findall(text)
        order_id = ids[-1] if ids else ctx.order_id
        if ctx.ret and ("drop" in lower or "by when" in lower):  # about the return just opened
            return AgentTurn(f"Please drop the parcel off by {ctx.ret.get('drop_off_by')}.")
        if _WORD_RETURN.search(lower) and "policy" not in lower and "returns" not in lower:
            if order_id is None:
                return AgentTurn(ASK_ORDER)
            reason = _reason(lower) or "other"
            return _call("open_return", {"order_id": order_id, "reason": reason}, tools)
        if ids:  # "where is my order A1234?", "check A1234 please"
            return _call("lookup_order", {"order_id": ids[-1]}, tools)
        topic = _policy_topic(lower)
        if topic is not None:
            return AgentTurn(POLICIES[topic].answer)
        facts = _fact(lower, ctx)
        if facts is not None:
            return AgentTurn(facts)
        if _FOLLOW_UP.search(lower) and ctx.topic is not None:
            return AgentTurn(POLICIES[ctx.topic].follow_up)
        if _FOLLOW_UP.search(lower) or "order" in lower:
            return AgentTurn(ASK_ORDER)
        return AgentTurn(NOT_UNDERSTOOD)


def _fact(lower: str, ctx: _Context) -> str | None:
    """A follow-up about the looked-up order, from its tool result."""
    if not ctx.order:
        return None
    if "arrive" in lower or "get here" in lower or "deliver" in lower:
        return f"It arrives on {ctx.order.get('eta')}."
    if "shipped" in lower or "status" in lower:
        return f"The order is {ctx.order.get('status')}."
    if "pay" in lower or "cost" in lower or "how much" in lower:
        return f"You paid {ctx.order.get('total')}."
    return None


def _summary(ctx: _Context) -> str:
    if ctx.ret:
        ret = ctx.ret
        return f"Return {ret.get('return_id')} is open: drop it off by {ret.get('drop_off_by')}."
    if ctx.order:
        return f"Your order is {ctx.order.get('status')}; it arrives on {ctx.order.get('eta')}."
    return NOT_UNDERSTOOD


def _call(name: str, arguments: dict[str, Any], tools: Sequence[str]) -> AgentTurn:
    if name not in tools:
        return AgentTurn(f"I cannot do that from here (no {name} tool).")
    return AgentTurn(call=(name, arguments))


def _other_tool(call: tuple[str, dict[str, Any]], tools: Sequence[str]) -> AgentTurn | None:
    """The wrong tool for ``call``: the other of the two, with the same order id."""
    name, args = call
    if name == "lookup_order":
        other = ("open_return", {"order_id": args["order_id"], "reason": "other"})
    else:
        other = ("lookup_order", {"order_id": args["order_id"]})
    return AgentTurn(call=other) if other[0] in tools else None
