"""Open-loop arrival schedule."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from stagecheck.load.arrivals import ArrivalSchedule

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


# -- staged schedules: the rate changes at each stage's end ---------------------------------


def _staged(kind: str = "constant", **kw: object) -> ArrivalSchedule:
    # 10/s for 2 s, 40/s for 1 s, 5/s for 2 s: 20 + 40 + 10 = 70 due times in 5 s
    return ArrivalSchedule(stages=[(2.0, 10.0), (3.0, 40.0), (5.0, 5.0)], kind=kind,
                           clock=lambda: 0, **kw)  # type: ignore[arg-type]  # fmt: skip


def _take_until(s: ArrivalSchedule, end_s: float) -> list[tuple[int, int]]:
    out = []
    while True:
        due = s.next_due()
        if due >= end_s * 1e9:
            return out
        out.append((due, s.stage))


def test_each_stage_holds_rate_times_duration_due_times_tagged_with_their_stage():
    dues = _take_until(_staged(), 5.0)
    by_stage = Counter(stage for _, stage in dues)
    assert by_stage == {0: 20, 1: 40, 2: 10}
    for due, stage in dues:  # each due time lies inside its stage
        assert (0, 2e9, 3e9, 5e9)[stage] <= due < (2e9, 3e9, 5e9)[stage]


def test_the_rate_changes_at_a_boundary_without_a_burst_or_a_gap():
    dues = [d for d, _ in _take_until(_staged(), 5.0)]
    gaps = [round((b - a) / 1e6, 3) for a, b in zip(dues, dues[1:], strict=False)]
    # 100 ms apart, then 25 ms, then 200 ms: no gap shorter or longer than either neighbour
    assert set(gaps[:20]) == {100.0}
    assert set(gaps[20:59]) == {25.0}
    assert set(gaps[60:]) == {200.0}
    assert all(25.0 <= g <= 200.0 for g in gaps)


def test_staged_poisson_is_seeded_and_keeps_each_stage_rate():
    def counts(seed: int) -> Counter[int]:
        s = ArrivalSchedule(stages=[(200.0, 10.0), (300.0, 40.0)], kind="poisson", seed=seed,
                            clock=lambda: 0)  # fmt: skip
        return Counter(stage for _, stage in _take_until(s, 300.0))

    assert counts(4) == counts(4)
    c = counts(4)
    assert c[0] == pytest.approx(2000, rel=0.1) and c[1] == pytest.approx(4000, rel=0.1)


def test_staged_shards_merge_into_the_single_schedule():
    one = [d for d, _ in _take_until(_staged(), 5.0)]
    merged = sorted(
        d for i in range(2) for d, _ in _take_until(_staged(shard_index=i, shards=2), 5.0)
    )
    assert len(merged) == len(one) == 70
    assert all(abs(a - b) <= 1 for a, b in zip(merged, one, strict=True))


def test_a_due_time_given_back_is_taken_next_or_counted_dropped():
    now = [0]
    s = ArrivalSchedule(10.0, clock=lambda: now[0])
    first, second = s.next_due(), s.next_due()  # 0 and 100 ms
    s.give_back(first, s.stage)  # its user was stopped while it waited
    assert s.next_due() == first  # the next user takes it: no gap in the schedule
    s.give_back(second, 0)
    assert s.handed_out == 1  # only the first is out
    # stopping at 250 ms: 100 ms (given back, never sent) and 200 ms were due
    assert s.missed_until(250_000_000) == 2


def test_nothing_is_due_after_the_plan_ends():
    s = ArrivalSchedule(10.0, end_s=0.5, clock=lambda: 0)
    dues = [s.next_due() for _ in range(8)]
    assert dues[:5] == [0, 100_000_000, 200_000_000, 300_000_000, 400_000_000]
    assert all(d >= 3600e9 for d in dues[5:])  # its user waits until the run stops it
    # a stop that comes late (the shape ticks once a second) counts nothing past the end
    assert s.missed_until(2_000_000_000) == 0
