"""A distributed run with separate ``--worker`` processes that loses its master: the workers
stop sending within 2 s."""

from __future__ import annotations

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
        assert "the connection to the master closed" in err
        assert "Traceback" not in err
