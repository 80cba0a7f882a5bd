"""Small inline-SVG charts for report.html: no script, no external resource, text escaped.

Charts are drawn in a fixed ``viewBox`` and scale with the page through CSS (``width: 100%``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "nice_ticks", "line_chart", "stacked_bar"]

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
