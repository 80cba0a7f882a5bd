"""Small inline-SVG charts for report.html: no script, no external resource, text escaped.

Charts are drawn in a fixed ``viewBox`` and scale with the page through CSS (``width: 100%``).
Every chart is ``role="img"`` with a ``<title>`` (its accessible name); lines also differ by dash
pattern and fills by lightness, so a chart still reads printed in grey.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "Series",
    "nice_ticks",
    "line_chart",
    "stacked_bar",
    "Axis",
    "Line",
    "Layer",
    "Columns",
    "Marker",
    "nice_range",
    "linear_axis",
    "time_ticks",
    "clock",
    "nines",
    "nines_label",
    "plot",
    "bar_groups",
]

_FONT = "font-family:inherit;font-size:12px"
_GRID = "#d8dee4"
_INK = "#57606a"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


@dataclass(frozen=True)
class Series:
    """One line of a chart; ``points`` are (x, y) in data units."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]
    #: Write each point's value next to it.
    labelled: bool = False


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 × 10^k) up to at least ``top``."""
    if not top > 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12 * top:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def line_chart(
    series: Sequence[Series],
    *,
    x_ticks: Sequence[tuple[float, str]],
    y_format: Callable[[float], str],
    title: str,
    y_label: str = "",
    width: int = 1000,
    height: int = 300,
    value_format: Callable[[float], str] | None = None,
) -> str:
    """A line chart with dots, a legend, y grid lines and labelled x positions.

    ``y_format`` writes the axis ticks; ``value_format`` (default ``y_format``) writes each
    point's label and tooltip, so a chart can show a value exactly as the table beside it does.
    """
    point_text = value_format or y_format
    left, right, top, bottom = 64, 40, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for x, _ in x_ticks] + [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    # Keep end points (and their value labels) clear of the axis and the right edge.
    pad = (x_max - x_min) * 0.04
    x_min, x_max = x_min - pad, x_max + pad
    ticks = nice_ticks(max(ys) if ys else 0.0)
    y_max = ticks[-1]

    def px(x: float) -> float:
        return left + (x - x_min) / (x_max - x_min) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y / y_max) * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{_e(title)}</title>",
    ]
    for t in ticks:
        y = py(t)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{_INK}" '
            f'style="{_FONT}">{_e(y_format(t))}</text>'
        )
    for x, label in x_ticks:
        out.append(
            f'<text x="{px(x):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
            f'fill="{_INK}" style="{_FONT}">{_e(label)}</text>'
        )
    if y_label:
        out.append(
            f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="{_INK}" '
            f'style="{_FONT}" transform="rotate(-90 14 {top + plot_h / 2:.1f})">'
            f"{_e(y_label)}</text>"
        )
    for s in series:
        pts = [(px(x), py(y)) for x, y in s.points]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{_e(s.color)}" '
                f'stroke-width="2.5" stroke-linejoin="round"/>'
            )
        for (x, y), (_, value) in zip(pts, s.points, strict=True):
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="{_e(s.color)}" '
                f'stroke-width="2"><title>{_e(s.name)}: {_e(point_text(value))}</title></circle>'
            )
            if s.labelled:
                out.append(
                    f'<text x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle" '
                    f'fill="{_e(s.color)}" style="{_FONT};font-weight:600">'
                    f"{_e(point_text(value))}</text>"
                )
    lx = left
    for s in series:
        out.append(
            f'<rect x="{lx}" y="10" width="14" height="4" rx="2" fill="{_e(s.color)}"/>'
            f'<text x="{lx + 20}" y="16" fill="#24292f" style="{_FONT}">{_e(s.name)}</text>'
        )
        lx += 34 + 7 * len(s.name)
    out.append("</svg>")
    return "\n".join(out)


def stacked_bar(
    parts: Sequence[tuple[str, float, str]], *, title: str, width: int = 680, height: int = 28
) -> str:
    """One horizontal bar split by share; ``parts`` are (name, amount, colour)."""
    total = sum(max(amount, 0.0) for _, amount, _ in parts)
    out = [
        f'<svg class="bar" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
        f'preserveAspectRatio="none">',
        f"<title>{_e(title)}</title>",
    ]
    if total <= 0:
        out.append(f'<rect x="0" y="0" width="{width}" height="{height}" rx="6" fill="{_GRID}"/>')
    else:
        x = 0.0
        for name, amount, color in parts:
            if amount <= 0:
                continue
            w = amount / total * width
            share = amount / total * 100
            out.append(
                f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{_e(color)}">'
                f"<title>{_e(name)}: {amount:,.0f} ({share:.1f}%)</title></rect>"
            )
            x += w
    out.append("</svg>")
    return "\n".join(out)


# Charts with a numeric x axis: time series, stacked columns, the nines axis. Several of them
# share one x axis (same margins, same range) so they line up when stacked on a page.

_LEFT, _RIGHT, _TOP = 72, 24, 30


def _nice_step(raw: float) -> float:
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def nice_range(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2, 2.5, 5 × 10^k steps) from at or below ``lo`` to at or above ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    step = _nice_step((hi - lo) / count)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


@dataclass(frozen=True)
class Axis:
    """One axis: its range in data units, its ticks and how values read (ticks, tooltips)."""

    lo: float
    hi: float
    ticks: Sequence[tuple[float, str]]
    label: str = ""
    #: How a point's value reads in its tooltip (the ticks carry their own text).
    value_format: Callable[[float], str] = str


def linear_axis(
    lo: float,
    hi: float,
    tick_format: Callable[[float], str],
    *,
    label: str = "",
    value_format: Callable[[float], str] | None = None,
    count: int = 5,
) -> Axis:
    """An axis over round ticks covering ``lo`` … ``hi``."""
    ticks = nice_range(lo, hi, count)
    return Axis(
        ticks[0],
        ticks[-1],
        [(t, tick_format(t)) for t in ticks],
        label,
        value_format or tick_format,
    )


def clock(seconds: float) -> str:
    """Seconds since the start as people read a clock: ``45s``, ``2m``, ``2m30s``, ``1h05m``."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m" + (f"{rest:02d}s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" + (f"{minutes:02d}m" if minutes else "")


_CLOCK_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800)


