"""Text and Markdown views of a :class:`~.compare.Comparison` (the data lives in compare.py)."""

from __future__ import annotations

from . import fmt
from .compare import Comparison, ComparisonRow
from .markdown import md_cell, md_table

__all__ = ["render_comparison", "render_comparison_markdown", "verdict_line"]


def _value(row: ComparisonRow, value: float | None) -> str:
    if value is None:
        return fmt.MISSING
    if row.kind == "quality":
        return fmt.fraction(value)
    if row.kind == "error_rate":
        return fmt.percent(value, 2)
    if row.kind == "latency":
        return f"{fmt.ms(value)}ms"
    return fmt.rate(value)


def _delta(row: ComparisonRow) -> str:
    d = row.delta
    if d is None:
        return ""
    if row.status == "same":
        return "±0"
    if row.kind == "quality":
        return f"{d:+.4f}"
    if row.kind == "error_rate":
        return f"{d * 100:+.2f}pp"
    rel = "" if row.relative is None else f" ({row.relative * 100:+.1f}%)"
    if row.kind == "latency":
        return f"{d / 1000:+.2f}ms{rel}"
    return f"{d:+.2f}/s{rel}"


def _status(row: ComparisonRow) -> str:
    return "REGRESSION" if row.regression else row.status


def verdict_line(c: Comparison) -> str:
    """``no regression`` or ``N regressions: a, b, c``."""
    regressions = c.regressions
    if not regressions:
        return "no regression"
    noun = "regression" if len(regressions) == 1 else "regressions"
    return f"{len(regressions)} {noun}: " + ", ".join(r.metric for r in regressions)


def _tolerance_line(c: Comparison) -> str:
    t = c.tolerances
    return (
        f"tolerances: accuracy/F1 drop {t.quality:g} · error rate rise {t.error_rate * 100:g}pp"
        f" · latency rise {t.latency * 100:g}% · throughput drop {t.throughput * 100:g}%"
    )


def render_comparison(c: Comparison) -> str:
    """An aligned plain-text table, warnings first, the verdict line last."""
    lines = [f"compare  base {c.base_id}  →  new {c.new_id}", _tolerance_line(c)]
    lines += [f"warning: {w}" for w in c.warnings]
    lines += [f"note: {n}" for n in c.notes]
    table = [("metric", "base", "new", "delta", "status")]
    table += [
        (
            fmt.truncate(row.metric, 48),
            _value(row, row.base),
            _value(row, row.new),
            _delta(row),
            _status(row),
        )
        for row in c.rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    lines.append("")
    for r in table:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in (1, 2, 3)]
        lines.append("  ".join(cells) + "  " + r[4])
    lines += ["", verdict_line(c)]
    return "\n".join(lines) + "\n"


def render_comparison_markdown(c: Comparison) -> str:
    """The comparison as GitHub-flavoured Markdown (for a CI job summary)."""
    icon = "❌" if c.regressed else "✅"
    lines = [
        f"## {icon} stagecheck compare — {md_cell(verdict_line(c))}",
        "",
        f"base {md_cell(c.base_id)} → new {md_cell(c.new_id)} · {_tolerance_line(c)}",
    ]
    if c.warnings:
        lines.append("")
        lines += [f"> ⚠️ {md_cell(w)}  " for w in c.warnings]
    if c.notes:
        lines.append("")
        lines += [f"> {md_cell(n)}  " for n in c.notes]
    rows = [
        [
            md_cell(row.metric),
            _value(row, row.base),
            _value(row, row.new),
            _delta(row),
            f"**{_status(row)}**" if row.regression else _status(row),
        ]
        for row in c.rows
    ]
    lines += ["", *md_table(["Metric", "Base", "New", "Delta", "Status"], rows, "lrrrl")]
    return "\n".join(lines) + "\n"
