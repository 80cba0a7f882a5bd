"""Distribution-free intervals for percentiles (order statistics)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from stagecheck.stats.binomial import _binom_logpmf, _reach
from stagecheck.stats.normal import Values, _check_confidence


class _RankTails:
    """The two tails of K ~ Binomial(n, q), the count of sample values at or below q_p:
    P(K < lo) (the lower order statistic misses) and P(K >= hi) (the upper one misses)."""

    def __init__(self, n: int, q: float) -> None:
        reach = _reach(n, q)
        self.n = n
        self.first = max(0, math.floor(n * q) - reach)
        pmf = np.exp(_binom_logpmf(n, q, self.first, min(n, math.ceil(n * q) + reach)))
        self.below = np.cumsum(pmf)  # below[i] = P(K <= first + i)
        self.above = np.cumsum(pmf[::-1])[::-1]  # above[i] = P(K >= first + i)

    def miss_below(self, lo: int) -> float:
        index = lo - 1 - self.first
        return float(self.below[index]) if index >= 0 else 0.0

    def miss_above(self, hi: int) -> float:
        index = hi - self.first
        return float(self.above[index]) if index < len(self.above) else 0.0

    def highest_lo(self, budget: float) -> int | None:
        """The largest lo >= 1 with P(K < lo) <= budget."""
        if budget < 0.0:
            return None
        lo = self.first + int(np.searchsorted(self.below, budget, side="right"))
        return lo if lo >= 1 else None

    def lowest_hi(self, budget: float) -> int | None:
        """The smallest hi <= n with P(K >= hi) <= budget."""
        if budget < 0.0:
            return None
        hi = self.first + int(np.searchsorted(-self.above, -budget, side="left"))
        return hi if hi <= self.n else None


def percentile_rank_interval(n: int, p: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (lo, hi) with P(X(lo) <= q_p <= X(hi)) >= confidence; None if none exist."""
    if n < 0 or not 0.0 <= p <= 100.0:
        raise ValueError(f"need n >= 0 and 0 <= p <= 100, got n={n} p={p}")
    _check_confidence(confidence)
    if n == 0 or p in (0.0, 100.0):
        return None
    alpha = 1.0 - confidence
    tails = _RankTails(n, p / 100.0)
    lo, hi = tails.highest_lo(alpha / 2.0), tails.lowest_hi(alpha / 2.0)
    # A tail that cannot get down to α/2 even at the extreme rank leaves the rest to the other.
    if lo is None and hi is None:
        return (1, n) if tails.miss_below(1) + tails.miss_above(n) <= alpha else None
    if lo is None:
        lo, hi = 1, tails.lowest_hi(alpha - tails.miss_below(1))
    elif hi is None:
        lo, hi = tails.highest_lo(alpha - tails.miss_above(n)), n
    if lo is None or hi is None:
        return None
    return lo, hi


def percentile_interval(
    sorted_values_or_lookup: Values | Callable[[int], float],
    n: int,
    p: float,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """The values at ``percentile_rank_interval``'s ranks, from a sorted sample of n values or
    a rank (1-based) → value lookup such as an HDR histogram's; None where no interval exists."""
    ranks = percentile_rank_interval(n, p, confidence)
    if ranks is None:
        return None
    if callable(sorted_values_or_lookup):
        lookup = sorted_values_or_lookup
        return float(lookup(ranks[0])), float(lookup(ranks[1]))
    values = sorted_values_or_lookup
    if len(values) != n:
        raise ValueError(f"{len(values)} values given for a sample of {n}")
    return float(values[ranks[0] - 1]), float(values[ranks[1] - 1])