def time_ticks(end_s: float, count: int = 8) -> list[tuple[float, str]]:
    """Ticks from 0 to at least ``end_s`` seconds at clock-friendly steps (10 s, 1 min, 5 min…)."""
    if not end_s > 0 or not math.isfinite(end_s):
        return [(0.0, "0s"), (1.0, "1s")]
    raw = end_s / count
    if raw < 1:
        step = _nice_step(raw)
    else:
        step = float(next((s for s in _CLOCK_STEPS if s >= raw), _nice_step(raw)))
    last = math.ceil(end_s / step - 1e-9)
    return [(round(k * step, 12), clock(round(k * step, 12))) for k in range(last + 1)]


def nines(percentile: float) -> float:
    """A percentile (0 … 100) on the "nines" axis: -log10(1 - p), so 90 → 1, 99.9 → 3."""
    if percentile >= 100:
        return math.inf
    return -math.log10(1 - max(percentile, 0.0) / 100)


def nines_label(k: int) -> str:
    """The percentile at ``k`` nines: 0 → ``0%``, 1 → ``90%``, 3 → ``99.9%``."""
    if k <= 0:
        return "0%"
    if k == 1:
        return "90%"
    return "99" + ("." + "9" * (k - 2) if k > 2 else "") + "%"


@dataclass(frozen=True)
class Line:
    """A line of :func:`plot`; a ``None`` value leaves a gap (no data in that bin)."""

    name: str
    color: str
    points: Sequence[tuple[float, float | None]]
    #: SVG stroke-dasharray, e.g. "6 4"; empty for a solid line.
    dash: str = ""


@dataclass(frozen=True)
class Layer:
    """One part of stacked columns: its value in each column."""

    name: str
    color: str
    values: Sequence[float]


@dataclass(frozen=True)
class Columns:
    """Stacked columns: column ``i`` spans ``spans[i]`` on x and stacks every layer's value."""

    spans: Sequence[tuple[float, float]]
    layers: Sequence[Layer]
    #: A tooltip per column (counts are usually more telling than the drawn shares).
    tips: Sequence[str] = ()


@dataclass(frozen=True)
class Marker:
    """A dashed vertical line at ``x`` (a stage boundary), labelled when ``label`` is set."""

    x: float
    label: str = ""


