"""compare: paired by row (McNemar), unpaired (two-proportion), latency (KS, order-statistic
intervals), rows scored in one run only; a regression needs significance AND tolerance.

Run folders are built here (summary.json from the fixture, results.jsonl written line by line)
so each test states the rows it compares; scipy is the independent oracle for the p-values.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as sps

from stagecheck import stats
from stagecheck.cli import main
from stagecheck.errors import InputError
from stagecheck.reporting import compare_runs, render_comparison, render_comparison_markdown
from stagecheck.reporting.compare.data import load_run
from stagecheck.reporting.compare.html import render_comparison_html
from stagecheck.reporting.compare.runs import Comparison, compare_folders

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
LABELS = ("billing", "refund", "shipping", "account_access")
CHANNELS = ("chat", "email", "voice_transcript")
N_ROWS = 480


def dataset(n: int = N_ROWS) -> list[dict[str, Any]]:
    return [
        {
            "row": i,
            "id": f"v{i:04d}",
            "expected": LABELS[i % 4],
            "slices": {"channel": CHANNELS[(i // 4) % 3], "complexity": "simple"},
            "input": f"text of row {i}",
        }  # fmt: skip
        for i in range(n)
    ]


def wrong(label: str) -> str:
    return LABELS[(LABELS.index(label) + 1) % 4]


Answer = Callable[[dict[str, Any]], tuple[str, str | None]]


def base_answer(row: dict[str, Any]) -> tuple[str, str | None]:
    """A model right on 6 rows of 7 (wrong where the row index is a multiple of 7)."""
    ok = row["row"] % 7 != 0
    return ("correct", row["expected"]) if ok else ("incorrect", wrong(row["expected"]))


def write_run(
    folder: Path,
    answer: Answer = base_answer,
    rows: list[dict[str, Any]] | None = None,
    *,
    latency: Callable[[int], int] = lambda i: 20_000 + (i * 7919) % 10_000,
    results: bool = True,
    repeat: int = 1,
) -> Path:
    """A run folder: the fixture's summary (as an exact pass) and one results line per request."""
    folder.mkdir(parents=True)
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    summary["run"]["id"] = folder.name
    summary["run"]["load"]["exact_pass"] = True
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if not results:
        return folder
    lines = []
    t = 1_000.0
    for _ in range(repeat):
        for row in rows if rows is not None else dataset():
            outcome, got = answer(row)
            t += 0.001
            failed = outcome in ("http_error", "timeout", "connection_error")
            lines.append({
                "row": row["row"], "id": row["id"], "expected": row["expected"],
                "slices": row["slices"], "t": t, "outcome": outcome, "got": got,
                "latency_us": None if failed else latency(row["row"]), "lag_us": 0,
                "stage": 0, "users": 8, "error": "HTTP 503" if failed else None,
            })  # fmt: skip
    random.Random(1).shuffle(lines)  # the results file is in completion order, not row order
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    rows_file = "".join(
        json.dumps({k: r[k] for k in ("row", "id", "input", "expected", "slices")}) + "\n"
        for r in (rows if rows is not None else dataset())
    )
    (folder / "rows.jsonl").write_text(rows_file, encoding="utf-8")
    return folder


def by_metric(c: Comparison) -> dict[str, Any]:
    return {row.metric: row for row in c.rows}


def degrade(pred: Callable[[dict[str, Any]], bool]) -> Answer:
    def answer(row: dict[str, Any]) -> tuple[str, str | None]:
        if pred(row):
            return "incorrect", wrong(row["expected"])
        return base_answer(row)

    return answer


def test_same_model_twice_is_paired_and_raises_no_alarm(tmp_path: Path) -> None:
    c = compare_folders(write_run(tmp_path / "a"), write_run(tmp_path / "b"))
    assert c.mode == "paired" and c.paired_rows == N_ROWS
    assert not c.regressed and c.flip_counts == (0, 0)
    rows = by_metric(c)
    assert rows["accuracy"].test == "McNemar exact" and rows["accuracy"].status == "same"
    assert {"recall[refund]", "accuracy[channel=email]", "latency.p99"} <= rows.keys()
    assert render_comparison(c).rstrip().endswith("no regression")


