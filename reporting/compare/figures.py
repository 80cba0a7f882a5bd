"""The figures ``compare`` reads from each run on its own: latency percentiles (with a KS test
on the raw values when both folders have them), the error rate, and the unpaired quality
figures (a two-proportion test on each run's counts, rows as the unit when replayed); and the
figures shown without a test (F1, throughput, streaming timings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from stagecheck import stats
from stagecheck.judging.catalogue import PERCENTILES, percentile
from stagecheck.reporting.compare.data import RunData
from stagecheck.reporting.compare.pairs import Figure, MetricKind, Section
from stagecheck.summary.figures import Quality
from stagecheck.summary.schema import Summary

__all__ = ["latency_figures", "error_rate_figure", "untested_figures", "unpaired_quality"]

_PERCENTILES = tuple((p.label, p.value) for p in PERCENTILES if p.label in ("p50", "p90", "p99"))


def _proportion(
    metric: str, kind: MetricKind, k1: int, n1: int, k2: int, n2: int,
    section: Section = "headline", deff1: float = 1.0, deff2: float = 1.0,
) -> Figure:  # fmt: skip
    """Unpaired: k/n of each run, a two-proportion test (Fisher on small counts). ``deff``: each
    run's design effect of replayed rows (the Rao–Scott test on the rows' evidence)."""
    base = k1 / n1 if n1 else None
    new = k2 / n2 if n2 else None
    p = stats.clustered_proportion_p(k1, n1, deff1, k2, n2, deff2)
    small = _small(*stats.effective_counts(k1, n1, deff1), *stats.effective_counts(k2, n2, deff2))
    test = None if p is None else "Fisher exact" if small else "two-proportion"
    detail = f"{k1}/{n1} vs {k2}/{n2}"
    if deff1 > 1.0 or deff2 > 1.0:
        detail += f"; rows as the unit (replays' design effect {deff1:.2f} vs {deff2:.2f})"
    return Figure(metric, kind, base, new, section, test, p,
                  stats.wilson(k1, n1, deff=deff1), stats.wilson(k2, n2, deff=deff2),
                  detail)  # fmt: skip


def _small(k1: int, n1: int, k2: int, n2: int) -> bool:
    """Whether ``stats.proportion_p`` uses Fisher's test (an expected cell under 5)."""
    total, hits = n1 + n2, k1 + k2
    if not total:  # neither run scored an answer: there is no test (p is None)
        return False
    return min(n1, n2) * min(hits, total - hits) / total < 5


