"""Generate the demo's conversation dataset and its single-turn tool-call dataset.

``python -m stagecheck.demo.make_conversations`` rewrites both files; the output depends only on
the seed:

- ``scenarios/data/support_conversations.jsonl``: one conversation a line (id, ``topic``,
  ``complexity``, ``turns``: ``user``, ``expected``, optional ``tool_result`` and the reference
  ``assistant`` answer), the format of ``scenarios/conversations.yaml``. Every turn after the
  first needs the history (the order looked up, the return opened, the policy asked about),
  so the demo's ``--forget-rate`` shows as the accuracy of turns 2 and later;
- ``scenarios/data/support_tool_calls.jsonl``: the conversations' first turns as single
  questions (``text``, ``expected``: the call, or ``{"tool_call": null}``), for
  ``scenarios/tool-calls.yaml``, which a plain run replays today.

Complexity: ``simple`` is one turn, ``medium`` two or three, ``complex`` four or five. Every
conversation is checked against the demo assistant (knobs at 0): it answers every turn right.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stagecheck.demo.agent import POLICIES, Agent
from stagecheck.demo.make_dataset import write_jsonl

__all__ = ["generate", "single_turns", "check", "CONVERSATIONS_PATH", "TOOL_CALLS_PATH", "main"]

DEFAULT_SEED = 20261207
_DATA = Path(__file__).parents[2] / "scenarios" / "data"
CONVERSATIONS_PATH = _DATA / "support_conversations.jsonl"
TOOL_CALLS_PATH = _DATA / "support_tool_calls.jsonl"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_STATUS = ("shipped", "processing", "in transit", "delivered")
_LOOKUP = ("Where is my order {id}?", "Can you check order {id} for me?",
           "What's the status of {id}?", "Has order {id} shipped yet?",
           "hi, any news on my order {id}")  # fmt: skip
_ETA = ("When does it arrive?", "When will it get here?", "And when will it be delivered?")
_SHIPPED = ("Has it shipped yet?", "What is its status now?")
_TOTAL = ("How much did I pay for it?", "And how much will I get back?", "What did it cost?")
_RETURN_NOW = ("I want to return order {id}, it arrived damaged.",
               "Please open a return for {id}: wrong size.",
               "I'd like to send back {id}, I changed my mind.")  # fmt: skip
_RETURN_IT = (("It's the wrong size, I want to return it.", "wrong size"),
              ("It arrived broken, can I return it?", "damaged"),
              ("That's too late for me, I want to return it.", "arrived late"))  # fmt: skip
_DROP = ("By when do I have to drop it off?", "By when must the parcel be dropped off?")
_POLICY_Q = {
    "refund": (("How do refunds work?", "30 days"), ("Can I get a refund?", "30 days")),
    "shipping": (("How long does shipping take?", "3 to 5 business days"),
                 ("What are your delivery options?", "express")),
    "exchange": (("Can I exchange a jumper?", "another size"),
                 ("Do you do exchanges?", "30 days")),
    "warranty": (("Is there a warranty on laptops?", "2-year"),
                 ("What guarantee do headphones have?", "2-year")),
}  # fmt: skip
_POLICY_FOLLOW = {
    "refund": ("How long does that take?", "5 business days"),
    "shipping": ("Is that free?", "over 50 euros"),
    "exchange": ("Is that free?", "free both ways"),
    "warranty": ("How do I use it?", "warranty claim"),
}


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(_MONTHS)}"


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()

    def order_id(self) -> str:
        while True:
            value = f"{self.rng.choice('ABCDEFGHJKLMNPRSTW')}{self.rng.randint(1000, 9999)}"
            if value not in self.ids:
                self.ids.add(value)
                return value

    def lookup(self) -> tuple[str, dict[str, Any]]:
        oid = self.order_id()
        total = f"{self.rng.randint(5, 400)}.{self.rng.randint(0, 99):02d} EUR"
        result = {"order_id": oid, "status": self.rng.choice(_STATUS), "eta": _date(self.rng),
                  "total": total}  # fmt: skip
        turn = {
            "user": self.rng.choice(_LOOKUP).format(id=oid),
            "expected": {"tool_call": {"name": "lookup_order", "arguments": {"order_id": oid}}},
            "tool_result": result,
            "assistant": f"Your order is {result['status']}; it arrives on {result['eta']}.",
        }
        return oid, turn

    def open_return(self, oid: str, user: str, reason: str) -> dict[str, Any]:
        result = {"return_id": f"R{self.rng.randint(1000, 9999)}", "drop_off_by": _date(self.rng)}
        return {
            "user": user,
            "expected": {"tool_call": {"name": "open_return",
                                       "arguments": {"order_id": oid, "reason": reason}}},
            "tool_result": result,
            "assistant": f"Return {result['return_id']} is open: drop it off by "
                         f"{result['drop_off_by']}.",
        }  # fmt: skip


def _text(user: str, expected: Any, answer: str) -> dict[str, Any]:
    return {"user": user, "expected": expected, "assistant": answer}


def _fact(user: str, value: str, answer: str) -> dict[str, Any]:
    return _text(user, value, answer)


def _orders(m: _Maker, turns: int) -> list[dict[str, Any]]:
    _, first = m.lookup()
    result = first["tool_result"]
    out = [first]
    later = [
        _fact(m.rng.choice(_ETA), result["eta"], f"It arrives on {result['eta']}."),
        _fact(m.rng.choice(_SHIPPED), result["status"], f"The order is {result['status']}."),
        _fact(m.rng.choice(_TOTAL), result["total"], f"You paid {result['total']}."),
    ]
    m.rng.shuffle(later)
    return out + later[: turns - 1]


def _returns(m: _Maker, turns: int) -> list[dict[str, Any]]:
    if turns == 1:
        oid = m.order_id()
        user = m.rng.choice(_RETURN_NOW).format(id=oid)
        reason = ("damaged" if "damaged" in user else
                  "wrong size" if "size" in user else "changed my mind")  # fmt: skip
        return [m.open_return(oid, user, reason)]
    oid, first = m.lookup()
    result = first["tool_result"]
    out = [first]
    if turns >= 4:
        out.append(_fact(m.rng.choice(_ETA), result["eta"], f"It arrives on {result['eta']}."))
    user, reason = m.rng.choice(_RETURN_IT)
    ret = m.open_return(oid, user, reason)
    out.append(ret)
    drop = ret["tool_result"]["drop_off_by"]
    out.append(_fact(m.rng.choice(_DROP), drop, f"Please drop the parcel off by {drop}."))
    if turns >= 5:
        out.append(_fact(_TOTAL[1], result["total"], f"You paid {result['total']}."))
    return out[:turns]


def _policy(m: _Maker, turns: int) -> list[dict[str, Any]]:
    topic = m.rng.choice(sorted(_POLICY_Q))
    question, phrase = m.rng.choice(_POLICY_Q[topic])
    # half of the policy questions expect "no tool call" (scored on the call), half a phrase
    expected: Any = {"tool_call": None} if m.rng.random() < 0.5 else phrase
    out = [_text(question, expected, POLICIES[topic].answer)]
    if turns >= 2:
        follow, phrase = _POLICY_FOLLOW[topic]
        out.append(_text(follow, phrase, POLICIES[topic].follow_up))
    return out


# (topic, builder, complexity -> turns)
_KINDS: tuple[tuple[str, Callable[[_Maker, int], list[dict[str, Any]]], str, int], ...] = (
    ("orders", _orders, "simple", 14),
    ("orders", _orders, "medium", 16),
    ("orders", _orders, "complex", 10),
    ("returns", _returns, "simple", 10),
    ("returns", _returns, "medium", 12),
    ("returns", _returns, "complex", 12),
    ("policy", _policy, "simple", 12),
    ("policy", _policy, "medium", 14),
)
_TURNS = {"simple": (1, 1), "medium": (2, 3), "complex": (4, 5)}


def generate(seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The conversations; the same seed always gives the same ones."""
    rng = random.Random(seed)
    maker = _Maker(rng)
    out = []
    for topic, build, complexity, count in _KINDS:
        low, high = _TURNS[complexity]
        for _ in range(count):
            high_here = min(high, 2) if topic == "policy" else high
            turns = build(maker, rng.randint(low, max(low, high_here)))
            out.append({"topic": topic, "complexity": complexity, "turns": turns})
    rng.shuffle(out)
    return [{"id": f"c{i:03d}", **c} for i, c in enumerate(out, 1)]


