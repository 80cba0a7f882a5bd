"""summary.md: the tables a CI job summary shows, and that dataset text cannot break them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import fmt, render_markdown
from stagecheck.reporting.markdown import INPUT_CHARS, MAX_SAMPLES, md_cell

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@pytest.fixture
def summary() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _tables(text: str) -> list[list[str]]:
    """Consecutive lines starting with '|', grouped per table."""
    tables: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _assert_tables_well_formed(text: str) -> None:
    tables = _tables(text)
    assert tables
    for table in tables:
        widths = {len(_UNESCAPED_PIPE.findall(line)) for line in table}
        assert len(widths) == 1, table


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    ends = [e for e in (text.find("\n### ", start + 1), text.find("\n<details>", start + 1))
            if e != -1]  # fmt: skip
    return text[start : min(ends) if ends else len(text)]


def test_fixture_sections(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    assert text.startswith(f"## ❌ stagecheck · {summary['run']['scenario']} — FAILED")
    for heading in (
        "### Thresholds",
        "### Key figures",
        "### Latency",
        "### Per class",
        "### Where it is worst",
        "Confusion matrix",
        "Sample errors",
    ):
        assert heading in text
    assert {t["passed"] for t in summary["thresholds"]} == {True, False}
    for t in summary["thresholds"]:
        mark = "✅" if t["passed"] else "❌"
        observed = fmt.quantity(t["observed"], t["unit"])  # its golden values: test_report_load
        target = md_cell(f"{t['op']} {fmt.quantity(t['target'], t['unit'], precise=False)}")
        assert f"| {mark} | {md_cell(t['expression'])} | {observed} | {target} |" in text


def test_confusion_matrix_rows_bold_the_diagonal(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    confusion = summary["confusion"]
    for i, (label, row) in enumerate(zip(confusion["labels"], confusion["matrix"], strict=False)):
        cells = [f"**{n:,}**" if j == i else f"{n:,}" for j, n in enumerate(row)]
        assert f"| {md_cell(label)} | {' | '.join(cells)} |" in text, label
    # the diagonal, not the first cell, is bold (a row whose first cell is off the diagonal)
    label, row = confusion["labels"][1], confusion["matrix"][1]
    assert f"| {md_cell(label)} | **{row[0]:,}** |" not in text


def test_classes_and_slices_worst_first(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    classes = _section(text, "### Per class")
    by_f1 = sorted(summary["classes"], key=lambda c: c["f1"])
    positions = [classes.index(f"| {md_cell(c['label'])} |") for c in by_f1]
    assert len(positions) > 2 and positions == sorted(positions)
    slices = _section(text, "### Where it is worst")
    by_accuracy = sorted(summary["slices"], key=lambda s: s["quality"]["accuracy"])
    rows = [f"| {md_cell(s['field'])} | {md_cell(s['value'])} |" for s in by_accuracy]
    positions = [slices.index(row) for row in rows]
    assert len(positions) > 2 and positions == sorted(positions)


def test_malicious_input_is_escaped_and_keeps_tables_whole(summary: dict[str, Any]) -> None:
    evil = '<script>alert("x")</script> a | b\nsecond line `code` *bold* [link](http://x)'
    summary["samples"] = summary["samples"][:1]  # one sample, so it is surely among those shown
    summary["samples"][0]["input"] = evil
    summary["samples"][0]["got"] = "ship|ping"
    summary["classes"][0]["label"] = "bill|ing<b>"
    summary["slices"][0]["value"] = "sim\nple|x"
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    assert "a \\| b second line" in text
    assert "ship\\|ping" in text


def test_long_inputs_are_cut_and_samples_capped(summary: dict[str, Any]) -> None:
    base = summary["samples"][0]
    summary["samples"] = [dict(base, row=i, input="word " * 100) for i in range(25)]
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    rows = [line for line in _section(text, "Sample errors").splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + MAX_SAMPLES
    assert f"Sample errors ({MAX_SAMPLES} of 25)" in text
    cell = rows[2].split(" | ")[2]
    assert cell.endswith("…") and len(cell) <= INPUT_CHARS


def test_md_cell() -> None:
    assert md_cell("a|b\r\nc") == "a\\|b c"
    assert md_cell("<i>&") == "&lt;i&gt;&amp;"
    assert md_cell("x" * 300, 120).endswith("…")
    assert md_cell(None) == ""


def test_no_quality_no_streaming(summary: dict[str, Any]) -> None:
    summary.update(quality=None, classes=[], confusion=None)
    del summary["latency"]["ttft"], summary["latency"]["itl"]
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    assert "### Per class" not in text and "Confusion matrix" not in text
    assert "Macro-F1" not in text
    assert "time to first token" not in text


def test_zero_requests_invalid_run() -> None:
    summary = {
        "schema_version": 1,
        "run": {"scenario": "empty"},
        "verdict": "invalid",
        "validity": {"valid": False, "reasons": ["no request | completed"]},
        "requests": {"total": 0, "by_outcome": {}},
        "latency": {},
        "thresholds": [],
        "samples": [],
    }
    text = render_markdown(summary)
    assert text.startswith("## ⚠️ stagecheck · empty — INVALID")
    assert "**Run invalid:** no request \\| completed" in text
    assert "No requests were made." in text
    _assert_tables_well_formed(text)


def test_exact_pass_in_the_title_line(summary: dict[str, Any]) -> None:
    assert "exact pass" not in render_markdown(summary)
    # The fixture's run has stages; an exact pass is a closed-loop users run: made one here.
    summary["run"]["load"].update(mode="users", users=8, spawn_rate=4.0, stages=[])
    summary["run"]["load"]["exact_pass"] = True
    summary["run"]["dataset"]["passes"] = 2
    text = render_markdown(summary)
    assert " · 8 users (spawn 4/s) · exact pass: every row twice · endpoint " in text


def test_samples_named_by_id_and_grouped_by_outcome(summary: dict[str, Any]) -> None:
    incorrect = next(x for x in summary["samples"] if x["outcome"] == "incorrect")
    failed = next(x for x in summary["samples"] if x["outcome"] == "http_error")
    summary["samples"] = [failed, dict(incorrect, id="v10", row=9), dict(incorrect, id="v9", row=8)]
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    rows = [line for line in _section(text, "Sample errors").splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Id | Outcome |")
    # incorrect before failures; ids in the order people read them (v9 before v10).
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| v9", "| v10", f"| {failed['id']}"]
    assert "By outcome, then expected label, then id." in text


def test_the_dataset_profile_is_folded_at_the_end(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    folded = text[text.index("<details><summary>Dataset profile</summary>") :]
    assert folded.index("</details>") > 0
    profile = summary["dataset_profile"]
    assert f"{profile['rows']} rows" in folded
    assert all(f"| {g['value'].replace('_', chr(92) + '_')} |" in folded or f"| {g['value']} |"
               in folded for g in profile["classes"]["values"])  # fmt: skip
    del summary["dataset_profile"]
    assert "Dataset profile" not in render_markdown(summary)
