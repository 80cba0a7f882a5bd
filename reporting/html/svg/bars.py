"""Bar charts: one bar split by share, and grouped horizontal bars on a 0 … 1 axis."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stagecheck.reporting.html.svg.marks import FONT, GRID, INK, esc, legend, svg_open, tick_label

__all__ = ["stacked_bar", "bar_groups"]


def stacked_bar(
    parts: Sequence[tuple[str, float, str]], *, title: str, width: int = 680, height: int = 28
) -> str:
    """One horizontal bar split by share; ``parts`` are (name, amount, colour)."""
    total = sum(max(amount, 0.0) for _, amount, _ in parts)
    out = svg_open("bar", width, height, title, aspect="none")
    if total <= 0:
        out.append(f'<rect x="0" y="0" width="{width}" height="{height}" rx="6" fill="{GRID}"/>')
    else:
        x = 0.0
        for name, amount, color in parts:
            if amount <= 0:
                continue
            w = amount / total * width
            share = amount / total * 100
            out.append(
                f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{esc(color)}">'
                f"<title>{esc(name)}: {amount:,.0f} ({share:.1f}%)</title></rect>"
            )
            x += w
    out.append("</svg>")
    return "\n".join(out)


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
    out = svg_open("chart", width, height, title, series=len(names))
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        gx = left + t * plot_w
        out.append(
            f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{height - 22}" stroke="{GRID}"/>'
            + tick_label(f"{gx:.1f}", f"{height - 6}", f"{t:g}", anchor="middle")
        )
    for g, (label, values) in enumerate(groups):
        y0 = top + g * row_h + gap / 2
        short = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        out.append(
            f'<text class="group" x="{left - 8}" y="{y0 + row_h / 2:.1f}" text-anchor="end" '
            f'fill="#24292f" style="{FONT}"><title>{esc(label)}</title>{esc(short)}</text>'
        )
        for b, (name, color) in enumerate(zip(names, colors, strict=True)):
            value = values[b] if b < len(values) else None
            yb = y0 + b * bar_h
            text = "n/a" if value is None else value_format(value)
            tip = f"{label} · {name}: {text}"
            w = 0.0 if value is None else max(0.0, min(value, 1.0)) * plot_w
            out.append(
                f'<rect class="gbar" x="{left}" y="{yb:.1f}" width="{w:.1f}" '
                f'height="{bar_h - 1}" fill="{esc(color)}"><title>{esc(tip)}</title></rect>'
            )
            if b == len(names) - 1:
                out.append(
                    f'<text x="{left + w + 4:.1f}" y="{yb + bar_h - 1:.1f}" fill="{INK}" '
                    f'style="{FONT};font-size:11px">{esc(text)}</text>'
                )
    out.extend(legend([(n, c, "", True) for n, c in zip(names, colors, strict=True)], left))
    out.append("</svg>")
    return "\n".join(out)
