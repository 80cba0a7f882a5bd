"""A self-contained HTML page of a :class:`~.compare.Comparison` (no script, no network), and
:func:`write_comparison`, which writes the Markdown or HTML form by the file's suffix."""

from __future__ import annotations

from pathlib import Path

from stagecheck.errors import InputError
from stagecheck.reporting.compare.runs import Comparison, ComparisonRow
from stagecheck.reporting.compare.view import (
    _cells,
    _one_sided_lines,
    _sections,
    _worst_first,
    render_comparison_markdown,
    tolerance_line,
    verdict_line,
)
from stagecheck.reporting.html.parts import e, section, table
from stagecheck.reporting.html.style import CSS

__all__ = ["render_comparison_html", "write_comparison"]

_EXTRA_CSS = """
tr.regression td { background:#ffebe9; }
tr.unconfirmed td { background:#fff8c5; }
.flip-bad { color:var(--bad); font-weight:600; white-space:nowrap; }
.flip-good { color:var(--ok); font-weight:600; white-space:nowrap; }
"""
_HEADER = ("Metric", "Base [95% CI]", "New [95% CI]", "Delta", "p (Holm)", "Test", "Status")


def _figure_table(rows: list[ComparisonRow]) -> str:
    head = "".join(
        f'<th class="num">{e(h)}</th>' if i in (1, 2, 3, 4) else f"<th>{e(h)}</th>"
        for i, h in enumerate(_HEADER)
    )
    body = []
    for row in rows:
        css = "regression" if row.regression else ""
        if not css and row.status == "worse" and row.beyond_tolerance:
            css = "unconfirmed"
        cells = "".join(
            f'<td class="num">{e(c)}</td>' if i in (1, 2, 3, 4) else f"<td>{e(c)}</td>"
            for i, c in enumerate(_cells(row))
        )
        title = f' title="{e(row.detail)}"' if row.detail else ""
        body.append(f'<tr class="{css}"{title}>{cells}</tr>')
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_comparison_html(c: Comparison) -> str:
    """The whole page: verdict banner, headline figures, breakdown, flipped rows, one-sided rows."""
    state = "failed" if c.regressed else "passed"
    notes = "".join(f"<li>{e(n)}</li>" for n in (*c.warnings, *c.notes))
    banner = (
        f'<section class="banner {state}"><h1>{"REGRESSION" if c.regressed else "NO REGRESSION"}'
        f'</h1><p class="sub">{e(verdict_line(c))}</p>'
        f"<ul>{notes}</ul><p>{e(tolerance_line(c))}</p></section>"
    )
    headline, breakdown = _sections(c)
    parts = [banner, section("figures", "Headline figures", _figure_table(headline),
                             "hover a row for its sample")]  # fmt: skip
    if breakdown:
        parts.append(section("breakdown", "By class and slice", _figure_table(
            _worst_first(breakdown)), f"Holm over {len(breakdown)} tests"))  # fmt: skip
    if c.mode == "paired":
        b, w = c.flip_counts
        rows = [
            [
                '<span class="flip-bad">right→wrong</span>'
                if f.regressed
                else '<span class="flip-good">wrong→right</span>',
                f"<code>{e(f.key)}</code>",
                e(f.expected),
                e(f.base_answer),
                e(f.new_answer),
                e(", ".join(f"{k}={v}" for k, v in f.slices)),
                f'<div class="input">{e(f.input or "")}</div>',
            ]
            for f in c.flips
        ]
        kept = "" if len(c.flips) >= b + w else f"; {len(c.flips)} kept"
        body = table(["", "Row", "Expected", "Base", "New", "Slices", "Input"], rows,
                     css_class="samples")  # fmt: skip
        parts.append(section("flips", "Rows that flipped", body,
                             f"{b} right→wrong, {w} wrong→right{kept}"))  # fmt: skip
    one_sided = _one_sided_lines(c)
    if one_sided:
        items = "".join(f"<li>{e(line.strip())}</li>" for line in one_sided[1:])
        parts.append(section("one-sided", one_sided[0], f"<ul>{items}</ul>"))
    title = f"stagecheck compare — {c.base_id} → {c.new_id}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>"
        f'<div class="top"><b>stagecheck compare</b><span>base {e(c.base_id)} → new '
        f"{e(c.new_id)}</span></div><main>{''.join(parts)}</main></body></html>\n"
    )


def write_comparison(c: Comparison, path: str | Path) -> Path:
    """Write ``path``: Markdown for ``.md``, HTML for ``.html``/``.htm``."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".md":
        text = render_comparison_markdown(c)
    elif suffix in (".html", ".htm"):
        text = render_comparison_html(c)
    else:
        raise InputError(f"{target}: the file must end in .md or .html")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target
