"""The run's aggregate: exact merge of recorder deltas, written out as it goes.

Each merged delta appends one interval to ``latency.hlog`` and its requests to
``results.jsonl`` at once, so nothing already measured is lost if the run is interrupted. A
write that fails (a full disk, a folder made read-only) stops the writing, never the counting:
``write_failure`` says what failed, and the run's owner stops the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from hdrh.histogram import HdrHistogram

from stagecheck.datasets import PreparedRow
from stagecheck.recording.files import open_hlog, write_hlog_interval, write_rows_file
from stagecheck.recording.hdr import EncodedAdder, new_histogram
from stagecheck.recording.interval import LATE_US, PACKED, DeltaFold, IntervalReport
from stagecheck.recording.queries import AggregateQueries
from stagecheck.recording.recorder import ALL, OUTCOMES, Delta
from stagecheck.recording.samples import MAX_SAMPLES, MAX_SAMPLES_PER_GROUP, Sample, SampleRule
from stagecheck.recording.tally import add_counts
from stagecheck.recording.wire import add_packed

__all__ = ["Aggregate", "StageInfo", "Sample", "MAX_SAMPLES", "MAX_SAMPLES_PER_GROUP", "LATE_US",
           "RECENT_S"]  # fmt: skip

RECENT_S = 30.0  # how long the live "last interval" figures' seconds are kept


@dataclass
class StageInfo:
    index: int
    name: str
    users: int
    start: float  # epoch seconds
    end: float | None = None


def _no_pause() -> None:
    pass


class Aggregate(AggregateQueries):
    """Totals of a run (one per run, on the master or the single process)."""

    def __init__(
        self,
        rows: Sequence[PreparedRow],
        slice_fields: Sequence[str],
        run_dir: Path | None,
        started: float,
        pause: Callable[[], None] | None = None,
        *,
        defer_rows: bool = False,
    ) -> None:
        self.rows = rows
        self.slice_fields = tuple(slice_fields)
        self.started = started
        self.ended = started
        self.histograms: dict[tuple[int, str], HdrHistogram] = {}
        self.out_of_range: Counter[tuple[int, str]] = Counter()
        self.outcomes: Counter[tuple[int, int, str, int]] = Counter()
        # dataset.variants: the part of ``outcomes`` that varied rows answered (the quality
        # figures are the rows as written); ``confusion`` counts the rows as written only
        self.varied: Counter[tuple[int, int, str, int]] = Counter()
        self.confusion: Counter[tuple[int, int, str, str, str]] = Counter()
        # (stage, cause) → requests without a usable answer; the cause is what an error text
        # says before its first colon ("HTTP 503", "timeout", "cut", "unparseable", …)
        self.causes: Counter[tuple[int, str]] = Counter()
        self.samples: list[Sample] = []
        self._sample_rule = SampleRule()
        self.delta_fold = DeltaFold(rows, write_lines=run_dir is not None)  # this process's deltas
        self.stages: list[StageInfo] = []
        self.workers: set[str] = set()
        self._results: IO[bytes] | None = None
        self.late = 0  # open loop: requests that left over LATE_US after their due time
        self.dropped = 0  # open loop: arrivals due that no user was free to send
        # For the live view: requests and the largest schedule lag per start second, and per
        # second (the one its intervals ended in) the latency histogram of each timing, for
        # RECENT_S: one histogram per second however many workers report (a live view adds
        # up ten of them, not every worker's report of the last ten seconds).
        self.per_second: Counter[int] = Counter()
        self.lag_max_per_second: dict[int, int] = {}
        self.recent: dict[int, dict[str, HdrHistogram]] = {}
        self._encoded = EncodedAdder()  # workers' histograms, added without decoding each
        self._hlog: IO[str] | None = None
        # Streamed answers: output tokens per answer, and per answer its tokens after the first
        # per second after the first token (recorded in milli-tokens/s: HDR takes integers).
        self.tokens = new_histogram()
        self.tokens_per_s_milli = new_histogram()
        self.output_tokens = 0
        self.token_sources: Counter[str] = Counter()  # "usage" | "deltas" → answers
        self.stamp_bounds: Counter[str] = Counter()  # "ttft" | "itl" → left unmeasured
        self.loop: Counter[str] = Counter()  # the generators' event-loop checks, late ones
        # Per dataset row, the unit of evidence of every interval and test (a timed run replays
        # rows; see stagecheck.stats): per stage, each row's scored and correct requests (two
        # dense columns), and per (row, label) the wrong answers of a classification that named
        # a label (with the correct ones, each row's confusion: precision's clusters).
        self.row_counts: dict[int, np.ndarray] = {}  # stage → int64 [2, rows]: scored, correct
        self.row_mislabelled: Counter[tuple[int, str]] = Counter()
        self._slice_columns: dict[int, np.ndarray] = {}
        self.write_failure: str | None = None  # the first write to the run folder that failed
        self._rows_path: Path | None = None  # rows.jsonl while it is still to be written
        if run_dir is not None:
            try:
                self._open(run_dir, started)
            except OSError as exc:
                self._note_failure(Path(str(exc.filename or "the run folder")).name, exc)
                self.close()
            if not defer_rows:
                self.write_rows(pause)

    def _open(self, run_dir: Path, started: float) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self._results = (run_dir / "results.jsonl").open("ab")
        rows_path = run_dir / "rows.jsonl"
        # a resumed or re-opened run folder keeps the rows it has
        self._rows_path = None if rows_path.exists() else rows_path
        self._hlog = open_hlog(run_dir / "latency.hlog", started)

    def write_rows(self, pause: Callable[[], None] | None = None) -> None:
        """``rows.jsonl``: each dataset row once (its input, expected value and slices), so that
        the error analysis joins results lines to their inputs without repeating them
        (:func:`~.files.write_rows_file`). Once: later calls do nothing (an interrupted call
        writes the file anew)."""
        path = self._rows_path
        if path is None:
            return
        try:
            write_rows_file(path, self.rows, self.slice_fields, pause or _no_pause)
        except OSError as exc:
            self._note_failure("rows.jsonl", exc)
        self._rows_path = None

    # -- stages ------------------------------------------------------------------------------
    def begin_stage(self, index: int, name: str, users: int, at: float) -> None:
        if self.stages and self.stages[-1].end is None:
            self.stages[-1].end = at
        self.stages.append(StageInfo(index=index, name=name, users=users, start=at))

    def users_at(self, t: float) -> int:
        for stage in reversed(self.stages):
            if stage.start <= t:
                return stage.users
        return self.stages[0].users if self.stages else 0

    # -- merging -----------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return sum(n for (_, i, _, _), n in self.outcomes.items() if i == ALL)

    def merge(
        self, delta: Delta, worker: str = "local", pause: Callable[[], None] | None = None
    ) -> None:
        """Fold a delta recorded in this process and add it (the single process). ``pause`` is
        called every few hundred requests so that a cooperative caller (gevent) does not hold
        up requests in flight while this runs."""
        self.absorb(self.delta_fold.fold(delta, pause), worker, pause)

    def absorb(
        self,
        interval: IntervalReport,
        worker: str = "local",
        pause: Callable[[], None] | None = None,
    ) -> None:
        """Add an interval folded where it was recorded (here, or on a worker): histograms,
        counts, samples, and its lines of results.jsonl and latency.hlog. Its cost depends on
        the interval's fixed-size figures, not on its number of requests."""
        pause = pause or _no_pause
        self.workers.add(worker)
        self.ended = max(self.ended, interval.ended)
        self.dropped += interval.dropped
        self.late += interval.late
        for counts, part in (
            (self.out_of_range, interval.out_of_range), (self.outcomes, interval.outcomes),
            (self.varied, interval.varied), (self.confusion, interval.confusion),
            (self.causes, interval.causes), (self.per_second, interval.per_second),
        ):  # fmt: skip
            add_counts(counts, part)
        for name in ("outcomes", "confusion"):  # a worker's, packed
            if name in interval.packed:
                width, text_parts = PACKED[name]
                add_packed(getattr(self, name), interval.packed[name], width, text_parts,
                           interval.strings)  # fmt: skip
        lag_max = self.lag_max_per_second
        for second, us in interval.lag_max.items():
            if us > lag_max.get(second, 0):
                lag_max[second] = us
        pause()
        rows = self.rows
        samples = interval.samples if self._sample_rule.kept < MAX_SAMPLES else ()
        for index, outcome, got, latency_us, error in samples:  # (a row object is made each)
            if 0 <= index < len(rows):
                self._keep_sample(rows[index], outcome, got, latency_us, error)
        pause()
        shipped_e2e = self._add_histograms(interval, pause)
        if interval.tokens is not None:
            self.tokens.add(interval.tokens)
        if interval.tokens_per_s_milli is not None:
            self.tokens_per_s_milli.add(interval.tokens_per_s_milli)
        for name, encoded in interval.encoded_tokens.items():
            self._encoded.add(encoded, [getattr(self, name)])
        self.output_tokens += interval.output_tokens
        self.token_sources.update(interval.token_sources)
        self.stamp_bounds.update(interval.stamp_bounds)
        self.loop.update(interval.loop)
        self._count_rows(interval)
        self._write_interval(interval, shipped_e2e, pause)

    def _add_histograms(
        self, interval: IntervalReport, pause: Callable[[], None]
    ) -> list[tuple[bytes, int, int]]:
        """Add the interval's histograms (folded here, or a worker's encodings) to the run's
        and to the live view's second that the interval ended in; returns the worker's e2e
        encodings with their counts and max values (latency.hlog's line)."""
        recent = self._recent_second(interval.ended)
        for key, h in interval.histograms.items():
            for total in self._totals(key, recent):
                total.add(h)
            pause()
        shipped_e2e = []
        for key, encoded in interval.encoded.items():
            count, max_us = self._encoded.add(encoded, self._totals(key, recent))
            if key[1] == "e2e":
                shipped_e2e.append((encoded, count, max_us))
            pause()
        return shipped_e2e

    def _totals(
        self, key: tuple[int, str], recent: dict[str, HdrHistogram] | None
    ) -> list[HdrHistogram]:
        """The histograms a histogram of ``key`` (stage, timing) is added to."""
        total = self.histograms.get(key)
        if total is None:
            total = self.histograms[key] = new_histogram()
        if recent is None:
            return [total]
        second = recent.get(key[1])
        if second is None:
            second = recent[key[1]] = new_histogram()
        return [total, second]

    def _recent_second(self, ended: float) -> dict[str, HdrHistogram] | None:
        """The live view's histograms of the second ``ended`` falls in (None when that second is
        older than RECENT_S); seconds older than that are dropped."""
        cutoff = math.floor(self.ended - RECENT_S)
        for second in [s for s in self.recent if s < cutoff]:
            for h in self.recent.pop(second).values():
                # An HdrHistogram and its encoder refer to each other: kept 30 s, it has
                # reached the oldest GC generation, which Python collects rarely, so each one
                # dropped (190 KB) would wait there — a soak's memory would grow by one a
                # second. Breaking the cycle frees it now.
                h.encoder = None
        second = math.floor(ended)
        if second < cutoff:
            return None
        return self.recent.setdefault(second, {})

    def _write_interval(
        self,
        interval: IntervalReport,
        shipped_e2e: list[tuple[bytes, int, int]],
        pause: Callable[[], None],
    ) -> None:
        name = "results.jsonl"
        try:
            if self._results is not None and interval.lines:
                self._results.write(interval.lines)
                self._results.flush()
            name = "latency.hlog"
            if self._hlog is None:
                return
            local = [h for (_, t), h in interval.histograms.items() if t == "e2e"]
            start = max(interval.started - self.started, 0.0)  # may begin a hair before
            end = max(interval.ended, interval.started + 1e-3) - self.started
            if len(shipped_e2e) == 1 and not local:
                # a worker's interval of one stage: the line is its encoding (the same bytes
                # as encoding the decoded histogram)
                encoded, count, max_us = shipped_e2e[0]
                if count:
                    write_hlog_interval(self._hlog, start, end, encoded=encoded, max_us=max_us)
                return
            if not local and not shipped_e2e:
                return
            if len(local) == 1 and not shipped_e2e:
                e2e = local[0]
            else:  # an interval over two stages: one line of both
                e2e = new_histogram()
                for h in local:
                    e2e.add(h)
                for encoded, _, _ in shipped_e2e:
                    self._encoded.add(encoded, [e2e])
            if e2e.get_total_count():
                pause()
                write_hlog_interval(self._hlog, start, end, histogram=e2e)
        except OSError as exc:
            self._note_failure(name, exc)
            self.close()

    def _note_failure(self, name: str, exc: OSError) -> None:
        """Keep the first write to the run folder that failed (``results.jsonl: No space left
        on device``); from then on nothing more is written, and the counts go on."""
        if self.write_failure is None:
            self.write_failure = f"{name}: {exc.strerror or exc}"

    def _count_rows(self, interval: IntervalReport) -> None:
        """Add the interval's answers per dataset row (its per-stage tallies, with numpy)."""
        for s, (index, scored, correct) in interval.row_tallies.items():
            table = self.row_counts.get(s)
            if table is None:
                table = self.row_counts[s] = np.zeros((2, len(self.rows)), np.int64)
            table[0][index] += scored  # the indexes are unique: a plain fancy-index add
            table[1][index] += correct
        add_counts(self.row_mislabelled, interval.mislabelled)
        if "mislabelled" in interval.packed:  # a worker's
            width, text_parts = PACKED["mislabelled"]
            add_packed(self.row_mislabelled, interval.packed["mislabelled"], width, text_parts,
                       interval.strings)  # fmt: skip

    def _keep_sample(
        self, row: PreparedRow, outcome: int, got: str | None, latency_us: int, error: str | None
    ) -> None:
        if not self._sample_rule.admit(row, outcome):
            return
        self.samples.append(
            Sample(
                row.index,
                row.row_id,
                row.input_text,
                row.expected_text,
                got,
                OUTCOMES[outcome],
                latency_us,
                dict(zip(self.slice_fields, row.slices, strict=True)),
                error,
            )
        )

    def close(self) -> None:
        for name, f in (("results.jsonl", self._results), ("latency.hlog", self._hlog)):
            if f is not None:
                try:
                    f.close()  # closed even when its last flush fails
                except OSError as exc:
                    self._note_failure(name, exc)
        self._results = self._hlog = None