def single_turns(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first turn of each conversation as a single question, each question once; a text
    expectation becomes ``{"tool_call": null}`` (the answer must not call a tool)."""
    rows = []
    seen: set[str] = set()
    for c in conversations:
        turn = c["turns"][0]
        if turn["user"] in seen:
            continue
        seen.add(turn["user"])
        expected = turn["expected"]
        if not (isinstance(expected, dict) and "tool_call" in expected):
            expected = {"tool_call": None}
        rows.append({"id": c["id"], "text": turn["user"], "expected": expected,
                     "topic": c["topic"], "complexity": c["complexity"]})  # fmt: skip
    return rows


def check(conversations: list[dict[str, Any]], agent: Agent | None = None) -> list[str]:
    """Turns the demo assistant answers wrongly, replayed with the reference history (none
    with its knobs at 0)."""
    from stagecheck.protocols.openai_chat import ChatAnswer, ToolCall, assistant_messages
    from stagecheck.scoring import build_scorer

    agent = agent or Agent()
    scorer = build_scorer({"kind": "tool-call", "arguments": {"reason": "contains"},
                           "text": {"kind": "contains"}})  # fmt: skip
    tools = ("lookup_order", "open_return")
    wrong = []
    for c in conversations:
        messages: list[dict[str, Any]] = []
        for n, turn in enumerate(c["turns"], 1):
            messages.append({"role": "user", "content": turn["user"]})
            reply = agent.reply(messages, tools)
            calls = () if reply.call is None else (
                ToolCall("call_1", reply.call[0], json.dumps(reply.call[1])),)  # fmt: skip
            answer = ChatAnswer(reply.text, calls)
            correct, reason = scorer.score(answer, scorer.prepare_expected(turn["expected"]))
            if not correct:
                wrong.append(f"{c['id']} turn {n}: {reason or 'wrong text'}: {answer}")
            expected = turn["expected"]
            ref = (expected["tool_call"] if isinstance(expected, dict)
                   and expected.get("tool_call") else turn["assistant"])  # fmt: skip
            messages += assistant_messages(ref, turn.get("tool_result"))
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stagecheck.demo.make_conversations", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS_PATH)
    parser.add_argument("--tool-calls", type=Path, default=TOOL_CALLS_PATH)
    args = parser.parse_args(argv)
    conversations = generate(args.seed)
    wrong = check(conversations)
    if wrong:  # the dataset and the demo assistant disagree: fix one of them
        print("\n".join(wrong[:20]))
        return 1
    write_jsonl(conversations, args.conversations)
    rows = single_turns(conversations)
    write_jsonl(rows, args.tool_calls)
    turns = sum(len(c["turns"]) for c in conversations)
    print(f"wrote {len(conversations)} conversations ({turns} turns) to {args.conversations} "
          f"and {len(rows)} questions to {args.tool_calls}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
