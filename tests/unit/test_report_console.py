"""The end-of-run terminal summary: content, order, and its size limits on odd runs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import render_console

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


@pytest.fixture
def summary() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _check_shape(text: str) -> list[str]:
    lines = text.splitlines()
    assert len(lines) <= 60
    assert max(len(line) for line in lines) <= 100
    assert "\x1b" not in text
    return lines


def test_fixture_has_every_part(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    _check_shape(text)
    assert "support-intents-smoke" in text
    assert "http://127.0.0.1:8000" in text
    assert "8 users" in text and "30.3s" in text
    assert "FAILED" in text and "accuracy >= 0.90, error_rate < 1%" in text
    assert re.search(r"correct\s+1,040\s+83\.2%", text)
    assert re.search(r"http_error\s+20\s+1\.6%", text)
    assert "41.27/s" in text
    assert re.search(
        r"end-to-end\s+42\.00\s+67\.20\s+79\.80\s+109\.2\s+142\.8\s+168\.0\s+46\.20", text
    )
    assert re.search(r"ttft\s+9\.00", text) and re.search(r"itl\s+2\.10", text)
    assert "accuracy 0.8525" in text and "macro-F1 0.8375" in text and "weighted-F1 0.8475" in text


def test_thresholds_in_human_units(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    assert re.search(r"latency\.p99 < 300ms\s+observed 109\.2ms\s+✓", text)
    assert re.search(r"accuracy >= 0\.90\s+observed 0\.8525\s+✗", text)
    assert re.search(r"error_rate < 1%\s+observed 2\.00%\s+✗", text)
    assert re.search(r"throughput >= 20/s\s+observed 41\.27/s\s+✓", text)


def test_classes_worst_f1_first_and_slices_worst_accuracy_first(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    assert text.index("refund") < text.index("billing  ") < text.index("shipping  ")
    worst = text[text.index("Where it is worst") :]
    order = [worst.index(s) for s in ("complexity=complex", "channel=email", "channel=chat")]
    assert order == sorted(order) and worst.index("complexity=simple") > order[-1]
    assert re.search(r"complexity=complex\s+accuracy\s+71\.03%\s+error rate\s+2\.73%", worst)


def test_one_stage_has_no_stage_block_but_several_do(summary: dict[str, Any]) -> None:
    assert "Stages" not in render_console(summary)
    second = copy.deepcopy(summary["stages"][0])
    second.update(index=1, name="peak", users=32, start_s=30.29, end_s=60.0)
    summary["stages"].append(second)
    text = render_console(summary)
    _check_shape(text)
    assert "Stages" in text and "peak" in text and "32 users" in text


def test_no_quality_and_no_streaming(summary: dict[str, Any]) -> None:
    summary["quality"] = None
    summary["classes"] = []
    summary["confusion"] = None
    summary["run"]["scoring"]["kind"] = "exact"
    del summary["latency"]["ttft"], summary["latency"]["itl"]
    text = render_console(summary)
    _check_shape(text)
    assert "Per class" not in text
    assert "ttft" not in text and "itl" not in text
    # Accuracy still shows, from the outcome counts.
    assert "correct / answered" in text and "macro-F1" not in text


def test_zero_requests_invalid_run() -> None:
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run": {"scenario": "empty", "endpoint": {"url": "http://127.0.0.1:9"}},
        "validity": {"valid": False, "reasons": ["no request completed", "endpoint unreachable"]},
        "verdict": "invalid",
        "requests": {"total": 0, "by_outcome": {}, "error_rate": None},
        "throughput": {"requests_per_s": 0.0},
        "latency": {"e2e": {"count": 0}},
        "quality": None,
        "thresholds": [
            {
                "expression": "accuracy >= 0.9",
                "unit": "",
                "op": ">=",
                "target": 0.9,
                "observed": None,
                "passed": False,
            },
        ],
    }
    text = render_console(summary)
    _check_shape(text)
    assert "INVALID" in text and "endpoint unreachable" in text
    assert "no requests were made" in text
    assert "observed n/a" in text


def test_long_lists_are_cut(summary: dict[str, Any]) -> None:
    summary["classes"] = [
        {"label": f"class-{i:02d}-" + "x" * 80, "support": i, "f1": i / 50} for i in range(40)
    ]
    summary["slices"] = [
        {"field": "f", "value": f"v{i}", "requests": 10, "by_outcome": {"correct": i}}
        for i in range(30)
    ]
    summary["run"]["endpoint"]["url"] = "http://staging.example/" + "p" * 200
    text = render_console(summary)
    _check_shape(text)
    assert "more classes in report.html" in text and "more slices in report.html" in text


def _classes(n: int) -> list[dict[str, Any]]:
    return [
        {"label": f"class-{i:02d}", "support": 10, "precision": 0.9, "recall": 0.9, "f1": i / 20}
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [10, 12])
def test_up_to_twelve_classes_are_all_listed(summary: dict[str, Any], n: int) -> None:
    summary["classes"] = _classes(n)
    text = render_console(summary)
    _check_shape(text)
    assert all(f"class-{i:02d}" in text for i in range(n))
    assert "more classes" not in text


def test_more_than_twelve_classes_are_cut_to_the_worst(summary: dict[str, Any]) -> None:
    summary["classes"] = _classes(13)
    text = render_console(summary)
    _check_shape(text)
    assert "class-07" in text and "class-08" not in text
    assert "… 5 more classes in report.html" in text


def test_exact_pass_in_the_load_line(summary: dict[str, Any]) -> None:
    load = [line for line in render_console(summary).splitlines() if line.startswith("load")]
    assert load == ["load      8 users (spawn 4/s) for 30.3s"]
    summary["run"]["load"]["exact_pass"] = True
    summary["run"]["dataset"]["passes"] = 1
    load = [line for line in render_console(summary).splitlines() if line.startswith("load")]
    assert load == ["load      8 users (spawn 4/s) for 30.3s · exact pass: every row once"]


def test_target_resources_line_and_its_absence() -> None:
    import copy
    import json
    from pathlib import Path

    from stagecheck.reporting import render_console, render_html, render_markdown

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "summary_example.json"
    summary = json.loads(fixture.read_text())
    text = render_console(summary)
    assert "Target    CPU 41% mean, 55% max (100% = one core) · memory 63.1 MB max" in text
    assert "memory 63.1 MB max" in render_markdown(summary)
    assert 'id="target"' in render_html(summary)
    without = copy.deepcopy(summary)
    without["target"] = None
    assert "Target" not in render_console(without)
    failing = copy.deepcopy(summary)
    failing["target"].update(samples=0, errors=3, last_error="URLError: refused",
                             cpu_percent_mean=None, cpu_percent_max=None,
                             memory_bytes_mean=None, memory_bytes_max=None)  # fmt: skip
    assert "no readings from http://127.0.0.1:8000/metrics (3 failed: URLError: refused)" in (
        render_console(failing)
    )
