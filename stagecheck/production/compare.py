"""The production sample against the validation set: per slice field, predicted class and
input-length bucket, the two distributions side by side, the population stability index, a
test (chi-square for categories, two-sample Kolmogorov–Smirnov for lengths) Holm-adjusted over
the family, the regions the validation set under- or over-represents, in words, and the
production inputs far from every validation row."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stagecheck.datasets.lengths import bucket_index, bucket_label, length_buckets
from stagecheck.production.nearest import (
    MAX_PRODUCTION,
    MAX_VALIDATION,
    SEED,
    nearest_distances,
    sample_index,
)
from stagecheck.production.sample import ProductionRows
from stagecheck.production.schema import (
    Distribution,
    FarExample,
    FarInputs,
    Region,
    Representativeness,
    Share,
)
from stagecheck.stats import holm, ks_2samp_p
from stagecheck.stats.chisquare import chi_square_homogeneity

__all__ = ["ValidationView", "represent", "psi", "PSI_FLOOR", "ALPHA", "LENGTH", "PREDICTED"]

PSI_FLOOR = 1e-4  # a zero share counts as this much in the PSI (else it is infinite)
ALPHA = 0.05  # family-wise error rate of the distribution tests (Holm)
# A region is under/over-represented when the shares differ by BIG_GAP, or when one is RATIO
# times the other and they differ by at least MIN_GAP.
BIG_GAP = 0.10
RATIO = 1.5
MIN_GAP = 0.05
MAX_EXAMPLES = 5
EXCERPT = 80
LENGTH = "input length"
PREDICTED = "predicted class"


@dataclass(frozen=True)
class ValidationView:
    """What the comparison reads of the validation set: its input texts, its slice values
    (``slice_fields`` order) and expected labels, one entry per row."""

    texts: Sequence[str]
    slice_fields: Sequence[str]
    slices: Sequence[tuple[str, ...]]
    labels: Sequence[str]


def psi(p: Sequence[float], q: Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index Σ (pᵢ − qᵢ)·ln(pᵢ/qᵢ) of two share vectors (production p,
    validation q), zero shares floored at ``floor``: 0 for the same mix; by the usual rule of
    thumb under 0.1 is stable, 0.1–0.25 a moderate shift, above 0.25 a large one."""
    total = 0.0
    for a, b in zip(p, q, strict=True):
        a, b = max(a, floor), max(b, floor)
        total += (a - b) * math.log(a / b)
    return total


def _shares(values: list[str], prod: Counter[str], val: Counter[str]) -> list[Share]:
    np_, nv = sum(prod.values()), sum(val.values())
    return [Share(value=v, production=prod[v], validation=val[v],
                  production_share=prod[v] / np_ if np_ else 0.0,
                  validation_share=val[v] / nv if nv else 0.0) for v in values]  # fmt: skip


def _categorical(name: str, prod: Counter[str], val: Counter[str]) -> Distribution:
    values = sorted(set(prod) | set(val), key=lambda v: (-prod[v], -val[v], v))
    shares = _shares(values, prod, val)
    test = chi_square_homogeneity([s.production for s in shares], [s.validation for s in shares])
    return Distribution(
        name=name, shares=shares,
        psi=psi([s.production_share for s in shares], [s.validation_share for s in shares]),
        test="chi-square", statistic=None if test is None else test[0],
        p=None if test is None else test[2], p_holm=None, differs=False,
    )  # fmt: skip


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    x, y = np.sort(a), np.sort(b)
    both = np.concatenate((x, y))
    gap = np.searchsorted(x, both, "right") / x.size - np.searchsorted(y, both, "right") / y.size
    return float(np.abs(gap).max())


def _lengths(prod_len: list[int], val_len: list[int]) -> tuple[Distribution, list[str]]:
    buckets = length_buckets(Counter(prod_len) + Counter(val_len))
    labels = [bucket_label(b, buckets) for b in buckets]
    prod = Counter(labels[bucket_index(n, buckets)] for n in prod_len)
    val = Counter(labels[bucket_index(n, buckets)] for n in val_len)
    shares = _shares(labels, prod, val)
    a, b = np.asarray(prod_len, np.float64), np.asarray(val_len, np.float64)
    lacking = [f"input length {s.value} characters: {s.production:,} production rows "
               f"({s.production_share:.1%}), no validation row"
               for s in shares if s.production and not s.validation]  # fmt: skip
    dist = Distribution(
        name=LENGTH, shares=shares,
        psi=psi([s.production_share for s in shares], [s.validation_share for s in shares]),
        test="KS", statistic=_ks_statistic(a, b) if a.size and b.size else None,
        p=ks_2samp_p(a, b), p_holm=None, differs=False,
    )  # fmt: skip
    return dist, lacking


