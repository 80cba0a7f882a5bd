"""summary.json against its typed model (``stagecheck.summary.schema``, ``extra="forbid"``) and
its published JSON Schema, for real runs of every kind against the real demo endpoint:
classification exact pass, timed streaming chat, and load stages."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from stagecheck.summary.schema import check_summary, summary_json_schema
from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.integration

SCHEMA_FILE = REPO / "reporting" / "summary.schema.json"


def test_published_schema_is_current():
    assert json.loads(SCHEMA_FILE.read_text()) == summary_json_schema(), (
        "reporting/summary.schema.json is stale: regenerate it with make schema"
    )


RUNS = {
    "exact-pass": ["exact-pass.yaml"],
    "stream": ["llm-chat-stream.yaml", "--set", "load.duration=3s", "--set", "load.users=2"],
    "stages": ["step.yaml", "--set", "load.stages=[{name: a, duration: 1s, users: 2}, "
               "{name: b, duration: 2s, users: 4}]"],
}  # fmt: skip


@pytest.mark.parametrize("kind", list(RUNS))
def test_a_real_runs_summary_matches_the_model_and_the_schema(fast_demo, tmp_path, kind):
    scenario, *sets = RUNS[kind]
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / scenario), "--set",
           f"endpoint.url={fast_demo.url}", *sets, "--out", str(tmp_path), "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    check_summary(summary)  # extra="forbid": no field the contract does not name
    jsonschema.validate(summary, json.loads(SCHEMA_FILE.read_text()))
    assert summary["analysis"] is not None and summary["dataset_profile"] is not None
    if kind == "stream":
        assert {"ttft", "itl"} <= set(summary["latency"])
    if kind == "stages":
        assert len(summary["stages"]) >= 2
