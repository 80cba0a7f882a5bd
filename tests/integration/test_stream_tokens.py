"""Output tokens of streamed answers, end to end against the real demo endpoint: the count from
the server's ``usage`` chunk or, without it, from the text deltas (summary.json says which),
per-request TTFT and tokens in results.jsonl, tokens per second, and thresholds on them."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, SCENARIOS, read_results

pytestmark = pytest.mark.integration

ROWS = 40


def _run(url: str, out: Path, *sets: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "llm-chat-stream.yaml"),
           "--set", f"endpoint.url={url}", "--set", "dataset.passes=1",
           "--set", f"dataset.limit={ROWS}", "--set", "load.users=2", "--set", "thresholds=[]",
           *sets, "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = out.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = read_results(run_dir)
    summary["_markdown"] = (run_dir / "summary.md").read_text()  # the report, beside it
    return proc.returncode, summary, lines


def test_tokens_come_from_usage_or_deltas_and_agree(fast_demo, tmp_path):
    code, usage, usage_lines = _run(fast_demo.url, tmp_path / "usage")
    assert code == 0
    _, deltas, delta_lines = _run(
        fast_demo.url, tmp_path / "deltas", "--set", "endpoint.options.include_usage=false"
    )
    assert usage["tokens"]["source"] == "usage"
    assert deltas["tokens"]["source"] == "deltas"
    # the demo's usage counts the pieces it streams: both ways count the same tokens
    assert usage["tokens"]["output_total"] == deltas["tokens"]["output_total"] > ROWS
    for summary, lines in ((usage, usage_lines), (deltas, delta_lines)):
        assert len(lines) == ROWS and summary["tokens"]["answers"] == ROWS
        assert sum(x["tokens"] for x in lines) == summary["tokens"]["output_total"]
        assert all(0 < x["ttft_us"] <= x["latency_us"] for x in lines)
        duration = summary["run"]["duration_s"]
        overall = summary["tokens"]["output_total"] / duration
        assert summary["tokens"]["per_s_overall"] == pytest.approx(overall, rel=1e-3)
        # per answer: tokens after the first over the time after the first token
        speeds = [(x["tokens"] - 1) / ((x["latency_us"] - x["ttft_us"]) / 1e6)
                  for x in lines if x["tokens"] > 1]  # fmt: skip
        figures = summary["tokens"]["per_s_per_request"]
        assert figures["mean"] == pytest.approx(statistics.mean(speeds), rel=0.01)
        assert min(speeds) * 0.99 <= figures["p50"] <= max(speeds) * 1.01
        per_request = summary["tokens"]["per_request"]
        assert per_request["mean"] == pytest.approx(statistics.mean(x["tokens"] for x in lines))
        source = summary["tokens"]["source"]
        assert (
            f"Tokens: {summary['tokens']['output_total']:,} output ({source})"
            in (summary["_markdown"])
        )


def test_thresholds_on_tokens_pass_and_fail_on_the_observed_figures(fast_demo, tmp_path):
    code, summary, _ = _run(
        fast_demo.url, tmp_path,
        "--set", "thresholds=['tokens_per_s.p50 >= 1', 'tokens.mean >= 1', "
        "'output_tokens_per_s < 1']",
    )  # fmt: skip
    verdicts = {t["expression"]: t["passed"] for t in summary["thresholds"]}
    assert verdicts == {"tokens_per_s.p50 >= 1": True, "tokens.mean >= 1": True,
                        "output_tokens_per_s < 1": False}  # fmt: skip
    observed = {t["expression"]: t["observed"] for t in summary["thresholds"]}
    assert observed["tokens_per_s.p50 >= 1"] == summary["tokens"]["per_s_per_request"]["p50"]
    assert code == 1


def test_token_thresholds_on_a_non_streaming_endpoint_are_bad_input(fast_demo, tmp_path):
    cmd = [sys.executable, "-m", "stagecheck.cli", "validate", str(SCENARIOS / "smoke.yaml"),
           "--set", "thresholds=['tokens_per_s.p50 >= 20']"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert "tokens_per_s.p50 needs a streaming endpoint" in proc.stdout + proc.stderr
