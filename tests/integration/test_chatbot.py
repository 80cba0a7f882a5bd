"""A REAL run of scenarios/chatbot.yaml against `stagecheck demo-server --chatbot` (streamed
free-text answers scored by ROUGE-L): summary.json's accuracy and every results.jsonl line's
per-row score are recomputed here, the scores with the reference ``rouge-score`` package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import FAST, REPO, SCENARIOS, read_results, running_demo

pytestmark = pytest.mark.integration

PROGRAM = """
import json, sys
import stagecheck
from stagecheck.locust import RunOptions
from pathlib import Path

prepared = stagecheck.prepare_scenario(sys.argv[1], sys.argv[3:])
result = stagecheck.run_scenario(prepared, options=RunOptions(runs_root=Path(sys.argv[2])))
print(json.dumps({"run_dir": str(result.run_dir)}))
"""


def _run(root: Path, *overrides: str) -> Path:
    with running_demo(*FAST, "--chatbot") as demo:
        proc = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(SCENARIOS / "chatbot.yaml"), str(root),
             f"endpoint.url={demo.url}", *overrides],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return Path(json.loads(proc.stdout.strip().splitlines()[-1])["run_dir"])


def test_chatbot_run_scores_match_a_recomputation(tmp_path: Path) -> None:
    rouge_score = pytest.importorskip(
        "rouge_score.rouge_scorer", reason="rouge-score (the ROUGE-L oracle) is not installed"
    )
    oracle = rouge_score.RougeScorer(["rougeL"])
    run_dir = _run(tmp_path, "dataset.passes=1", "load.duration=60s")
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = read_results(run_dir)
    rows = sum(1 for _ in (SCENARIOS / "data" / "support_chat.jsonl").open())
    assert len(lines) == rows  # an exact pass: every row once
    answered = [x for x in lines if x["outcome"] in ("correct", "incorrect")]
    assert len(answered) == rows
    for x in answered:
        expected = oracle.score(x["expected"], x["got"])["rougeL"].fmeasure
        assert x["score"] == pytest.approx(expected, abs=1e-4), x
        assert (x["outcome"] == "correct") == (x["score"] >= 0.4), x
        assert "judge_ms" not in x
    correct = sum(x["outcome"] == "correct" for x in lines)
    assert 0 < correct < rows  # imperfect on purpose, but not useless
    assert summary["quality"]["accuracy"] == pytest.approx(correct / rows)
    by_complexity = {
        c: [x["outcome"] == "correct" for x in lines if x["slices"]["complexity"] == c]
        for c in ("simple", "complex")
    }
    simple, complex_ = (sum(v) / len(v) for v in by_complexity.values())
    assert simple > complex_  # harder questions, worse answers


def test_judge_scored_run_keeps_judge_time_out_of_the_latency(tmp_path: Path) -> None:
    from tests.judge_server import running_judge

    with running_judge(delay_s=0.3) as judge:
        run_dir = _run(
            tmp_path, "dataset.passes=1", "dataset.limit=12", "load.duration=60s",
            "scoring={kind: judge, threshold: 0.5, judge: {url: " + judge.url + ", model: j}}",
            "thresholds=[accuracy >= 0.1]",
        )  # fmt: skip
    lines = read_results(run_dir)
    assert len(lines) == 12 and judge.calls == 12
    for x in lines:
        assert x["judge_ms"] >= 300  # the judge's delay is in judge_ms …
        assert x["latency_us"] < 300_000  # … and not in the target's latency
        assert x["score"] == judge.rule(x["expected"], x["got"])


def test_a_failing_judge_makes_requests_unparseable_with_the_judge_as_cause(
    tmp_path: Path,
) -> None:
    from tests.judge_server import running_judge

    with running_judge(mode="prose") as judge:
        run_dir = _run(
            tmp_path, "dataset.passes=1", "dataset.limit=6", "load.duration=60s",
            "scoring={kind: judge, judge: {url: " + judge.url + ", model: j}}",
            "thresholds=[accuracy >= 0.1]",
        )  # fmt: skip
    lines = read_results(run_dir)
    assert [x["outcome"] for x in lines] == ["unparseable"] * 6
    assert all(x["error"].startswith('judge: answer without a JSON {"score"') for x in lines)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["by_cause"] == {"judge": 6}  # the judge's, not the target's
