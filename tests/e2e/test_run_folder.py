"""A run folder that cannot be written: refused before any load (exit 2, one line), or, when
writes start failing mid-run, the load stopped at once, the summary kept (in the run folder if
it still takes it, else in a temporary folder the message names) and exit 3; never a
traceback, never exit 1."""

from __future__ import annotations

import json
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.e2e

STOPPED_WITHIN_S = 20  # from the first refused write to the process's exit, summary written


def file_size_limit(limit: int):
    """``preexec_fn`` of a process whose files cannot grow past ``limit`` bytes
    (``RLIMIT_FSIZE``, SIGXFSZ ignored): a write past it fails with EFBIG, the way a write to a
    full disk fails with ENOSPC (a short write, then an OSError), for root too."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


def run_cli(demo_url: str, out: Path, *extra: str, limit: int | None = None, duration="60s"):
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
           "--set", f"endpoint.url={demo_url}", "--set", "endpoint.metrics_url=null",
           "--duration", duration, "--out", str(out), "--quiet", *extra]  # fmt: skip
    limits = file_size_limit(limit) if limit else None
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, preexec_fn=limits)  # fmt: skip


def test_an_out_folder_in_a_files_place_is_refused_before_any_load(demo, tmp_path):
    """``--out`` under a regular file (a path no folder can be made at)."""
    (tmp_path / "taken").write_text("a file, not a folder\n")
    out = tmp_path / "taken" / "runs"
    demo.reset()
    proc = run_cli(demo.url, out)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert stderr.strip().splitlines() == [
        f"stagecheck: --out {out}: the run folder cannot be written there (Not a directory)"
    ]
    assert "Traceback" not in stdout + stderr
    assert demo.stats()["requests_total"] == 0  # no load sent


def test_a_full_disk_is_refused_before_any_load(demo, tmp_path):
    """A disk (or quota) with almost no room left: simulated by a 16 KiB file size limit."""
    demo.reset()
    proc = run_cli(demo.url, tmp_path / "runs", limit=16 * 1024)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert stderr.strip().splitlines() == [
        f"stagecheck: --out {tmp_path / 'runs'}: the run folder cannot be written there "
        "(File too large)"
    ]
    assert demo.stats()["requests_total"] == 0


def test_a_write_failure_mid_run_stops_the_load_keeps_the_summary_and_exits_3(demo, tmp_path):
    """The run folder's files cannot grow past 200 KB (``RLIMIT_FSIZE``): results.jsonl
    reaches it a few seconds into a 60 s run, as it would reach the end of a small disk. The
    run must stop then, not at the end of its plan, and say so in one line."""
    limit = 200_000
    out = tmp_path / "runs"
    demo.reset()
    proc = run_cli(demo.url, out, limit=limit)
    try:
        deadline = time.monotonic() + 50
        results = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(out.glob("*/results.jsonl"))
            if found and found[0].stat().st_size >= limit:
                results = found[0]
                break
            time.sleep(0.1)
        assert results is not None, "results.jsonl never reached the limit"
        full_at = time.monotonic()
        stdout, stderr = proc.communicate(timeout=STOPPED_WITHIN_S + 10)
        took = time.monotonic() - full_at
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    assert took < STOPPED_WITHIN_S, f"the run went on for {took:.1f}s after the disk was full"
    assert "Traceback" not in stdout + stderr
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    run_dir = results.parent
    assert any(f"stopping the run: cannot write the run folder {run_dir} (results.jsonl: File "
               "too large)" in line for line in errors), stderr  # fmt: skip
    kept = re.search(r"the summary and reports are in (\S+)", stderr)
    assert kept is not None, stderr
    summary = json.loads((Path(kept.group(1)) / "summary.json").read_text())
    assert summary["verdict"] == "invalid"
    assert any("results.jsonl: File too large" in r for r in summary["validity"]["reasons"])
    assert summary["run"]["duration_s"] < 45  # of 60 planned
    # the counts went on after the results lines stopped: every request the server got is in
    received = demo.stats()["requests_total"]
    assert summary["requests"]["total"] == received
    assert len(results.read_bytes().splitlines()) < received
    assert "INVALID" in stdout


@pytest.mark.parametrize("option", ["--runs-root", "--run-dir"])
def test_plain_locust_refuses_an_unwritable_run_folder_before_any_load(demo, tmp_path, option):
    """``locust -f locustfiles/validation.py`` with a run folder under a regular file."""
    (tmp_path / "taken").write_text("a file, not a folder\n")
    folder = tmp_path / "taken" / "runs"
    demo.reset()
    cmd = [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / "validation.py"),
           "--scenario", str(SCENARIOS / "smoke.yaml"), "-H", demo.url, option, str(folder),
           "--headless", "--only-summary", "-u", "2", "-t", "2s"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"{option} {folder}: the run folder cannot be written there (Not a directory)" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert demo.stats()["requests_total"] == 0
