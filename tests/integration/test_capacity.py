"""``stagecheck capacity`` against the real demo endpoint, whose knobs set a known knee.

- ``--fallback-above N`` with a fixed latency L (no jitter, no slow-down): in flight is about
  rate × L (Little's law), so answers fall back to a default label above N / L requests/s and
  the accuracy SLO fails there first.
- ``--slowdown-ms-per-request s`` on a base latency L0: each request waits s for every other
  one in flight, so latency L = L0 + s·rate·L, i.e. L = L0 / (1 − s·rate), and a latency bound
  B is crossed at rate (1 − L0/B) / s; the latency SLO fails there first.

Each search is bounded (3 s steps after a 1 s warm-up, at most 6 rates). The found capacity
must lie within TOLERANCE of the knee, and the SLO named as failing first must be the right one.

The knobs keep the knee where a busy machine does not move it out of TOLERANCE: a CPU delay d
adds to every latency, which moves an N / L knee to N / (L + d) and an L0 / B one to
(L0 + d) / B. With L = 200 ms and L0 = 100 ms, 10 ms of delay moves them 5 % and 3 %; with
the former 100 ms / 50 ms it moved them under the rates probed (fallback found 35/s of 40/s,
slow-down 60/s of 66.7/s with two CPU hogs beside the tests).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import SCENARIOS, free_master_port, running_demo

pytestmark = pytest.mark.integration

TOLERANCE = 0.15
STEADY = ("--jitter-ms", "0", "--complex-extra-ms", "0", "--token-delay-ms", "1")
SHORT = ("--step-duration", "3s", "--warmup", "1s")


def capacity(url: str, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    argv = [sys.executable, "-m", "stagecheck.cli", "capacity", str(SCENARIOS / "open-loop.yaml"),
            "--set", f"endpoint.url={url}", "--set", "load.arrivals=constant",
            "--out", str(out), *SHORT, *args]  # fmt: skip
    t0 = time.monotonic()
    # a bound, not an expectation: a step's run costs ~20 s of wall time on a 2-core machine at
    # load 13 (its process start and reports), and a step may be run again
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=420)
    return proc, time.monotonic() - t0


def result_of(out: Path) -> tuple[dict[str, Any], Path]:
    [folder] = list(out.glob("*-capacity"))
    return json.loads((folder / "capacity.json").read_text()), folder


def assert_within(found: dict[str, Any], knee: float) -> None:
    cap, fail = found["capacity"], found["first_failing_rate"]
    assert cap is not None and fail is not None, found["reason"]
    assert abs(cap - knee) <= TOLERANCE * knee, f"capacity {cap}/s, knee {knee:.1f}/s"
    assert fail >= knee * (1 - TOLERANCE), f"failed at {fail}/s, below the knee {knee:.1f}/s"


def assert_steps_are_real_runs(found: dict[str, Any], folder: Path) -> None:
    for step in found["steps"]:
        run = folder / step["run_dir"]
        summary = json.loads((run / "summary.json").read_text())
        assert summary["run"]["load"]["arrival_rate"] == step["offered_rate"]
        assert (run / "results.jsonl").stat().st_size > 0
        # every user started inside the warm-up, whatever the scenario's own spawn rate
        load = summary["run"]["load"]
        assert load["users"] == step["users"]
        assert load["users"] / load["spawn_rate"] < step["warmup_s"]
        figures = step["figures"]
        # open loop: the rate offered is the rate achieved (what a knee needs to mean anything)
        assert figures["achieved_rate"] == pytest.approx(step["offered_rate"], rel=0.1)
        assert figures["requests"] >= found["settings"]["min_requests"]


@pytest.mark.timeout(450)
def test_the_fallback_knob_sets_an_accuracy_knee_the_search_finds(tmp_path: Path) -> None:
    latency_ms, above = 200, 9
    knee = above / (latency_ms / 1000)  # 45/s
    knobs = ("--latency-ms", str(latency_ms), "--slowdown-ms-per-request", "0",
             "--fallback-above", str(above), *STEADY)  # fmt: skip
    with running_demo(*knobs) as demo:
        proc, wall = capacity(demo.url, tmp_path, "--slo", "latency.p90 < 1s",
                              "--slo", "accuracy >= 0.7", "--slo", "error_rate < 5%",
                              "--min-rate", "20", "--max-rate", "160", "--max-steps", "6",
                              "--require", "30/s")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found, folder = result_of(tmp_path)
    assert_within(found, knee)
    assert found["failed_first"] == ["accuracy >= 0.7"]
    assert found["failed_first_kinds"] == ["correctness"]
    assert "correctness failed first: accuracy >= 0.7" in proc.stdout
    assert_steps_are_real_runs(found, folder)
    for name in ("capacity.md", "capacity.html"):
        assert (folder / name).stat().st_size > 0
    print(f"fallback knee {knee:g}/s: found {found['capacity']:g}/s "
          f"(fails at {found['first_failing_rate']:g}/s) in {wall:.1f}s, "
          f"{len(found['steps'])} steps")  # fmt: skip


@pytest.mark.timeout(450)
def test_the_slowdown_knob_sets_a_latency_knee_the_search_finds(tmp_path: Path) -> None:
    base_ms, slowdown_ms, bound_ms = 100, 5, 300
    knee = (1 - base_ms / bound_ms) / (slowdown_ms / 1000)  # 133/s
    knobs = ("--latency-ms", str(base_ms), "--slowdown-ms-per-request", str(slowdown_ms),
             *STEADY)  # fmt: skip
    with running_demo(*knobs) as demo:
        proc, wall = capacity(demo.url, tmp_path, "--slo", f"latency.p90 < {bound_ms}ms",
                              "--slo", "accuracy >= 0.7", "--min-rate", "40",
                              "--max-rate", "320", "--max-steps", "6")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found, folder = result_of(tmp_path)
    assert_within(found, knee)
    assert found["failed_first"] == [f"latency.p90 < {bound_ms}ms"]
    assert found["failed_first_kinds"] == ["latency"]
    # goodput collapses past the knee: answers are still right, but late
    by_rate = {s["offered_rate"]: s["figures"] for s in found["steps"]}
    failing = by_rate[found["first_failing_rate"]]
    assert failing["accuracy"] >= 0.7
    assert failing["goodput"] < by_rate[found["capacity"]]["goodput"]
    assert_steps_are_real_runs(found, folder)
    print(f"slow-down knee {knee:.1f}/s: found {found['capacity']:g}/s "
          f"(fails at {found['first_failing_rate']:g}/s) in {wall:.1f}s, "
          f"{len(found['steps'])} steps")  # fmt: skip


def test_an_endpoint_down_is_exit_3_with_one_line(tmp_path: Path) -> None:
    port = free_master_port()  # free, so nothing listens there
    proc, _ = capacity(f"http://127.0.0.1:{port}", tmp_path, "--slo", "accuracy >= 0.9")
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0] and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*-capacity"))  # no search was started


def test_an_endpoint_that_answers_nothing_is_exit_3_not_a_capacity(tmp_path: Path) -> None:
    with running_demo("--latency-ms", "5", "--error-rate", "1", *STEADY) as demo:
        proc, _ = capacity(demo.url, tmp_path, "--slo", "accuracy >= 0.5",
                           "--slo", "error_rate < 1%", "--min-rate", "20")  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    found, _ = result_of(tmp_path)
    assert found["verdict"] == "not_carried_out" and found["capacity"] is None
    assert len(found["steps"]) == 1 and found["steps"][0]["status"] == "down"
    assert "the endpoint is down at the lowest rate" in proc.stdout


def test_bad_input_is_exit_2_one_line_per_problem(tmp_path: Path) -> None:
    proc, _ = capacity("http://127.0.0.1:9", tmp_path, "--slo", "latency.p99 < fast",
                       "--slo", "class[refund].recall > 0.5", "--max-steps", "0")  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("stagecheck: ") for line in lines)


def test_production_and_variant_slos_are_refused_in_one_line_each(tmp_path: Path) -> None:
    """``accuracy[production]`` and ``variant[x].…`` are built from a whole run folder (a
    production sample, the varied rows' pairs), not from one step: refused before any load,
    one line each saying where they are judged, exit 2, no traceback."""
    slos = ["accuracy[production] >= 0.8", "class[refund].recall[production] >= 0.7",
            "variant[typos].flip_rate < 5%"]  # fmt: skip
    proc, _ = capacity("http://127.0.0.1:9", tmp_path, "--slo", "latency.p99 < 300ms",
                       *(a for slo in slos for a in ("--slo", slo)))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"stagecheck: --slo {slo!r}: production-weighted and variant figures are "
                     "not judged per capacity step; gate a run on them (stagecheck run "
                     "--against PROD, dataset.variants)" for slo in slos]  # fmt: skip
    assert not list(tmp_path.iterdir())  # nothing ran


@pytest.mark.timeout(450)
def test_a_distributed_search_runs_every_step_on_locust_workers(tmp_path: Path) -> None:
    latency_ms, above = 200, 9
    knee = above / (latency_ms / 1000)  # 45/s: 20 and 40/s pass, 80/s fails
    knobs = ("--latency-ms", str(latency_ms), "--slowdown-ms-per-request", "0",
             "--fallback-above", str(above), *STEADY)  # fmt: skip
    with running_demo(*knobs) as demo:
        proc, wall = capacity(demo.url, tmp_path, "--slo", "accuracy >= 0.7",
                              "--min-rate", "20", "--max-rate", "100", "--max-steps", "3",
                              "--processes", "2", "--master-port",
                              str(free_master_port()))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found, folder = result_of(tmp_path)
    assert found["settings"]["processes"] == 2
    assert_within(found, knee)
    assert found["failed_first_kinds"] == ["correctness"]
    for step in found["steps"]:
        summary = json.loads((folder / step["run_dir"] / "summary.json").read_text())
        assert summary["run"]["workers"] == 2
    assert_steps_are_real_runs(found, folder)
    print(f"distributed: found {found['capacity']:g}/s (knee {knee:g}/s) in {wall:.1f}s")


def test_without_min_rate_the_first_step_is_the_lowest_rate_that_fills_a_step(
    tmp_path: Path,
) -> None:
    # accuracy alone needs the 50-request floor: 3 s steps start at ceil(50 / 3) = 17/s rather
    # than at 1/s, which would have been stretched to 50 s
    with running_demo("--latency-ms", "5", *STEADY) as demo:
        proc, _ = capacity(demo.url, tmp_path, "--slo", "accuracy >= 0.1", "--max-steps", "1")
    found, _ = result_of(tmp_path)
    assert found["settings"]["min_requests"] == 50
    assert found["settings"]["min_rate"] == 17 == found["steps"][0]["offered_rate"]
    assert "each step measures at least 50 requests" in proc.stderr
    assert "first step at 17/s" in proc.stderr


@pytest.mark.timeout(300)
def test_a_correctness_miss_close_to_its_target_is_not_run_again(tmp_path: Path) -> None:
    # the demo model is right on ~84 % of the rows; 0.9 is missed by ~7 %, which was once "within
    # noise" and run again. Every step replays the same seeded rows in the same order, so the
    # re-run got the same answers: the rows decide accuracy, not the load.
    with running_demo("--latency-ms", "5", *STEADY) as demo:
        proc, _ = capacity(demo.url, tmp_path, "--slo", "accuracy >= 0.9", "--min-rate", "20",
                           "--max-rate", "20", "--max-steps", "1")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found, _ = result_of(tmp_path)
    [step] = found["steps"]
    assert step["status"] == "failed" and not step["superseded"] and step["recheck"] is None
    assert 0.8 < step["figures"]["accuracy"] < 0.9
    assert found["failed_first"] == ["accuracy >= 0.9"]


def stall_every_step(proc: subprocess.Popen[str], stop_s: float, every_s: float) -> None:
    """Freeze each step's generator (``stagecheck run``, a child of the search) for ``stop_s``
    every ``every_s`` until the search ends: a generator starved in every run at its rate."""
    while proc.poll() is None:
        try:
            steps = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for step in steps:
            with contextlib.suppress(psutil.NoSuchProcess):
                step.send_signal(signal.SIGSTOP)
        time.sleep(stop_s)  # the stall itself: a duration, not a wait for something
        for step in steps:
            with contextlib.suppress(psutil.NoSuchProcess):
                step.send_signal(signal.SIGCONT)
        time.sleep(every_s - stop_s)


@pytest.mark.timeout(300)
def test_a_generator_stalled_in_every_run_is_saturated_not_the_endpoint_s_failure(
    tmp_path: Path,
) -> None:
    # the endpoint answers in 5 ms; the generator is frozen 0.3 s of every second, so ~30 % of
    # the requests leave up to 300 ms late and the p90 from their due time fails. The requests
    # sent on time meet it: the generator's starvation failed the step, not the endpoint, and
    # it must not be reported as the endpoint's knee (it was: "no rate met every SLO", exit 1)
    with running_demo("--latency-ms", "5", *STEADY) as demo:
        argv = [sys.executable, "-m", "stagecheck.cli", "capacity",
                str(SCENARIOS / "open-loop.yaml"), "--set", f"endpoint.url={demo.url}",
                "--set", "load.arrivals=constant", "--out", str(tmp_path), *SHORT,
                "--slo", "latency.p90 < 150ms", "--min-rate", "50", "--max-rate", "50",
                "--max-steps", "1"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stall_every_step(proc, stop_s=0.3, every_s=1.0)
            out, err = proc.communicate(timeout=240)
        finally:
            proc.kill()
    assert proc.returncode == 3, out + err
    found, _ = result_of(tmp_path)
    assert found["verdict"] == "not_carried_out" and found["capacity"] is None
    assert [s["status"] for s in found["steps"]] == ["saturated"] * 3  # two re-runs, then stop
    for step in found["steps"]:
        assert "requests sent on time met latency.p90 < 150ms" in step["note"]
    assert "the load generator saturated at 50/s in 3 runs" in out
