"""A run's lifecycle in Locust's process, in gevent's terms: the signals that stop a run, the
greenlets that go with a run (the drain, the endpoint's resource sampler, the rows.jsonl writer,
the event-loop probe) and the pauses that let users run meanwhile. What these decide is
:mod:`stagecheck.run.lifecycle`'s (no Locust there)."""

from __future__ import annotations

import gevent
import gevent.event
from locust.runners import MasterRunner, WorkerRunner

import logging
import signal
import time
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from stagecheck.endpoint.resources import SAMPLE_INTERVAL_S, ResourceSampler
from stagecheck.locust.console import LogFile
from stagecheck.recording.recorder import LOOP_LATE_US
from stagecheck.run import RunController, RunSession
from stagecheck.run.lifecycle import DRAIN_INTERVAL_S, CurrentRun, drain_tick, stop_due

__all__ = ["LoopProbe", "RunLoop", "Signals", "cycle", "headless", "main_greenlet", "pause"]

log = logging.getLogger("stagecheck")

LOOP_CHECK_S = 0.01  # event-loop checks (validity: a saturated generator)
SECOND_SHUTDOWN_WAIT_S = 300.0  # a second shutdown waits this long for the first to exit


def main_greenlet() -> Any:
    return gevent.get_hub().parent


def pause() -> None:
    """Let users' greenlets run while a delta is merged: keeps the merge from delaying the
    requests in flight (which would inflate their measured latency)."""
    gevent.sleep(0)


def cycle() -> None:
    """Let the event loop go round during long set-up work (a large dataset): timers and
    sockets, so heartbeats and requests in flight, are served. ``sleep(0)`` only runs the
    greenlets ready now, and gevent polls for I/O once in ~50 of them: 50 chunks of a dataset,
    seconds without a heartbeat."""
    gevent.sleep(0.0001)


def headless(runner: Any) -> bool:
    env = getattr(runner, "environment", None)
    return bool(getattr(getattr(env, "parsed_options", None), "headless", False))


class Signals:
    """SIGINT and SIGTERM end the run the same way: through Locust's own graceful stop in the
    main greenlet, which ends the run with a summary. A signal would otherwise raise in
    whatever greenlet runs at that instant (a user between send and record, a merge half done:
    measured requests lost), and Locust handles SIGTERM only once a headless run has ended
    (before that, it kills the process outright)."""

    def __init__(self, run: CurrentRun, runner: Callable[[], Any]) -> None:
        self._run = run
        self._runner = runner
        self._handlers: list[Any] = []
        self.signalled = False  # a signal's stop is under way (until its run has ended)
        self.quitting = False  # Locust's shutdown has begun

    def install(self) -> None:
        for handler in self._handlers:
            handler.cancel()
        self._handlers = [gevent.signal_handler(signum, self._on_signal, signum)
                          for signum in (signal.SIGINT, signal.SIGTERM)]  # fmt: skip

    @property
    def stopped_by_signal(self) -> bool:
        """The current (or last) run was stopped by a signal, or the process is quitting."""
        return self._run.stop.signal is not None or self.quitting

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        first = self._run.stop.signal is None
        if first:
            self._run.stop.signal = name
            log.warning("%s: stopping the run", name)
        if self._absorbs_signal():
            # A second Ctrl-C (or SIGTERM) would interrupt the stop itself: the run's end half
            # done, no summary, exit 130. The stop is bounded (stop timeout, workers' wait).
            if not first:
                log.warning("%s: already stopping; the run ends with its summary", name)
            return
        self.signalled = True
        if signum == signal.SIGTERM and self._locust_handles_sigterm():
            return  # Locust's own handler shuts down gracefully (the quitting listeners)
        main_greenlet().throw(KeyboardInterrupt)

    def _absorbs_signal(self) -> bool:
        """A stop is already under way: a signal's, Locust's shutdown, or a headless run's end
        (the process exits by itself). An idle web UI (``--keep-web``) still quits on one."""
        if self.signalled or self.quitting:
            return True
        controller = self._run.controller
        return headless(self._runner()) and controller is not None and controller.finished

    def _locust_handles_sigterm(self) -> bool:
        """Locust installs its SIGTERM handler (a graceful shutdown) right after ``init`` on
        workers and with the web UI, and only once the run is over in a headless run."""
        controller = self._run.controller
        over = controller is None or controller.finished
        runner = self._runner()
        return isinstance(runner, WorkerRunner) or not headless(runner) or over

    def on_first_quitting(self, **_: Any) -> None:
        """Locust runs its whole shutdown for every SIGTERM it receives: a second one waits
        here for the first, which ends the process (rather than stop, print and exit twice)."""
        if self.quitting:
            gevent.event.Event().wait(timeout=SECOND_SHUTDOWN_WAIT_S)
            return
        self.quitting = True


