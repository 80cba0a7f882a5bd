"""stagecheck.stats against independent implementations (scipy, statsmodels: test-only oracles).

Each method is compared value by value over grids and random cases; the percentile intervals,
which have no library twin, are checked by their defining property (binomial coverage, computed
by scipy) and by a seeded Monte-Carlo coverage of real samples.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from stagecheck import stats

pytestmark = pytest.mark.unit

QUICK = settings(max_examples=150, deadline=None, derandomize=True)
CONFIDENCES = [0.8, 0.9, 0.95, 0.99]


def close(ours: float | None, oracle: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return ours is not None and math.isclose(ours, float(oracle), rel_tol=rel, abs_tol=abs_)


# --- normal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("z", [-8.0, -1.96, 0.0, 0.5, 1.959963984540054, 3.0, 8.0, 30.0])
def test_normal_sf_is_the_standard_normal_tail(z):
    assert math.isclose(stats.normal_sf(z), sps.norm.sf(z), rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize("confidence", [0.5, 0.683, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-9])
def test_z_value_is_the_two_sided_normal_quantile(confidence):
    assert math.isclose(
        stats.z_value(confidence), sps.norm.isf((1 - confidence) / 2), rel_tol=1e-12
    )
    assert math.isclose(stats.Z95, sps.norm.isf(0.025), rel_tol=1e-15)


# --- Wilson, thinness -----------------------------------------------------------------------


@given(n=st.integers(1, 100_000), share=st.floats(0, 1), confidence=st.sampled_from(CONFIDENCES))
@QUICK
def test_wilson_matches_statsmodels(n, share, confidence):
    k = round(share * n)
    lo, hi = stats.wilson(k, n, confidence)
    want_lo, want_hi = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert lo == pytest.approx(max(0.0, want_lo), abs=1e-12)
    assert hi == pytest.approx(min(1.0, want_hi), abs=1e-12)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (1, 1), (0, 50), (50, 50), (0, 10**7), (10**7, 10**7)]
)
def test_wilson_at_the_ends_stays_in_bounds_and_excludes_nothing_observed(k, n):
    lo, hi = stats.wilson(k, n)
    assert 0.0 <= lo <= hi <= 1.0
    assert (lo == 0.0) == (k == 0) and (hi == 1.0) == (k == n)


def test_wilson_and_half_width_of_nothing_are_none():
    assert stats.wilson(0, 0) is None
    assert stats.half_width(None) is None
    assert stats.half_width((0.25, 0.75)) == 0.25
    with pytest.raises(ValueError):
        stats.wilson(5, 4)


@pytest.mark.parametrize("max_half_width", [0.02, 0.05, 0.10, 0.2])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_thin_means_even_the_widest_wilson_interval_is_wider_than_asked(max_half_width, confidence):
    # The widest interval is at p̂ = ½, i.e. k = n/2 for even n (checked with statsmodels).
    for n in range(2, 30_000, 2):
        lo, hi = proportion_confint(n // 2, n, alpha=1 - confidence, method="wilson")
        if (hi - lo) / 2 <= max_half_width:
            break
    assert not stats.is_thin(n, max_half_width, confidence)
    assert stats.is_thin(n - 2, max_half_width, confidence)
    assert stats.is_thin(0) and stats.is_thin(1)


def test_ten_points_at_95_percent_needs_93_items():
    assert stats.is_thin(92) and not stats.is_thin(93)


# --- binomial, McNemar ----------------------------------------------------------------------


@given(n=st.integers(1, 3000), share=st.floats(0, 1), p=st.floats(0.001, 0.999))
@QUICK
def test_binomial_test_matches_scipy(n, share, p):
    k = round(share * n)
    assert close(stats.binom_two_sided_p(k, n, p), sps.binomtest(k, n, p).pvalue, rel=1e-7)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 1, 0.5), (1, 1, 0.5), (5, 10, 0.5), (0, 20, 0.5), (20, 20, 0.5), (3, 10, 0.3),
     (0, 100, 0.01), (100, 100, 0.99), (12, 10**6, 1e-5), (500_321, 10**6, 0.5),
     (2_000_000, 5_000_000, 0.4), (37, 7_000_000, 1e-5)],
)  # fmt: skip
def test_binomial_test_edges_and_large_n_match_scipy(k, n, p):
    assert close(stats.binom_two_sided_p(k, n, p), sps.binomtest(k, n, p).pvalue, rel=1e-6)


def test_binomial_test_with_a_certain_outcome():
    assert stats.binom_two_sided_p(0, 10, 0.0) == 1.0
    assert stats.binom_two_sided_p(1, 10, 0.0) == 0.0
    assert stats.binom_two_sided_p(10, 10, 1.0) == 1.0


@given(b=st.integers(0, 2000), c=st.integers(0, 2000))
@QUICK
def test_mcnemar_matches_statsmodels(b, c):
    want = mcnemar([[7, b], [c, 3]], exact=True).pvalue if b + c else 1.0
    assert close(stats.mcnemar_exact(b, c), want, rel=1e-7)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 1), (1, 0), (5, 5), (0, 40), (49_000, 51_000)])
def test_mcnemar_edges(b, c):
    want = mcnemar([[1, b], [c, 1]], exact=True).pvalue if b + c else 1.0
    assert close(stats.mcnemar_exact(b, c), want, rel=1e-7)


# --- two proportions ------------------------------------------------------------------------


@given(n1=st.integers(1, 5000), n2=st.integers(1, 5000), s1=st.floats(0, 1), s2=st.floats(0, 1))
@QUICK
def test_z_test_matches_statsmodels(n1, n2, s1, s2):
    k1, k2 = round(s1 * n1), round(s2 * n2)
    ours = stats.two_proportion_p(k1, n1, k2, n2)
    if k1 + k2 in (0, n1 + n2):
        assert ours == 1.0
        return
    _, want = proportions_ztest([k1, k2], [n1, n2])
    assert close(ours, want, rel=1e-9)


@given(n1=st.integers(1, 400), n2=st.integers(1, 400), s1=st.floats(0, 1), s2=st.floats(0, 1))
@QUICK
def test_fisher_matches_scipy(n1, n2, s1, s2):
    k1, k2 = round(s1 * n1), round(s2 * n2)
    want = sps.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    assert close(stats.fisher_exact_p(k1, n1, k2, n2), want, rel=1e-7)


@pytest.mark.parametrize(
    "table", [(0, 1, 0, 1), (1, 1, 0, 1), (0, 3, 3, 3), (2, 10_000, 9, 12_000), (5, 5, 0, 5)]
)
def test_fisher_edges(table):
    k1, n1, k2, n2 = table
    want = sps.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    assert close(stats.fisher_exact_p(*table), want, rel=1e-7)


def test_proportion_p_uses_fisher_for_small_expected_cells_else_the_z_test():
    small = (1, 20, 6, 20)  # 7 hits in 40: expected hits per row 3.5 < 5
    assert stats.proportion_p(*small) == stats.fisher_exact_p(*small)
    large = (60, 100, 75, 100)
    assert stats.proportion_p(*large) == stats.two_proportion_p(*large)
    few_misses = (97, 100, 99, 100)  # expected misses per row 2 < 5
    assert stats.proportion_p(*few_misses) == stats.fisher_exact_p(*few_misses)
    for empty in [(0, 0, 1, 2), (1, 2, 0, 0)]:
        assert stats.two_proportion_p(*empty) is None
        assert stats.fisher_exact_p(*empty) is None
        assert stats.proportion_p(*empty) is None


# --- Holm -----------------------------------------------------------------------------------


def holm_cases():
    rng = np.random.default_rng(11)
    yield from ([], [None], [0.5], [0.0, 0.0, 1.0], [0.01, 0.01, 0.04, None, 0.03])
    for size in [2, 5, 10, 30, 200]:
        for _ in range(8):
            values = rng.uniform(0, 1, size) ** rng.uniform(1, 6)  # many small p-values
            values = np.where(rng.uniform(0, 1, size) < 0.2, values.round(2), values)  # ties
            gaps = rng.uniform(0, 1, size) < 0.15
            yield [None if gap else float(v) for v, gap in zip(values, gaps, strict=True)]


@pytest.mark.parametrize("p_values", list(holm_cases()))
def test_holm_matches_statsmodels_and_keeps_gaps(p_values):
    ours = stats.holm(p_values)
    assert [p is None for p in ours] == [p is None for p in p_values]
    present = [p for p in p_values if p is not None]
    if present:
        want = multipletests(present, method="holm")[1]
        got = [p for p in ours if p is not None]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# --- Mann–Whitney, Kolmogorov–Smirnov --------------------------------------------------------


def latency_pairs():
    rng = np.random.default_rng(8)
    for size_a, size_b, shift, digits in [(1, 1, 0, 3), (2, 3, 0, 1), (20, 30, 0.3, 3),
                                          (300, 250, 0.1, 1), (5000, 4000, 0.0, 0),
                                          (10_000, 20_000, 0.02, 2)]:  # fmt: skip
        a = rng.lognormal(3.0, 0.5, size_a).round(digits)  # rounding makes ties, as in µs
        b = (rng.lognormal(3.0, 0.5, size_b) * (1 + shift)).round(digits)
        yield a, b


@pytest.mark.parametrize(("a", "b"), list(latency_pairs()))
def test_mann_whitney_matches_scipy(a, b):
    want = sps.mannwhitneyu(a, b, method="asymptotic", use_continuity=True).pvalue
    assert close(stats.mann_whitney_p(a.tolist(), b), want, rel=1e-9)


def test_mann_whitney_of_identical_values_and_empty_samples():
    assert stats.mann_whitney_p([5.0] * 10, [5.0] * 7) == 1.0
    assert stats.mann_whitney_p([], [1.0]) is None
    assert stats.ks_2samp_p([1.0], []) is None


@pytest.mark.parametrize(("a", "b"), list(latency_pairs()))
def test_ks_is_kolmogorovs_limit_at_the_observed_distance(a, b):
    # The statistic is scipy's; the p-value is Kolmogorov's limiting distribution (kstwobign).
    en = len(a) * len(b) / (len(a) + len(b))
    with np.errstate(divide="ignore"):  # scipy's p-value warns when round(en) is 0
        d = sps.ks_2samp(a, b, method="asymp").statistic
    want = sps.kstwobign.sf(d * math.sqrt(en))
    assert close(stats.ks_2samp_p(a, b), want, rel=1e-9)


def test_ks_agrees_with_scipys_asymptotic_test_on_latency_sized_samples():
    # scipy's 'asymp' uses the one-sample KS law at round(n1·n2/(n1+n2)); the limit is the
    # conservative (larger) of the two, within a couple of percent from a few thousand values.
    rng = np.random.default_rng(9)
    for shift in [0.0, 0.01, 0.02, 0.04]:
        a = rng.lognormal(3.0, 0.5, 20_000).round(1)
        b = (rng.lognormal(3.0, 0.5, 15_000) * (1 + shift)).round(1)
        want = sps.ks_2samp(a, b, method="asymp").pvalue
        ours = stats.ks_2samp_p(a, b)
        assert ours is not None and want <= ours * (1 + 1e-12) and ours <= want * 1.03 + 1e-12


def test_two_sample_tests_are_fast_on_a_million_values():
    rng = np.random.default_rng(10)
    a = rng.integers(1_000, 900_000, 1_000_000)
    b = rng.integers(1_000, 900_000, 1_000_000)
    # CPU time of this process: what the code costs, whatever else the machine is running
    start = time.process_time()
    assert stats.mann_whitney_p(a, b) is not None and stats.ks_2samp_p(a, b) is not None
    assert time.process_time() - start < 3.0


# --- percentile intervals -------------------------------------------------------------------


def coverage(n: int, p: float, ranks: tuple[int, int]) -> float:
    lo, hi = ranks
    q = p / 100
    return float(sps.binom.cdf(hi - 1, n, q) - sps.binom.cdf(lo - 1, n, q))


PERCENTILES = [1, 10, 25, 50, 75, 90, 95, 99, 99.9]


@pytest.mark.parametrize("p", PERCENTILES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_percentile_ranks_cover_as_promised_and_are_not_wider_than_needed(p, confidence):
    for n in [1, 2, 5, 10, 20, 50, 100, 171, 299, 300, 500, 1000, 3000, 10_000, 123_457, 10**6]:
        ranks = stats.percentile_rank_interval(n, p, confidence)
        q = p / 100
        # a pair exists iff the widest one, (1, n), reaches the confidence
        widest = 1 - q**n - (1 - q) ** n
        if ranks is None:
            assert widest < confidence + 1e-12, (n, p)
            continue
        lo, hi = ranks
        assert 1 <= lo < hi <= n
        assert coverage(n, p, ranks) >= confidence - 1e-12, (n, p, ranks)
        # equal tails: each tail is within α/2 unless the other tail is pinned at its extreme
        alpha = 1 - confidence
        below, above = sps.binom.cdf(lo - 1, n, q), sps.binom.sf(hi - 1, n, q)
        if lo > 1 and hi < n:
            assert below <= alpha / 2 + 1e-12 and above <= alpha / 2 + 1e-12
            # one rank narrower on either side would break its tail
            assert sps.binom.cdf(lo, n, q) > alpha / 2 - 1e-12
            assert sps.binom.sf(hi - 2, n, q) > alpha / 2 - 1e-12


@given(n=st.integers(1, 2_000_000), p=st.floats(0.05, 99.95))
@settings(max_examples=120, deadline=None, derandomize=True)
def test_percentile_ranks_cover_at_any_size(n, p):
    ranks = stats.percentile_rank_interval(n, p)
    if ranks is not None:
        assert coverage(n, p, ranks) >= 0.95 - 1e-9


@pytest.mark.parametrize("p", [50, 95, 99])
def test_percentile_intervals_cover_the_true_percentile_of_real_samples(p):
    rng = np.random.default_rng(int(p))
    n, trials = 400, 800
    true_q = sps.lognorm(s=0.6, scale=math.exp(3.0)).ppf(p / 100)
    samples = np.sort(rng.lognormal(3.0, 0.6, (trials, n)), axis=1)
    hits = 0
    for sample in samples:
        lo, hi = stats.percentile_interval(sample, n, p)
        hits += lo <= true_q <= hi
    # the promise is >= 95 %; allow 3 binomial standard errors of Monte-Carlo noise
    assert hits / trials >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)


def test_percentile_interval_reads_a_sequence_or_a_lookup_at_the_same_ranks():
    values = [float(v) for v in range(10, 10_010, 10)]  # 1000 sorted values
    lo, hi = stats.percentile_rank_interval(1000, 90)
    assert stats.percentile_interval(values, 1000, 90) == (values[lo - 1], values[hi - 1])
    asked = []

    def lookup(rank: int) -> float:
        asked.append(rank)
        return rank * 10.0

    assert stats.percentile_interval(lookup, 1000, 90) == (lo * 10.0, hi * 10.0)
    assert asked == [lo, hi]
    assert stats.percentile_interval(values, 1000, 100) is None
    with pytest.raises(ValueError):
        stats.percentile_interval(values, 999, 90)


@pytest.mark.parametrize(("n", "p"), [(0, 50), (10, 0), (10, 100), (5, 50), (298, 99), (10**7, 0)])
def test_no_percentile_interval_where_none_can_exist(n, p):
    assert stats.percentile_rank_interval(n, p) is None


def test_bad_arguments_are_errors_that_say_so():
    for call in [
        lambda: stats.percentile_rank_interval(10, 50, 1.0),
        lambda: stats.percentile_rank_interval(10, 101),
        lambda: stats.percentile_rank_interval(-1, 50),
        lambda: stats.wilson(1, 2, 0.0),
        lambda: stats.binom_two_sided_p(3, 2),
        lambda: stats.mcnemar_exact(-1, 2),
    ]:
        with pytest.raises(ValueError, match="must|need"):
            call()


def test_p99_needs_299_values_at_95_percent():
    assert stats.percentile_rank_interval(298, 99) is None
    assert stats.percentile_rank_interval(299, 99) is not None


@pytest.mark.parametrize("p", [50, 90, 99, 99.9, 99.99])
def test_percentile_ranks_at_ten_million_are_fast_and_cover(p):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = time.process_time()  # this process's CPU: not slowed by other processes
        for _ in range(10):
            ranks = stats.percentile_rank_interval(10**7, p)
        elapsed = (time.process_time() - start) / 10
    assert ranks is not None and coverage(10**7, p, ranks) >= 0.95 - 1e-9
    assert elapsed < 0.005, f"{elapsed * 1e3:.2f} ms"
