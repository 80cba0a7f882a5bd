"""Text and Markdown views of a :class:`~.compare.Comparison` (the data lives in compare.py)."""

from __future__ import annotations

from collections.abc import Sequence

from stagecheck.reporting import fmt
from stagecheck.reporting.compare.runs import Comparison, ComparisonRow, Flip
from stagecheck.reporting.markdown import md_cell, md_table

__all__ = [
    "render_comparison",
    "render_comparison_markdown",
    "verdict_line",
    "value_text",
    "delta_text",
    "p_text",
    "status_text",
    "flip_lines",
]

#: Flipped rows the console and Markdown show per direction (HTML shows every one kept).
SHOWN_FLIPS = 10
#: Breakdown rows the console shows (worst p first); Markdown and HTML show all.
SHOWN_BREAKDOWN = 30
#: Figures the verdict line names.
_VERDICT_NAMES = 6


def value_text(row: ComparisonRow, value: float | None) -> str:
    if value is None:
        return fmt.MISSING
    if row.kind == "quality":
        return fmt.fraction(value)
    if row.kind == "error_rate":
        return fmt.percent(value, 2)
    if row.kind == "latency":
        return f"{fmt.ms(value)}ms"
    return fmt.rate(value)


def interval_text(row: ComparisonRow, interval: tuple[float, float] | None) -> str:
    """``±0.033`` for a fraction, ``[4.90–5.12]`` (ms) for a latency percentile."""
    if interval is None:
        return ""
    lo, hi = interval
    if row.kind == "latency":
        return f"[{fmt.ms(lo)}–{fmt.ms(hi)}]"
    if row.kind == "error_rate":
        return f"[{fmt.percent(lo, 2)}–{fmt.percent(hi, 2)}]"
    return f"[{lo:.3f}–{hi:.3f}]"


def delta_text(row: ComparisonRow) -> str:
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


def p_text(row: ComparisonRow) -> str:
    """The Holm-adjusted p (``p=0.0004``), ``untested`` when the figure has no test."""
    if row.test is None or row.p_adjusted is None:
        return "untested"
    p = row.p_adjusted
    return "p<0.0001" if p < 1e-4 else f"p={p:.4f}" if p < 0.01 else f"p={p:.3f}"


def status_text(row: ComparisonRow) -> str:
    if row.regression:
        return "REGRESSION"
    if row.status == "worse" and row.beyond_tolerance:
        return "worse (untested)" if row.test is None else "worse (not significant)"
    return row.status


def _decided_by(row: ComparisonRow) -> str:
    return f"{row.metric} {delta_text(row)} ({row.test}, {p_text(row)})"


def verdict_line(c: Comparison) -> str:
    """``N regressions: accuracy -0.0396 (McNemar exact, p=0.0004), …`` or ``no regression``
    (naming any figure worse beyond its tolerance that the tests did not confirm)."""
    regressions = [r for r in c.rows if r.regression and r.section == "headline"]
    regressions += _worst_first([r for r in c.rows if r.regression and r.section != "headline"])
    if regressions:
        noun = "regression" if len(regressions) == 1 else "regressions"
        shown = ", ".join(_decided_by(r) for r in regressions[:_VERDICT_NAMES])
        hidden = len(regressions) - _VERDICT_NAMES
        tail = f" and {hidden} more" if hidden > 0 else ""
        return f"{len(regressions)} {noun}: {shown}{tail}"
    unconfirmed = [r for r in c.rows if r.status == "worse" and r.beyond_tolerance]
    if not unconfirmed:
        return "no regression"
    names = ", ".join(f"{r.metric} ({p_text(r)})" for r in unconfirmed[:_VERDICT_NAMES])
    extra = len(unconfirmed) - _VERDICT_NAMES
    more = f" and {extra} more" if extra > 0 else ""
    return f"no regression (worse beyond tolerance, not confirmed by a test: {names}{more})"


def tolerance_line(c: Comparison) -> str:
    t = c.tolerances
    return (
        f"regression = worse beyond tolerance AND Holm-adjusted p < {c.alpha:g}; tolerances: "
        f"accuracy/F1 drop {t.quality:g} · error rate rise {t.error_rate * 100:g}pp"
        f" · latency rise {t.latency * 100:g}% · throughput drop {t.throughput * 100:g}%"
    )


def _cells(row: ComparisonRow) -> list[str]:
    base = f"{value_text(row, row.base)} {interval_text(row, row.base_interval)}".strip()
    new = f"{value_text(row, row.new)} {interval_text(row, row.new_interval)}".strip()
    test = row.test or ""
    return [row.metric, base, new, delta_text(row), p_text(row), test, status_text(row)]


def _sections(c: Comparison) -> tuple[list[ComparisonRow], list[ComparisonRow]]:
    headline = [r for r in c.rows if r.section == "headline"]
    breakdown = [r for r in c.rows if r.section != "headline"]
    return headline, breakdown


