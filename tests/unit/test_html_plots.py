"""The report's plots and wrong-answers table as HTML text: axis helpers, what is drawn for given
data, what is left out when the data is absent, escaping. Chromium checks the same pages in
tests/browser/test_report_plots.py."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from stagecheck.analysis.schema import Analysis, Replays, TimeBin, Timeline, WrongAnswer
from stagecheck.reporting.html.page import render_html
from stagecheck.reporting.html.plots import (
    MAX_CLASS_BARS,
    class_plots_section,
    distribution_section,
    stage_plots_section,
    timeline_section,
)
from stagecheck.reporting.html.svg import (
    Axis,
    Line,
    clock,
    linear_axis,
    nice_range,
    nines,
    nines_label,
    plot,
    time_ticks,
)
from stagecheck.reporting.html.table import SCRIPT, SCRIPT_CSP_SOURCE, wrong_answers_section
from stagecheck.summary.figures import ClassFigures
from stagecheck.summary.read import load_summary_model as build_report
from stagecheck.summary.schema import Summary as Report

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _summary() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data.pop("analysis", None)  # each test gives its own
    return data


def _bin(t: float, requests: int = 10, wrong: int = 2) -> TimeBin:
    return TimeBin(t_s=t, requests=requests, correct=requests - wrong, incorrect=wrong,
                   unparseable=0, failed=0, accuracy=(requests - wrong) / requests,
                   p50_us=10_000, p90_us=20_000, p99_us=30_000)  # fmt: skip


def _wrong(row: int, **changes: Any) -> WrongAnswer:
    values: dict[str, Any] = {
        "row": row, "id": f"r{row}", "input": f"text {row}", "expected": "refund",
        "got": "billing", "predicted": "billing", "outcome": "incorrect", "error": None,
        "slices": {"channel": "email"}, "count": 1, "latency_us": 1000 + row,
    }  # fmt: skip
    values.update(changes)
    return WrongAnswer(**values)


def _report(**analysis: Any) -> Report:
    base = {"replays": Replays(unique_rows=10, dataset_rows=10, requests=30, factor=3.0)}
    report = build_report(_summary())
    return report.model_copy(update={"analysis": Analysis(**{**base, **analysis})})


# Axis helpers


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0, 97, [0, 20, 40, 60, 80, 100]),
        (0.83, 0.91, [0.82, 0.84, 0.86, 0.88, 0.9, 0.92]),
        (3, 3, [3.0, 4.0, 5.0, 6.0]),
    ],
)
def test_nice_range_covers_the_data_with_round_steps(
    lo: float, hi: float, ticks: list[float]
) -> None:
    got = nice_range(lo, hi)
    assert got == pytest.approx(ticks)
    assert got[0] <= lo and got[-1] >= hi


def test_nice_range_of_nonsense_is_a_unit_axis() -> None:
    assert nice_range(0, math.inf) == [0.0, 1.0]
    assert nice_range(math.nan, 1) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("end", "step"), [(0.5, 0.1), (7, 1), (61, 10), (90, 15), (600, 120), (4000, 600)]
)
def test_time_ticks_use_clock_steps_and_reach_the_end(end: float, step: float) -> None:
    ticks = time_ticks(end)
    values = [v for v, _ in ticks]
    assert values[0] == 0 and values[-1] >= end > values[-2]
    assert all(b - a == pytest.approx(step) for a, b in zip(values, values[1:], strict=False))
    assert ticks[0][1] == "0s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (2.5, "2.5s"), (60, "1m"), (150, "2m30s"), (3900, "1h05m"),
     (7200, "2h")],
)  # fmt: skip
def test_clock(seconds: float, text: str) -> None:
    assert clock(seconds) == text


def test_nines_axis_places_each_nine_one_step_further() -> None:
    assert nines(0) == 0
    assert nines(90) == pytest.approx(1)
    assert nines(99.9) == pytest.approx(3)
    assert nines(99.999) == pytest.approx(5)
    assert nines(100) == math.inf
    assert [nines_label(k) for k in range(6)] == [
        "0%", "90%", "99%", "99.9%", "99.99%", "99.999%",
    ]  # fmt: skip


def test_plot_clamps_values_into_its_frame_and_breaks_lines_at_gaps() -> None:
    x = Axis(0, 10, [(0, "0"), (10, "10")])
    y = linear_axis(0, 1, str)
    svg = plot(
        title="t",
        x=x,
        y=y,
        lines=[Line("a", "#000", [(0, 0.5), (5, 0.6), (6, None), (8, 5.0), (12, 0.1)])],
    )
    assert svg.count("<polyline") == 2  # one gap → two runs
    assert svg.count("<circle") == 4
    xs = [float(v) for v in re.findall(r'cx="([\d.]+)"', svg)]
    ys = [float(v) for v in re.findall(r'cy="([\d.]+)"', svg)]
    assert max(xs) <= 1000 - 24 and min(ys) >= 30  # the 5.0 and the 12 stay on the frame
    assert 'data-series="1"' in svg


def test_plot_escapes_names_and_titles() -> None:
    svg = plot(
        title=EVIL,
        x=Axis(0, 1, [(0, EVIL)]),
        y=linear_axis(0, 1, str),
        lines=[Line(EVIL, "#000", [(0, 0.1), (1, 0.2)])],
    )
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg


# Sections


def test_sections_are_left_out_when_their_data_is_absent() -> None:
    summary = _summary()
    summary.pop("analysis", None)  # as an older run's summary.json
    summary["stages"] = summary["stages"][:1]
    report = build_report(summary)
    assert timeline_section(report) == ""
    assert wrong_answers_section(report) == ""
    assert stage_plots_section(report) == ""
    no_dist = report.model_copy(update={"latency": {
        key: lat.model_copy(update={"distribution": []}) for key, lat in report.latency.items()
    }})  # fmt: skip
    assert distribution_section(no_dist) == ""
    assert class_plots_section(report.model_copy(update={"classes": []})) == ""
    page = render_html(no_dist)
    for sid in ("timeline", "distribution", "stage-plots", "wrong-answers"):
        assert f'id="{sid}"' not in page
    assert "<script" not in page


def test_timeline_draws_four_charts_on_one_axis_with_stage_marks() -> None:
    bins = [_bin(float(t)) for t in range(0, 30, 2)]
    report = _report(timeline=Timeline(bin_s=2.0, bins=bins))
    html = timeline_section(report)
    charts = re.findall(r'<svg class="chart"[^>]*data-series="(\d+)"', html)
    assert charts == ["1", "4", "1", "3"]  # throughput, outcomes, accuracy, p50/p90/p99
    # One outcome column per bin, each with a tooltip of its counts.
    assert html.count("<g><title>") == len(bins)
    # Only the x axis of the last chart is labelled.
    assert html.count("seconds since the start of the run") == 1


def test_timeline_last_bin_ends_with_the_run() -> None:
    # A last bin cut short by the run's end: its rate is per second of that bin, not of 2 s.
    report = _report(timeline=Timeline(bin_s=2.0, bins=[_bin(0.0, 10), _bin(2.0, 5)]))
    report = report.model_copy(update={"run": report.run.model_copy(update={"duration_s": 2.5})})
    html = timeline_section(report)
    rates = re.findall(r"requests/s at [\d.]+ s: ([\d.]+)/s", html)
    assert rates == ["5.0", "10.0"]


def test_distribution_axis_has_every_nine_up_to_the_data_and_max() -> None:
    report = build_report(_summary())
    levels = [0, 50, 90, 99, 99.9, 99.99, 99.999, 100]
    lat = report.latency["e2e"].model_copy(
        update={"distribution": [(p, 1000.0 + p) for p in levels]}
    )
    html = distribution_section(report.model_copy(update={"latency": {"e2e": lat}}))
    ticks = re.findall(r'<text class="xtick"[^>]*>([^<]+)</text>', html)
    assert ticks == ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"]
    assert html.count('class="series"') == 1


def test_class_bars_worst_first_and_capped() -> None:
    report = build_report(_summary())
    many = [
        ClassFigures.model_construct(label=f"c{i:02d}", support=10, predicted=10,
                                     precision=0.5 + i / 100, recall=0.5, f1=0.4 + i / 100)
        for i in range(40)
    ]  # fmt: skip
    html = class_plots_section(report.model_copy(update={"classes": many}))
    labels = re.findall(r'class="group"[^>]*><title>([^<]+)</title>', html)
    assert labels == [f"c{i:02d}" for i in range(MAX_CLASS_BARS)]
    assert f"the worst {MAX_CLASS_BARS} of 40 classes" in html


def test_wrong_table_escapes_everything_and_says_how_many_are_shown() -> None:
    wrong = [_wrong(0, input=EVIL, got=EVIL, expected=EVIL, slices={EVIL: EVIL}), _wrong(1)]
    html = wrong_answers_section(_report(wrong=wrong, wrong_total=12))
    body = html[: html.index("<script>")]
    assert "<script" not in body.replace("<script>", "") and "<img" not in body
    assert "2 of 12 shown" in html
    # The filter's data attribute holds the escaped label, so the select matches it exactly.
    assert 'data-expected="&lt;script&gt;' in html


def test_script_hash_in_the_csp_is_the_script_on_the_page() -> None:
    page = render_html(_report(wrong=[_wrong(0)], wrong_total=1))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts == [SCRIPT]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" == SCRIPT_CSP_SOURCE
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and f"script-src {SCRIPT_CSP_SOURCE}" in csp.group(1)
    assert "unsafe-inline" not in csp.group(1).split("script-src")[1]
