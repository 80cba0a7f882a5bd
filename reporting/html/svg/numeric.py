"""Charts with a numeric x axis: time series, stacked columns, the nines axis.

Several of them share one x axis (same margins, same range) so they line up when stacked on a
page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stagecheck.reporting.html.svg.axes import Axis
from stagecheck.reporting.html.svg.marks import (
    FONT,
    INK,
    dot,
    esc,
    grid_row,
    legend,
    polyline,
    svg_open,
    tick_label,
    y_axis_label,
)

__all__ = ["Line", "Layer", "Columns", "Marker", "plot"]

_LEFT, _RIGHT, _TOP = 72, 24, 30


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


@dataclass(frozen=True)
class _Frame:
    """The plot area and where data units land in it; values outside an axis are clamped."""

    x: Axis
    y: Axis
    width: int
    height: int

    @property
    def bottom(self) -> int:
        return 46 if self.x.label else 28

    @property
    def plot_w(self) -> int:
        return self.width - _LEFT - _RIGHT

    @property
    def plot_h(self) -> int:
        return self.height - _TOP - self.bottom

    def px(self, v: float) -> float:
        x, span = self.x, (self.x.hi - self.x.lo) or 1.0
        return _LEFT + (min(max(v, x.lo), x.hi) - x.lo) / span * self.plot_w

    def py(self, v: float) -> float:
        y, span = self.y, (self.y.hi - self.y.lo) or 1.0
        return _TOP + self.plot_h - (min(max(v, y.lo), y.hi) - y.lo) / span * self.plot_h


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
    frame = _Frame(x, y, width, height)
    series = len(lines) + (len(columns.layers) if columns else 0)
    out = svg_open(css_class, width, height, title, series=series)
    out.extend(_axes(frame))
    if columns is not None:
        out.extend(_columns(columns, frame))
    out.extend(_markers(markers, frame))
    for line in lines:
        out.extend(_line(line, frame))
    entries = [(c.name, c.color, "", True) for c in columns.layers] if columns else []
    entries += [(s.name, s.color, s.dash, False) for s in lines]
    out.extend(legend(entries, _LEFT))
    out.append("</svg>")
    return "\n".join(out)


def _axes(frame: _Frame) -> list[str]:
    """Grid lines with the y ticks, the x ticks and both axis labels."""
    x, y = frame.x, frame.y
    out = [
        "".join(grid_row(_LEFT, frame.width - _RIGHT, frame.py(value), text, css_class="ytick"))
        for value, text in y.ticks
    ]
    tick_y = f"{frame.height - frame.bottom + 18}"
    for value, text in x.ticks:
        out.append(tick_label(f"{frame.px(value):.1f}", tick_y, text, anchor="middle",
                              css_class="xtick"))  # fmt: skip
    if x.label:
        out.append(tick_label(f"{_LEFT + frame.plot_w / 2:.1f}", f"{frame.height - 8}", x.label,
                              anchor="middle"))  # fmt: skip
    if y.label:
        out.append(y_axis_label(16, _TOP + frame.plot_h / 2, y.label))
    return out


def _markers(markers: Sequence[Marker], frame: _Frame) -> list[str]:
    out = []
    for m in markers:
        mx = frame.px(m.x)
        out.append(
            f'<line class="marker" x1="{mx:.1f}" y1="{_TOP}" x2="{mx:.1f}" '
            f'y2="{_TOP + frame.plot_h}" stroke="{INK}" stroke-width="1" stroke-dasharray="3 3"/>'
        )
        if m.label:
            out.append(
                f'<text x="{mx + 4:.1f}" y="{_TOP + 12}" fill="{INK}" '
                f'style="{FONT};font-size:11px">{esc(m.label)}</text>'
            )
    return out


def _line(line: Line, frame: _Frame) -> list[str]:
    """The line's runs between gaps, then a dot with a tooltip at every point."""
    runs: list[list[tuple[float, float]]] = [[]]
    for vx, vy in line.points:
        if vy is None:
            runs.append([])
        else:
            runs[-1].append((vx, vy))
    px, py = frame.px, frame.py
    out = [
        polyline([(px(a), py(b)) for a, b in run], line.color, css_class="series", dash=line.dash)
        for run in runs
        if len(run) > 1
    ]
    dots = sum(len(run) for run in runs)
    radius = 3.5 if dots <= 30 else 1.8
    for run in runs:
        for a, b in run:
            tip = f"{line.name} at {frame.x.value_format(a)}: {frame.y.value_format(b)}"
            out.append(dot(px(a), py(b), radius, line.color, tip))
    return out


def _columns(columns: Columns, frame: _Frame) -> list[str]:
    out = []
    for i, (x0, x1) in enumerate(columns.spans):
        left, right = frame.px(x0), frame.px(x1)
        w = max(right - left - 1, 0.5)  # a hairline of white between columns
        level = frame.y.lo
        tip = columns.tips[i] if i < len(columns.tips) else ""
        out.append(f"<g>{f'<title>{esc(tip)}</title>' if tip else ''}")
        for layer in columns.layers:
            value = layer.values[i] if i < len(layer.values) else 0.0
            if value <= 0:
                continue
            y_top, y_bottom = frame.py(level + value), frame.py(level)
            out.append(
                f'<rect x="{left:.1f}" y="{y_top:.1f}" width="{w:.1f}" '
                f'height="{max(y_bottom - y_top, 0.0):.1f}" fill="{esc(layer.color)}"/>'
            )
            level += value
        out.append("</g>")
    return out
