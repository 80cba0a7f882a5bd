"""Load-side sections of report.html: requests by outcome, latency, load stages."""

from __future__ import annotations

import math

from stagecheck.judging.catalogue import percentile
from stagecheck.reporting import fmt
from stagecheck.reporting.html.parts import e, empty, section, table
from stagecheck.reporting.html.style import OUTCOME_COLOURS
from stagecheck.reporting.html.svg import Series, line_chart, stacked_bar
from stagecheck.summary.figures import timing_name
from stagecheck.summary.schema import Summary

__all__ = ["requests_section", "latency_section", "stages_section"]

_TIMING_COLOURS = {"e2e": "#0969da", "ttft": "#8250df", "itl": "#bf8700"}
# Percentile positions on a "nines" axis (-log10(1 - p)), as HdrHistogram plots draw them.
_NINES = {"p50": math.log10(2), "p90": 1.0, "p95": math.log10(20), "p99": 2.0, "p99.9": 3.0}
_MAX_X = 3.6


def _ms_tick(us: float) -> str:
    """An axis tick (a round number of µs) in its shortest form: ``2.5 ms``."""
    return f"{us / 1000:g} ms"


def _ms_value(us: float) -> str:
    """A measured latency, as the tables write it."""
    return f"{fmt.ms(us)} ms"


def requests_section(report: Summary) -> str:
    """Outcome shares as a stacked bar with a legend of counts."""
    total = report.requests.total
    if total == 0:
        return section("requests", "Requests by outcome", empty("No requests were made."))
    parts = [
        (name, float(n), OUTCOME_COLOURS.get(name, "#8c959f"))
        for name, n in report.requests.by_outcome.counts
    ]
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{e(name)} <b>{int(n):,}</b> '
        f"({e(fmt.percent(report.share(int(n))))})</span>"
        for name, n, colour in parts
    )
    body = (
        stacked_bar(parts, title="Requests by outcome")
        + f'\n<div class="legend">{legend}</div>'
        + f'<p class="note">error rate {e(fmt.percent(report.requests.error_rate, 2))}'
        f" · unparseable {e(fmt.percent(report.requests.unparseable_rate, 2))}"
        f" · throughput {e(fmt.rate(report.throughput.requests_per_s))}"
        f" ({e(fmt.rate(report.throughput.answers_per_s))} answered, failures excluded)</p>"
    )
    if report.causes:
        body += f'<p class="note" id="causes">no usable answer, by cause: ' \
                f"{e(fmt.causes_text(report.causes))}</p>"
    return section("requests", "Requests by outcome", body, f"{total:,} requests")


def latency_section(report: Summary) -> str:
    """Percentile table and chart for each timing (end-to-end, TTFT, ITL)."""
    timings = report.timings()
    if not timings:
        return section("latency", "Latency", empty("No latency was recorded."))
    labels = [label for label, _ in timings[0][1].values()]
    rows = [
        [e(timing_name(key)), *(e(fmt.ms(us)) for _, us in lat.values()), f"{lat.count:,}"]
        for key, lat in timings
    ]
    numeric = tuple(range(1, len(labels) + 2))
    grid = table(["Timing (ms)", *labels, "count"], rows, numeric)
    # Points stay in µs so their labels go through fmt.ms, as the table's cells do.
    series = []
    for key, lat in timings:
        points = [
            (_NINES[label], us) for label, us in lat.values() if label in _NINES and us is not None
        ]
        if lat.max_us is not None:
            points.append((_MAX_X, lat.max_us))
        if points:
            colour = _TIMING_COLOURS.get(key, "#57606a")
            series.append(Series(timing_name(key), colour, points, labelled=key == "e2e"))
    ticks = [(x, label) for label, x in _NINES.items()] + [(_MAX_X, "max")]
    chart = line_chart(
        series,
        x_ticks=ticks,
        y_format=_ms_tick,
        value_format=_ms_value,
        title="Latency by percentile",
        y_label="milliseconds",
    )
    note = "".join(
        empty(f"{lat.out_of_range:,} {timing_name(key)} values fell outside the histogram's range.")
        for key, lat in timings
        if lat.out_of_range
    )
    if report.tokens is not None:
        note += f'<p id="tokens"><strong>Tokens</strong> {e(report.tokens.describe())}</p>'
    if report.target is not None:
        note += (f'<p id="target"><strong>Target resources</strong> '
                 f"{e(report.target.describe())}</p>")  # fmt: skip
    return section("latency", "Latency", grid + chart + note, "percentile distribution")


