"""Plots of report.html, where people would rather look than read: the run over time, the HDR
latency distribution on a "nines" axis, load against quality and latency, per-class P/R/F1.

Each ``*_section`` returns a whole ``<section>``, or ``""`` when the run has nothing to plot (an
older summary.json without ``analysis`` or ``distribution``, a single stage, no classes), so a
report leaves the plot out rather than drawing an empty frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from stagecheck.analysis.schema import TimeBin
from stagecheck.judging.catalogue import percentile
from stagecheck.reporting import fmt
from stagecheck.reporting.html.parts import e, section
from stagecheck.reporting.html.svg import (
    Axis,
    Columns,
    Layer,
    Line,
    Marker,
    bar_groups,
    clock,
    linear_axis,
    nines,
    nines_label,
    plot,
    time_ticks,
)
from stagecheck.summary.figures import StageFigures, timing_name
from stagecheck.summary.schema import Summary

__all__ = [
    "CSS",
    "MAX_CLASS_BARS",
    "timeline_section",
    "distribution_section",
    "stage_plots_section",
    "class_plots_section",
]

#: Classes drawn at most in the per-class chart (worst F1 first); the table has them all.
MAX_CLASS_BARS = 30

# Lightness falls from correct to failed, so the stack still reads in grey.
_OUTCOME_FILL = (
    ("correct", "#8fd19e"),
    ("incorrect", "#f0883e"),
    ("unparseable", "#8250df"),
    ("failed", "#82071e"),
)
# Same hue, darker and differently dashed as the percentile rises.
_PERCENTILE_LINES = tuple(
    (p, percentile(p).key, colour, dash)
    for p, colour, dash in (("p50", "#54aeff", ""), ("p90", "#0969da", "7 4"),
                            ("p99", "#0a3069", "2 3"))
)  # fmt: skip
_TIMING_LINES = {"e2e": ("#0969da", ""), "ttft": ("#8250df", "8 4"), "itl": ("#9a6700", "2 3")}
_CLASS_BARS = (("precision", "#9ecbff"), ("recall", "#218bff"), ("F1", "#0a3069"))

#: Styles of the plots (report.html adds it to its stylesheet).
CSS = """
.plots .chart { margin-top:4px; }
.plots h3 { margin:14px 0 0; }
.plots h3:first-of-type { margin-top:0; }
"""


def _ms_tick(us: float) -> str:
    return f"{us / 1000:g} ms"


def _ms_value(us: float) -> str:
    return f"{fmt.ms(us)} ms"


def _pct_tick(frac: float) -> str:
    return f"{frac * 100:g}%"


def _spans(bins: list[TimeBin], bin_s: float, end_s: float | None) -> list[tuple[float, float]]:
    """Each bin's [start, end) in seconds; the last one ends with the run, not a full bin later."""
    spans = []
    for b in bins:
        stop = b.t_s + bin_s
        if end_s is not None and b.t_s < end_s < stop:
            stop = end_s
        spans.append((b.t_s, stop))
    return spans


def _stage_markers(report: Summary, end_s: float) -> list[Marker]:
    markers = []
    for s in report.stages:
        if s.start_s is None or not 0 <= s.start_s < end_s:
            continue
        markers.append(Marker(s.start_s, s.name or f"stage {s.index}"))
    return markers


# A chart of the timeline: (heading, title, y axis, lines, columns).
_TimelineChart = tuple[str, str, Axis, list[Line], Columns | None]


def timeline_section(report: Summary) -> str:
    """Throughput, outcomes, accuracy and latency percentiles over time, on one time axis."""
    analysis = report.analysis
    timeline = analysis.timeline if analysis is not None else None
    if timeline is None or not timeline.bins or not timeline.bin_s > 0:
        return ""
    bins = sorted(timeline.bins, key=lambda b: b.t_s)
    duration = report.run.duration_s
    spans = _spans(bins, timeline.bin_s, duration)
    end_s = max(stop for _, stop in spans)
    mids = [(a + b) / 2 for a, b in spans]
    markers = _stage_markers(report, end_s)
    # Drawn in this order on one x axis.
    charts = [_throughput_chart(bins, spans, mids), _outcomes_chart(bins, spans)]
    charts += [c for c in (_accuracy_chart(bins, mids), _latency_chart(bins, mids)) if c]
    parts = _timeline_plots(charts, time_ticks(end_s), markers)
    note = f"{len(bins)} intervals of {clock(timeline.bin_s)}"
    if markers:
        note += " · dashed lines: stage starts"
    return section("timeline", "Over time", f'<div class="plots">{"".join(parts)}</div>', note)