def _regions(dists: list[Distribution]) -> list[Region]:
    out = []
    for d in dists:
        for s in d.shares:
            p, v = s.production_share, s.validation_share
            gap = abs(p - v)
            if gap < BIG_GAP and not (gap >= MIN_GAP and max(p, v) >= RATIO * min(p, v)):
                continue
            kind = "under" if p > v else "over"
            figure = d.name.removeprefix("slice ")
            what = f"{figure}={s.value}" if d.name.startswith("slice ") else f"{figure} {s.value}"
            out.append(Region(figure=d.name, value=s.value, production_share=p,
                              validation_share=v, kind=kind,
                              text=f"{what} is {p:.0%} of production, {v:.0%} of "
                                   "validation"))  # fmt: skip
    return sorted(out, key=lambda r: -abs(r.production_share - r.validation_share))


def _far(prod: ProductionRows, view: ValidationView, lacking: list[str]) -> FarInputs:
    unseen = []
    for i, f in enumerate(prod.slice_fields):
        j = list(view.slice_fields).index(f)
        known = {s[j] for s in view.slices}
        counts = Counter(s[i] for s in prod.slices)
        for value, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            if value not in known:
                unseen.append(f"{f}={value}: {n:,} production rows ({n / prod.rows:.1%}), "
                              "no validation row")  # fmt: skip
    pi = sample_index(prod.rows, MAX_PRODUCTION, SEED)
    vi = sample_index(len(view.texts), MAX_VALIDATION, SEED)
    queries = [prod.texts[i] for i in pi]
    choices = [view.texts[i] for i in vi]
    d = nearest_distances(queries, choices)
    # the yardstick: sampled validation rows against the same validation rows, less themselves
    mine = sample_index(len(choices), MAX_PRODUCTION, SEED + 1)
    own = nearest_distances([choices[i] for i in mine], choices, itself=mine)
    cutoff = float(np.quantile(own, 0.95)) if own.size else None
    far_idx = np.flatnonzero(d > cutoff) if cutoff is not None else np.zeros(0, np.int64)
    order = far_idx[np.argsort(-d[far_idx], kind="stable")][:MAX_EXAMPLES]
    examples = [FarExample(input=_excerpt(queries[i]), distance=round(float(d[i]), 4))
                for i in order]  # fmt: skip
    method = (
        "nearest-neighbour distance on character trigrams (1 − Dice, rapidfuzz Indel on sorted "
        f"trigram lists) of {len(queries):,} of {prod.rows:,} production inputs against "
        f"{len(choices):,} of {len(view.texts):,} validation rows (seeded samples, seed {SEED});"
        " far: beyond the 95th percentile of validation rows' own nearest-neighbour distance"
    )
    return FarInputs(
        unseen=unseen, lengths=lacking, sampled=len(queries), of_production=prod.rows,
        against=len(choices), of_validation=len(view.texts), cutoff=cutoff,
        far=int(far_idx.size), median_distance=float(np.median(d)) if d.size else None,
        examples=examples, method=method,
    )  # fmt: skip


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def represent(prod: ProductionRows, view: ValidationView) -> Representativeness:
    """The whole comparison of ``prod`` with the validation set ``view``."""
    dists = []
    for i, f in enumerate(prod.slice_fields):
        j = list(view.slice_fields).index(f)
        dists.append(_categorical(f"slice {f}", Counter(s[i] for s in prod.slices),
                                  Counter(s[j] for s in view.slices)))  # fmt: skip
    if prod.predicted_field:
        dists.append(_categorical(PREDICTED, Counter(prod.predicted), Counter(view.labels)))
    length, lacking = _lengths([len(t) for t in prod.texts], [len(t) for t in view.texts])
    dists.append(length)
    adjusted = holm([d.p for d in dists])
    dists = [d.model_copy(update={"p_holm": a, "differs": a is not None and a < ALPHA})
             for d, a in zip(dists, adjusted, strict=True)]  # fmt: skip
    return Representativeness(distributions=dists, regions=_regions(dists),
                              far=_far(prod, view, lacking), alpha=ALPHA)  # fmt: skip
