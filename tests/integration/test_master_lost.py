"""A distributed run with separate ``--worker`` processes that loses a part: its master killed
(the workers stop sending within 2 s, and ``stagecheck report`` rebuilds the summary from the
results on disk, marked incomplete, exit 3) or one of its workers killed (the summary counts the
workers that took part and those lost)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, Demo, free_master_port

pytestmark = pytest.mark.integration

STOP_WITHIN_S = 2.0  # from the master's death to the last request the endpoint receives


def stagecheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "stagecheck.cli", *args]


def start(demo: Demo, out: Path, workers: int, duration: str) -> tuple[subprocess.Popen[str], ...]:
    """A master and ``workers`` separate worker processes, running the smoke scenario."""
    port = str(free_master_port())
    scenario = str(SCENARIOS / "smoke.yaml")
    master = subprocess.Popen(
        stagecheck("run", scenario, "--set", f"endpoint.url={demo.url}",
                   "--set", "endpoint.metrics_url=null", "--duration", duration, "--master",
                   "--expect-workers", str(workers), "--master-port", port, "--out", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    started = [
        subprocess.Popen(stagecheck("run", scenario, "--worker", "--master-host", "127.0.0.1",
                                    "--master-port", port, "--quiet"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        for _ in range(workers)
    ]  # fmt: skip
    return master, *started


def wait_for(check, timeout: float, what: str) -> None:  # noqa: ANN001 - a test helper
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def results_on_disk(out: Path) -> int:
    found = list(out.glob("*/results.jsonl"))
    return len(found[0].read_bytes().splitlines()) if found else 0


def end_all(*procs: subprocess.Popen[str]) -> list[str]:
    errors = []
    for p in procs:
        if p.poll() is None:
            p.kill()
        errors.append(p.communicate(timeout=30)[1])
    return errors


def test_separate_workers_stop_soon_after_their_master_is_killed(fast_demo, tmp_path):
    master, *workers = start(fast_demo, tmp_path, 2, "60s")
    try:
        wait_for(lambda: results_on_disk(tmp_path) > 500, 60, "no results recorded")
        master.kill()
        master.wait(timeout=10)
        died = time.monotonic()
        last, last_seen = fast_demo.stats()["requests_total"], died
        while any(w.poll() is None for w in workers) and time.monotonic() - died < 30:
            n = fast_demo.stats()["requests_total"]
            if n != last:
                last, last_seen = n, time.monotonic()
            time.sleep(0.02)
        n = fast_demo.stats()["requests_total"]
        if n != last:
            last_seen = time.monotonic()
        codes = [w.poll() for w in workers]
    finally:
        errors = end_all(master, *workers)
    # Locust's own watch gives up after 60 s of silence, stagecheck's heartbeat rule after 5 s
    assert last_seen - died < STOP_WITHIN_S, (last_seen - died, errors[1:])
    assert codes == [3, 3], errors[1:]  # a worker that lost its run says so
    for err in errors[1:]:
        assert "worker stopping: " in err  # the connection closed (or, starved, no heartbeat)
        assert "Traceback" not in err


def test_report_rebuilds_the_summary_of_a_run_whose_master_died(fast_demo, tmp_path):
    out = tmp_path / "runs"
    master, worker = start(fast_demo, out, 1, "60s")
    try:
        wait_for(lambda: results_on_disk(out) > 500, 60, "no results recorded")
        master.kill()
        master.wait(timeout=10)
        wait_for(lambda: worker.poll() is not None, 30, "the worker outlived its master")
    finally:
        end_all(master, worker)
    (run_dir,) = out.iterdir()
    assert not (run_dir / "summary.json").exists()
    lines = (run_dir / "results.jsonl").read_bytes().splitlines()
    proc = subprocess.run(stagecheck("report", str(run_dir)), capture_output=True, text=True,
                          timeout=120, cwd=REPO)  # fmt: skip
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["total"] == len(lines) > 500
    assert sum(summary["requests"]["by_outcome"].values()) == len(lines)
    assert summary["latency"]["e2e"]["count"] == len(lines)
    assert summary["verdict"] == "invalid"
    reasons = summary["validity"]["reasons"]
    rebuilt = f"rebuilt from the {len(lines)} results on disk"
    assert any(r.startswith("incomplete: the run did not end") and rebuilt in r for r in reasons)
    assert summary["run"]["workers"] is None  # not on disk: not invented
    assert "INVALID" in proc.stdout
    assert rebuilt in (run_dir / "summary.md").read_text()
    # a second report reads the rebuilt summary, and still says what it is
    again = subprocess.run(stagecheck("report", str(run_dir)), capture_output=True, text=True,
                           timeout=120, cwd=REPO)  # fmt: skip
    assert again.returncode == 3, again.stderr[-2000:]
    assert json.loads((run_dir / "summary.json").read_text())["validity"]["reasons"] == reasons


def test_a_lost_worker_is_counted_among_the_workers_and_as_lost(fast_demo, tmp_path):
    out = tmp_path / "runs"
    master, first, second = start(fast_demo, out, 2, "20s")
    try:
        wait_for(lambda: results_on_disk(out) > 500, 60, "no results recorded")
        second.kill()
        stdout, stderr = master.communicate(timeout=90)
        first.wait(timeout=30)
    finally:
        end_all(master, first, second)
    assert master.returncode == 3, stderr[-3000:]
    (run_dir,) = out.iterdir()
    assert (run_dir / "summary.json").is_file(), stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run"]["workers"] == 2, summary["run"]
    # the killed one; on a starved machine Locust may also miss the other's heartbeats
    assert summary["run"]["workers_lost"] >= 1, summary["run"]
    assert any("was lost" in r for r in summary["validity"]["reasons"])
    shown = f"2 workers ({summary['run']['workers_lost']} lost)"
    assert shown in stdout
    assert shown in (run_dir / "summary.md").read_text()


def _folder_state(run_dir: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in run_dir.iterdir()}


def test_report_refuses_a_live_runs_folder_and_rebuilds_it_once_the_run_is_dead(
    fast_demo, tmp_path
):
    """``report`` on the folder of a run still going would have rebuilt it as dead (invalid,
    "rebuilt from the N results on disk"): it now refuses in one line, exit 2, touching
    nothing. The run's lock names its process and that process's start time: once the run is
    SIGKILLed (its lock left behind), or when another process has its pid, the lock is stale
    and the folder is rebuilt."""
    out = tmp_path / "runs"
    run = subprocess.Popen(
        stagecheck("run", str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={fast_demo.url}",
                   "--set", "endpoint.metrics_url=null", "--duration", "60s", "--out", str(out),
                   "--quiet"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        wait_for(lambda: results_on_disk(out) > 200, 60, "no results recorded")
        (run_dir,) = out.iterdir()
        before = _folder_state(run_dir)
        live = subprocess.run(stagecheck("report", str(run_dir)), capture_output=True,
                              text=True, timeout=120, cwd=REPO)  # fmt: skip
        assert run.poll() is None  # the run was live all along
        assert live.returncode == 2, live.stdout[-2000:] + live.stderr[-2000:]
        assert live.stderr.strip().splitlines() == [
            f"stagecheck: {run_dir}: its run is still going (process {run.pid}); report it "
            "once the run has ended"
        ], live.stderr
        after = _folder_state(run_dir)
        assert not (run_dir / "summary.json").exists()
        # no file added; the ones the run does not append to are as they were
        assert after.keys() == before.keys()
        for name in ("scenario.yaml", "rows.jsonl", "run.lock"):
            assert after[name] == before[name], name
        run.kill()
        run.wait(timeout=10)
    finally:
        end_all(run)
    assert (run_dir / "run.lock").exists()  # a killed run cannot remove its lock
    lock = json.loads((run_dir / "run.lock").read_text())
    # the same pid, another process: a lock naming a live process that started at another time
    (run_dir / "run.lock").write_text(json.dumps({"pid": 1, "started": lock["started"]}))
    dead = subprocess.run(stagecheck("report", str(run_dir)), capture_output=True, text=True,
                          timeout=120, cwd=REPO)  # fmt: skip
    assert dead.returncode == 3, dead.stdout[-2000:] + dead.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert any("rebuilt from the" in r for r in summary["validity"]["reasons"])
