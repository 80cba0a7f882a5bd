"""The rows of stagecheck's tabs in Locust's web UI, as the /stats/requests route returns them
and as Locust's table shows them (it sorts rows by a "name" key unless a header is clicked)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stagecheck.locust.webtables import TABS, breakdown_rows

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


def _as_shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Locust's table (webui ``useSortByField``): a stable sort on ``name`` by default."""
    return sorted(rows, key=lambda r: (r.get("name") is not None, str(r.get("name", ""))))


def test_no_tab_has_a_column_locust_would_sort_by() -> None:
    assert all("name" not in dict(cols) for _, cols in TABS.values())


def test_slices_show_worst_first_a_slice_with_no_answer_first_of_all() -> None:
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    down = copy.deepcopy(summary["slices"][0])
    down.update(value="all-failed", quality=None, error_rate=1.0)
    summary["slices"].append(down)
    shown = _as_shown(breakdown_rows(summary))
    slices = [r for r in shown if r["kind"].startswith("slice")]
    assert slices[0]["group"].endswith("=all-failed") and slices[0]["accuracy"] == "–"
    accuracies = [float(r["accuracy"]) for r in slices[1:]]
    assert accuracies == sorted(accuracies) and len(slices) == len(summary["slices"])
    f1s = [float(r["fone"]) for r in shown if r["kind"].startswith("class")]
    assert f1s == sorted(f1s) and len(f1s) == len(summary["classes"])


def test_a_conversation_run_shows_its_success_and_turns_in_the_quality_tab(tmp_path) -> None:
    from stagecheck.summary.conversations import conversation_figures
    from tests.unit.test_conversation_figures import _folder

    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    summary["conversations"] = conversation_figures(_folder(tmp_path), "live")
    rows = [r for r in breakdown_rows(summary) if r["kind"] in ("conversations", "turn")]
    assert [r["group"] for r in rows] == ["3 (live)", "turn 1", "turn 2", "turn 3"]
    assert rows[0]["accuracy"] == "0.3333" and "1 of 3" in rows[0]["detail"]
    assert [r["accuracy"] for r in rows[1:]] == ["0.7500", "0.6667", "0.5000"]


def test_a_tool_call_run_shows_its_accuracy_and_the_wrong_calls_reasons() -> None:
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert not [r for r in breakdown_rows(summary) if r["kind"] == "tool calls"]
    summary["tool_calls"] = {"scored": 74, "correct": 49, "rows": 74, "design_effect": 1.0,
                             "accuracy": 49 / 74, "accuracy_ci": [0.55, 0.76],
                             "reasons": {"wrong tool: lookup_order": 4,
                                         "wrong tool: open_return": 21}}  # fmt: skip
    (row,) = [r for r in breakdown_rows(summary) if r["kind"] == "tool calls"]
    assert row["requests"] == 74 and row["accuracy"] == f"{49 / 74:.4f}"
    assert row["detail"] == "wrong: wrong tool: open_return ×21, wrong tool: lookup_order ×4"


def test_variant_rows_say_why_a_variant_has_no_flip_rate() -> None:
    from stagecheck.locust.webtables import production_rows, variant_rows

    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert variant_rows(summary) == [] and production_rows(summary) == []
    base = {"rows": 4, "scored": 4, "correct": 3, "accuracy": 0.75, "accuracy_ci": [0.3, 0.95]}
    summary["variants"] = {"notes": [], "variants": [
        {**base, "name": "original"},
        {**base, "name": "typos", "pairs": 4, "flips": 1, "flip_rate": 0.25,
         "flip_rate_ci": [0.046, 0.7], "right_to_wrong": 1},
        {**base, "name": "truncate", "scored": 0, "correct": 0, "accuracy": None},
    ]}  # fmt: skip
    rows = variant_rows(summary)
    assert [(r["group"], r["accuracy"]) for r in rows] == [
        ("original", "0.7500"), ("typos", "0.7500"), ("truncate", "–")]  # fmt: skip
    assert [r["detail"] for r in rows] == [
        "the rows as written",
        "flip rate 25.00 % [4.60 %–70.00 %] · right→wrong 1 of 4 rows",
        "no pair answered",
    ]
    summary["production"] = {"rows": 10, "slice_fields": ["channel"], "figures": None}
    assert production_rows(summary) == []  # no stratum covered: nothing to show
