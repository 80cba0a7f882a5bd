"""Hand out dataset rows to users: seeded order, endless or an exact number of passes.

Single-threaded under gevent (``next_row`` never yields), so no lock is needed. In a distributed
run each worker feeds only its own shard (rows ``i`` with ``i % shard_count == shard_index``), so
that an exact pass still sends every row once across all workers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from stagecheck.datasets.prepared import PreparedRow

__all__ = ["RowFeeder"]


class RowFeeder:
    def __init__(
        self,
        rows: Sequence[PreparedRow],
        *,
        order: str = "sequential",
        seed: int = 0,
        passes: int | None = None,
        shard_index: int = 0,
        shard_count: int = 1,
        pause: Callable[[], None] | None = None,
    ) -> None:
        """``pause`` is called now and then while the first pass is arranged (a million rows
        shuffle in ~0.5 s): a cooperative caller lets its event loop run."""
        # Row positions rather than rows: a row is made when handed out (a large dataset's
        # rows are columns, :class:`~stagecheck.datasets.rows.RowTable`).
        self._rows = rows
        self._indices = range(shard_index, len(rows), shard_count)
        self._order = order
        self._seed = seed
        self._passes = passes
        self._pass = 0
        self._pos = 0
        self._current: Sequence[int] = self._arrange(0, pause)
        self.handed_out = 0

    def _arrange(self, pass_number: int, pause: Callable[[], None] | None = None) -> Sequence[int]:
        if self._order != "shuffle":
            return self._indices
        order = list(self._indices)
        # One seeded permutation per pass: reproducible, and each pass differs. Python's own
        # shuffle (Lib/random.py), step for step, with pauses.
        randbelow = random.Random(self._seed * 1_000_003 + pass_number)._randbelow  # type: ignore[attr-defined]
        for i in reversed(range(1, len(order))):
            j = randbelow(i + 1)
            order[i], order[j] = order[j], order[i]
            if pause is not None and not i & 0x3FFF:
                pause()
        return order

    @property
    def total(self) -> int | None:
        """Rows this feeder will hand out in all, or None when endless."""
        return None if self._passes is None else self._passes * len(self._indices)

    @property
    def exhausted(self) -> bool:
        return self.total is not None and self.handed_out >= self.total

    def next_row(self) -> PreparedRow | None:
        """The next row, or None once an exact-pass run has handed out every row."""
        if not self._current:
            return None
        if self._pos >= len(self._current):
            self._pass += 1
            if self._passes is not None and self._pass >= self._passes:
                return None
            self._current = self._arrange(self._pass)
            self._pos = 0
        row = self._rows[self._current[self._pos]]
        self._pos += 1
        self.handed_out += 1
        return row
