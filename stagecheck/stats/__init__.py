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
- ``clustered_paired_p`` — the same on rows that come in clusters (a conversation's turns, not
  independent of each other): the sign-flip test of each cluster's sum of d_i. Its normal
  approximation is the clustered McNemar test of Durkalski et al. (2003), Stat. Med. 22:2417;
  exact on few clusters that differ; one row per cluster is ``paired_fraction_p``.
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

from stagecheck.stats.binomial import binom_two_sided_p, mcnemar_exact
from stagecheck.stats.clustered import clustered_paired_p
from stagecheck.stats.normal import MIN_ROWS, Z95, Values, normal_sf, z_value
from stagecheck.stats.percentiles import percentile_interval, percentile_rank_interval
from stagecheck.stats.proportions import (
    cluster_sums,
    clustered_proportion_p,
    design_effect,
    effective_counts,
    fisher_exact_p,
    half_width,
    holm,
    is_thin,
    paired_fraction_p,
    proportion_p,
    two_proportion_p,
    wilson,
)
from stagecheck.stats.samples import ks_2samp_p, mann_whitney_p

__all__ = [
    "Z95",
    "MIN_ROWS",
    "Values",
    "binom_two_sided_p",
    "clustered_proportion_p",
    "cluster_sums",
    "clustered_paired_p",
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
