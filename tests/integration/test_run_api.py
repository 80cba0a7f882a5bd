"""The public in-process entry point ``stagecheck.run_scenario``, used as a user program would:
in a fresh Python process (Locust patches its process with gevent), against the real demo
endpoint. Its summary is the same contract as ``stagecheck run``'s."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.integration

PROGRAM = """
import json, sys
import stagecheck
from stagecheck.locust import RunOptions
from pathlib import Path

prepared = stagecheck.prepare_scenario(sys.argv[1], sys.argv[3:])
result = stagecheck.run_scenario(prepared, options=RunOptions(runs_root=Path(sys.argv[2])))
print(json.dumps({"exit_code": result.exit_code, "run_dir": str(result.run_dir),
                  "total": result.summary["requests"]["total"],
                  "accuracy": result.summary["quality"]["accuracy"],
                  "verdict": result.summary["verdict"]}))
"""


def run_program(*args: str, timeout: float = 90) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_exact_pass_in_process_returns_the_summary(fast_demo, tmp_path):
    fast_demo.reset()
    out = run_program(str(SCENARIOS / "exact-pass.yaml"), str(tmp_path),
                      f"endpoint.url={fast_demo.url}")  # fmt: skip
    rows = len((SCENARIOS / "data/support_intents.jsonl").read_text().splitlines())
    assert out["total"] == rows == fast_demo.stats()["requests_total"]
    assert out["exit_code"] == 0 and out["verdict"] == "passed"
    written = json.loads((tmp_path / out["run_dir"] / "summary.json").read_text())
    assert written["requests"]["total"] == rows
    assert written["quality"]["accuracy"] == out["accuracy"]


def test_timed_run_in_process_keeps_its_plan(fast_demo, tmp_path):
    fast_demo.reset()
    out = run_program(str(SCENARIOS / "smoke.yaml"), str(tmp_path), f"endpoint.url={fast_demo.url}",
                      "load.duration=3s", "load.users=2")  # fmt: skip
    summary = json.loads((tmp_path / out["run_dir"] / "summary.json").read_text())
    assert summary["run"]["duration_s"] == pytest.approx(3.0, abs=1.5)
    assert out["total"] == fast_demo.stats()["requests_total"] > 20
    assert out["exit_code"] == {"passed": 0, "failed": 1, "invalid": 3}[out["verdict"]]
