"""Open-loop arrival schedule."""

from __future__ import annotations

import statistics

import pytest

from stagecheck.arrivals import ArrivalSchedule

pytestmark = pytest.mark.unit


def test_constant_arrivals_are_evenly_spaced():
    s = ArrivalSchedule(40.0, clock=lambda: 1_000)
    dues = [s.next_due() for _ in range(5)]
    assert dues == [1_000, 25_001_000, 50_001_000, 75_001_000, 100_001_000]


def test_poisson_arrivals_are_seeded_with_the_right_mean():
    a = ArrivalSchedule(100.0, kind="poisson", seed=3, clock=lambda: 0)
    b = ArrivalSchedule(100.0, kind="poisson", seed=3, clock=lambda: 0)
    dues = [a.next_due() for _ in range(5000)]
    assert dues == [b.next_due() for _ in range(5000)]
    gaps = [y - x for x, y in zip(dues, dues[1:], strict=False)]
    assert statistics.mean(gaps) == pytest.approx(10_000_000, rel=0.05)  # 10 ms
    assert statistics.pstdev(gaps) == pytest.approx(10_000_000, rel=0.1)  # exponential


def test_shards_interleave_into_one_even_schedule():
    shards = [ArrivalSchedule(30.0, shard_index=i, shards=3, clock=lambda: 0) for i in range(3)]
    merged = sorted(s.next_due() for s in shards for _ in range(4))
    gaps = {round((y - x) / 1e6, 3) for x, y in zip(merged, merged[1:], strict=False)}
    assert gaps == {33.333}  # 30/s overall


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        ArrivalSchedule(0.0)


def test_arrivals_no_user_took_are_counted_as_dropped():
    now = [0]
    s = ArrivalSchedule(10.0, clock=lambda: now[0])  # one every 100 ms from t=0
    for _ in range(3):
        s.next_due()  # 0, 100, 200 ms handed out
    # stopping at 650 ms: 300, 400, 500, 600 ms were due and never taken
    assert s.missed_until(650_000_000) == 4
    assert s.handed_out == 3
