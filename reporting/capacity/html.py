"""capacity.html: the curve of a capacity search, self-contained (inline SVG, no script, no
network). Latency percentiles, accuracy and error rate, achieved rate and goodput against the
offered rate, with the knee (the capacity and the first failing rate) marked; then every
step's own figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stagecheck.capacity.schema import CapacityResult, Step, StepFigures
from stagecheck.reporting import fmt
from stagecheck.reporting.capacity.view import STEP_HEADER, answer_lines, step_rows
from stagecheck.reporting.html.parts import e, empty, section, table
from stagecheck.reporting.html.style import CSS
from stagecheck.reporting.html.svg import Axis, Line, Marker, linear_axis, plot

__all__ = ["render_capacity_html", "curve_charts"]

_EXTRA_CSS = """
tr.step-failed td { background:#ffebe9; }
tr.step-saturated td, tr.step-down td { background:#fff8c5; }
"""
_BANNER = {"passed": "passed", "failed": "failed", "not_carried_out": "invalid"}
_COLOURS = {"p50": "#0969da", "p99": "#cf222e", "accuracy": "#1a7f37", "errors": "#bf3989",
            "achieved": "#57606a", "goodput": "#8250df", "offered": "#8c959f"}  # fmt: skip


def _measured(result: CapacityResult) -> list[tuple[Step, StepFigures]]:
    pairs = [(s, s.figures) for s in result.steps if s.figures is not None and not s.superseded]
    return sorted(pairs, key=lambda p: p[0].offered_rate)


def _markers(result: CapacityResult) -> list[Marker]:
    """The knee: the capacity (labelled with the bracket) and the first failing rate."""
    cap, fail = result.capacity, result.first_failing_rate
    if cap is not None and fail is not None:
        return [Marker(cap, f"knee: {cap:g}/s passes, {fail:g}/s fails"), Marker(fail)]
    if cap is not None:
        return [Marker(cap, f"capacity {cap:g}/s" + (" (--max-rate)" if result.at_max else ""))]
    return [Marker(fail, f"fails from {fail:g}/s")] if fail is not None else []


def _series(
    pairs: Sequence[tuple[Step, StepFigures]], value: Callable[[StepFigures], float | None]
) -> list[tuple[float, float | None]]:
    return [(s.offered_rate, value(f)) for s, f in pairs]


def _top(values: Sequence[float | None], floor: float) -> float:
    present = [v for v in values if v is not None]
    return max([floor, *present])


def curve_charts(result: CapacityResult) -> list[str]:
    """The three SVG charts of the curve (empty when no step measured anything)."""
    pairs = _measured(result)
    if not pairs:
        return []
    top_rate = max(s.offered_rate for s, _ in pairs)
    # room on the right for the knee marker's label
    x = linear_axis(0, top_rate * 1.3, lambda v: f"{v:g}/s", label="offered rate (requests/s)")
    markers = _markers(result)
    bound = next((f.latency_bound_s for _, f in pairs if f.latency_bound_s is not None), None)
    p50 = _series(pairs, lambda f: f.latency_p50_s)
    p99 = _series(pairs, lambda f: f.latency_p99_s)
    lat_top = _top([v for _, v in p50 + p99] + [bound], 0.001) * 1000
    lines = [
        Line("p50", _COLOURS["p50"], [(a, None if b is None else b * 1000) for a, b in p50]),
        Line("p99", _COLOURS["p99"], [(a, None if b is None else b * 1000) for a, b in p99]),
    ]
    if bound is not None:
        # the SLO as written: it may name another percentile than the two drawn
        slo = next((t for t in result.slos if t.startswith(("latency.", "ttft.", "itl."))),
                   f"SLO bound {bound * 1000:g}ms")  # fmt: skip
        lines.append(Line(f"SLO {slo}" if not slo.startswith("SLO") else slo, _COLOURS["offered"],
                          [(0, bound * 1000), (top_rate, bound * 1000)], dash="6 4"))  # fmt: skip
    latency = plot(
        title="Latency against offered rate",
        x=x,
        y=linear_axis(
            0, lat_top, lambda v: f"{v:g}ms", label="latency", value_format=lambda v: f"{v:.1f}ms"
        ),  # fmt: skip
        lines=lines,
        markers=markers,
    )
    pct = Axis(0, 1, [(t / 4, f"{t * 25}%") for t in range(5)], "share", lambda v: f"{v:.1%}")
    quality = plot(
        title="Accuracy and error rate against offered rate",
        x=x,
        y=pct,
        lines=[Line("accuracy", _COLOURS["accuracy"], _series(pairs, lambda f: f.accuracy)),
               Line("error rate", _COLOURS["errors"], _series(pairs, lambda f: f.error_rate))],
        markers=markers,
    )  # fmt: skip
    achieved = _series(pairs, lambda f: f.achieved_rate)
    goodput = _series(pairs, lambda f: f.goodput)
    rates = plot(
        title="Achieved rate and goodput against offered rate",
        x=x,
        y=linear_axis(0, _top([v for _, v in achieved] + [top_rate], 1.0), lambda v: f"{v:g}/s",
                      label="requests/s", value_format=lambda v: f"{v:.2f}/s"),  # fmt: skip
        lines=[Line("offered", _COLOURS["offered"], [(0, 0), (top_rate, top_rate)], dash="6 4"),
               Line("achieved", _COLOURS["achieved"], achieved),
               Line("goodput (correct and in time)", _COLOURS["goodput"], goodput)],
        markers=markers,
    )  # fmt: skip
    return [latency, quality, rates]


def _steps_table(result: CapacityResult) -> str:
    numeric = range(2, 10)
    head = "".join(f'<th class="num">{e(h)}</th>' if i in numeric else f"<th>{e(h)}</th>"
                   for i, h in enumerate(STEP_HEADER))  # fmt: skip
    body = []
    for step, row in zip(result.steps, step_rows(result), strict=True):
        cells = "".join(f'<td class="num">{e(c)}</td>' if i in numeric else f"<td>{e(c)}</td>"
                        for i, c in enumerate(row))  # fmt: skip
        body.append(f'<tr class="step-{step.status}">{cells}</tr>')
    return (f'<div class="scroll"><table class="steps"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")  # fmt: skip


def _slo_table(result: CapacityResult) -> str:
    rows = []
    for step in result.steps:
        for c in step.slos:
            observed = fmt.quantity(c.observed, c.unit)
            rows.append([str(step.index), f"{step.offered_rate:g}/s", e(c.expression), e(c.kind),
                         e(observed), "✓" if c.passed else "✗"])  # fmt: skip
    return table(["#", "offered", "SLO", "kind", "observed", ""], rows, numeric=(0, 1, 4))


def render_capacity_html(result: CapacityResult) -> str:
    """The whole page: the answer, the curve, the steps' figures and their SLO checks."""
    head, *rest = answer_lines(result)
    items = "".join(f"<li>{e(line)}</li>" for line in rest)
    banner = (f'<section class="banner {_BANNER[result.verdict]}"><h1>'
              f"{e(head.split(':', 1)[0])}</h1><p class=\"sub\">{e(result.reason)}</p>"
              f"<ul>{items}</ul></section>")  # fmt: skip
    charts = curve_charts(result)
    curve = "".join(charts) if charts else empty("no step measured any request")
    parts = [
        banner,
        section("curve", "The curve", curve, "dashed verticals: the knee"),
        section("steps", "Steps", _steps_table(result),
                "in the order they ran; * lengthened to reach the minimum request count"),
        section("slos", "SLO checks per step", _slo_table(result)),
    ]  # fmt: skip
    title = f"stagecheck capacity — {result.scenario}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>"
        f'<div class="top"><b>stagecheck capacity</b><span>{e(result.scenario)} · '
        f"{e(result.endpoint)} · {e(result.started_at)}</span></div>"
        f"<main>{''.join(parts)}</main></body></html>\n"
    )
