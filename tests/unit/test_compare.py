"""compare_runs: regressions beyond tolerance are flagged, improvements and noise are not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stagecheck.errors import InputError
from stagecheck.reporting import compare_runs, render_comparison, render_comparison_markdown

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


@pytest.fixture
def base() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture
def new(base: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(base)


def _rows(c: Any) -> dict[str, Any]:
    return {row.metric: row for row in c.rows}


def test_identical_runs(base: dict[str, Any], new: dict[str, Any]) -> None:
    c = compare_runs(base, new)
    assert not c.regressed and c.regressions == () and c.warnings == ()
    assert {row.status for row in c.rows} == {"same"}
    metrics = set(_rows(c))
    assert {
        "accuracy",
        "f1_macro",
        "f1_weighted",
        "error_rate",
        "throughput",
        "latency.p50",
        "latency.p95",
        "latency.p99",
        "ttft.p95",
        "itl.p95",
        "f1[refund]",
        "accuracy[complexity=complex]",
    } <= metrics
    assert render_comparison(c).rstrip().endswith("no regression")


def test_regressions_beyond_tolerance(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["quality"]["accuracy"] = base["quality"]["accuracy"] - 0.02
    new["requests"]["error_rate"] = base["requests"]["error_rate"] + 0.01
    new["latency"]["e2e"]["p95_us"] = int(base["latency"]["e2e"]["p95_us"] * 1.15)
    new["throughput"]["requests_per_s"] = base["throughput"]["requests_per_s"] * 0.85
    new["classes"][1]["f1"] = 0.70
    new["slices"][1]["quality"]["accuracy"] = 0.60
    c = compare_runs(base, new)
    assert c.regressed
    assert {r.metric for r in c.regressions} == {
        "accuracy",
        "error_rate",
        "latency.p95",
        "throughput",
        "f1[refund]",
        "accuracy[complexity=complex]",
    }
    rows = _rows(c)
    assert rows["accuracy"].status == "worse"
    assert rows["accuracy"].delta == pytest.approx(-0.02)
    assert rows["latency.p95"].relative == pytest.approx(0.15, abs=1e-4)
    text = render_comparison(c)
    assert text.rstrip().splitlines()[-1].startswith("6 regressions: accuracy, error_rate")
    assert "REGRESSION" in text


def test_small_worsening_within_tolerance(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["quality"]["accuracy"] -= 0.005
    new["requests"]["error_rate"] += 0.003
    new["latency"]["e2e"]["p99_us"] = int(base["latency"]["e2e"]["p99_us"] * 1.05)
    new["throughput"]["requests_per_s"] *= 0.95
    c = compare_runs(base, new)
    rows = _rows(c)
    for metric in ("accuracy", "error_rate", "latency.p99", "throughput"):
        assert rows[metric].status == "worse" and not rows[metric].regression, metric
    assert not c.regressed


def test_exactly_at_tolerance_is_not_a_regression(
    base: dict[str, Any], new: dict[str, Any]
) -> None:
    base["quality"]["accuracy"] = 0.90
    new["quality"]["accuracy"] = 0.89
    assert not compare_runs(base, new).regressed


def test_improvements_are_not_flagged(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["quality"]["accuracy"] += 0.05
    new["quality"]["f1_macro"] += 0.05
    new["requests"]["error_rate"] = 0.0
    for key in ("p50_us", "p95_us", "p99_us"):
        new["latency"]["e2e"][key] //= 2
    new["throughput"]["requests_per_s"] *= 2
    c = compare_runs(base, new)
    rows = _rows(c)
    for metric in ("accuracy", "f1_macro", "error_rate", "latency.p95", "throughput"):
        assert rows[metric].status == "better" and not rows[metric].regression
    assert not c.regressed


def test_tolerances_are_parameters(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["latency"]["e2e"]["p95_us"] = int(base["latency"]["e2e"]["p95_us"] * 1.15)
    new["quality"]["accuracy"] -= 0.02
    assert compare_runs(base, new).regressed
    relaxed = compare_runs(base, new, latency_tolerance=0.2, quality_tolerance=0.05)
    assert not relaxed.regressed
    strict = compare_runs(base, base, latency_tolerance=0.0)
    assert not strict.regressed
    with pytest.raises(InputError):
        compare_runs(base, new, latency_tolerance=-0.1)


def test_missing_figures_are_not_applicable(base: dict[str, Any], new: dict[str, Any]) -> None:
    new.update(quality=None, classes=[], confusion=None)
    del new["latency"]["ttft"], new["latency"]["itl"]
    new["slices"] = new["slices"][:2]
    c = compare_runs(base, new)
    rows = _rows(c)
    assert rows["f1_macro"].status == "n/a" and not rows["f1_macro"].regression
    assert rows["f1[refund]"].status == "n/a"
    assert rows["accuracy[channel=chat]"].status == "n/a"
    assert "ttft.p95" not in rows and "itl.p95" not in rows
    # Accuracy falls back to the outcome counts (correct / answered), so it still compares.
    assert rows["accuracy"].new == pytest.approx(1040 / 1225)


def test_latency_from_zero_counts_as_regression(base: dict[str, Any], new: dict[str, Any]) -> None:
    base["latency"]["e2e"]["p50_us"] = 0
    c = compare_runs(base, new)
    assert _rows(c)["latency.p50"].regression


def test_warns_about_different_runs(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["run"]["dataset"]["path"] = "scenarios/data/other.jsonl"
    new["run"]["scenario"] = "other-scenario"
    new["validity"] = {"valid": False, "reasons": ["generator overloaded"]}
    c = compare_runs(base, new)
    text = render_comparison(c)
    assert "warning: the runs used different datasets" in text
    assert "warning: the runs used different scenarios" in text
    assert "the new run is invalid: generator overloaded" in text
    assert "⚠️" in render_comparison_markdown(c)


def test_table_is_aligned(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["quality"]["accuracy"] -= 0.02
    text = render_comparison(compare_runs(base, new))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    table = lines[start : lines.index("", start)]
    statuses = ("status", "REGRESSION", "better", "worse", "same", "n/a")
    prefix = {len(line) - len(next(s for s in statuses if line.endswith(s))) for line in table}
    assert len(prefix) == 1


def test_markdown_form(base: dict[str, Any], new: dict[str, Any]) -> None:
    new["classes"][0]["label"] = "bill|ing"
    new["quality"]["accuracy"] -= 0.02
    md = render_comparison_markdown(compare_runs(base, new))
    assert md.startswith("## ❌ stagecheck compare")
    assert "| accuracy | 0.8525 | 0.8325 | -0.0200 | **REGRESSION** |" in md
    assert "f1\\[bill\\|ing\\]" in md


def test_timed_runs_get_a_sampling_warning_exact_passes_do_not() -> None:
    import copy
    import json
    from pathlib import Path

    from stagecheck.reporting import compare_runs, render_comparison

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "summary_example.json"
    timed = json.loads(fixture.read_text())
    assert any("exact-pass" in n for n in compare_runs(timed, timed).notes)
    assert "note: timed runs send different rows" in render_comparison(compare_runs(timed, timed))
    exact = copy.deepcopy(timed)
    exact["run"]["load"]["exact_pass"] = True
    assert compare_runs(exact, exact).notes == ()
