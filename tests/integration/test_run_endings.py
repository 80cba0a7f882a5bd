"""Every way a run can end abnormally ends with a summary, an honest verdict and exit 3:
SIGTERM or SIGINT (to the process, or to the whole process group) in single and distributed
runs, one worker killed mid-run, every worker killed. What was measured before the end is
kept; no worker outlives its master by more than a few seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support import FAST, REPO, SCENARIOS, Demo, free_master_port, running_demo

pytestmark = pytest.mark.integration

END_WITHIN_S = 20  # from the signal to the process's exit, summary written


def start(demo_url: str, out: Path, *extra: str, duration: str = "60s",
          scenario: str = "smoke.yaml") -> subprocess.Popen[str]:  # fmt: skip
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / scenario),
           "--set", f"endpoint.url={demo_url}", "--set", "endpoint.metrics_url=null",
           "--duration", duration, "--out", str(out), "--quiet", *extra]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, start_new_session=True)  # fmt: skip


def wait_for_results(out: Path, size: int = 4000, timeout: float = 40) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(out.glob("*/results.jsonl"))
        if found and found[0].stat().st_size > size:
            return found[0].parent
        time.sleep(0.2)
    raise AssertionError("no results recorded")


def workers_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children()
        if len(children) == 2:
            return children
        time.sleep(0.2)
    raise AssertionError("the workers did not start")


def finish(proc: subprocess.Popen[str], run_dir: Path, timeout: float = END_WITHIN_S):
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    took = time.monotonic() - t0
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = len((run_dir / "results.jsonl").read_text().splitlines())
    return proc.returncode, summary, lines, took, (out or "") + (err or "")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_a_single_process_run(fast_demo, tmp_path, signum):
    fast_demo.reset()
    proc = start(fast_demo.url, tmp_path)
    run_dir = wait_for_results(tmp_path)
    proc.send_signal(signum)
    code, summary, lines, took, output = finish(proc, run_dir)
    assert code == 3, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert took < END_WITHIN_S
    assert summary["verdict"] == "invalid"
    assert f"the run was stopped by {signum.name}" in summary["validity"]["reasons"]
    total = summary["requests"]["total"]
    assert lines == total == fast_demo.stats()["requests_total"]  # nothing sent is lost
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (run_dir / name).is_file()


@pytest.mark.parametrize("target", ["master", "group"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_a_distributed_run(fast_demo, tmp_path, signum, target):
    fast_demo.reset()
    proc = start(fast_demo.url, tmp_path, "--processes", "2",
                 "--master-port", str(free_master_port()))  # fmt: skip
    workers = workers_of(proc)
    run_dir = wait_for_results(tmp_path, size=20_000)
    if target == "group":
        os.killpg(proc.pid, signum)  # Ctrl-C in a terminal signals the whole group
    else:
        proc.send_signal(signum)
    code, summary, lines, took, output = finish(proc, run_dir)
    assert code == 3, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert took < END_WITHIN_S, output[-3000:]
    assert summary["verdict"] == "invalid"
    assert any("stopped by" in r for r in summary["validity"]["reasons"]), summary["validity"]
    total = summary["requests"]["total"]
    assert lines == total
    # the workers' last results reached the master: what the endpoint served was recorded
    assert total == fast_demo.stats()["requests_total"], summary["validity"]
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "workers outlived their master"


def lose_a_worker(url: str, tmp_path: Path, size: int, **start_kw: str):
    """A run with 2 worker processes, one of them killed once ``size`` bytes of results are
    in: the run must end with exit 3, naming the lost worker, and the other worker with it.
    Returns what finish() does."""
    proc = start(url, tmp_path, "--processes", "2", "--master-port", str(free_master_port()),
                 **start_kw)  # fmt: skip
    first, second = workers_of(proc)
    run_dir = wait_for_results(tmp_path, size=size)
    second.kill()
    code, summary, lines, took, output = finish(proc, run_dir, timeout=60)
    assert code == 3, output[-3000:]
    reasons = summary["validity"]["reasons"]
    assert any("was lost" in r for r in reasons), reasons
    _, alive = psutil.wait_procs([first], timeout=5)
    assert not alive, "the worker left outlived the run"
    return code, summary, lines, took, output


def test_a_worker_killed_mid_run_makes_it_partial_and_keeps_the_rest(fast_demo, tmp_path):
    fast_demo.reset()
    code, summary, lines, took, output = lose_a_worker(fast_demo.url, tmp_path, 20_000,
                                                       duration="14s")  # fmt: skip
    total = summary["requests"]["total"]
    assert lines == total > 0
    served = fast_demo.stats()["requests_total"]
    # only the dead worker's last seconds (since its last report) are missing
    assert total <= served <= total + 3 * 2000, (total, served)


def test_every_worker_killed_still_ends_with_a_summary(fast_demo, tmp_path):
    fast_demo.reset()
    proc = start(fast_demo.url, tmp_path, "--processes", "2",
                 "--master-port", str(free_master_port()))  # fmt: skip
    workers = workers_of(proc)
    run_dir = wait_for_results(tmp_path, size=20_000)
    for w in workers:
        w.kill()
    code, summary, lines, took, output = finish(proc, run_dir, timeout=60)
    assert code == 3, output[-3000:]  # never 0
    assert summary["verdict"] == "invalid"
    assert any("was lost" in r for r in summary["validity"]["reasons"])
    assert lines == summary["requests"]["total"] > 0


def start_logged(demo_url: str, out: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    """Like start(), its console to a file (read while it runs)."""
    console = out / "console.txt"
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
           "--set", f"endpoint.url={demo_url}", "--set", "endpoint.metrics_url=null",
           "--duration", "60s", "--out", str(out / "runs"), "--quiet", *extra]  # fmt: skip
    with console.open("w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                                start_new_session=True)  # fmt: skip
    return proc, console


def wait_for_line(console: Path, text: str, timeout: float = END_WITHIN_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in console.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never shown:\n{console.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def slow_demo() -> Iterator[Demo]:
    """The demo answering after 600 ms: requests in flight make a stop last that long, so a
    second signal sent once the first one's stop has begun lands during that stop on a fast
    machine too (with the fast demo, an idle machine ended the whole run before it)."""
    with running_demo("--latency-ms", "600", "--jitter-ms", "0", "--slowdown-ms-per-request",
                      "0", "--complex-extra-ms", "0") as demo:  # fmt: skip
        yield demo


MODES = {
    "headless": (),
    "processes": ("--processes", "2"),
    "web": ("--web",),
    "web-processes": ("--web", "--processes", "2"),
}


@pytest.mark.parametrize(
    ("mode", "signum", "times"),
    [
        ("headless", signal.SIGINT, 2),
        ("headless", signal.SIGTERM, 2),
        ("processes", signal.SIGINT, 2),
        ("processes", signal.SIGTERM, 2),
        ("web", signal.SIGTERM, 1),
        ("web", signal.SIGINT, 2),
        ("web-processes", signal.SIGTERM, 2),
    ],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else str(v),
)
def test_signals_to_the_group_end_with_exit_3_a_summary_and_no_traceback(
    slow_demo, tmp_path, mode, signum, times
):
    """Ctrl-C pressed twice (a terminal signals the whole process group), or SIGTERM sent
    twice, in every mode: the second signal arrives while the first one's stop is under way and
    must not interrupt it (it did: exit 130, no summary). A web run's SIGTERM stopped every user
    twice (a Locust traceback per user). Whatever the signals: exit 3, the run's summary, and
    every request the endpoint served is counted."""
    slow_demo.reset()
    extra = list(MODES[mode])
    if "--processes" in extra:
        extra += ["--master-port", str(free_master_port())]
    if "--web" in extra:
        extra += ["--web-port", str(free_master_port())]
    proc, console = start_logged(slow_demo.url, tmp_path, *extra)
    try:
        run_dir = wait_for_results(tmp_path / "runs", size=1_500)
    except AssertionError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(console.read_text()[-3000:]) from None
    os.killpg(proc.pid, signum)
    wait_for_line(console, f"{signum.name}: stopping the run")
    for _ in range(times - 1):
        os.killpg(proc.pid, signum)
    code, summary, lines, took, _ = finish(proc, run_dir)
    output = console.read_text()
    assert code == 3, output[-3000:]
    if times > 1:  # the second signal reached the process during the stop
        assert f"{signum.name}: already stopping" in output, output[-3000:]
    assert summary["verdict"] == "invalid"
    assert f"the run was stopped by {signum.name}" in summary["validity"]["reasons"], output[-3000:]
    assert lines == summary["requests"]["total"] == slow_demo.stats()["requests_total"]
    locust_log = (run_dir / "locust.log").read_text()
    assert "Traceback" not in output + locust_log, (output + locust_log)[-3000:]
    assert "unexpected state" not in output + locust_log


def test_an_exact_pass_that_loses_a_worker_ends_then_not_at_its_cap(tmp_path):
    """The lost worker's shard of rows can never be sent: the run ends once the loss is seen
    (invalid, saying so), not when its 5-minute safety cap runs out."""
    # 480 rows at 8 users and ~300 ms an answer: a pass of ~18 s, well under way at the kill
    with running_demo(*FAST, "--latency-ms", "300") as slow:
        code, summary, lines, took, output = lose_a_worker(
            slow.url, tmp_path, 2_000, duration="5m", scenario="exact-pass.yaml"
        )
    reasons = summary["validity"]["reasons"]
    assert any(r.startswith("exact pass incomplete") for r in reasons), reasons
    assert 0 < lines == summary["requests"]["total"] < 480
