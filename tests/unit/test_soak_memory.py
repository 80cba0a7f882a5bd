"""What a soak relies on: the run's memory does not grow with its length."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import pytest

from stagecheck.recording import CORRECT, Aggregate, Recorder
from stagecheck.recording.aggregate import RECENT_S

pytestmark = pytest.mark.unit


def test_intervals_the_live_view_drops_are_freed_at_once_not_at_the_next_full_gc():
    # An HdrHistogram and its encoder refer to each other. The live view keeps each second's
    # histogram for RECENT_S: by then it sits in the oldest GC generation, collected rarely,
    # and a dropped one (190 KB) waited there: a 5-minute soak grew ~0.18 MB a second.
    now = [1_000.0]
    recorder = Recorder(clock=lambda: now[0])
    row = SimpleNamespace(index=0, slices=(), expected_text="a")
    agg = Aggregate([row], [], None, started=now[0])  # type: ignore[list-item]
    first: weakref.ref[object] | None = None
    gc.disable()
    try:
        for _ in range(int(RECENT_S) + 3):
            now[0] += 1.0
            recorder.record(row_index=0, outcome=CORRECT, latency_us=5_000, started=now[0],
                            stage=0)  # fmt: skip
            agg.merge(recorder.drain())
            if first is None:
                first = weakref.ref(agg.recent[max(agg.recent)]["e2e"])
        assert len(agg.recent) <= RECENT_S + 1  # the live view's window, not the run's length
        assert first is not None and first() is None  # freed without a garbage collection
    finally:
        gc.enable()