def _legend(entries: Sequence[tuple[str, str, str, bool]], x0: float) -> list[str]:
    """Legend items (name, colour, dash, filled) in a row along the top of a chart."""
    out, x = [], x0
    for name, color, dash, filled in entries:
        if filled:
            out.append(
                f'<rect x="{x:.0f}" y="7" width="12" height="12" rx="2" fill="{_e(color)}"/>'
            )
        else:
            dashed = f' stroke-dasharray="{_e(dash)}"' if dash else ""
            out.append(
                f'<line x1="{x:.0f}" y1="13" x2="{x + 22:.0f}" y2="13" stroke="{_e(color)}" '
                f'stroke-width="3"{dashed}/>'
            )
        width = 12 if filled else 22
        out.append(
            f'<text x="{x + width + 6:.0f}" y="17" fill="#24292f" style="{_FONT}">{_e(name)}</text>'
        )
        x += width + 22 + 7 * len(name)
    return out


def plot(
    *,
    title: str,
    x: Axis,
    y: Axis,
    lines: Sequence[Line] = (),
    columns: Columns | None = None,
    markers: Sequence[Marker] = (),
    width: int = 1000,
    height: int = 220,
    css_class: str = "chart",
) -> str:
    """A chart over numeric axes: stacked columns under lines, with dashed markers.

    Values outside an axis range are clamped to its edge. Lines draw a dot with a tooltip
    (``name at x: y``) at every point; columns carry their own tooltips.
    """
    bottom = 46 if x.label else 28
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - bottom
    x_span = (x.hi - x.lo) or 1.0
    y_span = (y.hi - y.lo) or 1.0

    def px(v: float) -> float:
        return _LEFT + (min(max(v, x.lo), x.hi) - x.lo) / x_span * plot_w

    def py(v: float) -> float:
        return _TOP + plot_h - (min(max(v, y.lo), y.hi) - y.lo) / y_span * plot_h

    series = len(lines) + (len(columns.layers) if columns else 0)
    out = [
        f'<svg class="{_e(css_class)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}" data-series="{series}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{_e(title)}</title>",
    ]
    for value, text in y.ticks:
        yy = py(value)
        out.append(
            f'<line x1="{_LEFT}" y1="{yy:.1f}" x2="{width - _RIGHT}" y2="{yy:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text class="ytick" x="{_LEFT - 8}" y="{yy + 4:.1f}" text-anchor="end" '
            f'fill="{_INK}" style="{_FONT}">{_e(text)}</text>'
        )
    for value, text in x.ticks:
        out.append(
            f'<text class="xtick" x="{px(value):.1f}" y="{height - bottom + 18}" '
            f'text-anchor="middle" fill="{_INK}" style="{_FONT}">{_e(text)}</text>'
        )
    if x.label:
        out.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
            f'fill="{_INK}" style="{_FONT}">{_e(x.label)}</text>'
        )
    if y.label:
        mid = _TOP + plot_h / 2
        out.append(
            f'<text x="16" y="{mid:.1f}" text-anchor="middle" fill="{_INK}" style="{_FONT}" '
            f'transform="rotate(-90 16 {mid:.1f})">{_e(y.label)}</text>'
        )
    if columns is not None:
        out.extend(_columns(columns, px, py, y.lo))
    for m in markers:
        mx = px(m.x)
        out.append(
            f'<line class="marker" x1="{mx:.1f}" y1="{_TOP}" x2="{mx:.1f}" y2="{_TOP + plot_h}" '
            f'stroke="{_INK}" stroke-width="1" stroke-dasharray="3 3"/>'
        )
        if m.label:
            out.append(
                f'<text x="{mx + 4:.1f}" y="{_TOP + 12}" fill="{_INK}" '
                f'style="{_FONT};font-size:11px">{_e(m.label)}</text>'
            )
    for line in lines:
        out.extend(_line(line, px, py, x, y))
    entries = [(c.name, c.color, "", True) for c in columns.layers] if columns else []
    entries += [(s.name, s.color, s.dash, False) for s in lines]
    out.extend(_legend(entries, _LEFT))
    out.append("</svg>")
    return "\n".join(out)


