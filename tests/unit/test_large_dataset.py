"""A large dataset's set-up lets the event loop run (issue 16, item 4): loading the rows,
writing rows.jsonl and arranging the first shuffled pass each pause every few thousand rows, so
that a master's or worker's heartbeats keep flowing. Asserted by counting the turns a greenlet
on a timer (as Locust's heartbeats are) gets during the set-up (no clock): before the fix it got
none, and a 1 M-row dataset held the master for ~7 s, past the workers' 5 s heartbeat limit.
The pause is the plugin's: one that lets the loop go round (``sleep(0)`` alone serves timers
only once in ~50 pauses)."""

from __future__ import annotations

import gevent

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from stagecheck.datasets import RowFeeder
from stagecheck.load.plan import LoadPlan
from stagecheck.locust.lifecycle import cycle as pause  # the plugin's pause for set-up
from stagecheck.run import RunController
from stagecheck.run.preparation import prepare_loaded
from stagecheck.scenario import load_scenario
from tests.conftest import BASIC_SCENARIO, SMALL_ROWS

pytestmark = pytest.mark.unit

ROWS = 60_000


@contextmanager
def other_greenlet() -> Iterator[list[int]]:
    """A greenlet that counts its turns (a heartbeat's stand-in)."""
    turns = [0]

    def run() -> None:
        while True:
            turns[0] += 1
            gevent.sleep(0.0001)

    g = gevent.spawn(run)
    gevent.sleep(0)
    turns[0] = 0
    try:
        yield turns
    finally:
        g.kill()


def turns_during(work: Callable[[], object]) -> int:
    with other_greenlet() as turns:
        work()
        return turns[0]


@pytest.fixture
def large(write_scenario, small_dataset):
    with small_dataset.open("w", encoding="utf-8") as f:
        for i in range(ROWS):
            row = dict(SMALL_ROWS[i % len(SMALL_ROWS)], id=f"q{i}")
            f.write(json.dumps(row) + "\n")
    return load_scenario(str(write_scenario(BASIC_SCENARIO)))


def test_loading_a_large_dataset_lets_other_greenlets_run(large):
    prepared: list = []
    turns = turns_during(lambda: prepared.append(prepare_loaded(large, pause=pause)))
    assert len(prepared[0].dataset.rows) == ROWS
    assert turns >= 5  # a pause every chunk of a few thousand rows


def test_rows_jsonl_of_a_large_dataset_is_written_in_slices(large, tmp_path):
    prepared = prepare_loaded(large)
    plan = LoadPlan.from_scenario(large)
    controller = RunController(prepared, plan, tmp_path / "run", pause=pause, defer_rows=True)
    assert not (tmp_path / "run" / "rows.jsonl").exists()  # not before the first request
    assert turns_during(controller.write_rows) >= ROWS // 1024
    assert len((tmp_path / "run" / "rows.jsonl").read_bytes().splitlines()) == ROWS


def test_the_first_shuffle_of_a_large_dataset_pauses(large):
    rows = prepare_loaded(large).dataset.rows
    feeders: list[RowFeeder] = []
    turns = turns_during(lambda: feeders.append(RowFeeder(rows, order="shuffle", pause=pause)))
    assert turns >= 2
    unpaused = RowFeeder(rows, order="shuffle")  # the same seeded order either way
    assert [feeders[0].next_row().index for _ in range(100)] == [  # type: ignore[union-attr]
        unpaused.next_row().index for _ in range(100)  # type: ignore[union-attr]
    ]
