"""The distributed side of a run: what a worker sends its master and what the master makes of it.

- a worker prepares the scenario at ``test_start`` (the master's options arrive with the spawn
  message), feeds its shard of rows, ships its recorder's deltas in Locust's own worker reports
  (``report_to_master``), and a last one when it stops (message ``stagecheck_final``); it tells
  the master when its arrival schedule ends (``stagecheck_schedule``) and stops when the master
  is gone (:mod:`stagecheck.locust.master_link`);
- the master absorbs the deltas, tells workers when the load shape enters a new stage
  (``stagecheck_stage``), notes workers that stop reporting, and at the end waits for every
  worker's last results (asking the ones still running to stop: ``stagecheck_flush``).
"""

from __future__ import annotations

import gevent
import gevent.event
import gevent.lock
from locust.runners import STATE_MISSING, MasterRunner

import logging
import time
from collections.abc import Callable
from typing import Any

from stagecheck.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, StagecheckError
from stagecheck.locust.lifecycle import LoopProbe, cycle, headless, main_greenlet, pause
from stagecheck.locust.master_link import wait_for_lost_master
from stagecheck.recording import IntervalReport
from stagecheck.recording.wire import WIRE_VERSION
from stagecheck.run import RunController, RunSession
from stagecheck.run.lifecycle import CurrentRun, freeze_heap

__all__ = ["FINAL_WAIT_EXTRA_S", "MasterSide", "WorkerSide"]

log = logging.getLogger("stagecheck")

PAYLOAD_KEY = "stagecheck"
MSG_STAGE = "stagecheck_stage"
MSG_FINAL = "stagecheck_final"
MSG_ERROR = "stagecheck_error"
MSG_FLUSH = "stagecheck_flush"
MSG_SCHEDULE = "stagecheck_schedule"  # worker → master: when its arrival schedule ends
FINAL_WAIT_EXTRA_S = 15.0  # beyond the stop timeout, for workers' last results to arrive
QUIT_GRACE_S = 2.0  # for the last results of a worker that has quit to arrive


