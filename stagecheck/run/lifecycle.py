"""A run's lifecycle in this process, apart from Locust: what the glue shares about the current
run, the drain's cadence, when a run stops early, how it was stopped, and the heap freeze.

The Locust side (:mod:`stagecheck.locust.lifecycle`) runs these in its greenlets; nothing here
imports Locust or gevent.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field

from stagecheck.run.controller import RunController
from stagecheck.run.preparation import PreparedScenario
from stagecheck.run.session import RunSession

__all__ = [
    "DRAIN_INTERVAL_S",
    "PROGRESS_EVERY",
    "CurrentRun",
    "RunStop",
    "drain_local",
    "drain_tick",
    "end_of_run",
    "freeze_heap",
    "freeze_now",
    "stop_due",
]

log = logging.getLogger("stagecheck")

DRAIN_INTERVAL_S = 1.0  # local recorder → aggregate (one latency.hlog interval) every second
PROGRESS_EVERY = 5  # drains between two progress lines


@dataclass
class RunStop:
    """How the current run is being stopped: by a signal (its name), and since when the runner
    stops its users (arrivals due after that are not counted as dropped)."""

    signal: str | None = None  # the signal that stopped the run, if one did
    stopping: bool = False  # the runner is stopping its users (once per run)
    stopping_ns: int = 0  # perf_counter_ns() when it began

    def begin_run(self) -> None:
        self.signal = None
        self.stopping = False

    def note_stopping(self) -> None:
        self.stopping = True
        self.stopping_ns = time.perf_counter_ns()

    def dropped_after_ns(self) -> int:
        """Arrivals due after this instant were not dropped: the run was stopping."""
        return self.stopping_ns or time.perf_counter_ns()

    @property
    def reason(self) -> str | None:
        return f"the run was stopped by {self.signal}" if self.signal else None


@dataclass
class CurrentRun:
    """What every part of the Locust glue shares about this process's run."""

    session: RunSession | None = None  # the load side in this process
    controller: RunController | None = None  # local/master: the current (or last) run
    prepared: PreparedScenario | None = None  # handed over (prepared once) or loaded
    stop: RunStop = field(default_factory=RunStop)


def drain_local(controller: RunController, session: RunSession | None) -> None:
    """This process's recorder → the run's aggregate."""
    if session is not None and session.recorder is not None:
        controller.merge(session.recorder.drain())


def drain_tick(controller: RunController, session: RunSession, users: int, tick: int) -> bool:
    """One drain of the run (every :data:`DRAIN_INTERVAL_S`); a progress line every
    :data:`PROGRESS_EVERY` ticks. True on those ticks."""
    drain_local(controller, session)
    controller.users = users
    progress = tick % PROGRESS_EVERY == 0
    if progress:
        log.info(controller.progress_line())
    return progress


def stop_due(controller: RunController) -> bool:
    """The run should end now: every answer is in (an exact pass), an early-stop rule fired, or
    the run folder cannot be written."""
    return bool(
        controller.all_answers_in()
        or controller.check_early_stop()
        or controller.check_write_failure()
    )


def end_of_run(controller: RunController, session: RunSession | None, stop: RunStop) -> int:
    """Account for what is still open, take the last drain and finish the run; its exit code."""
    if session is not None:
        session.record_abandoned()
        session.record_dropped_arrivals(stop.dropped_after_ns())
    drain_local(controller, session)
    controller.users = 0
    return controller.finish(interrupted=True if stop.signal else None, reason=stop.reason)


def freeze_now() -> None:
    """Move every object alive now out of the garbage collector's reach. Before Locust forks
    ``--processes`` workers: a collection in a worker would write the GC header of every
    inherited object, copying the pages it shares with the master (~140 MB per worker with
    1 M rows). Frozen, the workers' collections skip them."""
    gc.collect()
    gc.freeze()


def freeze_heap() -> None:
    """Move what the process holds before the load (Locust, the prepared dataset, its request
    bytes) out of the garbage collector's reach: a full collection then scans only what the
    run allocates, rather than holding the event loop for tens of ms now and then (measured:
    ``benchmarks/drain_hold.py``). Once per process; later runs' garbage is young.

    The collector then runs less often: what a load keeps alive is young (each request in
    flight holds its parser, buffers and lists: ~30 tracked objects, 30,000 at 1,000 streams),
    and every young collection went through all of it. At the default thresholds, 1,000
    streams made ~110 collections in the load window, 19 of them holding the event loop over
    2 ms (up to 39 ms: reads late enough for packets to merge); at these, one (6 ms). Cyclic
    garbage is still collected (a load makes ~0.4 cyclic objects per request)."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        freeze_now()
        gc.set_threshold(*_LOAD_GC_THRESHOLDS)


_FROZEN = False
_LOAD_GC_THRESHOLDS = (50_000, 20, 100)  # young allocations, then collections of each older
