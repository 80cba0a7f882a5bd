"""RunSession: requests in flight when users are killed are still accounted for."""

from __future__ import annotations

import time

import pytest

from stagecheck.load.plan import LoadPlan
from stagecheck.recording import OUTCOMES, UNFINISHED, Aggregate
from stagecheck.run import RunSession
from stagecheck.run.session import UNFINISHED_ERROR
from stagecheck.scenario import load_scenario
from tests.conftest import BASIC_SCENARIO

pytestmark = pytest.mark.unit


def test_abandoned_requests_are_recorded_as_unfinished_not_as_errors(write_scenario):
    loaded = load_scenario(write_scenario(BASIC_SCENARIO))
    session = RunSession.prepare(loaded, LoadPlan.from_scenario(loaded))
    session.start_feeding()
    agg = Aggregate(session.dataset.rows, session.dataset.slice_fields, None, time.time())
    row = session.feeder.next_row()  # type: ignore[union-attr]
    assert row is not None
    session.pending[1] = (row, 0, time.time(), time.perf_counter_ns(), 0)
    assert session.record_abandoned() == 1
    assert session.pending == {}
    agg.merge(session.recorder.drain())  # type: ignore[union-attr]
    counts = agg.outcome_counts()
    assert counts[OUTCOMES[UNFINISHED]] == 1 and sum(counts.values()) == 1
    assert agg.cause_counts() == {"unfinished": 1}
    (sample,) = agg.samples
    assert sample.error == UNFINISHED_ERROR


def test_score_memo_gives_the_scorers_verdicts(write_scenario):
    loaded = load_scenario(write_scenario(BASIC_SCENARIO))
    session = RunSession.prepare(loaded, LoadPlan.from_scenario(loaded))
    for answer, expected in [("Refund", "refund"), ("refund ", "refund"), ("billing", "refund")]:
        first = session.score(answer, expected)
        assert first == session.scorer.score(answer, expected)
        assert session.score(answer, expected) == first  # served from the memo
    assert len(session.score_memo) == 3
    assert session.score(1, "1") == session.scorer.score(1, "1")  # not memoised: not a str
    assert len(session.score_memo) == 3
