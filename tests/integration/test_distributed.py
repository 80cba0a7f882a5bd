"""Distributed runs on Locust's own master/worker machinery: workers as separate processes,
results merged exactly on the master, stage changes broadcast, exact pass sharded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stagecheck.demo.model import load_default
from tests.support import REPO, SCENARIOS, free_master_port, read_results

pytestmark = pytest.mark.integration

ROWS = [json.loads(x) for x in (SCENARIOS / "data/support_intents.jsonl").read_text().splitlines()]


def stagecheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "stagecheck.cli", "run", *args, "--quiet"]


def test_processes_exact_pass_sends_each_row_once(fast_demo, tmp_path):
    fast_demo.reset()
    proc = subprocess.run(
        stagecheck(str(SCENARIOS / "exact-pass.yaml"), "--set", f"endpoint.url={fast_demo.url}",
                   "--processes", "2", "--master-port", str(free_master_port()),
                   "--out", str(tmp_path)),
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run"]["workers"] == 2
    assert fast_demo.stats()["requests_total"] == len(ROWS)
    results = read_results(run_dir)
    assert sorted(x["row"] for x in results) == list(range(len(ROWS)))
    model = load_default()
    offline = sum(model.predict(r["text"])[0] == r["label"] for r in ROWS) / len(ROWS)
    assert summary["quality"]["accuracy"] == pytest.approx(offline, abs=1e-12)


def test_master_and_separate_workers_merge_exactly_and_follow_stages(fast_demo, tmp_path):
    fast_demo.reset()
    port = str(free_master_port())
    stages = "[{name: low, duration: 3s, users: 2}, {name: high, duration: 3s, users: 6}]"
    master = subprocess.Popen(
        stagecheck(str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={fast_demo.url}",
                   "--set", f"load.stages={stages}", "--master", "--expect-workers", "2",
                   "--master-port", port, "--out", str(tmp_path)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            stagecheck(str(SCENARIOS / "smoke.yaml"), "--worker", "--master-port", port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        out, err = master.communicate(timeout=90)
        worker_errors = [w.communicate(timeout=30)[1] for w in workers]
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
    assert master.returncode == 0, err[-3000:] + "".join(worker_errors)[-2000:]
    assert [w.returncode for w in workers] == [0, 0], worker_errors
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    total = summary["requests"]["total"]
    assert summary["run"]["workers"] == 2
    assert fast_demo.stats()["requests_total"] == total  # nothing lost on the way to the master
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == total
    low, high = summary["stages"]
    assert (low["users"], high["users"]) == (2, 6)
    assert low["requests"] > 0 and high["requests"] > low["requests"]
    assert low["requests"] + high["requests"] == total
    assert summary["latency"]["e2e"]["count"] == total


def test_a_separate_worker_with_a_large_dataset_keeps_the_plans_duration(fast_demo, tmp_path):
    """A separate ``--worker`` prepares its dataset before it joins (its CLI's own check),
    not again when the run starts: its arrival schedule starts on time and the run lasts its
    plan. Before, it loaded the rows again at the start (~2 s for 200 k rows here), the master
    waited for its late schedule, and the run lasted that much longer than planned."""
    from benchmarks.large_dataset import write_dataset

    data = tmp_path / "data.jsonl"
    write_dataset(data, 200_000)
    fast_demo.reset()
    port = str(free_master_port())
    common = ["--set", f"dataset.path={data}", "--set", "dataset.id=id"]
    master = subprocess.Popen(
        stagecheck(str(SCENARIOS / "open-loop.yaml"), *common,
                   "--set", f"endpoint.url={fast_demo.url}",
                   "--set", "endpoint.metrics_url=null", "--set", "load.arrivals=constant",
                   "--set", "thresholds=[]", "--rate", "10/s", "--duration", "3s",
                   "--master", "--expect-workers", "1", "--master-port", port,
                   "--out", str(tmp_path / "runs")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    worker = subprocess.Popen(
        stagecheck(str(SCENARIOS / "open-loop.yaml"), *common, "--worker", "--master-port", port),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        _, err = master.communicate(timeout=180)
        worker_err = worker.communicate(timeout=30)[1]
    finally:
        for p in (master, worker):
            if p.poll() is None:
                p.kill()
    assert master.returncode in (0, 3), err[-3000:] + worker_err[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    requests = summary["requests"]
    assert requests["total"] + requests["dropped_arrivals"] == 30  # every planned arrival
    assert fast_demo.stats()["requests_total"] == requests["total"]
    # the plan's 3 s, and the graceful stop's wait for the last answers (ms here): never
    # the worker's set-up (a loaded machine may still make the run invalid for lateness)
    assert summary["run"]["duration_s"] < 3.0 + 1.0, summary["run"]["duration_s"]


# The last commit whose workers sent their counts as lists of keys (report format 1)
OLD_WORKER_REV = "ab46f06"


def test_a_worker_of_another_stagecheck_version_ends_the_run_invalid(fast_demo, tmp_path):
    """A master and a worker of different stagecheck versions (a real worker of an older
    commit, extracted with git archive): the master cannot read its reports, so it says so in
    one line naming the worker, and the run ends with exit 3 and an invalid summary, rather
    than a traceback per report or a run that silently lacks that worker's requests."""
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "archive", OLD_WORKER_REV], cwd=REPO, capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"git archive {OLD_WORKER_REV} is not available here (no history)")
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    port = str(free_master_port())
    master = subprocess.Popen(
        stagecheck(str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={fast_demo.url}",
                   "--set", "load.duration=6s", "--master", "--expect-workers", "1",
                   "--master-port", port, "--out", str(tmp_path / "runs")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    worker = subprocess.Popen(
        stagecheck(str(SCENARIOS / "smoke.yaml"), "--worker", "--master-port", port),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=old,
        env={**__import__("os").environ, "PYTHONPATH": str(old)},
    )  # fmt: skip
    try:
        out, err = master.communicate(timeout=90)
        worker.communicate(timeout=30)
    finally:
        for p in (master, worker):
            if p.poll() is None:
                p.kill()
    assert master.returncode == 3, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [x for x in err.splitlines() if "another version of stagecheck" in x]
    assert len(lines) == 1 and "report format 1, this master's 2" in lines[0], err[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["validity"]["valid"] is False
    assert any("another version of stagecheck" in r for r in summary["validity"]["reasons"])
