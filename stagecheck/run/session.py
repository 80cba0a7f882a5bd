"""The load side of a run, in each process where users run: prepared rows, row feeder,
recorder, arrival schedule, requests in flight. No Locust import.

The other side, the run's totals and lifecycle on the master (or the single process), is
:class:`~stagecheck.run.controller.RunController`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stagecheck.datasets import PreparedDataset, PreparedRow, RowFeeder
from stagecheck.load.arrivals import ArrivalSchedule
from stagecheck.load.plan import LoadPlan
from stagecheck.protocols import ProtocolAdapter
from stagecheck.recording import UNFINISHED, DeltaFold, IntervalReport, Recorder
from stagecheck.run.preparation import PreparedScenario, prepare_loaded
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring import Scorer
from stagecheck.scoring.scorers import Graded

__all__ = ["RunSession", "Sent", "SCORE_MEMO_SIZE", "UNFINISHED_ERROR"]

# A request as sent: (row, stage, start epoch s, start perf_counter ns, schedule lag µs); a
# plain tuple, as a recorded Result is (one per request), which its readers unpack by name.
Sent = tuple[PreparedRow, int, float, int, int]

SCORE_MEMO_SIZE = 65_536
UNFINISHED_ERROR = "unfinished: still open when the run ended (after load.graceful_stop)"


@dataclass
class RunSession:
    """What the users of one process share. ``recorder``/``feeder`` exist where users run
    (a master has neither: it only follows the plan)."""

    loaded: LoadedScenario
    adapter: ProtocolAdapter
    scorer: Scorer
    dataset: PreparedDataset
    headers: dict[str, str]
    request_name: str
    plan: LoadPlan
    recorder: Recorder | None = None
    delta_fold: DeltaFold | None = None  # a worker's: folds its recorder's deltas into intervals
    feeder: RowFeeder | None = None
    # a conversation dataset: hands out conversation indexes (each worker its own share,
    # so a conversation never spans workers)
    conversations: RowFeeder | None = None
    think_rng: random.Random = field(default_factory=random.Random)
    stage_index: int = -1
    finished: bool = False  # exact pass: every answer is in (the shape then ends the run)
    stopping: bool = False  # the run is stopping: no further request leaves
    arrivals: ArrivalSchedule | None = None  # open loop: due times of the requests
    # (answer, expected) → verdict: most answers repeat (labels), and scoring is pure
    score_memo: dict[tuple[str, Any], tuple[bool, str | None]] = field(default_factory=dict)
    grade_memo: dict[tuple[str, Any], Graded] = field(default_factory=dict)
    pending: dict[int, Sent] = field(default_factory=dict)  # user id → its request in flight
    on_stage: Callable[[int], None] | None = None  # local/master: the controller, the workers
    # master of an open loop: when the workers' schedules end (epoch s, the latest reported)
    workers_schedule_end: float | None = None

    @classmethod
    def prepare(cls, loaded: LoadedScenario, plan: LoadPlan) -> RunSession:
        return cls.from_prepared(prepare_loaded(loaded), plan)

    @classmethod
    def from_prepared(cls, p: PreparedScenario, plan: LoadPlan) -> RunSession:
        loaded = p.loaded
        first = p.dataset.rows[0].request
        headers = {
            "Content-Type": first.content_type,
            "Accept": "text/event-stream" if first.stream else "application/json",
        }
        headers.update(loaded.scenario.endpoint.headers)
        return cls(
            loaded=loaded,
            adapter=p.adapter,
            scorer=p.scorer,
            dataset=p.dataset,
            headers=headers,
            plan=plan,
            request_name=f"{loaded.scenario.endpoint.protocol} {first.path.split('?')[0]}",
        )

    # -- run lifecycle ---------------------------------------------------------------------
    def start_feeding(
        self, shard_index: int = 0, shard_count: int = 1, pause: Callable[[], None] | None = None
    ) -> None:
        ds = self.loaded.scenario.dataset
        self.feeder = RowFeeder(
            self.dataset.rows,
            order=ds.order,
            seed=ds.seed,
            passes=ds.passes,
            shard_index=shard_index,
            shard_count=shard_count,
            pause=pause,
        )
        table = self.dataset.conversations
        if table is not None:
            # the feeder's seeded order and exact passes, over conversations (not turns)
            conversations: Sequence[Any] = range(len(table))
            self.conversations = RowFeeder(
                conversations, order=ds.order, seed=ds.seed, passes=ds.passes,
                shard_index=shard_index, shard_count=shard_count,
            )  # fmt: skip
            self.think_rng = random.Random(ds.seed * 1_000_003 + shard_index)
        self.recorder = Recorder()
        self.delta_fold = DeltaFold(self.dataset.rows)
        if self.plan.arrival_rate:
            # staged: the rate changes at each stage's end (on this process's clock, from
            # now: the shape's first stage starts with the run)
            self.arrivals = ArrivalSchedule(
                self.plan.arrival_rate, stages=self.plan.rate_stages, end_s=self.plan.duration,
                kind=self.plan.arrivals,
                seed=ds.seed, shard_index=shard_index, shards=shard_count,
            )  # fmt: skip
        self.finished = False
        self.stopping = False

    def think_time(self) -> float:
        """Seconds between two turns of a conversation (``load.think_time``)."""
        think = self.loaded.scenario.load.think_time
        if isinstance(think, (int, float)):
            return float(think)
        return self.think_rng.uniform(think.min, think.max)

    def fold(self, pause: Callable[[], None] | None = None) -> IntervalReport:
        """A worker: what its users recorded since the last call, folded (what it ships)."""
        assert self.recorder is not None and self.delta_fold is not None  # start_feeding() first
        return self.delta_fold.fold(self.recorder.drain(), pause)

    def set_stage(self, index: int) -> None:
        """Called when the load shape enters a new stage (on every process)."""
        self.stage_index = index
        if self.on_stage is not None:
            self.on_stage(index)
        if self.recorder is not None:
            self.recorder.stage = index

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        """The scorer's verdict, memoised for string answers (1, 1.0 and True hash alike but
        score differently, so other types are scored every time)."""
        if type(prediction) is not str:
            return self.scorer.score(prediction, expected)
        key = (prediction, expected)
        try:
            verdict = self.score_memo.get(key)
        except TypeError:  # an unhashable expected value (json-field)
            return self.scorer.score(prediction, expected)
        if verdict is None:
            verdict = self.scorer.score(prediction, expected)
            if len(self.score_memo) >= SCORE_MEMO_SIZE:
                self.score_memo.clear()
            self.score_memo[key] = verdict
        return verdict

    def grade(self, prediction: Any, expected: Any) -> Graded:
        """The scorer's verdict with its per-row score and judge time (:meth:`Scorer.grade`),
        memoised as :meth:`score` is, except for scorers that must see every answer (a judge)."""
        scorer = self.scorer
        if type(prediction) is not str or not scorer.memoize:
            return scorer.grade(prediction, expected)
        key = (prediction, expected)
        try:
            graded = self.grade_memo.get(key)
        except TypeError:  # an unhashable expected value (json-field)
            return scorer.grade(prediction, expected)
        if graded is None:
            graded = scorer.grade(prediction, expected)
            if len(self.grade_memo) >= SCORE_MEMO_SIZE:
                self.grade_memo.clear()
            self.grade_memo[key] = graded
        return graded

    def schedule_left_s(self) -> float | None:
        """Open loop: seconds until the plan's last arrival is due on this process's schedule
        (negative once past); None in a closed loop or without a schedule here."""
        arrivals = self.arrivals
        if arrivals is None or arrivals.end_ns == float("inf"):
            return None
        return (arrivals.end_ns - time.perf_counter_ns()) / 1e9

    def plan_left_s(self) -> float | None:
        """Open loop: seconds until the plan's last arrival is due, on this process's schedule
        or (a master) the latest of its workers'; None when no schedule sets the end."""
        left = self.schedule_left_s()
        if left is None and self.workers_schedule_end is not None:
            left = self.workers_schedule_end - time.time()
        return left

    def schedule_end_epoch(self) -> float | None:
        """Open loop: when this process's schedule ends, as an epoch time (for the master)."""
        left = self.schedule_left_s()
        return None if left is None else time.time() + left

    def stop_sending(self) -> None:
        """The run is stopping: no further request leaves; requests in flight finish within
        the graceful stop. An open-loop arrival due before now and never sent is dropped
        (:meth:`record_dropped_arrivals`)."""
        self.stopping = True

    def record_dropped_arrivals(self, stopped_ns: int) -> int:
        """Open loop, when the run stops (``stopped_ns``: when stopping began): count the
        arrivals that were due but found no free user. Returns how many."""
        if self.arrivals is None or self.recorder is None or self.plan.exact_pass:
            return 0  # an exact pass plans its rows, not a time: unsent rows make it incomplete
        missed = self.arrivals.missed_until(stopped_ns)
        self.recorder.record_dropped(missed)
        return missed

    def record_abandoned(self) -> int:
        """Record the requests still in flight when users were killed (the graceful stop ran
        out, or a signal ended the run): sent, so counted, as ``unfinished`` — no verdict on
        the endpoint, never an error. Returns how many."""
        if self.recorder is None:
            return 0
        now = time.perf_counter_ns()
        for row, stage, started, t0, lag_us in self.pending.values():
            self.recorder.record(
                row_index=row.index, outcome=UNFINISHED,
                latency_us=(now - t0) // 1000, started=started, stage=stage,
                error=UNFINISHED_ERROR, lag_us=lag_us,
            )  # fmt: skip
        count = len(self.pending)
        self.pending.clear()
        return count
