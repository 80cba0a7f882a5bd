"""Replayed rows are one piece of evidence each (issue 18 §1): a seeded simulation of a model with
no real slice effect, its dataset rows replayed ~10 times in each of many simulated timed runs.

The error analysis must call a group "significantly worse" in at most 5 % of the runs
(family-wise, after Holm), where the old per-request test does so in most of them; a planted
effect must still be found; two runs of the same model compared must not regress more often than
5 %. Reproduce the rates: ``.venv/bin/python tests/unit/test_replayed_rows.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm

from stagecheck import stats
from stagecheck.analysis.columns import RowInfo, RunColumns
from stagecheck.analysis.frame import Frame
from stagecheck.analysis.groups import ALPHA, _groups, concentrations
from stagecheck.analysis.rowstore import DatasetRows
from stagecheck.reporting.compare.data import RunData, RunRows
from stagecheck.reporting.compare.runs import compare_runs
from stagecheck.summary.read import load_summary_model as build_report

pytestmark = pytest.mark.unit

ROWS = 480  # the demo's dataset
LABELS = ("billing", "refund", "shipping", "cancel")
# topic sizes: a few large topics and some of a handful of rows (the "international")
TOPICS = {"orders": 145, "payments": 120, "account": 90, "returns": 60, "gifts": 30, "misc": 17,
          "fraud": 10, "press": 5, "international": 3}  # fmt: skip
COMPLEXITY = ("simple", "medium", "complex")
ACCURACY = 0.8
REPLAYS = 10.5  # requests per row, as in the 30 s demo run
T0 = 1_900_000_000.0


def _dataset(seed: int = 0) -> dict[int, RowInfo]:
    rng = np.random.default_rng(seed)
    topics = [t for t, n in TOPICS.items() for _ in range(n)]
    assert len(topics) == ROWS
    rng.shuffle(topics)
    return {
        i: RowInfo(
            id=f"r{i:04d}",
            input="word " * int(rng.integers(2, 80)),
            expected=LABELS[i % 4],
            slices={"topic": topics[i], "complexity": COMPLEXITY[int(rng.integers(0, 3))]},
        )
        for i in range(ROWS)
    }


def _row_accuracy(rows: dict[int, RowInfo], rng: np.random.Generator,
                  planted: str | None) -> np.ndarray:  # fmt: skip
    """Each row's chance of a right answer in this run: a deterministic model (0 or 1, the row
    is simply right or wrong), a fifth of the rows answered at random (nondeterminism)."""
    base = np.where(rng.random(ROWS) < ACCURACY, 1.0, 0.0)
    shaky = rng.random(ROWS) < 0.2
    p = np.where(shaky, 0.5, base)
    if planted is not None:
        topic = np.array([rows[i].slices["topic"] for i in range(ROWS)])
        p = np.where(topic == planted, np.where(rng.random(ROWS) < 0.45, 1.0, 0.0), p)
    return p


def _requests(p: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(row, correct) per request: each row sent 10 or 11 times (10.5 on average)."""
    times = np.where(rng.random(ROWS) < REPLAYS - math.floor(REPLAYS), 11, 10)
    row = np.repeat(np.arange(ROWS), times)
    rng.shuffle(row)
    return row, rng.random(row.size) < p[row]


def _frame(rows: dict[int, RowInfo], row: np.ndarray, correct: np.ndarray) -> Frame:
    n = row.size
    expected = [rows[i].expected for i in range(ROWS)]
    texts = list(LABELS)
    code = {t: i for i, t in enumerate(texts)}
    right = np.array([code[e] for e in expected])[row]
    wrong = (right + 1) % 4
    predicted = np.where(correct, right, wrong).astype(np.int32)
    cols = RunColumns(
        row=row.astype(np.int64), t=T0 + np.arange(n) * 0.01,
        outcome=np.where(correct, 0, 1).astype(np.int8), predicted=predicted, got=predicted,
        error=np.full(n, -1, np.int32), latency_us=np.full(n, 20_000, np.int64),
        stage=np.zeros(n, np.int32), users=np.full(n, 8, np.int32), texts=texts,
        rows=DatasetRows.of(rows),
        dataset_rows=ROWS, bad_lines=0,
    )  # fmt: skip
    summary: dict[str, Any] = {"run": {"duration_s": 30.0}, "classes": [{"label": "x"}]}
    return Frame.build(cols, summary)