def _worst_first(rows: Sequence[ComparisonRow]) -> list[ComparisonRow]:
    """Regressions first, the largest drop first (where the regression sits); then by p."""

    def key(r: ComparisonRow) -> tuple[bool, float, float]:
        drop = -abs(
            r.relative if r.kind in ("latency", "throughput") and r.relative else r.delta or 0
        )
        if r.regression:
            return (False, drop, 0.0)
        return (True, 1.0 if r.p_adjusted is None else r.p_adjusted, drop)

    return sorted(rows, key=key)


def flip_lines(c: Comparison) -> list[tuple[str, Flip]]:
    """(direction, flip) for the flips shown in text views, right→wrong first."""
    out: list[tuple[str, Flip]] = []
    for regressed, name in ((True, "right→wrong"), (False, "wrong→right")):
        out += [(name, f) for f in c.flips if f.regressed == regressed][:SHOWN_FLIPS]
    return out


def _one_sided_lines(c: Comparison) -> list[str]:
    o = c.one_sided
    if o is None or not o.total:
        return []
    lines = [f"rows scored in one run only (left out of the paired figures): {o.total}"]
    examples = dict(o.examples)
    for cause, n in o.causes:
        keys = ", ".join(examples.get(cause, ())[:5])
        lines.append(f"  {n:>6}  {cause}" + (f"  e.g. {keys}" if keys else ""))
    return lines


def _table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    table = [list(header), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    right = {1, 2, 3, 4}
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in table
    ]


_HEADER = ("metric", "base", "new", "delta", "p (Holm)", "test", "status")


def render_comparison(c: Comparison) -> str:
    """Aligned plain-text tables, warnings and notes first, the verdict line last."""
    lines = [f"compare  base {c.base_id}  →  new {c.new_id}", tolerance_line(c)]
    lines += [f"warning: {w}" for w in c.warnings]
    lines += [f"note: {n}" for n in c.notes]
    headline, breakdown = _sections(c)
    lines += ["", *_table(_HEADER, [_cells(r) for r in headline])]
    if breakdown:
        shown = _worst_first(breakdown)[:SHOWN_BREAKDOWN]
        more = len(breakdown) - len(shown)
        lines += ["", f"by class and slice (Holm over {len(breakdown)} tests)"
                  + (f"; {more} more in --out FILE.html" if more else "")]  # fmt: skip
        lines += _table(_HEADER, [_cells(r) for r in shown])
    b, w = c.flip_counts
    if c.mode == "paired":
        lines += ["", f"rows that flipped: {b} right→wrong, {w} wrong→right"]
        for direction, f in flip_lines(c):
            text = fmt.truncate(f.input or "", 60)
            lines.append(f"  {direction}  {f.key}  expected {f.expected}: {f.base_answer} → "
                         f"{f.new_answer}  {text!r}")  # fmt: skip
    one_sided = _one_sided_lines(c)
    if one_sided:
        lines += ["", *one_sided]
    lines += ["", verdict_line(c)]
    return "\n".join(lines) + "\n"


def render_comparison_markdown(c: Comparison) -> str:
    """The comparison as GitHub-flavoured Markdown (a PR comment or a CI job summary)."""
    icon = "❌" if c.regressed else "✅"
    lines = [
        f"## {icon} stagecheck compare — {md_cell(verdict_line(c))}",
        "",
        f"base {md_cell(c.base_id)} → new {md_cell(c.new_id)}  ",
        md_cell(tolerance_line(c)),
    ]
    if c.warnings:
        lines.append("")
        lines += [f"> ⚠️ {md_cell(w)}  " for w in c.warnings]
    if c.notes:
        lines.append("")
        lines += [f"> {md_cell(n)}  " for n in c.notes]
    header = ["Metric", "Base [95% CI]", "New [95% CI]", "Delta", "p (Holm)", "Test", "Status"]

    def md_rows(rows: Sequence[ComparisonRow]) -> list[list[str]]:
        out = []
        for row in rows:
            cells = [md_cell(x) for x in _cells(row)]
            if row.regression:
                cells[-1] = f"**{cells[-1]}**"
            out.append(cells)
        return out

    headline, breakdown = _sections(c)
    lines += ["", *md_table(header, md_rows(headline), "lrrrrll")]
    if breakdown:
        lines += ["", f"### By class and slice (Holm over {len(breakdown)} tests)", ""]
        lines += md_table(header, md_rows(_worst_first(breakdown)), "lrrrrll")
    if c.mode == "paired":
        b, w = c.flip_counts
        lines += ["", f"### Rows that flipped: {b} right→wrong, {w} wrong→right"]
        shown = flip_lines(c)
        if shown:
            lines += [""]
            lines += md_table(
                ["", "Row", "Expected", "Base answer", "New answer", "Input"],
                [
                    [
                        d,
                        md_cell(f.key),
                        md_cell(f.expected),
                        md_cell(f.base_answer),
                        md_cell(f.new_answer),
                        md_cell(f.input or "", 80),
                    ]  # fmt: skip
                    for d, f in shown
                ],
            )
    one_sided = _one_sided_lines(c)
    if one_sided:
        lines += ["", f"### {md_cell(one_sided[0])}", ""]
        lines += [f"- {md_cell(line.strip())}" for line in one_sided[1:]]
    return "\n".join(lines) + "\n"
