"""The event-loop probe of a generator: a loop held by its own work (parsing, scoring,
recording for a thousand streams) shows as late checks, which make the run invalid."""

from __future__ import annotations

import gevent
import gevent.event
from gevent.monkey import get_original

from types import SimpleNamespace

import pytest

from stagecheck.locust.lifecycle import loop_probe
from stagecheck.recording import IntervalReport
from stagecheck.recording.interval import DeltaFold
from stagecheck.recording.recorder import LOOP_LATE_US, Recorder

pytestmark = pytest.mark.unit

_block = get_original("time", "sleep")  # not gevent's: it must hold the loop


def _checks(hold_s: float, holds: int) -> tuple[int, int]:
    """(checks, late ones) over a stretch where the loop is held ``holds`` times."""
    recorder = Recorder()
    stop = gevent.event.Event()
    probe = gevent.spawn(loop_probe, SimpleNamespace(recorder=recorder), stop)
    gevent.sleep(0.05)
    for _ in range(holds):
        _block(hold_s)  # holds the event loop, as a busy generator's own work does
        gevent.sleep(0.03)
    stop.set()
    probe.join(timeout=5)
    delta = recorder.drain()
    # through the worker → master payload, as a distributed run's checks travel
    iv = IntervalReport.from_payload(DeltaFold([]).fold(delta).to_payload())
    return iv.loop["checks"], iv.loop["late"]


def test_a_held_loop_is_counted_late():
    checks, late = _checks(hold_s=3 * LOOP_LATE_US / 1e6, holds=3)
    assert checks >= 3
    assert late >= 3


def test_a_free_loop_is_checked():
    checks, _ = _checks(hold_s=0, holds=5)
    assert checks >= 5  # late ones possible on a busy machine: the rule tolerates 5 %
