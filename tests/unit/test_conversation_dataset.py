"""Conversation datasets as prepared rows: each turn a row with its conversation's slices, its
request carrying the dataset's history (reference) or none yet (live), the OpenAI messages form,
and the think time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stagecheck.errors import InputError
from stagecheck.run.preparation import prepare_scenario

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, lines: list[dict], conversations: str, extra: str = "") -> Path:
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    path = tmp_path / "s.yaml"
    path.write_text(f"""
name: c
endpoint: {{url: "http://127.0.0.1:9", protocol: openai-chat, model: m,
           options: {{system_prompt: Be brief.}}}}
dataset:
  path: c.jsonl
  input: user
  expected: expected
  slices: [topic]
  conversations: {conversations}
scoring: {{kind: contains}}
thresholds: []
{extra}""")
    return path


CONV = {"id": "c1", "topic": "orders", "turns": [
    {"user": "Where is A1?", "expected": "shipped", "assistant": "A1 has shipped."},
    {"user": "When?", "expected": "Monday", "assistant": "On Monday."},
    {"user": "Thanks", "expected": "welcome"},
]}  # fmt: skip


def _messages(row) -> list[dict]:
    return json.loads(row.request.body)["messages"]


def test_reference_turns_carry_the_datasets_history(tmp_path):
    p = prepare_scenario(str(_write(tmp_path, [CONV], "{history: reference}")))
    rows, table = p.dataset.rows, p.dataset.conversations
    assert table is not None and len(rows) == 3 and table.ids == ["c1"]
    assert [r.row_id for r in rows] == ["c1#1", "c1#2", "c1#3"]
    assert [r.slices for r in rows] == [("orders",)] * 3
    assert list(table.turn_of) == [1, 2, 3]
    assert _messages(rows[2]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is A1?"},
        {"role": "assistant", "content": "A1 has shipped."},
        {"role": "user", "content": "When?"},
        {"role": "assistant", "content": "On Monday."},
        {"role": "user", "content": "Thanks"},
    ]
    # context grows with the history: characters of every message sent
    assert list(table.context_chars) == [
        len("Be brief.Where is A1?"),
        len("Be brief.Where is A1?A1 has shipped.When?"),
        len("Be brief.Where is A1?A1 has shipped.When?On Monday.Thanks"),
    ]


def test_live_turns_are_built_when_sent(tmp_path):
    p = prepare_scenario(str(_write(tmp_path, [CONV], "{history: live}")))
    # the stored request has no history: the user sends the model's own answers instead
    assert _messages(p.dataset.rows[2]) == [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Thanks"}]  # fmt: skip


def test_openai_messages_form(tmp_path):
    line = {"id": "m1", "topic": "t", "messages": [
        {"role": "system", "content": "Own system."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there", "expected": "hello"},
        {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "goodbye", "expected": "bye"},
    ]}  # fmt: skip
    path = _write(tmp_path, [line], "{messages: messages}")
    path.write_text(path.read_text().replace(",\n           options: {system_prompt: Be brief.}",
                                             ""))  # fmt: skip
    p = prepare_scenario(str(path))
    rows = p.dataset.rows
    assert [r.expected_text for r in rows] == ["hello", "bye"]
    assert _messages(rows[1]) == [
        {"role": "system", "content": "Own system."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
        {"role": "user", "content": "bye"},
    ]


def test_messages_form_problems_name_the_line(tmp_path):
    bad = {"id": "m1", "topic": "t", "messages": [{"role": "assistant", "content": "x"}]}
    with pytest.raises(InputError) as info:
        prepare_scenario(str(_write(tmp_path, [CONV, bad], "{messages: messages}")))
    text = "\n".join(info.value.problems)
    assert "c.jsonl:1: messages field 'messages' is missing" in text
    assert "c.jsonl:2: message 1: role 'assistant' is not expected here" in text


def test_limit_counts_conversations(tmp_path):
    second = {**CONV, "id": "c2"}
    p = prepare_scenario(str(_write(tmp_path, [CONV, second], "{}")), ["dataset.limit=1"])
    assert p.dataset.conversations.ids == ["c1"] and len(p.dataset.rows) == 3


def test_think_time_fixed_or_uniform(tmp_path):
    from stagecheck.load.plan import LoadPlan
    from stagecheck.run.session import RunSession

    path = _write(tmp_path, [CONV], "{}", "load: {think_time: {min: 1s, max: 3s}}")
    p = prepare_scenario(str(path))
    session = RunSession.from_prepared(p, LoadPlan.from_scenario(p.loaded))
    session.start_feeding()
    draws = [session.think_time() for _ in range(200)]
    assert all(1.0 <= d <= 3.0 for d in draws) and max(draws) - min(draws) > 1.0
    with pytest.raises(InputError, match="max must not be below min"):
        prepare_scenario(str(_write(tmp_path, [CONV], "{}",
                                    "load: {think_time: {min: 3s, max: 1s}}")))  # fmt: skip
