"""Console and Markdown lines of the production comparison and the production-weighted
figures (the HTML section is in ``reporting/html/production.py``)."""

from __future__ import annotations

from pathlib import Path

from stagecheck.production.schema import (
    Distribution,
    ProductionFigures,
    ProductionSample,
    Representativeness,
)

__all__ = ["sample_lines", "representativeness_lines", "figures_lines", "figures_markdown",
           "interval_text", "test_text"]  # fmt: skip

_SHOWN_VALUES = 8
_SHOWN_STRATA = 12


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f} %"


def _frac(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def interval_text(ci: list[float] | None) -> str:
    return "" if not ci else f" [{ci[0]:.3f}–{ci[1]:.3f}]"


def _p(p: float | None) -> str:
    return "n/a" if p is None else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def test_text(d: Distribution) -> str:
    """``PSI 0.081 · chi-square p(Holm) <0.0001: differs``."""
    verdict = "differs" if d.differs else "no significant difference"
    return f"PSI {d.psi:.3f} · {d.test} p(Holm) {_p(d.p_holm)}: {verdict}"


def representativeness_lines(r: Representativeness) -> list[str]:
    out = []
    for d in r.distributions:
        out.append(f"  {d.name}: {test_text(d)}")
        shown = d.shares[:_SHOWN_VALUES]
        width = max((len(s.value) for s in shown), default=5)
        out.append(f"    {'':<{width}}  production  validation")
        for s in shown:
            out.append(f"    {s.value:<{width}}  {_pct(s.production_share):>10}  "
                       f"{_pct(s.validation_share):>10}")  # fmt: skip
        if len(d.shares) > len(shown):
            out.append(f"    … and {len(d.shares) - len(shown)} more values")
    for kind, title in (("under", "under-represented"), ("over", "over-represented")):
        texts = [g.text for g in r.regions if g.kind == kind]
        if texts:
            out.append(f"  {title} in validation: " + "; ".join(texts))
    far = r.far
    for line in [*far.unseen, *far.lengths]:
        out.append(f"  far: {line}")
    if far.cutoff is not None:
        out.append(f"  far: {far.far} of {far.sampled:,} sampled production inputs are farther "
                   f"from every validation row than {far.cutoff:.2f} (validation's own 95th "
                   f"percentile; median {_frac(far.median_distance)}), sampled: "
                   f"{far.sampled:,} of {far.of_production:,} production inputs against "
                   f"{far.against:,} of {far.of_validation:,} validation rows")  # fmt: skip
        for e in far.examples[:3]:
            out.append(f"    {e.distance:.2f}  {e.input}")
    return out


def sample_lines(sample: ProductionSample) -> list[str]:
    """``validate --against``: the sample, its comparison with the validation set."""
    fields = ", ".join(sample.slice_fields) or "none"
    label = f"; predicted label: {sample.predicted_field}" if sample.predicted_field else ""
    out = [f"Production sample {sample.source}: {sample.rows:,} rows; slice fields: "
           f"{fields}{label}"]  # fmt: skip
    if sample.representativeness is not None:
        out += representativeness_lines(sample.representativeness)
    out += [f"  note: {n}" for n in sample.notes]
    return out


def _headline(p: ProductionFigures) -> str:
    f = p.figures
    if f is None:
        return "Production-weighted: n/a (no scored answer in a cell production has)"
    line = f"Production-weighted accuracy {_frac(f.accuracy)}{interval_text(f.accuracy_ci)}"
    if f.f1_macro is not None:
        line += f" · macro-F1 {_frac(f.f1_macro)}{interval_text(f.f1_macro_ci)}"
    return line


def figures_lines(p: ProductionFigures) -> list[str]:
    """The console block of a run's production-weighted figures."""
    cells = " × ".join(p.slice_fields) or "no slice"
    own = p.figures.unweighted_accuracy if p.figures is not None else None
    out = [_headline(p),
           f"  run's own accuracy {_frac(own)}; weights: {p.rows:,} rows of "
           f"{Path(p.source).name} by {cells}",
           f"  intervals (95 %): {p.bootstrap}"]  # fmt: skip
    shown = p.strata[:_SHOWN_STRATA]
    if shown:
        width = max(len(s.cell) for s in shown)
        out.append(f"  {'cell':<{width}}  production    weight  rows  accuracy")
        for s in shown:
            out.append(f"  {s.cell:<{width}}  {_pct(s.production_share):>10}  "
                       f"{_pct(s.weight):>8}  {s.validation_rows:>4}  {_frac(s.accuracy):>8}")
    if len(p.strata) > _SHOWN_STRATA:
        out.append(f"  … and {len(p.strata) - _SHOWN_STRATA} more cells")
    for m in p.merged:
        out.append(f"  merged into {m.into}: {m.cell} ({_pct(m.share)}, not in validation)")
    if p.unweighted:
        out.append("  weight 0 (not in production): " + "; ".join(p.unweighted))
    if p.figures is not None and p.figures.classes:
        worst = sorted(p.figures.classes, key=lambda c: c.recall if c.recall is not None else 2)
        out.append("  lowest recall: " + ", ".join(f"{c.label} {_frac(c.recall)}"
                                                   for c in worst[:4]))  # fmt: skip
    r = p.representativeness
    if r is not None:
        out += [f"  {g.kind}-represented: {g.text}" for g in r.regions[:3]]
    out += [f"  note: {n}" for n in p.notes]
    return out


def figures_markdown(p: ProductionFigures) -> list[str]:
    """summary.md: the production-weighted figures and the weights used."""
    out = ["### Production-weighted figures", "", _headline(p) + ".", "",
           f"Weights: production sample `{p.source}` ({p.rows:,} rows), cells of "
           f"{' × '.join(p.slice_fields) or 'no slice'}; intervals: {p.bootstrap}.", "",
           "| cell | production | weight | validation rows | accuracy |",
           "|---|--:|--:|--:|--:|"]  # fmt: skip
    for s in p.strata:
        out.append(f"| {s.cell} | {_pct(s.production_share)} | {_pct(s.weight)} | "
                   f"{s.validation_rows} | {_frac(s.accuracy)} |")  # fmt: skip
    out += [""] if p.merged or p.unweighted else []
    out += [f"- merged: {m.cell} ({_pct(m.share)} of production) → {m.into}" for m in p.merged]
    if p.unweighted:
        out.append("- weight 0 (not in production): " + "; ".join(p.unweighted))
    r = p.representativeness
    if r is not None and r.regions:
        out += ["", "Validation vs production: " + "; ".join(g.text for g in r.regions[:6]) + "."]
    return out
