"""Pearson's chi-square test of homogeneity (two samples of one categorical figure) and the
chi-square distribution's upper tail it needs, in pure Python (scipy is only the tests' oracle).

``chi2_sf(x, df)`` is the regularized upper incomplete gamma function Q(df/2, x/2): its series
below a + 1, Lentz's continued fraction above (Numerical Recipes, 3rd ed., §6.2), to ~1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["chi2_sf", "chi_square_homogeneity"]

_EPS = 1e-15
_MAX_TERMS = 10_000


def _lower_series(a: float, x: float) -> float:
    """P(a, x) by its series (converges fast for x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_TERMS):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction (modified Lentz; for x >= a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X chi-square with ``df`` degrees of freedom (``df`` ≥ 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if x <= 0.0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    if half < a + 1.0:
        return min(1.0, max(0.0, 1.0 - _lower_series(a, half)))
    return min(1.0, max(0.0, _upper_fraction(a, half)))


def chi_square_homogeneity(
    a: Sequence[float], b: Sequence[float]
) -> tuple[float, int, float] | None:
    """Pearson's chi-square test that two samples' counts over the same categories (``a[i]``,
    ``b[i]``) come from one distribution: ``(statistic, df, p)``. Categories empty in both
    are left out; None when a sample is empty or fewer than two categories remain."""
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True) if x + y > 0]
    na, nb = sum(x for x, _ in pairs), sum(y for _, y in pairs)
    if na <= 0 or nb <= 0 or len(pairs) < 2:
        return None
    n = na + nb
    stat = 0.0
    for x, y in pairs:
        col = x + y
        ea, eb = na * col / n, nb * col / n
        stat += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb
    df = len(pairs) - 1
    return stat, df, chi2_sf(stat, df)
