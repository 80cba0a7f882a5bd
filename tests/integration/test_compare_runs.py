"""``stagecheck compare`` on REAL exact passes of the demo endpoint: the same model twice raises
no alarm; a model made worse with ``--degrade`` on one slice (or one intent) is a regression
that compare names, with the rows that flipped all inside that slice.

Each run is one exact pass over the bundled 480-row validation set with the fast demo knobs
(a few seconds). Runs go through the CLI in a subprocess, as a user or CI would run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagecheck.reporting.compare.runs import compare_folders
from tests.support import FAST, REPO, SCENARIOS, running_demo

pytestmark = pytest.mark.integration

DATASET = SCENARIOS / "data" / "support_intents.jsonl"


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stagecheck.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)  # fmt: skip


def exact_passes(jobs: dict[str, tuple[str, Path]]) -> dict[str, Path]:
    """``{name: (endpoint URL, out folder)}`` → ``{name: run folder}``: the exact passes run
    side by side. Runs compared for latency then share the machine's moment: a busy machine
    slows them alike instead of one of the two (a latency "regression" of the machine)."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "exact-pass.yaml"),
             "--set", f"endpoint.url={url}", "--out", str(out), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        for name, (url, out) in jobs.items()
    }
    try:
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, 1), f"{name}: {err[-2000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return {name: next(p for p in out.iterdir() if p.is_dir()) for name, (_, out) in jobs.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("compare")
    email = ("--degrade", "slice:channel=email:0.5", "--degrade-rows", str(DATASET))
    with (
        running_demo() as demo,
        running_demo(*FAST, *email) as email_demo,
        running_demo(*FAST, "--degrade", "intent=refund:0.6") as refund_demo,
    ):
        out = exact_passes({
            "base": (demo.url, root / "base"),
            "again": (demo.url, root / "again"),
            "email": (email_demo.url, root / "email"),
            "refund": (refund_demo.url, root / "refund"),
        })  # fmt: skip
    yield out


def test_the_same_model_twice_raises_no_alarm(runs: dict[str, Path]) -> None:
    # Latency on a shared CI machine moves between two runs by more than 10 % for reasons that
    # are not the model's; this test is about the model, so latency gets a wide tolerance.
    proc = cli("compare", str(runs["base"]), str(runs["again"]), "--latency-tolerance", "1")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("no regression")
    c = compare_folders(runs["base"], runs["again"], latency_tolerance=1)
    assert c.mode == "paired" and c.paired_rows == len(DATASET.read_text().splitlines())
    assert c.flip_counts == (0, 0)  # a deterministic model answers every row the same


def test_a_model_worse_on_email_is_a_regression_in_that_slice(runs: dict[str, Path]) -> None:
    proc = cli("compare", str(runs["base"]), str(runs["email"]), "--latency-tolerance", "1")
    assert proc.returncode == 1, proc.stdout
    verdict = proc.stdout.rstrip().splitlines()[-1]
    assert "accuracy[channel=email]" in verdict and "McNemar exact" in verdict
    c = compare_folders(runs["base"], runs["email"], latency_tolerance=1)
    rows = {r.metric: r for r in c.rows}
    assert rows["accuracy[channel=email]"].regression
    assert rows["accuracy[channel=chat]"].status == "same"
    assert rows["accuracy[channel=voice_transcript]"].status == "same"
    slices = [r for r in c.rows if r.section == "slice"]
    worst = min(slices, key=lambda r: r.delta or 0.0)
    assert worst.metric == "accuracy[channel=email]"
    flipped = [f for f in c.flips if f.regressed]
    assert flipped and all(dict(f.slices)["channel"] == "email" for f in flipped)
    assert all(f.input and f.base_answer != f.new_answer for f in flipped)


def test_a_model_worse_on_one_intent_is_named_by_class(runs: dict[str, Path]) -> None:
    c = compare_folders(runs["base"], runs["refund"], latency_tolerance=1)
    rows = {r.metric: r for r in c.rows}
    assert c.regressed and rows["recall[refund]"].regression
    classes = [r for r in c.rows if r.section == "class"]
    assert min(classes, key=lambda r: r.delta or 0.0).metric == "recall[refund]"
    # The degraded answers are the model's second choice for rows it answered "refund".
    assert all(f.base_answer == "refund" for f in c.flips if f.regressed)


def test_a_closed_pipe_is_no_traceback_and_keeps_the_exit_code(runs: dict[str, Path]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before compare prints: every write gets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "stagecheck.cli", "compare", str(runs["base"]),
             str(runs["email"])], stdout=write, stderr=subprocess.PIPE, text=True, timeout=90,
            cwd=REPO,
        )  # fmt: skip
    finally:
        os.close(write)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_markdown_file_for_a_pr_comment(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "compare.md"
    proc = cli("compare", str(runs["base"]), str(runs["email"]), "--out", str(out),
               "--latency-tolerance", "1")  # fmt: skip
    assert proc.returncode == 1
    md = out.read_text(encoding="utf-8")
    assert md.startswith("## ❌ stagecheck compare") and "accuracy\\[channel=email\\]" in md
    base = json.loads((runs["base"] / "summary.json").read_text())
    assert base["run"]["id"] in md