def _old_significant(fr: Frame) -> set[str]:
    """The groups the per-request method (before issue 18) called significantly worse."""
    correct, scored = fr.correct, fr.scored
    k_all, n_all = int(correct.sum()), int(scored.sum())
    found = []
    for _, _, label, mask in _groups(fr, None):  # not a conversation run
        if not mask.any() or mask.all():
            continue
        k, n = int((correct & mask).sum()), int((scored & mask).sum())
        p = stats.proportion_p(k, n, k_all - k, n_all - n)
        found.append((label, k / n < (k_all - k) / (n_all - n), p))
    adjusted = stats.holm([p for *_, p in found])
    return {lab for (lab, worse, _), q in zip(found, adjusted, strict=True) if worse and q < ALPHA}


def simulate(runs: int, planted: str | None = None, seed: int = 18) -> dict[str, float]:
    """Share of runs with at least one group called significantly worse, old and new method,
    and (planted) the share of runs that found the planted group."""
    rows = _dataset()
    rng = np.random.default_rng(seed)
    old = new = found = 0
    for _ in range(runs):
        row, correct = _requests(_row_accuracy(rows, rng, planted), rng)
        fr = _frame(rows, row, correct)
        groups, _ = concentrations(fr)
        significant = {c.label for c in groups if c.significant}
        target = f"topic={planted}"
        old += any(planted is None or target not in s for s in _old_significant(fr))
        new += any(planted is None or target not in s for s in significant)
        found += target in significant
    return {"old": old / runs, "new": new / runs, "found": found / runs}


def _summary(rows: dict[int, RowInfo], row: np.ndarray, correct: np.ndarray,
             clustered: bool) -> dict[str, Any]:  # fmt: skip
    """The summary figures compare reads of a run (accuracy overall and per topic); without
    ``clustered``, as a summary before issue 18 (no design effect: every request counts)."""
    topic = np.array([rows[i].slices["topic"] for i in range(ROWS)])

    def quality(mask: np.ndarray) -> dict[str, Any]:
        k_row = np.bincount(row[mask & correct], minlength=ROWS)
        n_row = np.bincount(row[mask], minlength=ROWS)
        k, n = int(k_row.sum()), int(n_row.sum())
        out: dict[str, Any] = {"scored": n, "correct": k, "accuracy": k / n}
        if clustered:
            out["design_effect"] = stats.design_effect(k_row, n_row)
        return out

    def outcomes(mask: np.ndarray) -> dict[str, int]:
        k = int((mask & correct).sum())
        return {"correct": k, "incorrect": int(mask.sum()) - k}

    everything = np.ones(row.size, dtype=bool)
    slices = []
    for value in TOPICS:
        mask = topic[row] == value
        slices.append({"field": "topic", "value": value, "requests": int(mask.sum()),
                       "by_outcome": outcomes(mask), "quality": quality(mask)})  # fmt: skip
    return {"requests": {"total": row.size, "by_outcome": outcomes(everything)},
            "quality": quality(everything), "slices": slices}  # fmt: skip


def _run_rows(rows: dict[int, RowInfo], row: np.ndarray, correct: np.ndarray) -> RunRows:
    answers = np.bincount(row, minlength=ROWS)
    right = np.bincount(row[correct], minlength=ROWS)
    return RunRows(
        key=tuple(rows[i].id for i in range(ROWS)), row=np.arange(ROWS),
        expected=tuple(rows[i].expected for i in range(ROWS)),
        slices=tuple(rows[i].slices for i in range(ROWS)),
        correct=np.where(2 * right >= answers, 1, 0).astype(np.int8),
        answer=(None,) * ROWS, failure=("",) * ROWS, requests=answers, inputs={},
        answers=answers, right=right,
    )  # fmt: skip


