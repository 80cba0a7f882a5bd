"""Open-loop arrivals: when each request is due, whatever the answers' latency.

Locust's users are closed loops (a user sends its next request when the last one is answered),
so a slow endpoint slows the load down and hides its own queueing: coordinated omission. In
arrival-rate mode the users are a pool that takes due times from this schedule; a request's
latency is measured from its due time, so time spent waiting for a free user counts.

A staged schedule changes its rate at each stage's end. Arrivals are placed on the cumulative
expected count ``Λ(t) = ∫ rate`` (arrival *k* is due when ``Λ`` reaches *k*, or a Poisson
process's *k*-th point in ``Λ``), so the due times run on across a boundary with neither a
burst nor a gap, and a stage of ``d`` seconds at ``r``/s holds ``r·d`` of them.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence

__all__ = ["ArrivalSchedule"]

_AFTER_THE_END_NS = 3600 * 10**9


class ArrivalSchedule:
    """Due times (``perf_counter_ns``) at ``rate`` per second, or per stage of ``stages``
    (``(end s since the start, rate)`` pairs), until ``end_s`` (default: the last stage's end;
    none for a single rate): evenly spaced (``constant``) or a seeded Poisson process
    (``poisson``). In a distributed run each of ``shards`` workers takes its share of the rate,
    phase-shifted so that the merged schedule stays even.

    Past the end no request is due: a user asking then is told a time an hour later (it waits
    until the run stops it), so a run whose stop comes late (Locust's shape ticks once a
    second) sends nothing beyond its plan."""

    def __init__(
        self,
        rate: float | None = None,
        *,
        stages: Sequence[tuple[float, float]] = (),
        end_s: float | None = None,
        kind: str = "constant",
        seed: int = 0,
        shard_index: int = 0,
        shards: int = 1,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        segments = list(stages) if stages else [(float("inf"), rate or 0.0)]
        if any(r <= 0 for _, r in segments):
            raise ValueError("an arrival rate must be above 0")
        # per stage: (start ns, end ns, ns between arrivals at its rate, Λ at its start)
        self._stages: list[tuple[float, float, float, float]] = []
        start = lam = 0.0
        for stage_end_s, r in segments:
            end = stage_end_s * 1e9
            self._stages.append((start, end, 1e9 / r, lam))
            lam += (end - start) * r / 1e9
            start = end
        self._step = float(shards)
        self._kind = kind
        self._rng = random.Random(seed * 1_000_003 + shard_index)
        self._origin = float(clock())
        end = end_s if end_s is not None else (segments[-1][0] if stages else float("inf"))
        self._end = self._origin + end * 1e9
        self._lam = float(shard_index)  # shard i takes arrivals i, i + shards, …
        self._at = 0  # the stage the next due time falls in
        self.stage = 0  # the stage of the due time handed out last
        self.handed_out = 0
        self._returned: list[tuple[int, int]] = []  # (due, stage) given back, earliest first

    @property
    def end_ns(self) -> float:
        """When the plan's last arrival is due (``perf_counter_ns``; inf without an end)."""
        return self._end

    def _due_of(self, lam: float) -> tuple[float, int]:
        i = self._at
        stages = self._stages
        while i + 1 < len(stages) and lam >= stages[i + 1][3]:
            i += 1
        start, _, gap_ns, lam0 = stages[i]
        self._at = i
        return self._origin + start + (lam - lam0) * gap_ns, i

    def next_due(self) -> int:
        """The next due time; times are handed out in order, one per request. ``stage`` then
        says which stage of the schedule it falls in."""
        if self._returned and self._returned[0][0] <= self._due_of(self._lam)[0]:
            returned, self.stage = heapq.heappop(self._returned)
            self.handed_out += 1
            return returned
        due, self.stage = self._due_of(self._lam)
        if due >= self._end:
            self.handed_out += 1  # given back when its user is stopped
            return int(max(due, self._end) + _AFTER_THE_END_NS)
        step = self._step
        if self._kind == "poisson":
            step *= self._rng.expovariate(1.0)
        self._lam += step
        self.handed_out += 1
        return int(due)

    def give_back(self, due: int, stage: int) -> None:
        """A due time handed out but not used (its user was stopped while it waited, as when a
        stage's pool shrinks): the next user takes it, so the schedule keeps no gap."""
        if due < self._end:
            heapq.heappush(self._returned, (due, stage))
        self.handed_out -= 1

    def missed_until(self, end_ns: int) -> int:
        """How many requests were due before ``end_ns`` and never handed out (no user was free
        to take them): dropped arrivals. Call once, when the run stops."""
        returned = sum(1 for due, _ in self._returned if due < end_ns)
        self._returned.clear()
        missed = 0
        while self._due_of(self._lam)[0] < min(end_ns, self._end):
            self.next_due()
            missed += 1
        self.handed_out -= missed
        return missed + returned
