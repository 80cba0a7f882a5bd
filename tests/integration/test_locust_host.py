"""Plain Locust's ``-H URL`` is the endpoint: ``locust -f locustfiles/validation.py --scenario
S -H URL`` sends the load to URL (and the summary names it), whatever the scenario's url."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.integration


def _run_dir(out):
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_plain_locust_sends_the_load_to_its_host_option(fast_demo, tmp_path):
    scenario = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    scenario["endpoint"]["url"] = "http://127.0.0.1:9"  # nothing listens: -H must win
    scenario["dataset"]["path"] = str(SCENARIOS / scenario["dataset"]["path"])
    scenario["thresholds"] = []
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump(scenario))
    fast_demo.reset()
    cmd = [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / "validation.py"),
           "--scenario", str(path), "-H", fast_demo.url, "--runs-root", str(tmp_path / "runs"),
           "--headless", "--only-summary", "-u", "2", "-t", "2s",
           "--loglevel", "WARNING"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((_run_dir(tmp_path / "runs") / "summary.json").read_text())
    assert summary["run"]["endpoint"]["url"] == fast_demo.url
    assert summary["requests"]["total"] == fast_demo.stats()["requests_total"] > 0