def _timeline_plots(
    charts: list[_TimelineChart], ticks: list[tuple[float, str]], markers: list[Marker]
) -> list[str]:
    """Each chart under its heading; only the last names the x axis, only the first the stages."""
    x = Axis(0.0, ticks[-1][0], ticks, "", lambda s: f"{s:.1f} s")
    x_last = Axis(x.lo, x.hi, x.ticks, "seconds since the start of the run", x.value_format)
    unlabelled = [Marker(m.x) for m in markers]
    parts = []
    for i, (heading, title, y, lines, columns) in enumerate(charts):
        last = i == len(charts) - 1
        chart = plot(
            title=title,
            x=x_last if last else x,
            y=y,
            lines=lines,
            columns=columns,
            markers=markers if i == 0 else unlabelled,
            height=226 if last else 200,
        )
        parts.append(f"<h3>{e(heading)}</h3>{chart}")
    return parts


def _throughput_chart(
    bins: list[TimeBin], spans: list[tuple[float, float]], mids: list[float]
) -> _TimelineChart:
    rates = [b.requests / (stop - start) for b, (start, stop) in zip(bins, spans, strict=True)]
    rate_axis = linear_axis(0.0, max(rates), lambda v: f"{v:g}/s", label="requests/s",
                            value_format=lambda v: f"{v:,.1f}/s")  # fmt: skip
    line = Line("requests/s", "#0969da", list(zip(mids, rates, strict=True)))
    return ("Throughput", "Throughput over time (requests started per second)",
            rate_axis, [line], None)  # fmt: skip


def _outcomes_chart(bins: list[TimeBin], spans: list[tuple[float, float]]) -> _TimelineChart:
    def share(n: int, b: TimeBin) -> float:
        return n / b.requests if b.requests else 0.0

    layers = [
        Layer(name, colour, [share(getattr(b, name), b) for b in bins])
        for name, colour in _OUTCOME_FILL
    ]
    tips = [
        f"{clock(start)}–{clock(stop)}: {b.requests:,} requests · "
        + " · ".join(f"{name} {getattr(b, name):,}" for name, _ in _OUTCOME_FILL)
        for b, (start, stop) in zip(bins, spans, strict=True)
    ]
    share_axis = linear_axis(0.0, 1.0, _pct_tick, label="share of requests", count=4)
    return ("Outcomes", "Outcomes over time (share of the requests started in each "
            "interval)", share_axis, [], Columns(spans, layers, tips))  # fmt: skip


def _accuracy_chart(bins: list[TimeBin], mids: list[float]) -> _TimelineChart | None:
    acc = [(m, b.accuracy) for m, b in zip(mids, bins, strict=True)]
    known = [a for _, a in acc if a is not None]
    if not known:
        return None
    lo = max(0.0, min(known) - 0.02)
    acc_axis = linear_axis(lo, min(1.0, max(known) + 0.01), _pct_tick, label="accuracy",
                           value_format=lambda v: fmt.percent(v, 1), count=4)  # fmt: skip
    line = Line("accuracy", "#1a7f37", acc)
    return ("Accuracy", "Accuracy over time (correct / answered, per interval)",
            acc_axis, [line], None)  # fmt: skip


def _latency_chart(bins: list[TimeBin], mids: list[float]) -> _TimelineChart | None:
    lat_lines = [
        Line(name, colour, [(m, getattr(b, attr)) for m, b in zip(mids, bins, strict=True)], dash)
        for name, attr, colour, dash in _PERCENTILE_LINES
    ]
    lat_values = [v for ln in lat_lines for _, v in ln.points if v is not None]
    if not lat_values:
        return None
    lat_axis = linear_axis(0.0, max(lat_values), _ms_tick, label="latency",
                           value_format=_ms_value, count=4)  # fmt: skip
    return ("Latency percentiles", "End-to-end latency p50, p90 and p99 over time "
            "(per interval)", lat_axis, lat_lines, None)  # fmt: skip


def _nines_top(values: list[float]) -> int:
    # 99.999 sits at 5.000000000004 in floating point: do not round that up to a sixth nine.
    return max(1, math.ceil(max(values) - 1e-6)) if values else 1


