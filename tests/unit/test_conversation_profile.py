"""The dataset profile of a conversation dataset: a turn is a duplicate of another only after
the same history, so the same follow-up question after two different conversations is neither
a repeat nor "labelled more than one way"; a turn that expects no tool call checks no text and
agrees with one that expects a text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stagecheck.datasets.profile import profile_dataset
from stagecheck.run.preparation import prepare_scenario
from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.unit

SCENARIO = """
name: c
endpoint: {url: "http://127.0.0.1:9", protocol: openai-chat, model: m}
dataset:
  path: c.jsonl
  input: user
  expected: expected
  id: id
  conversations: {turns: turns, reference: assistant}
scoring: {kind: contains}
thresholds: []
"""


def _conv(cid: str, order: str, when: str) -> dict:
    return {"id": cid, "turns": [
        {"user": f"Where is {order}?", "expected": "shipped", "assistant": f"{order} shipped."},
        {"user": "When does it arrive?", "expected": when, "assistant": f"On {when}."},
    ]}  # fmt: skip


def _profile(tmp_path: Path, lines: list[dict]):
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "s.yaml").write_text(SCENARIO)
    ds = prepare_scenario(tmp_path / "s.yaml").dataset
    return profile_dataset(ds, ds.slice_fields, False)


def test_a_follow_up_after_different_histories_is_no_duplicate(tmp_path):
    p = _profile(tmp_path, [_conv("c1", "A1", "Monday"), _conv("c2", "B2", "Friday")])
    d = p.duplicates
    assert d.compared == "history and input"
    assert (d.rows, d.conflicting_inputs) == (0, 0)
    assert not [w for w in p.warnings if "labelled more than one way" in w or "repeat" in w]


def test_the_same_history_labelled_two_ways_is_still_found(tmp_path):
    p = _profile(tmp_path, [_conv("c1", "A1", "Monday"), _conv("c2", "B2", "Friday"),
                            _conv("c3", "A1", "Tuesday")])  # fmt: skip
    d = p.duplicates
    # c3's first turn repeats c1's; its second, after the same history, is labelled otherwise
    assert (d.rows, d.inputs, d.conflicting_inputs, d.conflicting_rows) == (2, 2, 1, 2)
    ex = d.conflicting_examples[0]
    assert ex.input == "When does it arrive?"
    assert ex.expected == ["monday", "tuesday"]  # as the scorer reads them
    assert ex.row_ids == ["c1#2", "c3#2"]
    (w,) = [w for w in p.warnings if "labelled more than one way" in w]
    assert "after the same history" in w


def test_the_demo_conversations_validate_without_a_labelling_warning():
    r = subprocess.run([sys.executable, "-m", "stagecheck.cli", "validate",
                        str(SCENARIOS / "conversations.yaml")],
                       capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "labelled more than one way" not in r.stdout
    assert "(a conversation's turn counted with its history)" in r.stdout


def test_a_slice_value_is_judged_by_its_conversations_not_its_turns(tmp_path):
    """100 turns of one slice value in 10 conversations of 10 turns: not independent evidence,
    so the value's accuracy can be known no better than its 10 conversations allow (±26
    points, thin), where 100 independent rows would give ±10 (not thin)."""
    scenario = SCENARIO.replace("  id: id\n", "  id: id\n  slices: [team]\n")
    lines = [{"id": f"c{i}", "team": "north", "turns": [
        {"user": f"q{i}-{k}", "expected": "ok", "assistant": "ok"} for k in range(10)]}
        for i in range(10)]  # fmt: skip
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "s.yaml").write_text(scenario)
    ds = prepare_scenario(tmp_path / "s.yaml").dataset
    p = profile_dataset(ds, ds.slice_fields, False)
    (north,) = p.slices["team"].values
    assert (north.rows, north.conversations) == (100, 10)
    assert north.thin and round(north.half_width * 100) == 26
    (w,) = [w for w in p.warnings if "team=north" in w]
    assert "100 rows in 10 conversations" in w and "±26 points" in w