def _percentile(values: Any, p: float) -> float:
    """Nearest-rank percentile of a sorted array."""
    rank = max(1, -(-int(round(p * len(values))) // 100))
    return float(values[min(len(values), rank) - 1])


def _lookup(values: np.ndarray) -> Callable[[int], float]:
    return lambda rank: float(values[rank - 1])


def latency_figures(a: RunData, b: RunData) -> list[Figure]:
    la, lb = a.latency_us, b.latency_us
    if la is None or lb is None or not len(la) or not len(lb):
        ea, eb = a.report.timing("e2e"), b.report.timing("e2e")
        return [
            Figure(
                f"latency.{name}",
                "latency",
                getattr(ea, percentile(name).key, None),
                getattr(eb, percentile(name).key, None),
                detail="summary figures: no per-request values to test",
            )  # fmt: skip
            for name, _ in _PERCENTILES
        ]
    ks = stats.ks_2samp_p(cast("Sequence[float]", la), cast("Sequence[float]", lb))
    mw = stats.mann_whitney_p(cast("Sequence[float]", la), cast("Sequence[float]", lb))
    mw_text = "n/a" if mw is None else f"{mw:.2g}"
    out = []
    for name, p in _PERCENTILES:
        out.append(
            Figure(
                f"latency.{name}",
                "latency",
                _percentile(la, p),
                _percentile(lb, p),
                test="KS" if ks is not None else None,
                p=ks,
                base_interval=stats.percentile_interval(_lookup(la), len(la), p),
                new_interval=stats.percentile_interval(_lookup(lb), len(lb), p),
                detail=f"{len(la)} vs {len(lb)} requests; Mann–Whitney p={mw_text}",
            )  # fmt: skip
        )
    return out


def _failed(report: Summary) -> int:
    return report.requests.by_outcome.failed


def error_rate_figure(a: RunData, b: RunData) -> Figure:
    if a.requests is not None and b.requests is not None and a.failed is not None:
        k1, n1, k2, n2 = a.failed, a.requests, b.failed or 0, b.requests
    else:
        k1, n1 = _failed(a.report), a.report.requests.total
        k2, n2 = _failed(b.report), b.report.requests.total
    return _proportion("error_rate", "error_rate", k1, n1, k2, n2)


def untested_figures(a: Summary, b: Summary) -> list[Figure]:
    qa, qb = a.quality, b.quality
    out = [
        Figure("f1_macro", "quality", qa.f1_macro if qa else None, qb.f1_macro if qb else None),
        Figure(
            "f1_weighted", "quality", qa.f1_weighted if qa else None, qb.f1_weighted if qb else None
        ),  # fmt: skip
        Figure("throughput", "throughput", a.throughput.requests_per_s,
               b.throughput.requests_per_s),  # fmt: skip
    ]
    for key in ("ttft", "itl"):
        ta, tb = a.timing(key), b.timing(key)
        if ta is not None and tb is not None:
            out.append(Figure(f"{key}.p95", "latency", ta.p95_us, tb.p95_us))
    return out + _production_figures(a, b) + _variant_figures(a, b)


def _production_figures(a: Summary, b: Summary) -> list[Figure]:
    """Both runs' production-weighted accuracy and macro-F1 (``--against``), shown, untested:
    each is re-weighted to its own sample."""
    fa = a.production.figures if a.production is not None else None
    fb = b.production.figures if b.production is not None else None
    if fa is None and fb is None:
        return []
    out = []
    for name in ("accuracy", "f1_macro"):
        va, vb = (getattr(f, name) if f is not None else None for f in (fa, fb))
        ca, cb = (getattr(f, f"{name}_ci") if f is not None else None for f in (fa, fb))
        if va is None and vb is None:
            continue
        out.append(Figure(f"{name}[production]", "quality", va, vb,
                          base_interval=tuple(ca) if ca else None,  # type: ignore[arg-type]
                          new_interval=tuple(cb) if cb else None))  # type: ignore[arg-type]
    return out


def _variant_figures(a: Summary, b: Summary) -> list[Figure]:
    """Each variant's flip rate in both runs (``dataset.variants``), shown, untested: a
    variant of the same name may perturb differently in each run's scenario."""
    va = {v.name: v for v in (a.variants.variants if a.variants is not None else [])}
    vb = {v.name: v for v in (b.variants.variants if b.variants is not None else [])}
    out = []
    for name in [*va, *(n for n in vb if n not in va)]:
        fa, fb = va.get(name), vb.get(name)
        ra, rb = (f.flip_rate if f is not None else None for f in (fa, fb))
        if ra is None and rb is None:
            continue  # "original": no flips
        ca, cb = (f.flip_rate_ci if f is not None else None for f in (fa, fb))
        out.append(Figure(f"variant[{name}].flip_rate", "error_rate", ra, rb,
                          base_interval=tuple(ca) if ca else None,  # type: ignore[arg-type]
                          new_interval=tuple(cb) if cb else None))  # type: ignore[arg-type]
    return out


def unpaired_quality(a: Summary, b: Summary) -> tuple[Figure, list[Figure]]:
    oa, ob = a.requests.by_outcome, b.requests.by_outcome
    acc = _proportion("accuracy", "quality", oa.correct, oa.answered, ob.correct, ob.answered,
                      "headline",
                      _deff(a.quality), _deff(b.quality))  # fmt: skip
    breakdown: list[Figure] = []
    ca = {c.label: c for c in a.classes}
    cb = {c.label: c for c in b.classes}
    for label in sorted(ca.keys() & cb.keys()):
        x, y = ca[label], cb[label]
        if x.recall is None or y.recall is None:
            continue
        breakdown.append(_proportion(f"recall[{label}]", "quality", round(x.recall * x.support),
                                     x.support, round(y.recall * y.support), y.support,
                                     "class", x.recall_design_effect or 1.0,
                                     y.recall_design_effect or 1.0))  # fmt: skip
    sa = {(s.field, s.value): s for s in a.slices}
    sb = {(s.field, s.value): s for s in b.slices}
    for key in [k for k in sa if k in sb]:
        u, v = sa[key], sb[key]
        breakdown.append(_proportion(f"accuracy[{key[0]}={key[1]}]", "quality",
                                     u.by_outcome.get("correct"), u.by_outcome.answered,
                                     v.by_outcome.get("correct"), v.by_outcome.answered,
                                     "slice", _deff(u.quality), _deff(v.quality)))  # fmt: skip
    return acc, breakdown


def _deff(quality: Quality | None) -> float:
    return 1.0 if quality is None or quality.design_effect is None else quality.design_effect

