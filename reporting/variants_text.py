"""The ``variants`` section (``dataset.variants:``) as text: console lines and Markdown."""

from __future__ import annotations

from stagecheck.reporting import fmt
from stagecheck.summary.variant_schema import FlipExample, VariantFigures, Variants

__all__ = ["variants_console_lines", "variants_markdown_lines", "MAX_SHOWN_FLIPS"]

MAX_SHOWN_FLIPS = 3  # worst flips shown in the console and summary.md (report.html: all kept)
_TEXT = 60


def _ci(ci: list[float] | None) -> str:
    return f"[{ci[0] * 100:.1f}–{ci[1] * 100:.1f}]" if ci else ""


def _flip_text(v: VariantFigures) -> str:
    if v.flip_rate is None:
        return "—"
    return f"{fmt.percent(v.flip_rate)} {_ci(v.flip_rate_ci)}"


def _worst(variants: Variants) -> list[tuple[str, FlipExample]]:
    """The flips to show: right → wrong first, across variants."""
    found = [(v.name, w) for v in variants.variants for w in v.worst]
    found.sort(key=lambda nw: not (nw[1].right and not nw[1].varied_right))
    return found[:MAX_SHOWN_FLIPS]


def _one_line(text: str) -> str:
    return repr(fmt.truncate(" ".join(text.split()), _TEXT))


def variants_console_lines(variants: Variants | None) -> list[str]:
    """The "Robustness" block of the end-of-run console summary (empty without variants)."""
    if variants is None or not variants.variants:
        return []
    out = ["Robustness (dataset.variants; per dataset row, 95% interval)",
           f"  {'variant':<14}{'rows':>6}  {'accuracy':<22}{'flip rate':<22}{'right→wrong':>11}"]
    for v in variants.variants:
        acc = f"{fmt.percent(v.accuracy)} {_ci(v.accuracy_ci)}"
        r2w = "" if v.right_to_wrong is None else f"{v.right_to_wrong:,}"
        out.append(f"  {v.name:<14}{v.rows:>6,}  {acc:<22}{_flip_text(v):<22}{r2w:>11}")
    for name, w in _worst(variants):
        out.append(f"  flip ({name}) row {w.id}, expected {w.expected}:")
        out.append(f"    as written → {w.answer}: {_one_line(w.input)}")
        out.append(f"    varied     → {w.varied_answer}: {_one_line(w.varied_input)}")
    out += [f"  note: {n}" for n in variants.notes]
    return out


def variants_markdown_lines(variants: Variants | None) -> list[str]:
    """``### Robustness``: figures per variant and the worst flips side by side."""
    if variants is None or not variants.variants:
        return []
    from stagecheck.reporting.markdown import md_cell, md_table  # (it imports this module)

    rows = []
    for v in variants.variants:
        rows.append([md_cell(v.name), f"{v.rows:,}", f"{fmt.percent(v.accuracy)} "
                     f"{_ci(v.accuracy_ci)}", _flip_text(v),
                     "" if v.right_to_wrong is None else f"{v.right_to_wrong:,}"])  # fmt: skip
    out = ["### Robustness", "",
           *md_table(["Variant", "Rows", "Accuracy", "Flip rate", "Right → wrong"], rows,
                     "lrrrr")]  # fmt: skip
    worst = _worst(variants)
    if worst:
        out += ["", *md_table(
            ["Variant", "Row", "Expected", "As written", "Answer", "Varied", "Answer"],
            [[md_cell(n), md_cell(w.id), md_cell(w.expected), md_cell(w.input, 80),
              md_cell(w.answer), md_cell(w.varied_input, 80), md_cell(w.varied_answer)]
             for n, w in worst],
        )]  # fmt: skip
    out += [f"- {md_cell(n)}" for n in variants.notes]
    return out
