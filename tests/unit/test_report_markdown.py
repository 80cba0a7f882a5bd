"""summary.md: the tables a CI job summary shows, and that dataset text cannot break them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import render_markdown
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
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_fixture_sections(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    assert text.startswith("## ❌ stagecheck · support-intents-smoke — FAILED")
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
    assert "| ✅ | latency.p99 &lt; 300ms | 109.2ms | &lt; 300ms |" in text
    assert "| ❌ | error\\_rate &lt; 1% | 2.00% | &lt; 1% |" in text
    assert "| refund | **5** |" not in text  # the diagonal, not the first cell, is bold
    assert "| refund | 5 | **36** | 6 | 1 |" in text


def test_classes_and_slices_worst_first(summary: dict[str, Any]) -> None:
    text = render_markdown(summary)
    classes = _section(text, "### Per class")
    assert classes.index("refund") < classes.index("billing") < classes.index("shipping")
    slices = _section(text, "### Where it is worst")
    assert slices.index("complex") < slices.index("email") < slices.index("simple")


def test_malicious_input_is_escaped_and_keeps_tables_whole(summary: dict[str, Any]) -> None:
    evil = '<script>alert("x")</script> a | b\nsecond line `code` *bold* [link](http://x)'
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
    summary["run"]["load"]["exact_pass"] = True
    summary["run"]["dataset"]["passes"] = 2
    text = render_markdown(summary)
    assert " · 8 users (spawn 4/s) · exact pass: every row twice · endpoint " in text


def test_samples_named_by_id_and_grouped_by_outcome(summary: dict[str, Any]) -> None:
    incorrect, failed = summary["samples"]
    summary["samples"] = [failed, dict(incorrect, id="v10", row=9), dict(incorrect, id="v9", row=8)]
    text = render_markdown(summary)
    _assert_tables_well_formed(text)
    rows = [line for line in _section(text, "Sample errors").splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Id | Outcome |")
    # incorrect before failures; ids in the order people read them (v9 before v10).
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| v9", "| v10", "| v0231"]
    assert "By outcome, then expected label, then id." in text