class MasterSide:
    """The master's (or the single process's) part: stages out, workers' results in."""

    def __init__(self, run: CurrentRun) -> None:
        self._run = run
        self.finals: set[str] = set()  # workers whose last results arrived
        self.lost: dict[str, float] = {}  # workers that stopped reporting → when
        self.run_workers: set[str] = set()  # workers connected when the run began
        self.refused: set[str] = set()  # workers whose reports this master cannot read
        self._runner: Any = None

    def listen(self, runner: Any) -> None:
        self._runner = runner
        if isinstance(runner, MasterRunner):
            runner.register_message(MSG_FINAL, self._on_final_message)
            runner.register_message(MSG_ERROR, self._on_worker_error)
            runner.register_message(MSG_SCHEDULE, self._on_schedule_message)

    def begin_run(self, runner: Any) -> None:
        self.finals = set()
        self.lost = {}
        is_master = isinstance(runner, MasterRunner)
        self.run_workers = {c.id for c in runner.clients.all} if is_master else set()

    def stage_began(self, runner: Any, index: int) -> None:
        """The load shape entered stage ``index``: the run notes it, and workers hear of it."""
        if self._run.controller is not None:
            self._run.controller.begin_stage(index)
        if isinstance(runner, MasterRunner):
            runner.send_message(MSG_STAGE, {"stage": index})

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        payload = data.get(PAYLOAD_KEY)
        if payload is not None and self._run.controller is not None and self._readable(
                payload, client_id):  # fmt: skip
            self._run.controller.absorb(IntervalReport.from_payload(payload), worker=client_id)

    def _readable(self, payload: dict[str, Any], client_id: str) -> bool:
        """Whether ``client_id``'s report is in this master's format; if not (a worker of
        another stagecheck version), the run ends now, invalid (exit 3), one line saying why:
        its results cannot be counted, and a run missing them would lie."""
        version = payload.get("wire") if isinstance(payload, dict) else None
        if version == WIRE_VERSION:
            return True
        if client_id not in self.refused:
            self.refused.add(client_id)
            log.error("worker %s runs another version of stagecheck (report format %s, this "
                      "master's %s): its results cannot be counted; run the same version on "
                      "the master and every worker", client_id, version or 1,
                      WIRE_VERSION)  # fmt: skip
            runner = self._runner
            if runner is not None:
                if self._run.controller is not None:
                    self._run.controller.incomplete.append(
                        f"worker {client_id} runs another version of stagecheck: its results "
                        "are not counted")  # fmt: skip
                gevent.spawn(runner.quit)
        return False

    def _on_schedule_message(self, environment: Any, msg: Any, **_: Any) -> None:
        session = self._run.session
        if session is not None:
            end = float(msg.data["end"])
            session.workers_schedule_end = max(session.workers_schedule_end or end, end)

    def _on_final_message(self, environment: Any, msg: Any, **_: Any) -> None:
        if self._run.controller is not None and self._readable(msg.data["interval"],
                                                               msg.node_id):  # fmt: skip
            interval = IntervalReport.from_payload(msg.data["interval"])
            self._run.controller.absorb(interval, worker=msg.node_id)
        self.finals.add(msg.node_id)

    def _on_worker_error(self, environment: Any, msg: Any, **_: Any) -> None:
        for line in msg.data["problems"]:
            log.error("worker %s: %s", msg.node_id, line)
        environment.process_exit_code = EXIT_BAD_INPUT
        gevent.spawn(environment.runner.quit)

    def tick(self, runner: Any, controller: RunController) -> None:
        """Each drain: workers lost, and the generators' CPU as the workers report it."""
        self.note_lost_workers(runner, controller)
        for client in runner.clients.values():
            controller.note_generator_cpu(float(getattr(client, "cpu_usage", 0) or 0))

    def shard_lost(self, runner: Any, controller: RunController) -> bool:
        """Master of an exact pass: a worker lost, or gone before the last answer was in, leaves
        rows of its shard unsent for good. The run cannot complete (it is invalid already):
        end it now rather than at the plan's duration, a safety cap minutes away."""
        if controller.prepared.loaded.scenario.dataset.passes is None:
            return False
        if not isinstance(runner, MasterRunner):
            return False
        present = {c.id for c in runner.clients.all}
        took_part = self.run_workers | controller.aggregate.workers
        return bool(self.lost) or bool(took_part - present)

    def note_lost_workers(self, runner: Any, controller: RunController) -> None:
        """Workers that stopped reporting: Locust marks them missing when their heartbeats stop
        (a worker that quits is removed without that, and sends its last results)."""
        for client in runner.clients.all:
            worker = client.id
            if (client.state == STATE_MISSING and worker not in self.lost
                    and worker not in self.finals):  # fmt: skip
                self.lost[worker] = time.time()
                log.error("worker %s stopped reporting: its latest results are missing", worker)

    def release_workers(self, runner: Any) -> None:
        """A headless master whose workers' last results are in tells them to quit now, not
        after the summary: with a large dataset each worker holds ~150 MB that the end of the
        run (profile, analysis, reports) would otherwise add to. A web UI keeps its workers
        for the next run."""
        if not headless(runner):
            return
        for client in list(runner.clients.all):
            runner.send_message("quit", None, client_id=client.id)

    def collect_finals(self, environment: Any, controller: RunController) -> None:
        """Wait until every connected worker has sent its last results (asking the ones still
        running to stop); a worker that never does makes the run invalid."""
        runner = environment.runner
        self.note_lost_workers(runner, controller)
        expected = ({c.id for c in runner.clients.all} | controller.aggregate.workers) - set(
            self.lost
        )
        for client_id in expected - self.finals:
            runner.send_message(MSG_FLUSH, {}, client_id=client_id)
        deadline = time.monotonic() + (environment.stop_timeout or 0) + FINAL_WAIT_EXTRA_S
        quit_at: dict[str, float] = {}  # workers that quit (Locust removed them) → when seen
        while expected - self.finals and time.monotonic() < deadline:
            gevent.sleep(0.05)
            self.note_lost_workers(runner, controller)
            expected -= set(self.lost)
            present = {c.id for c in runner.clients.all}
            now = time.monotonic()
            for worker in expected - self.finals - present:
                quit_at.setdefault(worker, now)
            # a worker that quit sent its last results before it did: give them a moment
            gone = {w for w, t in quit_at.items() if now - t > QUIT_GRACE_S} - self.finals
            if gone and gone >= expected - self.finals:
                break
        self._note_missing(controller, expected - self.finals)

    def _note_missing(self, controller: RunController, missing: set[str]) -> None:
        controller.lost_workers.update(missing, self.lost)
        if missing:
            controller.incomplete.append(
                f"{len(missing)} worker(s) did not send their last results in time: "
                + ", ".join(sorted(missing))
            )
        for worker, at in sorted(self.lost.items(), key=lambda kv: kv[1]):
            controller.incomplete.append(
                f"worker {worker} was lost {at - controller.started:.1f}s into the run: its "
                "requests in flight and since its last report (up to 3 s) are missing"
            )


