"""junit.xml, read back with ElementTree: counts, names, failure messages, invalid runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import fmt, render_junit

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


@pytest.fixture
def summary() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _parse(summary: dict[str, Any]) -> ET.Element:
    return ET.fromstring(render_junit(summary).encode("utf-8"))


def _failed(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in summary["thresholds"] if not t["passed"]]


def test_one_case_per_threshold(summary: dict[str, Any]) -> None:
    suite = _parse(summary)
    thresholds, failed_thresholds = summary["thresholds"], _failed(summary)
    assert failed_thresholds and len(failed_thresholds) < len(thresholds)
    assert suite.tag == "testsuite"
    assert suite.get("name") == f"stagecheck.{summary['run']['scenario']}"
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"))
    assert counts == (str(len(thresholds)), str(len(failed_thresholds)), "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [t["expression"] for t in thresholds]
    assert {c.get("classname") for c in cases} == {"stagecheck.judging.thresholds"}
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {t["expression"] for t in failed_thresholds}
    messages = {name: f.get("message") for name, f in failed.items() if f is not None}
    for t in failed_thresholds:
        observed = fmt.quantity(t["observed"], t["unit"])  # its golden values: test_report_load
        target = fmt.quantity(t["target"], t["unit"], precise=False)
        assert messages[t["expression"]] == f"observed {observed}, target {t['op']} {target}"
    assert float(suite.get("time") or 0) == pytest.approx(summary["run"]["duration_s"])


def test_counts_match_cases(summary: dict[str, Any]) -> None:
    suite = _parse(summary)
    cases = suite.findall("testcase")
    assert int(suite.get("tests") or -1) == len(cases)
    assert int(suite.get("failures") or -1) == sum(c.find("failure") is not None for c in cases)


def test_invalid_run_adds_a_failing_validity_case(summary: dict[str, Any]) -> None:
    summary["verdict"] = "invalid"
    summary["validity"] = {"valid": False, "reasons": ["only 12 requests", "generator overloaded"]}
    suite = _parse(summary)
    tests, failures = len(summary["thresholds"]) + 1, len(_failed(summary)) + 1
    assert (suite.get("tests"), suite.get("failures")) == (str(tests), str(failures))
    case = suite.findall("testcase")[-1]
    assert case.get("name") == "run validity"
    failure = case.find("failure")
    assert failure is not None
    assert "only 12 requests" in (failure.get("message") or "")
    assert (failure.text or "").splitlines() == ["only 12 requests", "generator overloaded"]


def test_unavailable_metric_and_special_characters(summary: dict[str, Any]) -> None:
    summary["thresholds"] = [
        {
            "expression": 'ttft.p95 < 50ms & "x" <y>',
            "metric": "ttft.p95",
            "op": "<",
            "target": 0.05,
            "observed": None,
            "unit": "s",
            "passed": False,
        },
    ]
    summary["run"]["scenario"] = "a&b<c>"
    suite = _parse(summary)
    assert suite.get("name") == "stagecheck.a&b<c>"
    case = suite.find("testcase")
    assert case is not None and case.get("name") == 'ttft.p95 < 50ms & "x" <y>'
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "observed n/a (metric unavailable), target < 50ms"


def test_no_thresholds_passed_run(summary: dict[str, Any]) -> None:
    summary.update(thresholds=[], verdict="passed")
    suite = _parse(summary)
    assert (suite.get("tests"), suite.get("failures")) == ("0", "0")
    assert suite.findall("testcase") == []