def simulate_compare(runs: int, paired: bool, change: float = 0.0,
                     seed: int = 19) -> dict[str, float]:  # fmt: skip
    """Share of pairs of runs of the same model (``change``: the new run's share of rows that
    break) that compare calls a regression. Unpaired: each run on its own sample of rows from
    the population, summaries only; old = the summaries without a design effect. Paired: the
    same rows, results per row (old: each row by its majority answer)."""
    rows = _dataset()
    rng = np.random.default_rng(seed)
    old = new = 0
    for _ in range(runs):
        base_p = _row_accuracy(rows, rng, None)
        new_p = base_p.copy() if paired else _row_accuracy(rows, rng, None)
        if change:
            new_p = np.where(rng.random(ROWS) < change, 0.0, new_p)
        a, b = _requests(base_p, rng), _requests(new_p, rng)
        if paired:
            ra, rb = _run_rows(rows, *a), _run_rows(rows, *b)
            sa, sb = _summary(rows, *a, clustered=True), _summary(rows, *b, clustered=True)
            run_a = RunData(None, sa, build_report(sa), ra)
            run_b = RunData(None, sb, build_report(sb), rb)
            new += compare_runs(run_a, run_b).regressed
            # before issue 18: the majority answer of each row, McNemar
            majority = {"answers": np.zeros(0, np.int64), "right": np.zeros(0, np.int64)}
            old_a = RunData(None, sa, build_report(sa), replace(ra, **majority))
            old_b = RunData(None, sb, build_report(sb), replace(rb, **majority))
            old += compare_runs(old_a, old_b).regressed
        else:
            new += compare_runs(_summary(rows, *a, clustered=True),
                                _summary(rows, *b, clustered=True)).regressed  # fmt: skip
            old += compare_runs(_summary(rows, *a, clustered=False),
                                _summary(rows, *b, clustered=False)).regressed  # fmt: skip
    return {"old": old / runs, "new": new / runs}


def test_no_slice_effect_false_alarms_stay_under_five_percent() -> None:
    rates = simulate(runs=200)
    assert rates["old"] > 0.5  # the per-request test "finds" a worse group in most runs
    assert rates["new"] <= 0.05  # rows as the unit: the nominal family-wise rate


def test_compare_of_two_runs_of_the_same_model_rarely_regresses() -> None:
    unpaired = simulate_compare(runs=100, paired=False)
    assert unpaired["old"] > 0.3  # the requests' counts call noise a regression
    assert unpaired["new"] <= 0.05
    paired = simulate_compare(runs=100, paired=True)
    assert paired["new"] <= 0.05


def test_compare_still_finds_a_real_regression() -> None:
    # a tenth of the rows break in the new run
    assert simulate_compare(runs=20, paired=True, change=0.1, seed=3)["new"] >= 0.9
    assert simulate_compare(runs=20, paired=False, change=0.1, seed=3)["new"] >= 0.5


def test_a_planted_slice_is_still_found() -> None:
    rates = simulate(runs=40, planted="returns", seed=7)
    assert rates["found"] >= 0.9


def test_three_rows_are_thin_and_never_significantly_worse() -> None:
    rows = _dataset()
    p = np.full(ROWS, 0.95)
    tiny = [i for i in range(ROWS) if rows[i].slices["topic"] == "international"]
    p[tiny] = 0.0  # every replay of the 3 rows wrong: p < 0.0001 per request
    row, correct = _requests(p, np.random.default_rng(3))
    groups, _ = concentrations(_frame(rows, row, correct))
    g = next(c for c in groups if c.label == "topic=international")
    assert g.rows == 3 and g.requests >= 30 and g.accuracy == 0.0
    assert g.thin and not g.significant
    assert "topic=international" in _old_significant(_frame(rows, row, correct))
    # its interval is the interval of 3 rows, not of 30 requests
    assert g.accuracy_ci == pytest.approx(stats.wilson(0, 3))


def test_crossings_need_ten_rows_of_their_own() -> None:
    rows = _dataset()
    row, correct = _requests(np.full(ROWS, 0.8), np.random.default_rng(4))
    groups, _ = concentrations(_frame(rows, row, correct))
    crosses = [c for c in groups if c.kind == "cross"]
    assert crosses and all(c.rows >= 10 for c in crosses)
    assert all(c.requests >= 10 * c.rows for c in crosses)  # replayed ~10 times