class Workers(Protocol):
    """The master's watch on its workers, as the drain loop uses it."""

    def tick(self, runner: Any, controller: RunController) -> None: ...

    def shard_lost(self, runner: Any, controller: RunController) -> bool: ...


class RunLoop:
    """The greenlets of a local or master run: the drain (every second, which also decides when
    the run stops early), the endpoint's resource sampler and the rows.jsonl writer."""

    def __init__(self) -> None:
        self._loop: gevent.Greenlet | None = None
        self._stop = gevent.event.Event()
        self._sampler: gevent.Greenlet | None = None
        self._rows_writer: gevent.Greenlet | None = None

    def write_rows(self, controller: RunController) -> None:
        """Write rows.jsonl in ~1 ms slices while the run goes."""
        self._rows_writer = gevent.spawn(controller.write_rows, cycle)

    def start(
        self,
        runner: Any,
        run: CurrentRun,
        workers: Workers,
        log_file: LogFile | None,
        resources: ResourceSampler | None,
    ) -> None:
        self._stop = stop = gevent.event.Event()
        self._loop = gevent.spawn(_drain_loop, runner, run, stop, workers, log_file)
        if resources is not None:
            self._sampler = gevent.spawn(_sample_loop, resources, stop)

    def join(self) -> None:
        """End the drain and the sampler, and wait for rows.jsonl (the summary reads it)."""
        if self._loop is not None:
            # Never kill it: a merge it has begun (it yields while merging) must complete.
            self._stop.set()
            self._loop.join()
            self._loop = None
        if self._sampler is not None:
            self._sampler.join(timeout=5)
            self._sampler = None
        if self._rows_writer is not None:
            self._rows_writer.join()  # before the summary, which reads rows.jsonl
            self._rows_writer = None


def _drain_loop(
    runner: Any,
    run: CurrentRun,
    stop: gevent.event.Event,
    workers: Workers,
    log_file: LogFile | None,
) -> None:
    ticks = 0
    # This process's CPU over each 5 s: Locust's own usage event comes first after 10 s
    # (and its first reading is always 0), too late for a short run's validity.
    process = psutil.Process()
    process.cpu_percent()
    while not stop.wait(DRAIN_INTERVAL_S):
        controller, session = run.controller, run.session
        if controller is None or session is None:
            return
        ticks += 1
        progress = drain_tick(controller, session, int(runner.user_count), ticks)
        if isinstance(runner, MasterRunner):
            workers.tick(runner, controller)
        elif progress:
            controller.note_generator_cpu(process.cpu_percent())
        if log_file is not None and log_file.failure:
            controller.note_write_failure(log_file.failure)
        if stop_due(controller) or workers.shard_lost(runner, controller):
            session.finished = True  # the shape ends the run at its next tick


def _sample_loop(sampler: ResourceSampler, stop: gevent.event.Event) -> None:
    sampler.sample()
    while not stop.wait(SAMPLE_INTERVAL_S):
        sampler.sample()
    sampler.sample()  # the last reading, at the end of the run


class LoopProbe:
    """Checks this process's event loop while its users send (validity: a saturated
    generator); one probe per run, stopped when the run stops."""

    def __init__(self) -> None:
        self._stop = gevent.event.Event()

    def start(self, session: RunSession) -> None:
        self._stop.set()
        self._stop = stop = gevent.event.Event()
        gevent.spawn(loop_probe, session, stop)

    def stop(self) -> None:
        self._stop.set()  # the stop's own work is not the load's


def loop_probe(session: RunSession, stop: gevent.event.Event) -> None:
    """Every LOOP_CHECK_S, how late the event loop woke this greenlet: over LOOP_LATE_US, the
    users' sends and reads waited as long (the recorder counts checks and late ones)."""
    due_ns = int(LOOP_CHECK_S * 1e9)
    late_ns = LOOP_LATE_US * 1000
    while not stop.is_set():
        before = time.perf_counter_ns()
        if stop.wait(LOOP_CHECK_S):
            return
        recorder = session.recorder
        if recorder is not None:
            recorder.record_loop_check(time.perf_counter_ns() - before - due_ns > late_ns)
