"""A capacity step's figures against a recount of a constructed results.jsonl, how a step is
judged (saturated generator, late arrivals, an endpoint that answered nothing), and the SLOs
(which metrics a step can be judged on, the minimum request count per step)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from stagecheck.capacity.figures import measure, read_requests
from stagecheck.capacity.slo import (
    SAFETY_FACTOR,
    latency_bound,
    min_requests,
    min_requests_for_percentile,
    parse_slos,
    slo_kind,
)
from stagecheck.capacity.step import step_figures, step_status
from stagecheck.errors import RunError
from stagecheck.stats import percentile_rank_interval

pytestmark = pytest.mark.unit

OUTCOMES = ["correct"] * 14 + ["incorrect"] * 3 + ["unparseable", "http_error", "timeout"]
START, WARMUP, WINDOW = 1_800_000_000.0, 2.0, 6.0


def write_results(path: Path, n: int = 700, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        # requests from before the warm-up's end to after the window's end
        t = START + rng.uniform(0, WARMUP + WINDOW + 1.5)
        records.append({"row": i, "id": f"r{i}", "t": t, "outcome": rng.choice(OUTCOMES),
                        "latency_us": rng.randint(1_000, 400_000), "lag_us": 0, "stage": 0,
                        "users": 8, "error": None})  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def test_step_figures_match_a_recount_of_the_measured_window(tmp_path: Path) -> None:
    records = write_results(tmp_path / "results.jsonl")
    bound = 0.2
    sample = measure(read_requests(tmp_path / "results.jsonl"), started=START, warmup_s=WARMUP,
                     window_s=WINDOW, latency_bound_s=bound)  # fmt: skip
    figures = step_figures(sample)

    kept = [r for r in records if START + WARMUP <= r["t"] < START + WARMUP + WINDOW]  # type: ignore[operator]
    lat = np.array([r["latency_us"] for r in kept], dtype=float)
    outcomes = [r["outcome"] for r in kept]
    correct, incorrect = outcomes.count("correct"), outcomes.count("incorrect")
    failed = sum(outcomes.count(o) for o in ("http_error", "timeout", "connection_error"))
    assert 0 < len(kept) < len(records)  # the warm-up and the tail were really left out
    assert figures.requests == len(kept)
    assert (figures.correct, figures.incorrect, figures.failed) == (correct, incorrect, failed)
    assert figures.unparseable == outcomes.count("unparseable")
    assert figures.achieved_rate == pytest.approx(len(kept) / WINDOW)
    assert figures.accuracy == pytest.approx(correct / (correct + incorrect))
    assert figures.error_rate == pytest.approx(failed / len(kept))
    good = sum(1 for r in kept if r["outcome"] == "correct" and r["latency_us"] <= bound * 1e6)  # type: ignore[operator]
    assert figures.goodput == pytest.approx(good / WINDOW)
    # exact percentiles: nearest rank, the smallest value with at least p % at or below it
    for p, got in [(50, figures.latency_p50_s), (90, figures.latency_p90_s),
                   (99, figures.latency_p99_s)]:  # fmt: skip
        assert got == pytest.approx(np.percentile(lat, p, method="inverted_cdf") / 1e6)
    assert figures.latency_max_s == pytest.approx(lat.max() / 1e6)
    assert figures.latency_mean_s == pytest.approx(lat.mean() / 1e6)
    # intervals: Wilson (statsmodels as the oracle) and order statistics around the estimate
    lo, hi = proportion_confint(correct, correct + incorrect, alpha=0.05, method="wilson")
    assert figures.accuracy_ci == pytest.approx((lo, hi))
    assert figures.latency_p99_ci_s is not None
    ranks = percentile_rank_interval(len(kept), 99)
    assert ranks is not None
    ordered = np.sort(lat)
    assert figures.latency_p99_ci_s == pytest.approx(
        (ordered[ranks[0] - 1] / 1e6, ordered[ranks[1] - 1] / 1e6)
    )
    assert figures.latency_p99_ci_s[0] <= figures.latency_p99_s <= figures.latency_p99_ci_s[1]


def test_a_broken_results_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"t": 1, "outcome": "correct", "latency_us": 5}\n{"t": 2}\n')
    with pytest.raises(RunError, match=r"results.jsonl:2: not a results line"):
        read_requests(path)
    with pytest.raises(RunError, match="cannot read"):
        read_requests(tmp_path / "missing.jsonl")


def sample_of(outcomes: list[str], latency_us: int = 50_000, bound: float | None = 0.1):  # type: ignore[no-untyped-def]
    from stagecheck.capacity.figures import StepRequest

    reqs = [StepRequest(START + 1 + i * 0.01, o, latency_us) for i, o in enumerate(outcomes)]
    return measure(reqs, started=START, warmup_s=0, window_s=10, latency_bound_s=bound)


SLOS, _ = parse_slos(["latency.p50 < 100ms", "accuracy >= 0.9", "error_rate < 5%"])
CPU = "load generator CPU reached 97% (above 90%): latencies include its queueing"
LATE = ("the arrival schedule was not kept: 40 of 100 requests left over 50 ms after their due "
        "time (too few users for the answers' latency: raise load.users)")  # fmt: skip


def test_judging_a_step() -> None:
    good = sample_of(["correct"] * 100)
    assert step_status(good, SLOS, [])[0] == "passed"
    # the generator's CPU: saturated even though every SLO held
    status, checks, kinds, note = step_status(good, SLOS, [CPU])
    assert status == "saturated" and note == CPU and all(c.passed for c in checks)
    # late arrivals with every SLO holding: saturated; with latency failing: the target's fault
    assert step_status(good, SLOS, [LATE])[0] == "saturated"
    slow = sample_of(["correct"] * 100, latency_us=300_000)
    status, checks, kinds, _ = step_status(slow, SLOS, [LATE])
    assert status == "failed" and kinds == ["latency"]
    assert [c.expression for c in checks if not c.passed] == ["latency.p50 < 100ms"]
    # wrong answers: correctness
    wrong = sample_of(["correct"] * 50 + ["incorrect"] * 50)
    status, _, kinds, _ = step_status(wrong, SLOS, [])
    assert status == "failed" and kinds == ["correctness"]
    # every request failed: the endpoint is down
    assert step_status(sample_of(["connection_error"] * 30), SLOS, [])[0] == "down"
    assert step_status(sample_of([]), SLOS, [])[0] == "down"


def test_goodput_counts_correct_answers_within_the_bound_only() -> None:
    fast = sample_of(["correct"] * 20 + ["incorrect"] * 5, latency_us=90_000, bound=0.1)
    slow = sample_of(["correct"] * 20, latency_us=110_000, bound=0.1)
    assert (fast.lookup("goodput"), slow.lookup("goodput")) == (2.0, 0.0)
    assert sample_of(["correct"] * 20, latency_us=10**7, bound=None).lookup("goodput") == 2.0


def test_slos_a_step_cannot_judge_are_refused_one_line_each() -> None:
    slos, problems = parse_slos(["latency.p99 < 300ms", "class[refund].recall >= 0.8",
                                 "ttft.p99 < 1s", "nonsense", "goodput >= 20/s"])  # fmt: skip
    assert [t.metric for t in slos] == ["latency.p99", "goodput"]
    assert len(problems) == 3 and all("\n" not in p for p in problems)
    assert "class[refund].recall" in problems[0] and "ttft" in problems[1]
    assert parse_slos([])[1] == ["--slo is required, e.g. --slo 'latency.p99 < 300ms'"]
    kinds = parse_slos(["latency.mean < 1s", "accuracy >= 0.5", "error_rate < 1%",
                        "goodput >= 1/s", "unparseable_rate < 1%"])[0]  # fmt: skip
    assert [slo_kind(t) for t in kinds] == ["latency", "correctness", "errors", "goodput",
                                            "correctness"]  # fmt: skip
    assert latency_bound(parse_slos(["latency.p50 < 80ms", "latency.p99 <= 300ms"])[0]) == 0.08


@pytest.mark.parametrize("p", [50.0, 90.0, 95.0, 99.0])
def test_minimum_requests_is_the_smallest_n_with_a_percentile_interval(p: float) -> None:
    n = min_requests_for_percentile(p)
    assert percentile_rank_interval(n, p) is not None
    assert percentile_rank_interval(n - 1, p) is None
    slos = parse_slos([f"latency.p{p:g} < 1s", "accuracy >= 0.5"])[0]
    assert min_requests(slos) == max(50, SAFETY_FACTOR * n)


def test_minimum_requests_follows_the_confidence_asked_for() -> None:
    plain = min_requests(parse_slos(["latency.p95 < 1s"])[0])
    strict = min_requests(parse_slos(["latency.p95 < 1s at 99% confidence"])[0])
    assert strict > plain == SAFETY_FACTOR * min_requests_for_percentile(95.0)
    assert math.isclose(min_requests(parse_slos(["accuracy >= 0.9"])[0]), 50)


def test_a_confidence_slo_is_judged_on_the_interval_bound() -> None:
    # 56 of 60 right: 0.933 clears 0.9, but its Wilson lower bound (95 %) does not
    sample = sample_of(["correct"] * 56 + ["incorrect"] * 4)
    plain = parse_slos(["accuracy >= 0.9"])[0]
    confident = parse_slos(["accuracy >= 0.9 at 95% confidence"])[0]
    assert step_status(sample, plain, [])[0] == "passed"
    status, [check], kinds, _ = step_status(sample, confident, [])
    lo, _ = proportion_confint(56, 60, alpha=0.05, method="wilson")
    assert status == "failed" and kinds == ["correctness"]
    assert check.observed == pytest.approx(lo) and check.estimate == pytest.approx(56 / 60)


def test_a_step_too_short_for_its_percentile_is_lengthened(tmp_path: Path) -> None:
    from stagecheck.capacity.step import StepPlan, _window, users_for

    slos = parse_slos(["latency.p90 < 200ms"])[0]
    need = min_requests(slos)  # 2 × 29
    plan = StepPlan(scenario="s.yaml", steps_dir=tmp_path, slos=slos, step_duration_s=3.0,
                    warmup_s=1.0, min_requests=need)  # fmt: skip
    assert _window(40.0, plan) == (3.0, False)  # 120 requests in 3 s: enough
    window, stretched = _window(10.0, plan)  # 30 in 3 s: too few
    assert stretched and window * 10.0 >= need and (window - 1) * 10.0 < need
    # the in-flight pool: twice rate × bound, at least 8
    assert users_for(100.0, plan) == 40 and users_for(1.0, plan) == 8


def test_a_steps_accuracy_interval_counts_rows_not_replays() -> None:
    # 480 rows replayed 20 times each by a deterministic model (420 rows always right): the
    # evidence is 480 rows, not 9,600 requests, so the interval is Wilson's at n = 480.
    from stagecheck.capacity.figures import StepRequest

    reqs = [StepRequest(START + 1 + (k * 480 + row) * 0.0005,
                        "correct" if row < 420 else "incorrect", 50_000, 0, row)
            for k in range(20) for row in range(480)]  # fmt: skip
    sample = measure(reqs, started=START, warmup_s=0, window_s=10, latency_bound_s=None)
    assert sample.scored == 9_600 and sample.accuracy_design_effect == pytest.approx(20)
    lo, hi = sample.interval("accuracy", 0.95)  # type: ignore[misc]
    rows_lo, rows_hi = proportion_confint(420, 480, alpha=0.05, method="wilson")
    assert (lo, hi) == (pytest.approx(rows_lo), pytest.approx(rows_hi))
    # an "at 95% confidence" SLO is judged on that bound, not on the replays' narrower one
    confident = parse_slos(["accuracy >= 0.85 at 95% confidence"])[0]
    status, [check], _, _ = step_status(sample, confident, [])
    assert check.observed == pytest.approx(rows_lo) and status == "failed"  # 0.840 < 0.85
