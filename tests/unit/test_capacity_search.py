"""The capacity search on synthetic step functions: where it probes, how it brackets the knee,
when it stops, and what it makes of a step it could not judge."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagecheck.capacity.search import Phase, StepStatus, search

pytestmark = pytest.mark.unit


def knee_at(knee: float) -> Callable[[float, Phase], StepStatus]:
    def probe(rate: float, phase: Phase) -> StepStatus:
        return "passed" if rate <= knee else "failed"

    return probe


@settings(max_examples=200, deadline=None)
@given(
    knee=st.floats(1.0, 900.0),
    min_rate=st.floats(0.5, 50.0),
    resolution=st.sampled_from([0.05, 0.1, 0.2]),
)
def test_bisection_brackets_a_monotone_knee_within_the_resolution(
    knee: float, min_rate: float, resolution: float
) -> None:
    out = search(knee_at(knee), min_rate=min_rate, max_rate=1000.0, max_steps=50,
                 resolution=resolution)  # fmt: skip
    if knee < min_rate:
        assert out.capacity is None and out.first_failing == min_rate and len(out.probed) == 1
        return
    assert out.capacity is not None and out.first_failing is not None
    assert out.capacity <= knee < out.first_failing
    assert out.gap is not None and out.gap <= resolution
    # every rate probed was passed or failed as the step function says, and never twice
    rates = [r for r, _, _ in out.probed]
    assert len(rates) == len(set(rates))
    # bisection never probes above the coarse step that failed
    assert max(rates) == max(r for r, phase, _ in out.probed if phase == "coarse")


def test_coarse_steps_double_then_bisect_halves_the_bracket() -> None:
    out = search(knee_at(37.0), min_rate=5, max_rate=200, max_steps=20)
    coarse = [r for r, phase, _ in out.probed if phase == "coarse"]
    bisect = [r for r, phase, _ in out.probed if phase == "bisect"]
    assert coarse == [5, 10, 20, 40]
    assert bisect == [30, 35, 37.5]
    assert (out.capacity, out.first_failing) == (35, 37.5)


def test_max_steps_bounds_the_search_and_keeps_the_best_bracket_so_far() -> None:
    out = search(knee_at(37.0), min_rate=5, max_rate=200, max_steps=5)
    assert len(out.probed) == 5
    assert (out.capacity, out.first_failing) == (30, 40)
    assert out.gap is not None and out.gap > 0.10  # stopped by the budget, not the resolution


def test_every_step_passing_up_to_max_rate_is_a_lower_bound() -> None:
    out = search(knee_at(1e9), min_rate=10, max_rate=50, max_steps=10)
    assert [r for r, _, _ in out.probed] == [10, 20, 40, 50]
    assert out.at_max and out.capacity == 50 and out.first_failing is None


def test_a_saturated_generator_stops_the_search_without_a_failure() -> None:
    def probe(rate: float, phase: Phase) -> StepStatus:
        return "passed" if rate < 40 else "saturated"

    out = search(probe, min_rate=10, max_rate=400, max_steps=10)
    assert out.stopped == "saturated"
    assert out.capacity == 20 and out.first_failing is None
    assert [r for r, _, _ in out.probed] == [10, 20, 40]


def test_saturation_during_bisection_stops_it_but_keeps_the_bracket() -> None:
    def probe(rate: float, phase: Phase) -> StepStatus:
        if phase == "bisect":
            return "saturated"
        return "passed" if rate <= 30 else "failed"

    out = search(probe, min_rate=10, max_rate=400, max_steps=10)
    assert out.stopped == "saturated" and (out.capacity, out.first_failing) == (20, 40)
    assert len(out.probed) == 4


def test_down_at_the_lowest_rate_stops_but_down_under_load_is_a_failure() -> None:
    out = search(lambda r, p: "down", min_rate=10, max_rate=400, max_steps=10)
    assert out.stopped == "down" and out.capacity is None and len(out.probed) == 1

    def falls_over(rate: float, phase: Phase) -> StepStatus:
        return "passed" if rate <= 25 else "down"

    out = search(falls_over, min_rate=10, max_rate=400, max_steps=10)
    assert out.stopped is None
    assert out.capacity is not None and out.capacity <= 25 < (out.first_failing or 0)


def test_a_non_monotone_endpoint_still_gives_a_probed_pass_below_a_probed_failure() -> None:
    # passes in [0, 15] and again in [30, 35]: the search assumes monotony, so it reports the
    # knee it bracketed: a rate it saw pass just below one it saw fail
    def probe(rate: float, phase: Phase) -> StepStatus:
        return "passed" if rate <= 15 or 30 <= rate <= 35 else "failed"

    out = search(probe, min_rate=5, max_rate=200, max_steps=20)
    seen = {r: s for r, _, s in out.probed}
    assert out.capacity is not None and out.first_failing is not None
    assert seen[out.capacity] == "passed" and seen[out.first_failing] == "failed"
    assert out.capacity < out.first_failing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(min_rate=0, max_rate=10, max_steps=3), "min_rate"),
        (dict(min_rate=20, max_rate=10, max_steps=3), "max_rate"),
        (dict(min_rate=1, max_rate=10, max_steps=0), "max_steps"),
    ],
)
def test_bad_bounds_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search(knee_at(5), **kwargs)


def test_a_first_step_that_fails_halves_the_rate_down_to_the_floor() -> None:
    out = search(knee_at(30.0), min_rate=200.0, max_rate=1000.0, max_steps=12, floor=1.0)
    phases = [(rate, phase) for rate, phase, _ in out.probed]
    assert phases[:3] == [(200.0, "coarse"), (100.0, "down"), (50.0, "down")]
    assert phases[3] == (25.0, "down")  # passes: then bisection between 25 and 50
    assert out.capacity is not None and 25.0 <= out.capacity <= 30.0
    assert out.first_failing is not None and 30.0 < out.first_failing <= 50.0
    # without a floor (the user chose --min-rate) nothing below it is tried
    fixed = search(knee_at(30.0), min_rate=200.0, max_rate=1000.0, max_steps=12)
    assert [p for _, p, _ in fixed.probed] == ["coarse"] and fixed.capacity is None
    # the floor bounds the descent
    low = search(knee_at(0.5), min_rate=8.0, max_rate=1000.0, max_steps=12, floor=1.0)
    assert [r for r, _, _ in low.probed] == [8.0, 4.0, 2.0, 1.0] and low.capacity is None
