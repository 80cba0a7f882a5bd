"""Open-loop arrivals: when each request is due, whatever the answers' latency.

Locust's users are closed loops (a user sends its next request when the last one is answered),
so a slow endpoint slows the load down and hides its own queueing: coordinated omission. In
arrival-rate mode the users are a pool that takes due times from this schedule; a request's
latency is measured from its due time, so time spent waiting for a free user counts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

__all__ = ["ArrivalSchedule"]


class ArrivalSchedule:
    """Due times (``perf_counter_ns``) at ``rate`` per second: evenly spaced (``constant``) or
    a seeded Poisson process (``poisson``). In a distributed run each of ``shards`` workers
    takes its share of the rate, phase-shifted so that the merged schedule stays even."""

    def __init__(
        self,
        rate: float,
        *,
        kind: str = "constant",
        seed: int = 0,
        shard_index: int = 0,
        shards: int = 1,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        if rate <= 0:
            raise ValueError("an arrival rate must be above 0")
        self._gap_ns = 1e9 * shards / rate
        self._kind = kind
        self._rng = random.Random(seed * 1_000_003 + shard_index)
        self._next = float(clock()) + self._gap_ns * shard_index / shards
        self.handed_out = 0

    def next_due(self) -> int:
        """The next due time; times are handed out in order, one per request."""
        due = self._next
        gap = self._gap_ns
        if self._kind == "poisson":
            gap *= self._rng.expovariate(1.0)
        self._next = due + gap
        self.handed_out += 1
        return int(due)

    def missed_until(self, end_ns: int) -> int:
        """How many requests were due before ``end_ns`` and never handed out (no user was free
        to take them): dropped arrivals. Call once, when the run stops."""
        missed = 0
        while self._next < end_ns:
            self.next_due()
            missed += 1
        self.handed_out -= missed
        return missed
