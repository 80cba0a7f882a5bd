"""Exact binomial tails and tests (two-sided p, McNemar's exact test)."""

from __future__ import annotations

import math

import numpy as np

from stagecheck.stats.normal import _REL_TIES


def _binom_logpmf_at(n: int, p: float, k: int) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _binom_logpmf(n: int, p: float, lo: int, hi: int) -> np.ndarray:
    """log P(K = k) for k = lo..hi, K ~ Binomial(n, p), 0 < p < 1."""
    k = np.arange(lo, hi, dtype=np.float64)
    steps = np.log((n - k) / (k + 1.0)) + (math.log(p) - math.log1p(-p))
    return _binom_logpmf_at(n, p, lo) + np.concatenate(([0.0], np.cumsum(steps)))


def _reach(n: int, p: float) -> int:
    """Ranks beyond this distance from the mean (or, by log-concavity, from any point of a
    tail towards its end) carry < 1e-28 of the mass (Bernstein's inequality)."""
    return math.ceil(12.0 * math.sqrt(n * p * (1.0 - p)) + 40.0)


def _lower_tail(n: int, p: float, k: int) -> float:
    """P(K <= k), for k at or below the mode."""
    if k < 0:
        return 0.0
    return float(np.exp(_binom_logpmf(n, p, max(0, k - _reach(n, p)), k)).sum())


def _upper_tail(n: int, p: float, k: int) -> float:
    """P(K >= k), for k at or above the mode."""
    if k > n:
        return 0.0
    return float(np.exp(_binom_logpmf(n, p, k, min(n, k + _reach(n, p)))).sum())


def _first_at_most(n: int, p: float, lo: int, hi: int, limit: float, rising: bool) -> int | None:
    """On lo..hi, where the log pmf is monotone, the first k (falling) or the last k (rising)
    whose log pmf is at most limit; None if there is none."""
    if not rising:
        if _binom_logpmf_at(n, p, hi) > limit:
            return None
        while lo < hi:  # first k whose log pmf falls to the limit
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if _binom_logpmf_at(n, p, mid) <= limit else (mid + 1, hi)
        return lo
    if _binom_logpmf_at(n, p, lo) > limit:
        return None
    while lo < hi:  # last k whose log pmf is still under the limit
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _binom_logpmf_at(n, p, mid) <= limit else (lo, mid - 1)
    return lo


def binom_two_sided_p(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of k successes in n trials (scipy ``binomtest``)."""
    if n < 0 or not 0 <= k <= n or not 0.0 <= p <= 1.0:
        raise ValueError(f"need 0 <= k <= n and 0 <= p <= 1, got k={k} n={n} p={p}")
    if p in (0.0, 1.0):
        return 1.0 if k == round(p * n) else 0.0
    mean = p * n
    if k == mean:
        return 1.0
    limit = _binom_logpmf_at(n, p, k) + math.log(_REL_TIES)
    if k < mean:
        first = _first_at_most(n, p, math.ceil(mean), n, limit, rising=False)
        upper = 0.0 if first is None else _upper_tail(n, p, first)
        return min(1.0, _lower_tail(n, p, k) + upper)
    last = _first_at_most(n, p, 0, math.floor(mean), limit, rising=True)
    lower = 0.0 if last is None else _lower_tail(n, p, last)
    return min(1.0, lower + _upper_tail(n, p, k))


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar p-value on the discordant pairs b (right→wrong) and c (wrong→right)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b} and {c}")
    if b + c == 0:
        return 1.0
    return min(1.0, 2.0 * _lower_tail(b + c, 0.5, min(b, c)))