class WorkerSide:
    """A worker's part: its shard of the load, its results out, the master's messages in."""

    def __init__(
        self, run: CurrentRun, probe: LoopProbe, prepare: Callable[[Any], RunSession]
    ) -> None:
        self._run = run
        self._probe = probe
        self._prepare = prepare  # the scenario as the master's options name it
        self._pending_stage: int | None = None
        self.final_sent = gevent.event.Event()  # this run's last results went out
        self._fold_lock = gevent.lock.Semaphore()  # one fold of the recorder at a time
        self._last_heartbeat: float | None = None  # the master's last heartbeat

    def listen(self, environment: Any, runner: Any) -> None:
        runner.register_message(MSG_STAGE, self._on_stage_message)
        runner.register_message(MSG_FLUSH, self._on_flush_message, concurrent=True)
        gevent.spawn(self._watch_master, environment)

    def on_heartbeat(self, **_: Any) -> None:
        self._last_heartbeat = time.monotonic()

    def _watch_master(self, environment: Any) -> None:
        """Stop when the master is gone, rather than load the endpoint for a minute
        unaccounted (Locust's own timeout). Workers forked by ``--processes`` also end with
        the master's process (``die_with_parent``)."""

        def last_heard() -> float | None:
            # once this worker's last results went out there is no load left to stop, and
            # the master may be busy ending the run (a large dataset's analysis takes many
            # seconds without a heartbeat): its silence then is no loss
            return time.monotonic() if self.final_sent.is_set() else self._last_heartbeat

        why = wait_for_lost_master(environment.runner, last_heard)
        log.error("worker stopping: %s", why)
        environment.process_exit_code = EXIT_RUN_FAILED
        main_greenlet().throw(KeyboardInterrupt)

    def start(self, environment: Any) -> None:
        """``test_start``: prepare (once), then feed this worker's shard of the rows."""
        runner = environment.runner
        if self._run.session is None:
            try:
                # Set-up runs in the greenlet that reads the master's messages: its heartbeats
                # wait meanwhile, which is no silence of the master's.
                self._last_heartbeat = None
                self._run.session = self._prepare(environment)
            except StagecheckError as exc:
                for line in exc.problems:
                    log.error(line)
                runner.send_message(MSG_ERROR, {"problems": exc.problems})
                return
            finally:
                self._last_heartbeat = time.monotonic()
        session = self._run.session
        freeze_heap()
        self._run.stop.stopping = False
        self.final_sent.clear()
        shards = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
        session.start_feeding(shard_index=max(runner.worker_index, 0) % shards,
                              shard_count=shards, pause=cycle)  # fmt: skip
        if self._pending_stage is not None:
            session.set_stage(self._pending_stage)
        self._probe.start(session)
        end = session.schedule_end_epoch()
        if end is not None:  # the master ends the run when the last worker's schedule ends
            runner.send_message(MSG_SCHEDULE, {"end": end})

    def _on_stage_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._pending_stage = int(msg.data["stage"])
        if self._run.session is not None:
            self._run.session.set_stage(self._pending_stage)

    def _on_flush_message(self, environment: Any, **_: Any) -> None:
        # The master is finishing (a headless master quits without stopping its workers
        # first): stop now, which sends the last results from our test_stop listener. Only
        # once: two concurrent stops of Locust's runner fail on users already stopping.
        if not self._run.stop.stopping:
            environment.runner.stop()

    def on_quitting(self, environment: Any, **_: Any) -> None:
        if self._run.session is None:
            return
        if not self._run.stop.stopping:
            environment.runner.stop()  # sends the last results (test_stop) before it returns
        else:  # a stop is under way (the master's flush): let it send them before we exit
            self.final_sent.wait(timeout=(environment.stop_timeout or 0) + 5)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        session = self._run.session
        if session is not None and session.recorder is not None:
            # Folded here: the master only adds fixed-size figures and appends the lines. The
            # fold yields; one at a time, so that the last results (test_stop) never go out
            # before a report's fold that began earlier (its requests would come too late).
            with self._fold_lock:
                data[PAYLOAD_KEY] = session.fold(pause).to_payload()

    def stop(self, runner: Any) -> None:
        """``test_stop``: what is still open, then the last results, to the master."""
        session = self._run.session
        if session is not None and session.recorder is not None:
            session.record_abandoned()
            session.record_dropped_arrivals(self._run.stop.dropped_after_ns())
            with self._fold_lock:  # after a report's fold that is under way
                final = session.fold(pause).to_payload()
                runner.send_message(MSG_FINAL, {"interval": final})
        self.final_sent.set()