def test_design_effect_matches_statsmodels_cluster_robust_variance() -> None:
    """Oracle: the cluster-robust (sandwich) variance of an intercept-only OLS with the rows as
    groups, over the binomial variance, is the design effect."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        g = int(rng.integers(20, 200))
        m = rng.integers(1, 15, g)
        k = rng.binomial(m, rng.beta(2, 1, g))
        y = np.repeat(np.tile([1.0, 0.0], g), np.column_stack((k, m - k)).ravel())
        groups = np.repeat(np.arange(g), m)
        fit = sm.OLS(y, np.ones_like(y)).fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
        )
        p = k.sum() / m.sum()
        assert stats.design_effect(k, m) == pytest.approx(
            max(1.0, fit.bse[0] ** 2 / (p * (1 - p) / m.sum())), rel=1e-9
        )


def test_the_clustered_interval_covers_at_the_nominal_rate() -> None:
    """Brute force: rows drawn from a population, each replayed 10 times by a mostly
    deterministic model; the 95 % interval of accuracy covers the truth ~95 % of the time, the
    per-request Wilson interval far less often."""
    rng = np.random.default_rng(6)
    truth, covered, naive = 0.8, 0, 0
    runs = 2000
    for _ in range(runs):
        p = np.where(rng.random(200) < 0.9, (rng.random(200) < truth) * 1.0, truth)
        m = np.full(200, 10)
        k = rng.binomial(m, p)
        lo, hi = stats.wilson(int(k.sum()), int(m.sum()), deff=stats.design_effect(k, m))
        covered += lo <= truth <= hi
        lo, hi = stats.wilson(int(k.sum()), int(m.sum()))
        naive += lo <= truth <= hi
    assert 0.93 <= covered / runs <= 0.975
    assert naive / runs < 0.6


def test_one_pass_is_unchanged() -> None:
    rng = np.random.default_rng(8)
    k = (rng.random(300) < 0.7).astype(int)
    assert stats.design_effect(k, np.ones(300)) == 1.0
    assert stats.wilson(int(k.sum()), 300, deff=1.0) == stats.wilson(int(k.sum()), 300)
    assert stats.clustered_proportion_p(40, 60, 1.0, 200, 240, 1.0) == stats.proportion_p(
        40, 60, 200, 240
    )
    # every row right once: the ICC-1 bound is 1 too
    assert stats.design_effect(np.ones(50), np.ones(50)) == 1.0
    # a deterministic model replayed m times: deff = m, so the effective n is the rows
    assert stats.design_effect(np.array([10, 0, 10, 10]), np.full(4, 10)) == pytest.approx(10.0)


def test_paired_fraction_test_is_mcnemar_on_whole_rows_and_exact_on_few() -> None:
    d = np.array([1, -1, 1, 1, 0, 1, 1, -1, 1, 0, 1])
    b, c = int((d < 0).sum()), int((d > 0).sum())
    assert stats.paired_fraction_p(d) == stats.mcnemar_exact(b, c)
    # fractions: the exact sign-flip distribution, checked by brute force
    d = np.array([0.5, 0.2, 1.0, -0.3, 0.1])
    sums = [abs(sum(s * x for s, x in zip(signs, d, strict=True)))
            for signs in np.array(np.meshgrid(*[[-1, 1]] * 5)).T.reshape(-1, 5)]  # fmt: skip
    assert stats.paired_fraction_p(d) == pytest.approx(
        sum(x >= abs(d.sum()) - 1e-12 for x in sums) / 32
    )
    assert stats.paired_fraction_p(np.zeros(7)) == 1.0


if __name__ == "__main__":
    print("no slice effect, 1000 runs:", simulate(1000))
    print("compare, same model, unpaired (summaries), 500 pairs:", simulate_compare(500, False))
    print("compare, same model, paired (same rows), 500 pairs:", simulate_compare(500, True))
    print(
        "compare, 10 % of rows break, paired, 100 pairs:",
        simulate_compare(100, True, change=0.1, seed=3),
    )
    print(
        "compare, 10 % of rows break, unpaired, 100 pairs:",
        simulate_compare(100, False, change=0.1, seed=3),
    )
    print("planted topic=returns (45 % vs 80 %), 200 runs:", simulate(200, "returns", seed=7))
