"""The production section of ``report.html`` (``--against PROD``): the figures re-weighted to
production's slice mix, the weights used (and the cells merged or left at weight 0), and the
validation set side by side with the production sample. A view of
:class:`~stagecheck.production.schema.ProductionFigures`."""

from __future__ import annotations

from pathlib import Path

from stagecheck.production.schema import ProductionFigures, Representativeness
from stagecheck.production.view import interval_text, test_text
from stagecheck.reporting.html.parts import e, meter, section, table

__all__ = ["production_section"]

_SHOWN = 20  # values per distribution


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _frac(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _figures(p: ProductionFigures) -> str:
    f = p.figures
    if f is None:
        return "<p>No production-weighted figures: no scored answer in a cell production has.</p>"
    rows = [["accuracy", meter(f.accuracy, _frac(f.accuracy)), e(interval_text(f.accuracy_ci)),
             e(_frac(f.unweighted_accuracy))]]  # fmt: skip
    if f.f1_macro is not None:
        rows.append(["macro-F1", meter(f.f1_macro, _frac(f.f1_macro)),
                     e(interval_text(f.f1_macro_ci)), ""])  # fmt: skip
    for c in f.classes:
        rows.append([f"recall {e(c.label)}", meter(c.recall, _frac(c.recall)),
                     e(interval_text(c.recall_ci)), ""])  # fmt: skip
    return table(["figure", "production-weighted", "95% interval", "run's own"], rows,
                 numeric=(1, 2, 3))  # fmt: skip


def _weights(p: ProductionFigures) -> str:
    rows = [[e(s.cell), _pct(s.production_share), _pct(s.weight), f"{s.validation_rows:,}",
             f"{s.scored:,}", e(_frac(s.accuracy))] for s in p.strata]  # fmt: skip
    out = "<h3>Weights used</h3>" + table(
        ["cell", "production", "weight", "validation rows", "scored", "accuracy"], rows,
        numeric=(1, 2, 3, 4, 5))  # fmt: skip
    items = [f"<li>merged: {e(m.cell)} ({_pct(m.share)} of production) has no validation row; "
             f"its weight goes to {e(m.into)}</li>" for m in p.merged]  # fmt: skip
    if p.unweighted:
        items.append(f"<li>weight 0, not in production: {e('; '.join(p.unweighted))}</li>")
    return out + (f"<ul>{''.join(items)}</ul>" if items else "")


def _compare(r: Representativeness) -> str:
    parts = ["<h3>Validation set against production</h3>"]
    if r.regions:
        items = "".join(f"<li>{e(g.kind)}-represented: {e(g.text)}</li>" for g in r.regions)
        parts.append(f"<ul>{items}</ul>")
    for d in r.distributions:
        rows = [[e(s.value), f"{s.production:,}", _pct(s.production_share), f"{s.validation:,}",
                 _pct(s.validation_share)] for s in d.shares[:_SHOWN]]  # fmt: skip
        parts.append(f"<h4>{e(d.name)} <small>{e(test_text(d))}</small></h4>" + table(
            ["value", "production rows", "share", "validation rows", "share"], rows,
            numeric=(1, 2, 3, 4)))  # fmt: skip
    far = r.far
    lines = [*far.unseen, *far.lengths]
    if far.cutoff is not None:
        lines.append(f"{far.far} of {far.sampled:,} sampled production inputs are farther from "
                     f"every validation row than {far.cutoff:.2f}")  # fmt: skip
    items = "".join(f"<li>{e(x)}</li>" for x in lines)
    examples = "".join(f"<li><code>{e(x.input)}</code> ({x.distance:.2f})</li>"
                       for x in far.examples)  # fmt: skip
    parts.append(f"<h4>Far from every validation row</h4><ul>{items}</ul>"
                 + (f"<p>Farthest:</p><ul>{examples}</ul>" if examples else "")
                 + f'<p class="note">{e(far.method)}</p>')  # fmt: skip
    return "\n".join(parts)


def production_section(p: ProductionFigures | None) -> str:
    """``<section id="production">``, or "" for a run without a production sample."""
    if p is None:
        return ""
    cells = " × ".join(p.slice_fields) or "no slice field"
    parts = [
        f"<p>Re-weighted to {p.rows:,} production rows of <code>{e(Path(p.source).name)}</code> "
        f"by the joint cells of {e(cells)} (post-stratification); intervals: "
        f"{e(p.bootstrap)}.</p>",
        _figures(p),
        _weights(p),
    ]
    if p.representativeness is not None:
        parts.append(_compare(p.representativeness))
    if p.notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in p.notes) + "</ul>")
    return section("production", "Production-weighted", "\n".join(parts),
                   "the run's figures at production's mix")  # fmt: skip
