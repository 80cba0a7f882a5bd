"""Load shapes as a user runs them: stages of arrival rates (open loop), alone and with worker
processes, against the real demo endpoint; a bounded soak whose memory and file growth per
request stay flat; an open-loop run that ends on its plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, free_master_port

pytestmark = pytest.mark.e2e

# 3 s per stage: 10/s, then 30/s, then 15/s (constant arrivals: the schedule is exact)
STAGES = [("warm", 10.0), ("peak", 30.0), ("cool", 15.0)]
STAGE_S = 3.0
STAGES_SET = "load.stages=[" + ", ".join(
    f"{{name: {n}, duration: {STAGE_S:g}s, arrival_rate: {r:g}/s}}" for n, r in STAGES
) + "]"  # fmt: skip


def _staged_run(cli, demo, *extra: str):
    r = cli("run", str(SCENARIOS / "ramp.yaml"), "--set", f"endpoint.url={demo.url}",
            "--set", STAGES_SET, "--set", "load.arrivals=constant", *extra)  # fmt: skip
    _judged(r)
    return r


def _judged(r) -> None:
    """A run that was judged (the demo's accuracy may miss a gate), or found invalid only
    because a shared machine's scheduler held a few requests past their due time."""
    assert r.code in (0, 1, 3), r.stderr
    if r.code == 3:
        reasons = r.summary["validity"]["reasons"]
        assert all("arrival schedule was not kept" in x for x in reasons), reasons


def _check_stages_follow_the_schedule(r, late_start_s: float = 0.0) -> None:
    """Each stage holds rate × duration requests (a few either way), at its rate. A worker's
    schedule starts once it has prepared the scenario, up to ``late_start_s`` after the
    master's clock, so the last stage may lose that moment's arrivals."""
    s = r.summary
    planned = [st["arrival_rate"] for st in s["run"]["load"]["stages"]]
    assert planned == [rate for _, rate in STAGES]
    assert s["requests"]["dropped_arrivals"] == 0
    last_rate = STAGES[-1][1]
    expected_total = sum(rate * STAGE_S for _, rate in STAGES)
    assert expected_total - late_start_s * last_rate - 4 <= s["requests"]["total"]
    assert s["requests"]["total"] <= expected_total + 4
    assert len(r.results()) == s["requests"]["total"]
    for i, (stage, (name, rate)) in enumerate(zip(s["stages"], STAGES, strict=True)):
        short = late_start_s if i == len(STAGES) - 1 else 0.0
        assert stage["name"] == name
        assert stage["offered_rate_per_s"] == rate
        assert rate * (STAGE_S - short) - 3 <= stage["requests"] <= rate * STAGE_S + 3, stage
        assert rate * (1 - short / STAGE_S) * 0.9 <= stage["throughput_per_s"] <= rate * 1.1
        assert stage["latency"]["e2e"]["count"] == stage["requests"]
        assert stage["quality"]["scored"] > 0
    # each request's stage is the one its due time fell in: the results agree with the counts
    by_stage = [sum(1 for x in r.results() if x["stage"] == i) for i in range(len(STAGES))]
    assert by_stage == [st["requests"] for st in s["stages"]]
    assert abs(s["run"]["duration_s"] - STAGE_S * len(STAGES)) < 2.0
    # the console shows achieved against offered per stage
    html = (r.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Offered" in html and "Achieved" in html


def test_stages_of_arrival_rates_keep_each_stage_rate(cli, demo):
    _check_stages_follow_the_schedule(_staged_run(cli, demo))


def test_stages_of_arrival_rates_split_across_worker_processes(cli, demo):
    r = _staged_run(cli, demo, "--processes", "2", "--master-port", str(free_master_port()))
    assert r.summary["run"]["workers"] == 2
    _check_stages_follow_the_schedule(r, late_start_s=0.5)
    # both workers took their share of every stage (a shard per worker, not one worker's)
    assert demo.stats()["requests_total"] >= r.summary["requests"]["total"]


def test_mixed_open_and_closed_stages_are_one_line_exit_2(cli, tmp_path):
    mixed = STAGES_SET.replace("arrival_rate: 15/s", "users: 4")
    r = cli("validate", str(SCENARIOS / "ramp.yaml"), "--set", mixed)
    assert r.code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "either every stage names an arrival_rate" in lines[0]
    assert "stage cool" in lines[0] and "Traceback" not in r.stderr


def test_an_open_loop_run_with_a_large_pool_ends_on_its_plan(cli, demo):
    # 200 users holding due times up to 10 s ahead: stopping ends them at once, so the run
    # ends on its plan, not a pool's worth of due times later.
    r = cli("run", str(SCENARIOS / "open-loop.yaml"), "--set", f"endpoint.url={demo.url}",
            "--rate", "20/s", "--users", "200", "--duration", "6s",
            "--set", "load.arrivals=constant")  # fmt: skip
    _judged(r)
    s = r.summary
    assert s["run"]["load"]["users"] == 200
    assert abs(s["run"]["duration_s"] - 6.0) < 1.5, s["run"]["duration_s"]
    assert abs(s["requests"]["total"] - 120) <= 3


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@pytest.mark.skipif(not Path("/proc/self/status").exists(),
                    reason="reads the run's memory from /proc (Linux only)")
def test_a_bounded_soak_keeps_memory_and_bytes_per_request_flat(demo, tmp_path):
    # 20 s catches memory kept per request (1,000 requests: 8 KiB each would fail it); memory
    # that grows with time alone needs minutes to see, the GC's share of it is checked in
    # tests/unit/test_soak_memory.py.
    duration = 20.0
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "soak.yaml"),
           "--set", f"endpoint.url={demo.url}", "--set", f"load.duration={duration:g}s",
           "--set", "load.arrival_rate=50/s", "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))  # fmt: skip
    samples: list[tuple[float, int]] = []  # (monotonic s, RSS KiB) while the run runs

    def watch() -> None:
        while proc.poll() is None:
            rss = _rss_kib(proc.pid)
            if rss is not None:
                samples.append((time.monotonic(), rss))
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate(timeout=duration + 60)
    watcher.join(5)
    assert proc.returncode in (0, 1, 3), stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["total"] >= 0.9 * 50 * duration

    # memory: the run's own seconds (not the start-up's), first half against second half
    started = json.loads((run_dir / "results.jsonl").open().readline())["t"]
    ended = started + summary["run"]["duration_s"]
    wall_offset = time.time() - time.monotonic()
    during = [(t + wall_offset, kib) for t, kib in samples if started <= t + wall_offset <= ended]
    mid = (started + ended) / 2
    first = [kib for t, kib in during if t < mid]
    second = [kib for t, kib in during if t >= mid]
    assert len(first) >= 10 and len(second) >= 10, len(during)
    growth_kib = max(second) - max(first)
    assert growth_kib < 8 * 1024, f"RSS grew {growth_kib} KiB in the second half"

    # results.jsonl: bytes per request the same in both halves (no line grows with time)
    lines = (run_dir / "results.jsonl").read_bytes().splitlines()
    halves: list[list[int]] = [[], []]
    for line in lines:
        halves[json.loads(line)["t"] >= mid].append(len(line) + 1)
    per_request = [sum(h) / len(h) for h in halves]
    assert per_request[1] == pytest.approx(per_request[0], rel=0.05), per_request
    print(
        f"soak: RSS max {max(first)} KiB first half, {max(second)} KiB second half; "
        f"results.jsonl {per_request[0]:.1f} / {per_request[1]:.1f} bytes per request"
    )
