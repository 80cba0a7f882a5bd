"""Paired tests of two runs on the same rows when the rows come in clusters (a conversation's
turns): the unit of evidence is the cluster, never the row."""

from __future__ import annotations

import numpy as np

from stagecheck.stats.normal import Values
from stagecheck.stats.proportions import paired_fraction_p

__all__ = ["clustered_paired_p"]

_ZERO = 1e-9  # a unit's sum of differences this close to 0 is no change (shares of replays)


def clustered_paired_p(differences: Values, units: Values) -> float:
    """Two runs on the same rows, row i in independent unit ``units[i]`` (a small non-negative
    integer: its conversation): the two-sided sign-flip test of Σd over the units, d_i the
    difference of row i's correctness fractions (new − base, each in [-1, 1]).

    Under "no change" the two runs are exchangeable within a unit, so the sign of each unit's
    sum D_k = Σ_{i∈k} d_i is a coin toss, whatever the correlation of its rows. On many units
    its normal approximation z² = (Σ D_k)² / Σ D_k² is the clustered McNemar statistic of
    Durkalski, Palesch, Lipsitz & Rust (2003), "Analysis of clustered matched-pair data",
    Stat. Med. 22:2417 (D_k = c_k − b_k, the unit's discordant pairs), which keeps its size
    where McNemar's test on the rows does not (Obuchowski (1998), Stat. Med. 17:1495); on few
    units that differ it is enumerated exactly (:func:`paired_fraction_p` on the D_k scaled
    into [-1, 1]: a sign-flip test is unchanged by a common scale). One row per unit: exactly
    ``paired_fraction_p(differences)`` (McNemar's exact test for 0/1 rows)."""
    d = np.asarray(differences, dtype=np.float64)
    u = np.asarray(units, dtype=np.int64)
    if d.shape != u.shape:
        raise ValueError("need one unit per difference")
    if d.size and (u < 0).any():
        raise ValueError("units must be non-negative integers")
    if d.size and (np.abs(d) > 1.0 + 1e-12).any():
        raise ValueError("per-row differences of fractions must lie in [-1, 1]")
    sums = np.bincount(u, weights=d) if d.size else d
    sums = sums[np.abs(sums) > _ZERO]
    if not sums.size:
        return 1.0
    largest = float(np.abs(sums).max())
    # units of one size and all-or-nothing rows give sums of one magnitude: exactly ±1 here,
    # so the test is McNemar's exact test on the units
    scaled = np.where(np.isclose(np.abs(sums), largest, rtol=1e-9, atol=0.0),
                      np.sign(sums), sums / largest)  # fmt: skip
    return paired_fraction_p(scaled)
