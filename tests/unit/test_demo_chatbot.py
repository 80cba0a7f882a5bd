"""The demo's chatbot mode: knowledge-base answers, imperfect on purpose and deterministic, on
the OpenAI chat route (plain and streamed) of a real demo server."""

from __future__ import annotations

import json
import urllib.request

import pytest

from stagecheck.demo.chatbot import FALLBACK_ANSWER, KNOWLEDGE_BASE, SupportBot
from tests.support import FAST, SCENARIOS, running_demo

pytestmark = pytest.mark.unit


def test_answers_by_topic_and_misses_on_purpose() -> None:
    bot = SupportBot()
    refund = next(t for t in KNOWLEDGE_BASE if t.name == "refund")
    assert bot.answer("How do I get a refund?") == refund.answer
    assert bot.answer("zzz qqq") == FALLBACK_ANSWER
    rows = [json.loads(x) for x in (SCENARIOS / "data" / "support_chat.jsonl").open()]
    assert len(rows) >= 60
    topics = [bot.topic(r["question"]) for r in rows]
    wrong = sum(t is None or t.name != r["topic"] for t, r in zip(topics, rows, strict=True))
    short = sum(bot.answer(r["question"]) == t.short for t, r in zip(topics, rows, strict=True)
                if t is not None)  # fmt: skip
    assert 0 < wrong < len(rows) / 2 and 0 < short < len(rows) / 3
    assert [SupportBot().answer(r["question"]) for r in rows] == [
        bot.answer(r["question"]) for r in rows
    ]  # the same in every run


def _post(url: str, body: dict) -> bytes:
    req = urllib.request.Request(f"{url}/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def test_chat_route_answers_free_text_plain_and_streamed() -> None:
    question = {"role": "user", "content": "How long does shipping take?"}
    expected = SupportBot().answer(question["content"])
    with running_demo(*FAST, "--chatbot") as demo:
        plain = json.loads(_post(demo.url, {"messages": [question], "max_tokens": 200}))
        assert plain["choices"][0]["message"]["content"] == expected
        raw = _post(demo.url, {"messages": [question], "stream": True, "max_tokens": 200})
    events = [line[6:] for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1]
              if json.loads(e)["choices"]]  # fmt: skip
    assert "".join(pieces) == expected and len([p for p in pieces if p]) > 5