def _stage_charts(report: Summary) -> str:
    stages = report.stages
    ticks = [
        (float(i), f"{s.index}" + (f" · {s.users}u" if s.users is not None else ""))
        for i, s in enumerate(stages)
    ]
    lat_series = []
    for label, colour in (("p50", "#54aeff"), ("p95", "#0969da"), ("p99", "#0a3069")):
        attr = percentile(label).key
        pts = [
            (float(i), getattr(s.latency.e2e, attr))
            for i, s in enumerate(stages)
            if s.latency.e2e is not None and getattr(s.latency.e2e, attr) is not None
        ]
        if pts:
            lat_series.append(Series(label, colour, pts))
    acc = [(float(i), s.accuracy) for i, s in enumerate(stages) if s.accuracy is not None]
    err = [(float(i), s.error_rate) for i, s in enumerate(stages) if s.error_rate is not None]
    quality_series = [Series("accuracy %", "#2da44e", acc), Series("error rate %", "#cf222e", err)]
    charts = [
        line_chart(
            lat_series,
            x_ticks=ticks,
            y_format=_ms_tick,
            value_format=_ms_value,
            title="Latency by stage",
            width=520,
            height=280,
        ),
        line_chart(
            [s for s in quality_series if s.points],
            x_ticks=ticks,
            y_format=lambda v: f"{v * 100:g}%",
            value_format=lambda v: fmt.percent(v, 2),
            title="Accuracy and errors by stage",
            width=520,
            height=280,
        ),
    ]
    return '<div class="grid2">' + "".join(f"<div>{c}</div>" for c in charts) + "</div>"


def stages_section(report: Summary) -> str:
    """Per-stage table, with latency and accuracy charts when there are several stages."""
    if not report.stages:
        return section("stages", "Load stages", empty("The run had no separate load stages."))
    rows: list[list[str | None]] = []
    open_loop = any(s.offered_rate_per_s is not None for s in report.stages)
    for s in report.stages:
        lat = s.latency.e2e
        rows.append(
            [
                str(s.index),
                e(s.name),
                "" if s.users is None else f"{s.users:,}",
                f"{e(fmt.seconds(s.start_s))} – {e(fmt.seconds(s.end_s))}",
                f"{s.requests:,}",
                e(fmt.rate(s.offered_rate_per_s)) if open_loop else None,
                e(fmt.rate(s.throughput_per_s)),
                e(fmt.percent(s.error_rate, 2)),
                e(fmt.percent(s.accuracy, 2)),
                *(
                    e(fmt.ms(getattr(lat, a) if lat else None))
                    for a in (percentile(p).key for p in ("p50", "p95", "p99"))
                ),
            ]
        )
    header: list[str | None] = [
        "#",
        "Stage",
        "Users",
        "Window",
        "Requests",
        "Offered" if open_loop else None,
        "Achieved" if open_loop else "Throughput",
        "Error rate",
        "Accuracy",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    ]
    numeric = (2, 4, 5, 6, 7, 8, 9, 10, 11) if open_loop else (2, 4, 5, 6, 7, 8, 9, 10)
    header_cells = [h for h in header if h is not None]
    body = table(header_cells, [[c for c in r if c is not None] for r in rows], numeric)
    if len(report.stages) > 1:
        body += _stage_charts(report)
    return section("stages", "Load stages", body)