def distribution_section(report: Summary) -> str:
    """Each timing's HDR percentile distribution on a "nines" axis (0%, 90%, 99%, 99.9% …)."""
    timings = [(key, lat) for key, lat in report.timings() if len(lat.distribution) >= 2]
    if not timings:
        return ""
    finite = [nines(p) for _, lat in timings for p, _ in lat.distribution if p < 100]
    top = _nines_top(finite)
    max_x = top + 0.5

    def where(x: float) -> str:
        if x >= max_x:
            return "max"
        return f"p{100 * (1 - 10**-x):.6g}"

    ticks = [(float(k), nines_label(k)) for k in range(top + 1)] + [(max_x, "max")]
    x = Axis(0.0, max_x, ticks, "percentile (nines scale: each step is ten times rarer)", where)
    lines = []
    for key, lat in timings:
        colour, dash = _TIMING_LINES.get(key, ("#57606a", "4 2"))
        points = [(min(nines(p), max_x), float(us)) for p, us in sorted(lat.distribution)]
        lines.append(Line(timing_name(key), colour, points, dash))
    high = max(us for _, lat in timings for _, us in lat.distribution)
    y = linear_axis(0.0, high, _ms_tick, label="latency", value_format=_ms_value)
    chart = plot(
        title="Latency percentile distribution (HDR), on a nines axis",
        x=x,
        y=y,
        lines=lines,
        height=320,
    )
    counts = " · ".join(f"{timing_name(key)}: {lat.count:,} values" for key, lat in timings)
    # With n values, levels above 1 - 1/n are all the slowest one: say so, so no one reads a
    # flat tail on a short run as a measured 99.999th percentile.
    note = (
        '<p class="note">Above the 1 − 1/n level a percentile is the slowest value measured '
        f"(n = the number of values). {e(counts)}</p>"
    )
    body = f'<div class="plots">{chart}{note}</div>'
    return section("distribution", "Latency distribution", body, "HDR histogram percentiles")


def stage_plots_section(report: Summary) -> str:
    """Accuracy and latency against the load of each stage (users, else achieved rate)."""
    stages = report.stages
    if len(stages) < 2:
        return ""
    by_users = all(s.users is not None for s in stages)
    if not by_users and any(s.throughput_per_s is None for s in stages):
        return ""

    def load(s: StageFigures) -> float:
        value = s.users if by_users else s.throughput_per_s
        return float(value or 0)

    ordered = sorted(stages, key=lambda s: (load(s), s.index))
    x = _load_axis(max(load(s) for s in ordered), by_users)
    charts = [
        chart
        for chart in (
            _stage_accuracy_plot([(load(s), s.accuracy) for s in ordered], x),
            _stage_latency_plot(ordered, load, x),
        )
        if chart
    ]
    if not charts:
        return ""
    body = '<div class="grid2 plots">' + "".join(f"<div>{c}</div>" for c in charts) + "</div>"
    return section("stage-plots", "Load against quality and latency", body,
                   f"{len(stages)} stages")  # fmt: skip


def _load_axis(top: float, by_users: bool) -> Axis:
    if by_users:
        return linear_axis(0.0, top, lambda v: f"{v:g}", label="concurrent users",
                           value_format=lambda v: f"{v:g} users", count=4)  # fmt: skip
    return linear_axis(0.0, top, lambda v: f"{v:g}/s", label="achieved requests/s",
                       value_format=lambda v: f"{v:,.1f}/s", count=4)  # fmt: skip


def _stage_plot(title: str, x: Axis, y: Axis, lines: list[Line]) -> str:
    """One of the two side-by-side charts against load."""
    return plot(title=title, x=x, y=y, lines=lines, width=520, height=280)


def _stage_accuracy_plot(acc: list[tuple[float, float | None]], x: Axis) -> str:
    known = [a for _, a in acc if a is not None]
    if not known:
        return ""
    y = linear_axis(max(0.0, min(known) - 0.05), min(1.0, max(known) + 0.02), _pct_tick,
                    label="accuracy", value_format=lambda v: fmt.percent(v, 2),
                    count=4)  # fmt: skip
    return _stage_plot("Accuracy against load (one point per stage)", x, y,
                       [Line("accuracy", "#1a7f37", acc)])  # fmt: skip


def _stage_latency_plot(
    ordered: list[StageFigures], load: Callable[[StageFigures], float], x: Axis
) -> str:
    lat_lines = [
        Line(name, colour, [(load(s), getattr(s.latency.e2e, attr, None)) for s in ordered], dash)
        for name, attr, colour, dash in _PERCENTILE_LINES
        if name in ("p50", "p99")
    ]
    values = [v for ln in lat_lines for _, v in ln.points if v is not None]
    if not values:
        return ""
    y = linear_axis(0.0, max(values), _ms_tick, label="latency", value_format=_ms_value,
                    count=4)  # fmt: skip
    return _stage_plot("Latency p50 and p99 against load (one point per stage)", x, y,
                       lat_lines)  # fmt: skip


def class_plots_section(report: Summary) -> str:
    """Per-class precision, recall and F1 as grouped bars, worst F1 first."""
    classes = report.classes_worst_first()
    if not classes:
        return ""
    shown = classes[:MAX_CLASS_BARS]
    groups = [(c.label, [c.precision, c.recall, c.f1]) for c in shown]
    chart = bar_groups(
        groups,
        [name for name, _ in _CLASS_BARS],
        [colour for _, colour in _CLASS_BARS],
        title="Precision, recall and F1 per class, worst F1 first",
        value_format=lambda v: f"{v:.3f}",
    )
    note = "worst F1 first"
    if len(classes) > len(shown):
        note += f" · the worst {len(shown)} of {len(classes)} classes (all in the table)"
    return section("class-plots", "Per class, drawn", f'<div class="plots">{chart}</div>', note)
