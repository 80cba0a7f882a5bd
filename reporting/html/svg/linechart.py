"""A line chart over labelled x positions with a y axis from 0, each point's value written
beside it on request (the report's latency by percentile and its stage charts).

It is not drawn by :func:`~.numeric.plot`: its axis starts at 0 with padded ends, its points
can carry value labels and its legend shows swatches, so it shares the marks, not the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stagecheck.reporting.html.svg.axes import nice_ticks
from stagecheck.reporting.html.svg.marks import (
    FONT,
    dot,
    esc,
    grid_row,
    polyline,
    svg_open,
    tick_label,
    y_axis_label,
)

__all__ = ["Series", "line_chart"]

_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 40, 34, 40


@dataclass(frozen=True)
class Series:
    """One line of a chart; ``points`` are (x, y) in data units."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]
    #: Write each point's value next to it.
    labelled: bool = False


@dataclass(frozen=True)
class _Frame:
    """Where data units land in pixels."""

    width: int
    height: int
    x_min: float
    x_max: float
    y_max: float

    @property
    def plot_h(self) -> int:
        return self.height - _TOP - _BOTTOM

    def px(self, x: float) -> float:
        plot_w = self.width - _LEFT - _RIGHT
        return _LEFT + (x - self.x_min) / (self.x_max - self.x_min) * plot_w

    def py(self, y: float) -> float:
        return _TOP + self.plot_h - (y / self.y_max) * self.plot_h


def _x_range(series: Sequence[Series], x_ticks: Sequence[tuple[float, str]]) -> tuple[float, float]:
    xs = [x for x, _ in x_ticks] + [x for s in series for x, _ in s.points]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    # Keep end points (and their value labels) clear of the axis and the right edge.
    pad = (x_max - x_min) * 0.04
    return x_min - pad, x_max + pad


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
    ys = [y for s in series for _, y in s.points]
    ticks = nice_ticks(max(ys) if ys else 0.0)
    frame = _Frame(width, height, *_x_range(series, x_ticks), ticks[-1])
    out = svg_open("chart", width, height, title)
    for t in ticks:
        out.extend(grid_row(_LEFT, width - _RIGHT, frame.py(t), y_format(t)))
    for x, label in x_ticks:
        out.append(tick_label(f"{frame.px(x):.1f}", f"{height - _BOTTOM + 18}", label,
                              anchor="middle"))  # fmt: skip
    if y_label:
        out.append(y_axis_label(14, _TOP + frame.plot_h / 2, y_label))
    for s in series:
        out.extend(_series(s, frame, value_format or y_format))
    out.extend(_legend(series))
    out.append("</svg>")
    return "\n".join(out)


def _series(s: Series, frame: _Frame, point_text: Callable[[float], str]) -> list[str]:
    """A series' line, its dots and, when labelled, each point's value above its dot."""
    pts = [(frame.px(x), frame.py(y)) for x, y in s.points]
    out = [polyline(pts, s.color)] if len(pts) > 1 else []
    for (x, y), (_, value) in zip(pts, s.points, strict=True):
        out.append(dot(x, y, 4, s.color, f"{s.name}: {point_text(value)}"))
        if s.labelled:
            out.append(
                f'<text x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle" '
                f'fill="{esc(s.color)}" style="{FONT};font-weight:600">'
                f"{esc(point_text(value))}</text>"
            )
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    """A swatch and the name of each series, in a row above the plot."""
    out, lx = [], _LEFT
    for s in series:
        out.append(
            f'<rect x="{lx}" y="10" width="14" height="4" rx="2" fill="{esc(s.color)}"/>'
            f'<text x="{lx + 20}" y="16" fill="#24292f" style="{FONT}">{esc(s.name)}</text>'
        )
        lx += 34 + 7 * len(s.name)
    return out
