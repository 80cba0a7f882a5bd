"""Real Locust runs of ``locustfiles/validation.py`` (as users run it: ``locust -f``): Locust's
own statistics agree with stagecheck's, load stages are recorded, an interrupted run keeps what
it measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, read_results

pytestmark = pytest.mark.integration

LOCUSTFILE = REPO / "locustfiles" / "validation.py"


def locust_cmd(url: str, out: Path, *extra: str, scenario: str = "smoke.yaml") -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--scenario", str(SCENARIOS / scenario), "--scenario-set", f"endpoint.url={url}",
        "--runs-root", str(out), "--headless", "--only-summary", "--loglevel", "WARNING", *extra,
    ]  # fmt: skip


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_locust_statistics_agree_with_stagecheck(fast_demo, tmp_path):
    fast_demo.reset()
    stats_file = tmp_path / "locust.json"
    proc = subprocess.run(
        locust_cmd(fast_demo.url, tmp_path / "runs", "-u", "3", "-t", "3s",
                   "--json-file", str(stats_file.with_suffix(""))),
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((only_run_dir(tmp_path / "runs") / "summary.json").read_text())
    (entry,) = json.loads(stats_file.read_text())
    total = summary["requests"]["total"]
    assert total > 30
    assert entry["num_requests"] == total  # Locust's request event fired once per request
    by = summary["requests"]["by_outcome"]
    failures = by["http_error"] + by["timeout"] + by["connection_error"] + by["unparseable"]
    assert entry["num_failures"] == failures
    assert fast_demo.stats()["requests_total"] == total
    assert summary["run"]["load"]["users"] == 3  # -u overrides the scenario's 8


def test_stages_are_recorded_with_their_users(fast_demo, tmp_path):
    stages = "[{name: low, duration: 2s, users: 2}, {name: high, duration: 2s, users: 6}]"
    proc = subprocess.run(
        locust_cmd(fast_demo.url, tmp_path / "runs", "--scenario-set", f"load.stages={stages}"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((only_run_dir(tmp_path / "runs") / "summary.json").read_text())
    low, high = summary["stages"]
    assert (low["name"], low["users"], high["name"], high["users"]) == ("low", 2, "high", 6)
    assert low["requests"] > 0 and high["requests"] > low["requests"]
    assert low["requests"] + high["requests"] == summary["requests"]["total"]
    assert high["start_s"] == pytest.approx(2.0, abs=1.2)
    assert low["latency"]["e2e"]["count"] == low["requests"]
    results = read_results(only_run_dir(tmp_path / "runs"))
    assert {x["stage"] for x in results} == {0, 1}
    assert {x["users"] for x in results if x["stage"] == 1} == {6}


def test_interrupted_run_keeps_everything_it_measured(fast_demo, tmp_path):
    fast_demo.reset()
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
           "--set", f"endpoint.url={fast_demo.url}", "--duration", "60s", "--out", str(out),
           "--quiet"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    deadline = time.monotonic() + 30
    results = None
    while time.monotonic() < deadline:  # wait until requests are being recorded
        found = list(out.glob("*/results.jsonl"))
        if found and found[0].stat().st_size > 2000:
            results = found[0]
            break
        time.sleep(0.2)
    assert results is not None, "no results recorded"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stderr  # interrupted: the run is invalid
    summary = json.loads((results.parent / "summary.json").read_text())
    assert summary["verdict"] == "invalid"
    assert any("interrupted" in r for r in summary["validity"]["reasons"])
    total = summary["requests"]["total"]
    assert len(results.read_text().splitlines()) == total
    assert fast_demo.stats()["requests_total"] == total  # nothing sent went unrecorded
    assert "INVALID" in stdout.upper()
