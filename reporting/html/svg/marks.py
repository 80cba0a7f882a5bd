"""The marks every chart is drawn with: the ``<svg>`` frame, grid lines, tick and axis labels,
lines, dots and the legend. One writer per mark, so the charts cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = [
    "FONT",
    "GRID",
    "INK",
    "esc",
    "svg_open",
    "grid_row",
    "tick_label",
    "y_axis_label",
    "polyline",
    "dot",
    "legend",
]

FONT = "font-family:inherit;font-size:12px"
GRID = "#d8dee4"
INK = "#57606a"


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def _class(css_class: str) -> str:
    return f' class="{css_class}"' if css_class else ""


def svg_open(
    css_class: str,
    width: int,
    height: int,
    title: str,
    *,
    series: int | None = None,
    aspect: str = "xMidYMid meet",
) -> list[str]:
    """The ``<svg>`` start tag and its ``<title>`` (the chart's accessible name)."""
    counted = f' data-series="{series}"' if series is not None else ""
    return [
        f'<svg class="{esc(css_class)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(title)}"{counted} preserveAspectRatio="{aspect}">',
        f"<title>{esc(title)}</title>",
    ]


def tick_label(x: str, y: str, text: str, *, anchor: str, css_class: str = "") -> str:
    """A tick's text; ``x`` and ``y`` come formatted (each chart rounds its own way)."""
    return (
        f'<text{_class(css_class)} x="{x}" y="{y}" text-anchor="{anchor}" fill="{INK}" '
        f'style="{FONT}">{esc(text)}</text>'
    )


def grid_row(left: int, right: int, y: float, text: str, *, css_class: str = "") -> list[str]:
    """A horizontal grid line at ``y`` and its tick text left of the plot area."""
    return [
        f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
        f'stroke="{GRID}" stroke-width="1"/>',
        tick_label(f"{left - 8}", f"{y + 4:.1f}", text, anchor="end", css_class=css_class),
    ]


def y_axis_label(x: int, mid: float, text: str) -> str:
    """The y axis' name, turned to read upwards beside the axis."""
    return (
        f'<text x="{x}" y="{mid:.1f}" text-anchor="middle" fill="{INK}" style="{FONT}" '
        f'transform="rotate(-90 {x} {mid:.1f})">{esc(text)}</text>'
    )


def polyline(
    points: Sequence[tuple[float, float]], color: str, *, css_class: str = "", dash: str = ""
) -> str:
    """A line through points already in pixels."""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dashed = f' stroke-dasharray="{esc(dash)}"' if dash else ""
    return (
        f'<polyline{_class(css_class)} points="{path}" fill="none" stroke="{esc(color)}" '
        f'stroke-width="2.5" stroke-linejoin="round"{dashed}/>'
    )


def dot(x: float, y: float, radius: float, color: str, tip: str) -> str:
    """A hollow dot with a tooltip."""
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="#fff" stroke="{esc(color)}" '
        f'stroke-width="2"><title>{esc(tip)}</title></circle>'
    )


def legend(entries: Sequence[tuple[str, str, str, bool]], x0: float) -> list[str]:
    """Legend items (name, colour, dash, filled) in a row along the top of a chart."""
    out, x = [], x0
    for name, color, dash, filled in entries:
        if filled:
            out.append(
                f'<rect x="{x:.0f}" y="7" width="12" height="12" rx="2" fill="{esc(color)}"/>'
            )
        else:
            dashed = f' stroke-dasharray="{esc(dash)}"' if dash else ""
            out.append(
                f'<line x1="{x:.0f}" y1="13" x2="{x + 22:.0f}" y2="13" stroke="{esc(color)}" '
                f'stroke-width="3"{dashed}/>'
            )
        width = 12 if filled else 22
        out.append(
            f'<text x="{x + width + 6:.0f}" y="17" fill="#24292f" style="{FONT}">{esc(name)}</text>'
        )
        x += width + 22 + 7 * len(name)
    return out
