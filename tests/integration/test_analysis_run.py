"""The error analysis of a REAL run: two exact passes against the demo endpoint answering 5 %
of requests with HTTP 503, analysed from the run folder and checked against figures recomputed
here, independently, from results.jsonl with the json module and plain Python, and against
summary.json's own counts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from stagecheck.analysis import analyse_run
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


def run_exact_pass(root: Path, knobs: tuple[str, ...], *overrides: str) -> Path:
    """A real exact-pass run against a demo endpoint started with ``knobs``; its run folder."""
    with running_demo(*FAST, *knobs) as demo:
        proc = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(SCENARIOS / "exact-pass.yaml"), str(root),
             f"endpoint.url={demo.url}", *overrides],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
    return Path(json.loads(proc.stdout.strip().splitlines()[-1])["run_dir"])


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_exact_pass(
        tmp_path_factory.mktemp("runs"), ("--error-rate", "0.05", "--seed", "3"),
        "dataset.passes=2", "thresholds=[accuracy >= 0.5, latency.p99 < 2s, latency.p50 < 50ms]",
    )  # fmt: skip


def test_answers_in_sentences_are_off_label_with_the_extraction_hint(tmp_path: Path) -> None:
    run_dir = run_exact_pass(tmp_path, ("--chat-style", "sentence"))
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = read_results(run_dir)
    labels = {json.loads(x)["expected"] for x in (run_dir / "rows.jsonl").read_text().splitlines()}
    off = [x for x in lines if x["outcome"] == "incorrect" and x["predicted"] not in labels]
    a = analyse_run(run_dir, summary)
    assert a.off_label is not None and a.off_label.count == len(off) == len(lines)
    assert a.off_label.hint is not None and "extract: contains-label" in a.off_label.hint
    assert a.off_label.examples[0].got.lower().startswith("the customer's intent is")
    assert {c.predicted for c in a.confusions} == {"(other)"}
    assert sum(x.count for x in a.off_label.examples) <= len(lines)


def test_analysis_agrees_with_results_and_summary(real_run: Path) -> None:
    summary = json.loads((real_run / "summary.json").read_text())
    lines = read_results(real_run)
    rows = {
        r["row"]: r for r in map(json.loads, (real_run / "rows.jsonl").read_text().splitlines())
    }
    a = analyse_run(real_run, summary)

    by_outcome = Counter(x["outcome"] for x in lines)
    assert {k: v for k, v in summary["requests"]["by_outcome"].items() if v} == dict(by_outcome)
    assert by_outcome["http_error"] > 0 and by_outcome["incorrect"] > 0  # the run is informative
    assert a.replays.requests == len(lines) == summary["requests"]["total"] == 2 * len(rows)
    assert a.replays.unique_rows == len(rows) and a.replays.factor == pytest.approx(2.0)

    # the timeline and the load levels account for every request, outcome by outcome
    bins = a.timeline.bins if a.timeline else []
    assert sum(b.requests for b in bins) == len(lines)
    assert sum(b.correct for b in bins) == by_outcome["correct"]
    assert sum(b.incorrect for b in bins) == by_outcome["incorrect"]
    assert (
        sum(b.failed for b in bins)
        == by_outcome["http_error"] + by_outcome["timeout"] + (by_outcome["connection_error"])
    )
    assert sum(x.requests for x in a.load if x.kind == "latency") == len(lines)
    assert not any(x.kind in ("stage", "users") for x in a.load)  # one level: the whole run

    # failures by cause: the error text before its first colon
    causes = Counter(x["error"].partition(":")[0] for x in lines if x["outcome"] != "correct"
                     and x["error"])  # fmt: skip
    assert {f.cause: f.count for f in a.failures} == dict(causes)
    assert {k: v for k, v in summary["requests"]["by_cause"].items() if v} == dict(causes)
    http = next(f for f in a.failures if f.cause == "HTTP 503")
    assert http.errors[0][0].startswith("HTTP 503: POST /v1/chat/completions")
    times = [x["t"] for x in lines if (x["error"] or "").startswith("HTTP 503")]
    assert http.last_s - http.first_s == pytest.approx(max(times) - min(times), abs=0.01)

    # every slice value: accuracy over scored requests, recomputed
    scored = [x for x in lines if x["outcome"] in ("correct", "incorrect", "unparseable")]
    for c in (c for c in a.concentrations if c.kind == "slice"):
        ((field, value),) = c.group.items()
        mine = [x for x in scored if rows[x["row"]]["slices"][field] == value]
        assert c.scored == len(mine)
        assert c.accuracy == pytest.approx(sum(x["outcome"] == "correct" for x in mine) / len(mine))
        published = next(s for s in summary["slices"] if (s["field"], s["value"]) == (field, value))
        assert c.accuracy == pytest.approx(published["quality"]["accuracy"])
    # the demo's model is worse on complex queries, and the analysis says so first
    top = a.concentrations[0]
    assert top.significant and "complexity=complex" in top.label

    # top confusions, recomputed
    pairs = Counter((x["expected"], x["predicted"]) for x in lines if x["outcome"] == "incorrect")
    assert a.confusions[0].count == max(pairs.values())
    assert {(c.expected, c.predicted): c.count for c in a.confusions}.items() <= pairs.items()

    # consistency: every row answered twice (when neither attempt failed)
    answers: dict[int, set[str]] = defaultdict(set)
    answered = Counter(x["row"] for x in scored)
    for x in scored:
        answers[x["row"]].add(x["predicted"])
    assert a.consistency is not None
    assert a.consistency.rows_repeated == sum(1 for n in answered.values() if n >= 2)
    assert a.consistency.rows_inconsistent == sum(1 for s in answers.values() if len(s) > 1)

    # wrong answers, deduplicated: every wrong request is counted once
    keys = Counter((x["row"], x["outcome"], x["got"], x["error"]) for x in lines
                   if x["outcome"] != "correct")  # fmt: skip
    assert a.wrong_total == len(keys) and sum(w.count for w in a.wrong) == sum(keys.values())

    # goodput: correct within the tightest latency threshold (p50 < 50ms)
    good = sum(1 for x in lines if x["outcome"] == "correct" and x["latency_us"] <= 50_000)
    assert a.goodput is not None and a.goodput.latency_bound_s == pytest.approx(0.05)
    assert a.goodput.requests == good
    assert a.goodput.per_s == pytest.approx(good / summary["run"]["duration_s"])
