"""``junit.xml``: one test case per threshold, so CI systems show thresholds as tests.

Built with :mod:`xml.etree.ElementTree`, which escapes text and attributes. One
``<testsuite name="stagecheck.<scenario>">`` is the root; a run that is not valid adds a failing
``run validity`` test case listing the reasons, because an invalid run must never look green.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from stagecheck.reporting import fmt
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary, ThresholdVerdict

__all__ = ["render_junit", "THRESHOLD_CLASSNAME", "VALIDITY_CLASSNAME", "VALIDITY_TESTCASE"]

THRESHOLD_CLASSNAME = "stagecheck.judging.thresholds"
VALIDITY_CLASSNAME = "stagecheck.run"
VALIDITY_TESTCASE = "run validity"


def _failure_message(t: ThresholdVerdict) -> str:
    observed = fmt.threshold_observed(t)
    if t.observed is None:
        observed += " (metric unavailable)"
    return f"observed {observed}, target {fmt.threshold_target(t)}"


def _threshold_case(suite: ET.Element, t: ThresholdVerdict) -> None:
    case = ET.SubElement(
        suite, "testcase", name=t.expression, classname=THRESHOLD_CLASSNAME, time="0"
    )
    if not t.passed:
        failure = ET.SubElement(
            case, "failure", message=_failure_message(t), type="ThresholdFailed"
        )
        failure.text = (
            f"{t.expression}\nmetric: {t.metric}\nobserved: {fmt.threshold_observed(t)}"
            f"\ntarget: {fmt.threshold_target(t)}"
        )
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"observed {fmt.threshold_observed(t)}, target {fmt.threshold_target(t)}"


def render_junit(summary: Mapping[str, Any] | Summary) -> str:
    """``junit.xml`` text for a summary.json dict (or its model, already read)."""
    report = summary if isinstance(summary, Summary) else load_summary_model(summary)
    run = report.run
    invalid = not report.valid
    tests = len(report.thresholds) + (1 if invalid else 0)
    failures = len(report.failed_thresholds()) + (1 if invalid else 0)
    suite = ET.Element(
        "testsuite",
        name=f"stagecheck.{run.scenario}",
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{run.duration_s or 0.0:.3f}",
    )
    if run.started_at:
        # JUnit wants an ISO 8601 local time without zone designator.
        suite.set("timestamp", run.started_at.rstrip("Z").split("+")[0])
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run.id", run.id),
        ("endpoint.url", run.endpoint.url),
        ("endpoint.protocol", run.endpoint.protocol),
        ("dataset.path", run.dataset.path),
        ("verdict", report.verdict),
        ("warning", report.ungated_correctness),
    ):
        if value:
            ET.SubElement(props, "property", name=name, value=value)
    for t in report.thresholds:
        _threshold_case(suite, t)
    if invalid:
        case = ET.SubElement(
            suite, "testcase", name=VALIDITY_TESTCASE, classname=VALIDITY_CLASSNAME, time="0"
        )
        reasons = list(report.validity.reasons) or ["no reason given"]
        failure = ET.SubElement(
            case, "failure", message="run invalid: " + "; ".join(reasons), type="RunInvalid"
        )
        failure.text = "\n".join(reasons)
    if report.ungated_correctness:
        # the suite's own output, which CI test views show beside its (green) cases
        ET.SubElement(suite, "system-out").text = f"warning: {report.ungated_correctness}"
    ET.indent(suite)
    body = ET.tostring(suite, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
