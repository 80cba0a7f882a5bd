"""Building blocks of report.html: escaping, tables, meters and sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from stagecheck.reporting import fmt

__all__ = ["e", "table", "meter", "section", "empty"]


def e(text: object) -> str:
    """``text`` escaped for HTML text and attribute values (``None`` is empty)."""
    return escape("" if text is None else str(text), quote=True)


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[int] = (),
    *,
    css_class: str = "",
) -> str:
    """A table; header and cells must already be HTML (escaped)."""
    head = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    attrs = f' class="{css_class}"' if css_class else ""
    return (
        f'<div class="scroll"><table{attrs}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def meter(value: float | None, text: str) -> str:
    """``text`` with a small bar showing ``value`` (a fraction 0..1), coloured by grade."""
    if value is None:
        return e(fmt.MISSING)
    grade = "good" if value >= 0.9 else "mid" if value >= 0.75 else "poor"
    width = max(0.0, min(value, 1.0)) * 100
    return (
        f'<span class="barcell">{e(text)}<span class="meter {grade}">'
        f'<i style="width:{width:.1f}%"></i></span></span>'
    )


def section(sid: str, title: str, body: str, note: str = "") -> str:
    """A ``<section id=sid>`` with a heading; ``body`` must already be HTML."""
    small = f"<small>{e(note)}</small>" if note else ""
    return f'<section id="{sid}">\n<h2>{e(title)}{small}</h2>\n{body}\n</section>'


def empty(text: str) -> str:
    """A muted note saying why a section has nothing to show."""
    return f'<p class="note">{e(text)}</p>'
