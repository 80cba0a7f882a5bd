"""The statistics behind every headline figure: intervals, thinness, and significance tests.

Pure Python and numpy; scipy and statsmodels are only the tests' independent oracles.
``confidence`` is two-sided everywhere (``z_value(0.95)`` is ``Z95``); a bad argument (k > n, a
percentile outside 0–100, a confidence outside (0, 1)) is a ValueError that says which.

Intervals
- ``wilson`` — Wilson score interval for a proportion (accuracy, precision, recall, error
  rate, a slice's accuracy). Unlike the Wald interval it stays inside [0, 1] and keeps its
  coverage near 0 and 1 and at small n. Wilson (1927), JASA 22:209; Brown, Cai & DasGupta
  (2001), Stat. Sci. 16:101. Same as statsmodels ``proportion_confint(method="wilson")``.
- ``is_thin`` — a count too small for any proportion measured on it to be known to better
  than ±``max_half_width``: the widest Wilson interval (p̂ = 0.5) has half-width
  z / (2·sqrt(n + z²)), so n is thin when n < z²/(4·hw²) − z² (n ≤ 92 at ±10 points, 95 %).
- ``percentile_rank_interval`` / ``percentile_interval`` — a distribution-free interval for a
  latency percentile from order statistics: the number K of sample values at or below the true
  p-th percentile is Binomial(n, p/100), so P(X(lo) ≤ q ≤ X(hi)) = P(lo ≤ K < hi) for a
  continuous distribution. The ranks are the classic equal-tailed choice (each tail ≤ α/2; when
  one tail cannot get that low even at the extreme rank, the other tail gets the rest), exact
  binomial at every n (the pmf is summed only where it is not negligible, so n = 10⁷ takes well
  under 5 ms). Hahn & Meeker, *Statistical Intervals* (1991), §5.2; Conover, *Practical
  Nonparametric Statistics*, §3.2. No interval exists for p = 0 or 100, or when the sample is too
  small (p99 needs n ≥ 299 at 95 %): the function says so with None.

Replayed rows (clusters)
A timed run sends each dataset row many times. A deterministic model answers a row the same way
every time, so the replays of a row are one piece of evidence about the model, not N: the unit
of evidence is the row. Every proportion keeps its point estimate (correct / scored requests)
and takes its uncertainty from the rows:
- ``design_effect`` — Kish's design effect of a ratio estimated on clusters: the cluster-robust
  (sandwich) variance of p̂ = Σk_i/Σn_i, Σ(k_i − p̂·n_i)²/(Σn_i)², over the binomial variance
  p̂(1−p̂)/Σn_i. It is 1 when each row is sent once (then the two variances are the same sum), the
  number of replays m for a deterministic model replayed m times (its rows' correctness is all
  or nothing), and in between when the answers of a row differ between replays. Never below 1
  (replays are not counted as more than independent requests). When p̂ is 0 or 1 the variance
  says nothing; the bound of a perfect within-row correlation, Σn_i²/Σn_i, is used (the mean
  replays per request; 1 for one pass). Kish (1965), *Survey Sampling* §8.2; the sandwich is
  statsmodels' OLS ``cov_type="cluster"`` (without the small-sample factor) on an intercept.
- ``wilson(k, n, deff=…)`` — the Wilson interval at the effective sample size n/deff (Kish's
  effective n; Korn & Graubard (1998), Survey Methodology 24:193, do the same for exact
  intervals). One pass: deff = 1, the interval of one request per row, number for number.
- ``clustered_proportion_p`` — two groups of rows (a slice against the rest of the run, or two
  runs on different rows): Rao & Scott (1992), Biometrics 48:577, "A simple method for the
  analysis of clustered binary data": divide each group's counts by its design effect, then run
  the test of independent proportions (``proportion_p``) on the adjusted counts (rounded, so
  that Fisher's exact test applies on small ones). A deterministic model replayed m times gives
  exactly the test on its rows; one pass gives today's test unchanged.
- ``paired_fraction_p`` — two runs on the same rows: each row's difference of correctness
  fractions d_i (new − base) and the sign-flip (Fisher–Pitman) test of Σd_i: under "no change"
  the two runs are exchangeable within a row, so each d_i's sign is a coin toss. Exact by
  enumeration on few rows that differ, else its normal approximation z = Σd_i/√Σd_i². For 0/1
  rows (one pass, or a deterministic model) this is exactly McNemar's exact test.
- ``MIN_ROWS`` — a group of fewer distinct rows is thin and never "significantly worse": a
  handful of rows cannot tell a slice from the rows that happen to be in it, and the sandwich
  variance needs clusters to estimate anything (it is biased low by (G−1)/G on G rows).

Tests (all two-sided)
- ``binom_two_sided_p`` — exact binomial test; outcomes at most as likely as the observed one
  (relative tolerance 1e-7) count as extreme, as in scipy ``binomtest`` and R ``binom.test``.
- ``mcnemar_exact`` — two runs answering the same rows: exact McNemar test on the discordant
  pairs, min(1, 2·P(Bin(b+c, ½) ≤ min(b, c))). McNemar (1947); statsmodels ``mcnemar(exact=True)``.
- ``two_proportion_p`` — two independent proportions (two runs on different rows, a slice
  against the rest): pooled two-sample z-test, statsmodels ``proportions_ztest``.
- ``fisher_exact_p`` — the same question when counts are small: Fisher's exact test of the 2×2
  table (hypergeometric, outcomes at most as likely as the observed one), scipy ``fisher_exact``.
- ``proportion_p`` — picks between the two: Fisher when any expected cell of the 2×2 table is
  below 5 (Cochran's rule for the normal approximation), else the z-test.
- ``holm`` — Holm–Bonferroni step-down adjustment when many comparisons are made at once
  (slices, classes, metrics), controlling the family-wise error rate. Holm (1979), Scand. J.
  Stat. 6:65; statsmodels ``multipletests(method="holm")``.
- ``mann_whitney_p`` — do two latency samples differ in location? Mann–Whitney U, normal
  approximation with tie and continuity corrections, scipy ``mannwhitneyu(method="asymptotic")``.
- ``ks_2samp_p`` — do two latency distributions differ anywhere? Two-sample Kolmogorov–Smirnov
  with Kolmogorov's limiting distribution at sqrt(n₁n₂/(n₁+n₂))·D (scipy ``kstwobign``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Z95",
    "MIN_ROWS",
    "Values",
    "binom_two_sided_p",
    "clustered_proportion_p",
    "design_effect",
    "effective_counts",
    "fisher_exact_p",
    "half_width",
    "holm",
    "is_thin",
    "ks_2samp_p",
    "mann_whitney_p",
    "mcnemar_exact",
    "normal_sf",
    "paired_fraction_p",
    "percentile_interval",
    "percentile_rank_interval",
    "proportion_p",
    "two_proportion_p",
    "wilson",
    "z_value",
]

Z95 = 1.959963984540054  # standard normal quantile at 0.975
_REL_TIES = 1 + 1e-7  # outcomes this close in probability count as equally extreme (R, scipy)
_MIN_EXPECTED = 5.0  # Cochran: below this expected count, use an exact test
MIN_ROWS = 10  # distinct dataset rows below which a group is thin and never significant
_EXACT_FLIPS = 16  # rows that differ up to which the sign-flip test is enumerated (2**16 sums)

Values = Sequence[float] | npt.NDArray[Any]  # a sample: a list or a numpy array


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence}")


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: P(|Z| ≤ z) = confidence."""
    _check_confidence(confidence)
    if confidence == 0.95:
        return Z95
    tail = (1.0 - confidence) / 2.0
    # Start from a rational approximation (Abramowitz & Stegun 26.2.23, error < 4.5e-4),
    # then polish with Newton steps on the exact tail (erfc).
    t = math.sqrt(-2.0 * math.log(tail))
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (
        1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t**3
    )
    for _ in range(3):
        density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        z += (normal_sf(z) - tail) / density
    return z


# --- proportions ---------------------------------------------------------------------------


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


# --- binomial ------------------------------------------------------------------------------


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


# --- percentiles ---------------------------------------------------------------------------


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


# --- two samples of a continuous figure (latency) ------------------------------------------


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
