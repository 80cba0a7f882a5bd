"""A run judged by no correctness threshold says so beside its verdict, in every view: a model
that answers every request wrong, fast, passes latency and error gates, and a validation tool
must not let that read as a plain pass. The exit code stays the verdict's (0)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.support import FAST, SCENARIOS, running_demo

pytestmark = pytest.mark.e2e

GATE = "no correctness gate was set"


@pytest.fixture(scope="module")
def wrong_model():
    """The demo endpoint answering ``complaint`` to every request (its fallback under any
    load)."""
    with running_demo(*FAST, "--fallback-above", "0", "--fallback-label", "complaint") as demo:
        yield demo


@pytest.fixture
def no_complaints(tmp_path):
    """The smoke dataset without its ``complaint`` rows: the wrong model gets 0 % of it."""
    rows = (SCENARIOS / "data/support_intents.jsonl").read_text().splitlines()
    path = tmp_path / "no_complaints.jsonl"
    path.write_text("".join(r + "\n" for r in rows if json.loads(r)["label"] != "complaint"))
    return f"dataset.path={path}"


def test_a_pass_without_a_correctness_gate_says_so(wrong_model, no_complaints, cli):
    r = cli("run", str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={wrong_model.url}",
            "--set", no_complaints, "--set", 'thresholds=["latency.p99 < 10s"]',
            "--duration", "2s")  # fmt: skip
    assert r.code == 0, r.stderr
    s = r.summary
    assert s["verdict"] == "passed" and s["quality"]["accuracy"] == 0.0
    console = r.stdout.splitlines()
    at = console.index("PASSED  all 1 thresholds passed")
    assert console[at + 1].strip() == (
        "⚠ no correctness gate was set: answers not judged (accuracy 0.00%); add e.g. "
        "'accuracy >= 0.9'"
    )
    md = (r.run_dir / "summary.md").read_text()
    assert md.startswith("## ⚠️ stagecheck")  # not ✅
    assert GATE.capitalize() in md and "accuracy 0.00%" in md
    assert GATE in (r.run_dir / "report.html").read_text()
    # JUnit: the suite's cases are green, so the suite says it (property and its output)
    suite = ET.parse(r.run_dir / "junit.xml").getroot()
    warning = suite.find("properties/property[@name='warning']")
    assert warning is not None and warning.get("value", "").startswith(GATE)
    out = suite.find("system-out")
    assert out is not None and out.text == "warning: " + warning.get("value", "")


def test_a_correctness_gate_removes_the_caveat(wrong_model, cli):
    r = cli("run", str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={wrong_model.url}",
            "--set", 'thresholds=["latency.p99 < 10s", "accuracy >= 0.5"]',
            "--duration", "2s")  # fmt: skip
    assert r.code == 1, r.stderr
    assert GATE not in r.stdout
    assert GATE.capitalize() not in (r.run_dir / "summary.md").read_text()
    assert GATE not in (r.run_dir / "junit.xml").read_text()


def test_validate_warns_of_a_scenario_without_a_correctness_gate(cli):
    r = cli("validate", str(SCENARIOS / "smoke.yaml"), "--set", 'thresholds=["latency.p99 < 1s"]')
    assert r.code == 0, r.stderr
    assert ("  warning    no correctness gate: a run passes however wrong the answers are; add "
            "a threshold such as 'accuracy >= 0.9'") in r.stdout.splitlines()  # fmt: skip
    r = cli("validate", str(SCENARIOS / "smoke.yaml"))  # its own gates judge accuracy
    assert "no correctness gate" not in r.stdout
