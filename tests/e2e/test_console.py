"""What a user sees on the console: ``stagecheck run`` shows its own lines, Locust's log goes
to ``locust.log`` in the run folder (``--verbose`` shows it too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.e2e

# Locust's own log format: "[2026-12-01 23:50:01,123] host/INFO/locust.main: Run time limit…"
LOCUST_LINE = re.compile(r"^\[[^\]]+\] \S+/(INFO|WARNING|DEBUG)/locust")


def _run(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
           "--set", f"endpoint.url={url}", "--duration", "2s", "--users", "2",
           "--set", "thresholds=[]", "--out", str(out), *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO)


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_the_console_shows_stagecheck_lines_and_locust_logs_to_the_run_folder(demo, tmp_path):
    proc = _run(demo.url, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = _run_dir(tmp_path)
    console = proc.stdout + proc.stderr
    assert not [x for x in console.splitlines() if LOCUST_LINE.match(x)], console[-2000:]
    assert f"run folder {run_dir}" in proc.stderr  # stagecheck's own line
    assert "PASSED" in proc.stdout
    log = (run_dir / "locust.log").read_text()
    assert re.search(r"/INFO/locust\.", log), log[-2000:]  # Locust's lines are kept, in the file
    assert f"run folder {run_dir}" in log  # and stagecheck's too: the file is the whole story


def test_verbose_shows_locusts_log_on_the_console_as_well(demo, tmp_path):
    proc = _run(demo.url, tmp_path, "--verbose")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [x for x in proc.stderr.splitlines() if LOCUST_LINE.match(x)], proc.stderr[-2000:]
    assert (_run_dir(tmp_path) / "locust.log").stat().st_size > 0