def _line(
    line: Line, px: Callable[[float], float], py: Callable[[float], float], x: Axis, y: Axis
) -> list[str]:
    out: list[str] = []
    runs: list[list[tuple[float, float]]] = [[]]
    for vx, vy in line.points:
        if vy is None:
            runs.append([])
        else:
            runs[-1].append((vx, vy))
    dashed = f' stroke-dasharray="{_e(line.dash)}"' if line.dash else ""
    for run in runs:
        if len(run) > 1:
            path = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in run)
            out.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{_e(line.color)}" '
                f'stroke-width="2.5" stroke-linejoin="round"{dashed}/>'
            )
    dots = sum(len(run) for run in runs)
    radius = 3.5 if dots <= 30 else 1.8
    for run in runs:
        for a, b in run:
            tip = f"{line.name} at {x.value_format(a)}: {y.value_format(b)}"
            out.append(
                f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="{radius}" fill="#fff" '
                f'stroke="{_e(line.color)}" stroke-width="2"><title>{_e(tip)}</title></circle>'
            )
    return out


def _columns(
    columns: Columns, px: Callable[[float], float], py: Callable[[float], float], base: float
) -> list[str]:
    out = []
    for i, (x0, x1) in enumerate(columns.spans):
        left, right = px(x0), px(x1)
        w = max(right - left - 1, 0.5)  # a hairline of white between columns
        level = base
        tip = columns.tips[i] if i < len(columns.tips) else ""
        out.append(f"<g>{f'<title>{_e(tip)}</title>' if tip else ''}")
        for layer in columns.layers:
            value = layer.values[i] if i < len(layer.values) else 0.0
            if value <= 0:
                continue
            y_top, y_bottom = py(level + value), py(level)
            out.append(
                f'<rect x="{left:.1f}" y="{y_top:.1f}" width="{w:.1f}" '
                f'height="{max(y_bottom - y_top, 0.0):.1f}" fill="{_e(layer.color)}"/>'
            )
            level += value
        out.append("</g>")
    return out


def bar_groups(
    groups: Sequence[tuple[str, Sequence[float | None]]],
    names: Sequence[str],
    colors: Sequence[str],
    *,
    title: str,
    value_format: Callable[[float], str],
    width: int = 1000,
    label_chars: int = 26,
) -> str:
    """Horizontal grouped bars on a 0 … 1 axis: one row per group, one bar per name.

    The last bar of each group has its value written beside it (e.g. F1); every bar carries a
    tooltip, and a group's full label is in its tooltip when it is cut.
    """
    bar_h, gap = 7, 8
    row_h = bar_h * len(names) + gap
    left, right, top = 12 + 7 * label_chars, 56, 30
    plot_w = width - left - right
    height = top + row_h * len(groups) + 26
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
        f'data-series="{len(names)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{_e(title)}</title>",
    ]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        gx = left + t * plot_w
        out.append(
            f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{height - 22}" stroke="{_GRID}"/>'
            f'<text x="{gx:.1f}" y="{height - 6}" text-anchor="middle" fill="{_INK}" '
            f'style="{_FONT}">{t:g}</text>'
        )
    for g, (label, values) in enumerate(groups):
        y0 = top + g * row_h + gap / 2
        short = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        out.append(
            f'<text class="group" x="{left - 8}" y="{y0 + row_h / 2:.1f}" text-anchor="end" '
            f'fill="#24292f" style="{_FONT}"><title>{_e(label)}</title>{_e(short)}</text>'
        )
        for b, (name, color) in enumerate(zip(names, colors, strict=True)):
            value = values[b] if b < len(values) else None
            yb = y0 + b * bar_h
            text = "n/a" if value is None else value_format(value)
            tip = f"{label} · {name}: {text}"
            w = 0.0 if value is None else max(0.0, min(value, 1.0)) * plot_w
            out.append(
                f'<rect class="gbar" x="{left}" y="{yb:.1f}" width="{w:.1f}" '
                f'height="{bar_h - 1}" fill="{_e(color)}"><title>{_e(tip)}</title></rect>'
            )
            if b == len(names) - 1:
                out.append(
                    f'<text x="{left + w + 4:.1f}" y="{yb + bar_h - 1:.1f}" fill="{_INK}" '
                    f'style="{_FONT};font-size:11px">{_e(text)}</text>'
                )
    out.extend(_legend([(n, c, "", True) for n, c in zip(names, colors, strict=True)], left))
    out.append("</svg>")
    return "\n".join(out)
