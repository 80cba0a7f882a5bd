"""Proportions: Wilson intervals, thinness, two-group tests, replayed rows' design effect,
paired tests and Holm's correction."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from stagecheck.stats.binomial import mcnemar_exact
from stagecheck.stats.normal import (
    _EXACT_FLIPS,
    _MIN_EXPECTED,
    _REL_TIES,
    Values,
    normal_sf,
    z_value,
)


def wilson(
    successes: float, n: int, confidence: float = 0.95, deff: float = 1.0
) -> tuple[float, float] | None:
    """Wilson score interval for successes/n, clamped to [0, 1]; None when n == 0. ``deff``:
    the design effect of replayed rows (``design_effect``): the interval is Wilson's at the
    effective sample size n/deff around the same p̂. ``successes`` may be a sum of per-row
    shares of right answers (paired rows)."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not deff > 0.0:
        raise ValueError(f"the design effect must be > 0, not {deff}")
    if n == 0:
        return None
    z = z_value(confidence)
    z2 = z * z
    p = successes / n
    m = n if deff == 1.0 else n / deff  # the effective sample size
    denom = 1.0 + z2 / m
    centre = (p + z2 / (2.0 * m)) / denom
    spread = z * math.sqrt(p * (1.0 - p) / m + z2 / (4.0 * m * m)) / denom
    # At k = 0 (k = n) the bound is exactly 0 (1); rounding would leave a few ulps.
    lo = 0.0 if successes == 0 else max(0.0, centre - spread)
    hi = 1.0 if successes == n else min(1.0, centre + spread)
    return lo, hi


def half_width(interval: tuple[float, float] | None) -> float | None:
    """Half the width of an interval (the "±" figure); None for no interval."""
    if interval is None:
        return None
    return (interval[1] - interval[0]) / 2.0


def is_thin(n: float, max_half_width: float = 0.10, confidence: float = 0.95) -> bool:
    """True when a proportion on n items cannot be known to ±max_half_width (n == 0 is thin);
    n may be an effective sample size (n / design effect)."""
    if n <= 0:
        return True
    z = z_value(confidence)
    # The widest Wilson interval (p̂ = ½) has half-width z / (2·sqrt(n + z²)).
    return z / (2.0 * math.sqrt(n + z * z)) > max_half_width


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Pooled two-sample z-test of p1 == p2; None when a sample is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = (k1 / n1 - k2 / n2) / se
    return min(1.0, 2.0 * normal_sf(abs(z)))


def fisher_exact_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided Fisher exact test of [[k1, n1-k1], [k2, n2-k2]]; None when a row is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    total, draws = n1 + n2, k1 + k2
    first, last = max(0, draws - n2), min(draws, n1)
    x = np.arange(first, last, dtype=np.float64)
    # pmf(x+1)/pmf(x) of the hypergeometric count in the first row
    steps = np.log((n1 - x) * (draws - x) / ((x + 1.0) * (total - n1 - draws + x + 1.0)))
    logpmf = np.concatenate(([0.0], np.cumsum(steps)))
    logpmf -= logpmf.max()
    pmf = np.exp(logpmf)
    observed = pmf[k1 - first]
    return min(1.0, float(pmf[pmf <= observed * _REL_TIES].sum() / pmf.sum()))


def proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """p1 == p2? Fisher when any expected cell of the 2×2 table is < 5, else the z-test."""
    if n1 <= 0 or n2 <= 0:
        return None
    total, hits = n1 + n2, k1 + k2
    smallest = min(n1, n2) * min(hits, total - hits) / total
    if smallest < _MIN_EXPECTED:
        return fisher_exact_p(k1, n1, k2, n2)
    return two_proportion_p(k1, n1, k2, n2)


def design_effect(successes: Values, trials: Values) -> float:
    """Kish's design effect (>= 1) of the proportion Σsuccesses/Σtrials measured on clusters:
    ``successes[i]`` of ``trials[i]`` requests of dataset row i were right (see the module's
    docstring). 1.0 when nothing was scored."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if k.shape != n.shape or (k < 0).any() or (k > n).any():
        raise ValueError("need 0 <= successes[i] <= trials[i], one pair per row")
    total = float(n.sum())
    if total <= 0.0 or n.max() <= 1.0:
        return 1.0  # no row repeats: exactly one request per row, exactly the binomial
    p = float(k.sum()) / total
    if 0.0 < p < 1.0:
        sandwich = float(np.square(k - p * n).sum())  # both variances times total²
        deff = sandwich / (total * p * (1.0 - p))
        return deff if deff > 1.0 + 1e-9 else 1.0  # rounding must not move a figure
    return max(1.0, float(np.square(n).sum()) / total)  # all right or all wrong: ICC = 1


def cluster_sums(units: Values, successes: Values, trials: Values
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per-row tallies summed by their unit of evidence (``units[i]``: row i's, a small
    non-negative integer: a conversation, whose turns are not independent of each other), the
    units with no trial left out: what :func:`design_effect` then clusters on."""
    u = np.asarray(units, dtype=np.int64)
    k = np.bincount(u, weights=np.asarray(successes, dtype=np.float64))
    n = np.bincount(u, weights=np.asarray(trials, dtype=np.float64))
    keep = n > 0
    return k[keep], n[keep]


def effective_counts(successes: int, n: int, deff: float) -> tuple[int, int]:
    """Rao–Scott adjusted counts: (successes, n) divided by the design effect, rounded (n >= 1
    when n > 0); unchanged when deff is 1."""
    if deff == 1.0 or n <= 0:
        return successes, n
    m = max(1, round(n / deff))
    return min(m, round(successes * m / n)), m


def clustered_proportion_p(
    k1: int, n1: int, deff1: float, k2: int, n2: int, deff2: float
) -> float | None:
    """p1 == p2 for two groups of replayed rows: ``proportion_p`` on the Rao–Scott adjusted
    counts (each group's counts over its design effect); None when a group is empty."""
    k1, n1 = effective_counts(k1, n1, deff1)
    k2, n2 = effective_counts(k2, n2, deff2)
    return proportion_p(k1, n1, k2, n2)


def paired_fraction_p(differences: Values) -> float:
    """Two runs on the same rows: the two-sided sign-flip test of Σd_i, d_i the difference of
    row i's correctness fractions (each in [-1, 1]). McNemar's exact test when every d_i is
    -1, 0 or 1; exact enumeration on up to 16 non-zero d_i; else the normal approximation."""
    d = np.asarray(differences, dtype=np.float64)
    if d.size and (np.abs(d) > 1.0 + 1e-12).any():
        raise ValueError("per-row differences of fractions must lie in [-1, 1]")
    d = d[d != 0.0]
    if not d.size:
        return 1.0
    if np.isin(d, (-1.0, 1.0)).all():
        return mcnemar_exact(int((d < 0).sum()), int((d > 0).sum()))
    observed = abs(float(d.sum()))
    if d.size <= _EXACT_FLIPS:
        signs = (np.arange(1 << d.size)[:, None] >> np.arange(d.size)) & 1
        sums = np.abs((2 * signs - 1) @ d)
        return min(1.0, float((sums >= observed * (1 - 1e-12)).mean()))
    return min(1.0, 2.0 * normal_sf(observed / math.sqrt(float(np.square(d).sum()))))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values, in the input's order; None entries stay None."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    m = len(present)
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