def test_a_regression_in_one_class_is_found_and_named(tmp_path: Path) -> None:
    # Half of the refund rows the base model got right are now wrong.
    worse = degrade(lambda r: r["expected"] == "refund" and r["row"] % 8 == 1)
    c = compare_folders(write_run(tmp_path / "a"), write_run(tmp_path / "b", worse))
    rows = by_metric(c)
    assert c.regressed
    refund = rows["recall[refund]"]
    assert refund.regression and refund.section == "class"
    assert refund.delta is not None and refund.delta < -0.3
    # Every other class is untouched: same, not a regression.
    for label in ("billing", "shipping", "account_access"):
        assert rows[f"recall[{label}]"].status == "same"
    # The raw p is the exact binomial test on the discordant pairs (scipy as the oracle).
    b, w = c.flip_counts
    assert w == 0 and b == sum(1 for r in dataset() if r["expected"] == "refund"
                               and r["row"] % 8 == 1 and r["row"] % 7 != 0)  # fmt: skip
    assert rows["accuracy"].p == pytest.approx(sps.binomtest(w, b + w, 0.5).pvalue, rel=1e-9)
    assert all(f.regressed and f.expected == "refund" for f in c.flips)
    assert c.flips[0].input and c.flips[0].input.startswith("text of row")  # from rows.jsonl
    verdict = render_comparison(c).rstrip().splitlines()[-1]
    assert "recall[refund]" in verdict and "McNemar exact" in verdict


def test_slice_regression_is_corrected_for_many_comparisons(tmp_path: Path) -> None:
    worse = degrade(lambda r: r["slices"]["channel"] == "email" and r["row"] % 3 == 0)
    c = compare_folders(write_run(tmp_path / "a"), write_run(tmp_path / "b", worse))
    rows = by_metric(c)
    email = rows["accuracy[channel=email]"]
    assert email.regression and rows["accuracy[channel=chat]"].status == "same"
    breakdown = [r for r in c.rows if r.section != "headline"]
    raw = [r.p for r in breakdown]
    assert [r.p_adjusted for r in breakdown] == pytest.approx(stats.holm(raw))
    assert email.p_adjusted is not None and email.p is not None and email.p_adjusted >= email.p


def test_noise_beyond_tolerance_but_not_significant_is_no_regression(tmp_path: Path) -> None:
    worse = degrade(lambda r: r["row"] in (1, 2, 3, 5, 6))  # 5 of 480 rows flip
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", worse)
    c = compare_folders(a, b, quality_tolerance=0.005)
    acc = by_metric(c)["accuracy"]
    assert acc.status == "worse" and acc.beyond_tolerance and not acc.regression
    assert acc.p is not None and acc.p > 0.05
    assert not c.regressed
    assert "not confirmed by a test: accuracy (p=" in render_comparison(c)
    # Significant but within tolerance: no regression either.
    many = degrade(lambda r: r["row"] % 10 == 1)  # 48 rows flip: 10 points, clearly significant
    c2 = compare_folders(a, write_run(tmp_path / "c", many), quality_tolerance=0.2)
    assert by_metric(c2)["accuracy"].p_adjusted < 0.05 and not c2.regressed


def test_rows_errored_in_one_run_are_reported_apart(tmp_path: Path) -> None:
    failed = {i for i in range(N_ROWS) if i % 16 == 3}  # 30 rows answered 503 in the new run

    def answer(row: dict[str, Any]) -> tuple[str, str | None]:
        return ("http_error", None) if row["row"] in failed else base_answer(row)

    c = compare_folders(write_run(tmp_path / "a"), write_run(tmp_path / "b", answer))
    rows = by_metric(c)
    assert c.paired_rows == N_ROWS - len(failed)
    assert c.one_sided is not None and c.one_sided.base_only == len(failed)
    assert c.one_sided.causes == (("scored in base only; new: http_error", len(failed)),)
    # The quality figures are untouched (the failed rows are not mixed in) ...
    assert rows["accuracy"].status == "same"
    assert not any(r.regression for r in c.rows if r.section != "headline")
    # ... while the error rate did rise, and significantly.
    assert rows["error_rate"].regression
    assert "rows scored in one run only" in render_comparison(c)


def test_different_rows_are_compared_unpaired_and_say_so(tmp_path: Path) -> None:
    rows = dataset()
    a = write_run(tmp_path / "a", rows=rows[:240])
    b = write_run(tmp_path / "b", rows=rows[240:])
    c = compare_folders(a, b)
    assert c.mode == "unpaired"
    assert any("two-proportion" in n and n.startswith("unpaired") for n in c.notes)
    assert by_metric(c)["accuracy"].test == "two-proportion"


def test_summaries_alone_use_a_two_proportion_test() -> None:
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    new = copy.deepcopy(base)
    outcomes = new["requests"]["by_outcome"]
    k1 = outcomes["correct"]
    n1 = k1 + outcomes["incorrect"] + outcomes["unparseable"]
    moved = n1 // 8  # accuracy drops by 12.5 points
    outcomes["correct"] -= moved
    outcomes["incorrect"] += moved
    c = compare_runs(base, new)
    acc = by_metric(c)["accuracy"]
    # the fixture's run replayed its rows: the counts are the rows' evidence (issue 18), each
    # run's divided by its design effect (Rao–Scott), and the detail says so
    deff = base["quality"]["design_effect"]
    assert deff > 1.5
    assert acc.test == "two-proportion" and acc.detail == (
        f"{k1}/{n1} vs {k1 - moved}/{n1}; rows as the unit "
        f"(replays' design effect {deff:.2f} vs {deff:.2f})"
    )
    k2, n2 = k1 - moved, n1
    (k1, n1), (k2, n2) = (stats.effective_counts(k, n, deff) for k, n in ((k1, n1), (k2, n2)))
    chi2 = sps.chi2_contingency([[k1, n1 - k1], [k2, n2 - k2]], correction=False)
    assert acc.p == pytest.approx(chi2.pvalue, rel=1e-6)
    assert acc.regression and c.mode == "unpaired"
    assert any("no results.jsonl" in n for n in c.notes)


