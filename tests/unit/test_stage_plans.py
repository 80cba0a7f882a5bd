"""Load shapes in the scenario: stages of arrival rates (open loop) as well as of users."""

from __future__ import annotations

import pytest

from stagecheck.errors import InputError
from stagecheck.load.plan import LoadPlan
from stagecheck.scenario import load_scenario
from tests.conftest import BASIC_SCENARIO

pytestmark = pytest.mark.unit

OPEN_STAGES = """load:
  arrivals: poisson
  stages:
    - {name: warm, duration: 10s, arrival_rate: 10/s}
    - {name: peak, duration: 20s, arrival_rate: 40/s, users: 64}
"""


def _with_load(load: str) -> str:
    return BASIC_SCENARIO.replace("load: {users: 2, duration: 5s}\n", load)


def _problems(path: object) -> list[str]:
    with pytest.raises(InputError) as info:
        load_scenario(path)  # type: ignore[arg-type]
    return info.value.problems


def test_stages_of_arrival_rates_plan_each_stage_rate_and_pool(write_scenario):
    loaded = load_scenario(write_scenario(_with_load(OPEN_STAGES)))
    plan = LoadPlan.from_scenario(loaded)
    assert [(s.name, s.arrival_rate, s.users, s.end) for s in plan.stages] == [
        ("warm", 10.0, 10, 10.0),  # the pool defaults as the top-level rule does
        ("peak", 40.0, 64, 30.0),
    ]
    assert plan.rate_stages == ((10.0, 10.0), (30.0, 40.0))
    # the live view's offered rate: the current stage's (the first before the run starts)
    assert [plan.rate_at(i) for i in (-1, 0, 1)] == [10.0, 10.0, 40.0]
    load = plan.as_dict()
    assert load["mode"] == "stages" and load["arrivals"] == "poisson"
    assert load["arrival_rate"] == 40.0  # the highest stage's: open-loop validity rules apply
    assert [s["arrival_rate"] for s in load["stages"]] == [10.0, 40.0]


def test_an_open_loop_pool_never_shrinks_within_a_run(write_scenario):
    # a user stopped while it waits would leave its due time to users holding later ones
    text = _with_load(
        OPEN_STAGES + "    - {name: cool, duration: 5s, arrival_rate: 5/s, users: 8}\n"
    )
    plan = LoadPlan.from_scenario(load_scenario(write_scenario(text)))
    assert [s.users for s in plan.stages] == [10, 64, 64]


def test_closed_loop_stages_have_no_rates(write_scenario):
    text = _with_load(
        "load:\n  stages:\n    - {duration: 5s, users: 2}\n    - {duration: 5s, users: 4}\n"
    )
    plan = LoadPlan.from_scenario(load_scenario(write_scenario(text)))
    assert plan.arrival_rate is None and plan.rate_stages == () and plan.rate_at(1) is None
    assert [s["arrival_rate"] for s in plan.as_dict()["stages"]] == [None, None]


def test_mixed_stages_are_one_line_naming_the_closed_ones(write_scenario):
    text = _with_load(OPEN_STAGES + "    - {name: cool, duration: 5s, users: 4}\n")
    (line,) = _problems(write_scenario(text))
    assert "either every stage names an arrival_rate" in line and "stage cool" in line


def test_a_top_level_rate_with_stages_says_where_the_rates_go(write_scenario):
    text = _with_load(OPEN_STAGES.replace("load:\n", "load:\n  arrival_rate: 5/s\n"))
    (line,) = _problems(write_scenario(text))
    assert "give each stage its own arrival_rate" in line


def test_a_closed_stage_without_users_is_one_line(write_scenario):
    text = _with_load("load:\n  stages:\n    - {duration: 5s}\n")
    (line,) = _problems(write_scenario(text))
    assert "load.stages[0]" in line and "names its users" in line
