"""Two samples of a continuous figure (latency): Mann-Whitney and Kolmogorov-Smirnov."""

from __future__ import annotations

import math

import numpy as np

from stagecheck.stats.normal import Values, normal_sf


def mann_whitney_p(a: Values, b: Values) -> float | None:
    """Two-sided Mann–Whitney U p-value (normal approximation, tie and continuity corrected)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return None
    _, inverse, counts = np.unique(np.concatenate((x, y)), return_inverse=True, return_counts=True)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2.0  # average rank of each distinct value
    u1 = float(mid_ranks[inverse[:n1]].sum()) - n1 * (n1 + 1) / 2.0
    u = max(u1, n1 * n2 - u1)
    n = n1 + n2
    ties = float((counts.astype(np.float64) ** 3 - counts).sum())
    variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0.0:
        return 1.0  # every value equal
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return min(1.0, 2.0 * normal_sf(z))


def _kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's limiting distribution."""
    if x <= 0.0:
        return 1.0
    if x < 1.0:  # the theta-function form converges fast for small x
        w = math.pi**2 / (8.0 * x * x)
        cdf = (
            math.sqrt(2.0 * math.pi)
            / x
            * sum(math.exp(-((2 * j - 1) ** 2) * w) for j in (1, 2, 3, 4))
        )
        return 1.0 - cdf
    return 2.0 * sum((-1) ** (j - 1) * math.exp(-2.0 * j * j * x * x) for j in range(1, 6))


def ks_2samp_p(a: Values, b: Values) -> float | None:
    """Two-sided two-sample Kolmogorov–Smirnov p-value (asymptotic); None if a sample is empty."""
    x = np.sort(np.asarray(a, dtype=np.float64))
    y = np.sort(np.asarray(b, dtype=np.float64))
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return None
    both = np.concatenate((x, y))
    gap = np.searchsorted(x, both, side="right") / n1 - np.searchsorted(y, both, side="right") / n2
    d = float(np.abs(gap).max())
    return min(1.0, max(0.0, _kolmogorov_sf(math.sqrt(n1 * n2 / (n1 + n2)) * d)))
