"""What the summary and the live view read of the run's aggregate: histograms, counts and the
per-row tallies of a group (a slice value, a stage, or the run). Report time, never on the hot
path; :class:`~stagecheck.recording.aggregate.Aggregate` is what it reads."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from stagecheck.recording.hdr import new_histogram
from stagecheck.recording.interval import DeltaFold
from stagecheck.recording.recorder import ALL, OUTCOMES, TIMINGS

__all__ = ["AggregateQueries"]


def _no_pause() -> None:
    return None


class AggregateQueries:
    """The read side of :class:`~stagecheck.recording.aggregate.Aggregate` (its figures, kept
    by the aggregate as it merges)."""

    rows: Sequence[Any]
    ended: float
    histograms: dict[tuple[int, str], HdrHistogram]
    out_of_range: Counter[tuple[int, str]]
    outcomes: Counter[tuple[int, int, str, int]]
    varied: Counter[tuple[int, int, str, int]]
    confusion: Counter[tuple[int, int, str, str, str]]
    causes: Counter[tuple[int, str]]
    per_second: Counter[int]
    lag_max_per_second: dict[int, int]
    recent: dict[int, dict[str, HdrHistogram]]
    row_counts: dict[int, np.ndarray]
    delta_fold: DeltaFold
    _slice_columns: dict[int, np.ndarray]

    def histogram(self, timing: str, stage: int | None = None) -> HdrHistogram | None:
        """Latency histogram of one timing for one stage or the whole run (None if empty)."""
        total = new_histogram()
        for (s, t), h in self.histograms.items():
            if t == timing and (stage is None or s == stage):
                total.add(h)
        return total if total.get_total_count() else None

    def recent_histogram(
        self, timing: str, window_s: float, pause: Callable[[], None] | None = None
    ) -> HdrHistogram | None:
        """Latency of one timing over the intervals that ended in the last ``window_s`` whole
        seconds (the seconds up to the latest interval's end; at most RECENT_S)."""
        total = new_histogram()
        first = math.floor(self.ended - window_s) + 1  # the last window_s whole seconds
        for second, by_timing in self.recent.items():
            h = by_timing.get(timing)
            if h is not None and second >= first:
                total.add(h)
                (pause or _no_pause)()
        return total if total.get_total_count() else None

    def requests_started(self, first: int, last: int) -> int:
        """Requests that started in the epoch seconds ``first`` to ``last`` (inclusive)."""
        return sum(self.per_second.get(s, 0) for s in range(first, last + 1))

    def lag_max(self, first: int, last: int) -> int:
        """The largest schedule lag (µs) of the requests started in those seconds."""
        return max((self.lag_max_per_second.get(s, 0) for s in range(first, last + 1)), default=0)

    def out_of_range_count(self, timing: str, stage: int | None = None) -> int:
        return sum(
            n
            for (s, t), n in self.out_of_range.items()
            if t == timing and (stage is None or s == stage)
        )

    def outcome_counts(
        self, slice_index: int = ALL, value: str = "", stage: int | None = None,
        *, written: bool = False,
    ) -> dict[str, int]:
        """Requests by outcome in a group; ``written``: of the rows as written only (the
        quality figures' base: dataset.variants' varied rows are not the validation set)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for (s, i, v, o), n in self.outcomes.items():
            if i == slice_index and v == value and (stage is None or s == stage):
                counts[OUTCOMES[o]] += n
        if written:
            for (s, i, v, o), n in self.varied.items():
                if i == slice_index and v == value and (stage is None or s == stage):
                    counts[OUTCOMES[o]] -= n
        return counts

    def confusion_counts(
        self, slice_index: int = ALL, value: str = "", stage: int | None = None
    ) -> Counter[tuple[str, str]]:
        """(expected, predicted) → answers of the rows as written (classification)."""
        out: Counter[tuple[str, str]] = Counter()
        for (s, i, v, e, p), n in self.confusion.items():
            if i == slice_index and v == value and (stage is None or s == stage):
                out[(e, p)] += n
        return out

    def cause_counts(self, stage: int | None = None) -> dict[str, int]:
        """Failed or unparseable requests by cause, most frequent first."""
        out: Counter[str] = Counter()
        for (s, cause), n in self.causes.items():
            if stage is None or s == stage:
                out[cause] += n
        return dict(out.most_common())

    def row_tallies(
        self, slice_index: int = ALL, value: str = "", stage: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The dataset rows as written scored in a group (a slice value, a stage, or the run)
        and each one's correct and scored requests: ``(row indexes, correct, scored)``.
        dataset.variants' varied rows are left out: not the validation set, and not evidence
        independent of the rows they were made from."""
        tables = [t for s, t in self.row_counts.items() if stage is None or s == stage]
        if not tables:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        total = tables[0] if len(tables) == 1 else np.sum(tables, axis=0)
        mask = total[0] > 0
        varied_from = self.delta_fold.varied_from
        if varied_from < mask.size:
            mask[varied_from:] = False
        if slice_index != ALL:
            column = self._slice_columns.get(slice_index)
            if column is None:
                column = self._slice_columns[slice_index] = np.array(
                    [r.slices[slice_index] for r in self.rows], dtype=object
                )
            mask &= column == value
        index = np.flatnonzero(mask)
        return index, total[1][index], total[0][index]

    def slice_values(self) -> list[tuple[int, str]]:
        return sorted({(i, v) for (_, i, v, _) in self.outcomes if i != ALL})

    def timings(self) -> list[str]:
        return [t for t in TIMINGS if any(k[1] == t for k in self.histograms)]