def test_latency_percentiles_intervals_and_distribution_test(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a")
    slow = write_run(tmp_path / "b", latency=lambda i: int((20_000 + (i * 7919) % 10_000) * 1.3))
    c = compare_folders(a, slow)
    rows = by_metric(c)
    p99 = rows["latency.p99"]
    assert p99.test == "KS" and p99.regression
    assert p99.relative == pytest.approx(0.3, abs=0.01)
    run = load_run(a)
    assert run.latency_us is not None
    values = run.latency_us.tolist()
    ks = sps.ks_2samp(values, load_run(slow).latency_us.tolist(), method="asymp").pvalue
    assert p99.p == pytest.approx(ks, rel=1e-3, abs=1e-12)
    lo, hi = p99.base_interval
    assert lo <= p99.base <= hi
    assert p99.base == pytest.approx(float(sorted(values)[int(0.99 * len(values)) - 1]), rel=0.01)
    # A latency rise within tolerance is not a regression however significant.
    assert not compare_folders(a, slow, latency_tolerance=0.5).regressed


def test_replayed_rows_count_by_majority(tmp_path: Path) -> None:
    rows = dataset(40)
    calls: dict[int, int] = {}

    def flaky(row: dict[str, Any]) -> tuple[str, str | None]:
        # Rows 0..9 are answered right, wrong, right: a majority right.
        calls[row["row"]] = calls.get(row["row"], 0) + 1
        if row["row"] < 10 and calls[row["row"]] == 2:
            return "incorrect", wrong(row["expected"])
        return "correct", row["expected"]

    a = write_run(tmp_path / "a", lambda r: ("correct", r["expected"]), rows, repeat=3)
    b = write_run(tmp_path / "b", flaky, rows, repeat=3)
    run = load_run(b)
    assert run.rows is not None and run.rows.correct.tolist() == [1] * 40
    assert int(run.rows.requests.max()) == 3
    c = compare_folders(a, b)
    assert c.flip_counts == (0, 0)
    assert any("most of its answers" in w for w in c.warnings)


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a")
    assert main(["compare", str(a), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing: no such run folder" in err[0]
    assert main(["compare", str(a), str(a), "--out", str(tmp_path / "x.txt")]) == 2
    assert main(["compare", str(a), str(a), "--alpha", "2"]) == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text(FIXTURE.read_text(encoding="utf-8"))
    (tmp_path / "bad" / "results.jsonl").write_text('{"row": 1}\nnot json\n')
    capsys.readouterr()
    assert main(["compare", str(a), str(tmp_path / "bad")]) == 2
    assert "results.jsonl:2: not valid JSON" in capsys.readouterr().err
    with pytest.raises(InputError):
        compare_folders(a, a, latency_tolerance=-0.1)


def test_markdown_and_html_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worse = degrade(lambda r: r["expected"] == "refund" and r["row"] % 8 == 1)
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", worse)
    out_md, out_html = tmp_path / "c.md", tmp_path / "c.html"
    assert main(["compare", str(a), str(b), "--markdown", "--out", str(out_md)]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("## ❌ stagecheck compare — ")
    assert "recall\\[refund\\]" in printed.splitlines()[0]
    assert printed == out_md.read_text(encoding="utf-8")
    assert "| recall\\[refund\\] |" in printed and "**REGRESSION**" in printed
    assert "### Rows that flipped:" in printed
    assert main(["compare", str(a), str(b), "--out", str(out_html)]) == 1
    html = out_html.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "REGRESSION" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count('class="flip-bad"') == len(compare_folders(a, b).flips)
    assert render_comparison_html(compare_folders(a, a)).count("NO REGRESSION") == 1


def test_console_markdown_of_summaries_still_render(tmp_path: Path) -> None:
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    c = compare_runs(base, base)
    assert "note: timed runs send different rows" in render_comparison(c)
    md = render_comparison_markdown(c)
    assert md.startswith("## ✅ stagecheck compare — no regression")


def test_two_runs_whose_results_files_are_empty_compare_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two damaged folders (results.jsonl emptied): no request to test, so no error-rate test;
    # before, the test's small-sample check divided by the zero requests of both runs.
    a = write_run(tmp_path / "a", rows=[])
    b = write_run(tmp_path / "b", rows=[])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "error_rate" in out and "0 rows in common of 0 scored" in out
