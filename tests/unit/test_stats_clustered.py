"""The clustered paired test (stats.clustered_paired_p): two runs on the same rows grouped in
conversations. Oracles written here: Durkalski et al.'s (2003) statistic computed from the
discordant pairs of each cluster with scipy's chi-square tail, an enumeration of the sign flips,
and McNemar's exact test (statsmodels) when each row is its own unit."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from stagecheck import stats

pytestmark = pytest.mark.unit


def test_one_row_per_unit_is_mcnemars_exact_test():
    d = [-1.0] * 9 + [1.0] * 2 + [0.0] * 40
    p = stats.clustered_paired_p(d, range(len(d)))
    assert p == pytest.approx(mcnemar([[40, 9], [2, 0]], exact=True).pvalue, rel=1e-9)
    assert p == stats.paired_fraction_p(d)


def test_many_clusters_give_durkalskis_clustered_mcnemar_statistic():
    rng = random.Random(3)
    d, units, b, c = [], [], [], []
    for k in range(60):  # 60 conversations of 3 to 6 turns, a little worse in the new run
        bk = ck = 0
        for _ in range(rng.randint(3, 6)):
            x = rng.random() < 0.8
            y = x if rng.random() < 0.5 else rng.random() < 0.7
            d.append(float(y) - float(x))
            units.append(k)
            bk += x and not y
            ck += y and not x
        b.append(bk)
        c.append(ck)
    diff = np.asarray(b) - np.asarray(c)
    chi2 = diff.sum() ** 2 / np.square(diff).sum()  # Durkalski et al. (2003)
    nonzero = int((diff != 0).sum())
    assert nonzero > 16  # the normal approximation applies
    assert stats.clustered_paired_p(d, units) == pytest.approx(sps.chi2.sf(chi2, 1), rel=1e-9)


def test_few_clusters_are_enumerated_exactly():
    # four conversations each wrong on all five turns in the new run: 20 row flips, but four
    # pieces of evidence; the exact sign-flip p is 2/16
    d = [-1.0] * 20 + [0.0] * 100
    units = [i // 5 for i in range(120)]
    assert stats.clustered_paired_p(d, units) == pytest.approx(2 / 16)
    assert stats.paired_fraction_p(d) < 1e-5  # the rows as if independent: far too sure
    # unequal clusters: every sign pattern of the sums counted here
    sums = np.asarray([-3.0, -1.0, 2.0, -0.5])
    d = [-1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -0.5]
    units = [0, 0, 0, 1, 2, 2, 3]
    observed = abs(sums.sum())
    flips = [abs(np.dot(s, sums)) for s in itertools.product((-1, 1), repeat=4)]
    expected = sum(f >= observed - 1e-12 for f in flips) / 16
    assert stats.clustered_paired_p(d, units) == pytest.approx(expected)


def test_no_change_and_bad_arguments():
    assert stats.clustered_paired_p([], []) == 1.0
    assert stats.clustered_paired_p([1.0, -1.0], [0, 0]) == 1.0  # flips cancel in one unit
    with pytest.raises(ValueError, match="one unit per difference"):
        stats.clustered_paired_p([1.0], [0, 1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        stats.clustered_paired_p([2.0], [0])
    with pytest.raises(ValueError, match="non-negative"):
        stats.clustered_paired_p([1.0], [-1])
