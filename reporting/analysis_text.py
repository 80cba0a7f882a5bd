"""The error analysis as text: a compact "Why is it wrong?" block for the console, and
Markdown tables for ``summary.md``. Both are views of
:class:`~stagecheck.analysis.schema.Analysis`."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from stagecheck.analysis.schema import Analysis, Concentration, Interval
from stagecheck.reporting import fmt

__all__ = ["analysis_console_lines", "analysis_markdown", "replays_text", "ci_text"]

_TOP = 3
_MD_TOP = 10
_WIDTH = 100
_LABEL = 40  # widest group label in the console


def ci_text(ci: Interval) -> str:
    """``[81.2–87.5%]`` for an interval of fractions, empty without one."""
    if ci is None:
        return ""
    return f"[{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%]"


def replays_text(a: Analysis) -> str:
    r = a.replays
    text = f"{r.unique_rows:,} unique rows of {r.dataset_rows:,}, {r.requests:,} requests"
    return text + (f" (×{r.factor:.1f} replays)" if r.factor > 1.0 else "")


def _rows(c: Concentration) -> str:
    """The distinct rows behind a group, when replays make them fewer than its answers."""
    return f"{c.rows:,} rows, " if 0 < c.rows < c.scored else ""


def _concentration_text(c: Concentration) -> str:
    thin = ", thin" if c.thin else ""
    return (
        f"{fmt.truncate(c.label, 40)}: {fmt.percent(c.accuracy)} {ci_text(c.accuracy_ci)} vs "
        f"{fmt.percent(c.rest_accuracy)} rest ({_rows(c)}{c.scored:,} scored, "
        f"p {_p(c.p_adjusted)}{thin})"
    )


def _concentration_row(c: Concentration, width: int, label: str | None = None) -> str:
    """One aligned console row: group (``label``, default the group's), accuracy with its
    interval, the rest, its answers and distinct rows (the unit of evidence), p."""
    thin = " thin" if c.thin else ""
    rows = f"rows={c.rows:<5,} " if c.rows else ""  # an older file has none
    return (
        f"    {fmt.truncate(c.label if label is None else label, width):<{width}}  "
        f"{fmt.percent(c.accuracy):>6} "
        f"{ci_text(c.accuracy_ci).removesuffix('%]') + ']' if c.accuracy_ci else '':<13} "
        f"rest {fmt.percent(c.rest_accuracy):>6}  n={c.scored:<6,} {rows}p {_p(c.p_adjusted)}{thin}"
    )


def _p(p: float | None) -> str:
    if p is None:
        return fmt.MISSING
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def analysis_console_lines(a: Analysis | None) -> list[str]:
    """The "Why is it wrong?" block of the end-of-run console summary (empty without one)."""
    if a is None:
        return []
    out = ["Why is it wrong?"]  # the replays line sits with the requests
    ol = a.off_label
    if ol is not None and ol.count:
        out.append(
            f"  ! {ol.count:,} of {ol.answers:,} answers ({fmt.percent(ol.share)}) are none of "
            "the dataset's labels"
        )
        if ol.hint:
            out += textwrap.wrap(
                f"hint: {ol.hint}", _WIDTH, initial_indent="    ", subsequent_indent="      "
            )
    significant = [c for c in a.concentrations if c.significant][:_TOP]
    if significant:
        out.append("  Errors concentrate in (significantly worse than the rest; 95% interval):")
        # the label gives way to the figures: a row cut at the console's width would lose them
        rest = max(len(_concentration_row(c, 0)) for c in significant)
        width = min(max(len(c.label) for c in significant), _LABEL, _WIDTH - rest)
        for group in significant:
            if len(group.label) > width:  # a long group on a line of its own, its figures below
                out += [f"    {group.label}", _concentration_row(group, width, label="")]
            else:
                out.append(_concentration_row(group, width))
    elif a.concentrations:
        out.append("  No group is significantly worse than the rest (Holm, 5 %)")
    if a.confusions:
        out.append("  Top confusions (expected → predicted):")
        for c in a.confusions[:_TOP]:
            out.append(
                f"    - {c.expected} → {c.predicted}: {c.count:,} "
                f"({fmt.percent(c.share_of_expected)} of {c.expected})"
            )
    for f in a.failures:  # one line each, no header: the console counts its lines
        first = f.errors[0][0] if f.errors else ""
        detail = first.removeprefix(f.cause).lstrip(": ")  # the cause is shown already
        out.append(
            f"  failed: {f.cause} ×{f.count:,} ({fmt.seconds(f.first_s)}–{fmt.seconds(f.last_s)})"
            + (f": {fmt.truncate(detail, 70)}" if detail else "")
        )
    cons = a.consistency
    if cons is not None and cons.rows_inconsistent:
        out.append(
            f"  ! {cons.rows_inconsistent:,} of {cons.rows_repeated:,} rows answered more than "
            "once got different answers"
        )
    return out


def _cell(text: object, limit: int | None = None) -> str:
    flat = " ".join(str("" if text is None else text).split())
    if limit is not None:
        flat = fmt.truncate(flat, limit)
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def analysis_markdown(a: Analysis | None) -> str:
    """The error analysis as Markdown (``### Why is it wrong?`` and its tables); empty without."""
    if a is None:
        return ""
    out = ["### Why is it wrong?", "", _cell(replays_text(a)), ""]
    out += _off_label_md(a)
    out += _concentrations_md(a)
    out += _confusions_md(a)
    out += _failures_md(a)
    out += _load_md(a)
    out += _closing_md(a)
    return "\n".join(out).rstrip() + "\n"


def _off_label_md(a: Analysis) -> list[str]:
    ol = a.off_label
    if ol is None or not ol.count:
        return []
    rows = [[_cell(x.got, 80), _cell(x.predicted, 40), _cell(x.expected), f"×{x.count:,}"]
            for x in ol.examples[:5]]  # fmt: skip
    return [
        f"> **{ol.count:,} of {ol.answers:,} answers ({fmt.percent(ol.share)}) are none of "
        "the dataset's labels.**" + (f" Hint: {_cell(ol.hint)}." if ol.hint else ""),
        "",
        *_table(["Answer", "Read as", "Expected", "Requests"], rows),
        "",
    ]


def _concentrations_md(a: Analysis) -> list[str]:
    if not a.concentrations:
        return []
    rows = []
    for c in a.concentrations[:_MD_TOP]:
        mark = "**yes**" if c.significant else "no"
        rows.append([
            _cell(c.label, 60), f"{c.rows:,}", f"{c.scored:,}",
            f"{fmt.percent(c.accuracy)} {ci_text(c.accuracy_ci)}",
            fmt.percent(c.rest_accuracy), fmt.percent(c.failure_rate), _p(c.p_adjusted),
            mark + (" (thin)" if c.thin else ""),
        ])  # fmt: skip
    header = ["Group", "Rows", "Scored", "Accuracy [95% CI]", "Rest", "Failures", "p (Holm)",
              "Significantly worse"]  # fmt: skip
    return ["#### Where errors concentrate", "", *_table(header, rows), ""]


def _confusions_md(a: Analysis) -> list[str]:
    if not a.confusions:
        return []
    rows = [[_cell(c.expected), _cell(c.predicted), f"{c.count:,}",
             fmt.percent(c.share_of_expected),
             _cell(c.samples[0].input, 80) if c.samples else ""]
            for c in a.confusions[:_MD_TOP]]  # fmt: skip
    header = ["Expected", "Predicted", "Count", "Of expected", "Example"]
    return ["#### Top confusions", "", *_table(header, rows), ""]


def _failures_md(a: Analysis) -> list[str]:
    if not a.failures:
        return []
    rows = [[_cell(f.cause), f"{f.count:,}", fmt.seconds(f.first_s), fmt.seconds(f.last_s),
             _cell(f.errors[0][0], 100) if f.errors else ""]
            for f in a.failures]  # fmt: skip
    header = ["Cause", "Requests", "First", "Last", "Error"]
    return ["#### Failures by cause", "", *_table(header, rows), ""]


def _load_md(a: Analysis) -> list[str]:
    if not a.load:
        return []
    rows = [[_cell(x.kind), _cell(x.label), f"{x.requests:,}",
             f"{fmt.percent(x.accuracy)} {ci_text(x.accuracy_ci)}",
             fmt.percent(x.failure_rate)] for x in a.load]  # fmt: skip
    header = ["By", "Level", "Requests", "Accuracy [95% CI]", "Failures"]
    return ["#### Errors against load", "", *_table(header, rows), ""]


def _closing_md(a: Analysis) -> list[str]:
    """Consistency, goodput, the count of wrong answers and the analysis' notes."""
    out = []
    cons = a.consistency
    if cons is not None and cons.rows_repeated:
        out += [
            f"**Consistency:** {cons.rows_inconsistent:,} of {cons.rows_repeated:,} rows answered "
            f"more than once got different answers ({fmt.percent(cons.share)}).",
            "",
        ]
    if a.goodput is not None:
        g = a.goodput
        out += [f"**Goodput:** {fmt.rate(g.per_s)} ({g.requests:,} requests; {_cell(g.source)}).",
                ""]  # fmt: skip
    if a.wrong_total:
        out += [f"{a.wrong_total:,} distinct wrong answers (×N deduplicated); see report.html.",
                ""]  # fmt: skip
    out += [f"- {_cell(n)}" for n in a.notes]
    return out
