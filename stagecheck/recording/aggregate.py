"""The run's aggregate: exact merge of recorder deltas, written out as it goes.

Each merged delta appends one interval to ``latency.hlog`` and its requests to
``results.jsonl`` at once, so nothing already measured is lost if the run is interrupted.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import orjson
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from stagecheck.datasets import PreparedRow
from stagecheck.recording.recorder import (
    ALL,
    CORRECT,
    HIGHEST_US,
    OUTCOMES,
    TIMINGS,
    Delta,
    Result,
    new_histogram,
)

__all__ = ["Aggregate", "StageInfo", "Sample", "MAX_SAMPLES", "MAX_SAMPLES_PER_GROUP", "LATE_US",
           "RECENT_S"]  # fmt: skip

MAX_SAMPLES = 100
LATE_US = 50_000  # an open-loop request leaving later than this after its due time is late
MAX_SAMPLES_PER_GROUP = 5  # per (outcome, expected label): keeps samples diverse
RECENT_S = 30.0  # how long merged intervals are kept for the live "last interval" figures


@dataclass
class StageInfo:
    index: int
    name: str
    users: int
    start: float  # epoch seconds
    end: float | None = None


@dataclass(frozen=True)
class Sample:
    row: int
    row_id: str
    input: str
    expected: str
    got: str | None
    outcome: str
    latency_us: int
    slices: dict[str, str]
    error: str | None


class Aggregate:
    """Totals of a run (one per run, on the master or the single process)."""

    def __init__(
        self,
        rows: Sequence[PreparedRow],
        slice_fields: Sequence[str],
        run_dir: Path | None,
        started: float,
    ) -> None:
        self.rows = rows
        self.slice_fields = tuple(slice_fields)
        self.started = started
        self.ended = started
        self.histograms: dict[tuple[int, str], HdrHistogram] = {}
        self.out_of_range: Counter[tuple[int, str]] = Counter()
        self.outcomes: Counter[tuple[int, int, str, int]] = Counter()
        self.confusion: Counter[tuple[int, int, str, str, str]] = Counter()
        # (stage, cause) → requests without a usable answer; the cause is what an error text
        # says before its first colon ("HTTP 503", "timeout", "cut", "unparseable", …)
        self.causes: Counter[tuple[int, str]] = Counter()
        self.samples: list[Sample] = []
        self._sample_groups: Counter[tuple[int, str]] = Counter()
        self._sampled_rows: set[tuple[int, int]] = set()
        self.stages: list[StageInfo] = []
        self.workers: set[str] = set()
        self._results: IO[bytes] | None = None
        self._row_prefix: dict[int, bytes] = {}
        self.late = 0  # open loop: requests that left over LATE_US after their due time
        self.dropped = 0  # open loop: arrivals due that no user was free to send
        # For the live view: requests and the largest schedule lag per start second, and each
        # merged delta's latency histograms (per timing) for a while.
        self.per_second: Counter[int] = Counter()
        self.lag_max_per_second: dict[int, int] = {}
        self.recent: deque[tuple[float, dict[str, HdrHistogram]]] = deque()
        self._hlog: IO[str] | None = None
        # Streamed answers: output tokens per answer, and per answer its tokens after the first
        # per second after the first token (recorded in milli-tokens/s: HDR takes integers).
        self.tokens = new_histogram()
        self.tokens_per_s_milli = new_histogram()
        self.output_tokens = 0
        self.token_sources: Counter[str] = Counter()  # "usage" | "deltas" → answers
        if run_dir is not None:
            self._open(run_dir, started)

    def _open(self, run_dir: Path, started: float) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self._results = (run_dir / "results.jsonl").open("ab")
        self._write_rows(run_dir / "rows.jsonl")
        self._hlog = (run_dir / "latency.hlog").open("a", encoding="utf-8")
        writer = HistogramLogWriter(self._hlog)
        writer.output_comment("[Logged with stagecheck: end-to-end latency in microseconds]")
        writer.output_log_format_version()
        # hdrh's own output_start_time is broken (it treats ms as s): write the line here.
        iso = datetime.fromtimestamp(started, timezone.utc).isoformat()
        self._hlog.write(f"#[StartTime: {started:.3f} (seconds since epoch), {iso}]\n")
        self._hlog.write(f"#[BaseTime: {started:.3f} (seconds since epoch)]\n")
        writer.output_legend()
        self._hlog.flush()

    def _write_rows(self, path: Path) -> None:
        """``rows.jsonl``: each dataset row once (its input, expected value and slices), so that
        the error analysis joins results lines to their inputs without repeating them."""
        if path.exists():  # a resumed or re-opened run folder keeps the rows it has
            return
        fields = self.slice_fields
        with path.open("wb") as f:
            for start in range(0, len(self.rows), 4096):
                f.write(b"".join(
                    orjson.dumps({"row": r.index, "id": r.row_id, "input": r.input_text,
                                  "expected": r.expected_text,
                                  "slices": dict(zip(fields, r.slices, strict=True))}) + b"\n"
                    for r in self.rows[start : start + 4096]
                ))  # fmt: skip

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
        """Add a delta: latency histograms, counts, confusion, samples, and its lines of
        results.jsonl and latency.hlog. ``pause`` is called every few hundred requests so that
        a cooperative caller (gevent) does not hold up requests in flight while this runs."""
        self.workers.add(worker)
        self.ended = max(self.ended, delta.ended)
        self.dropped += delta.dropped
        interval: dict[tuple[int, str], HdrHistogram] = {}
        lines: list[bytes] = []
        rows = self.rows
        outcomes = self.outcomes
        confusion = self.confusion
        streamed = self._merge_streams(delta, interval)
        for n, result in enumerate(delta.results, start=1):
            started, index, outcome, predicted, got, latency_us, error, stage, lag_us, *_ = result
            row = rows[index]
            self._latency(interval, stage, "e2e", latency_us)
            if lag_us > 0:
                second = int(started)
                if lag_us > self.lag_max_per_second.get(second, 0):
                    self.lag_max_per_second[second] = lag_us
                if lag_us > LATE_US:
                    self.late += 1
            if outcome != CORRECT:
                self._keep_sample(row, outcome, got, latency_us, error)
                if error is not None:
                    self.causes[(stage, error.partition(":")[0])] += 1
            if self._results is not None:
                lines.append(self._result_line(result, row, streamed.get(n - 1)))
            if pause is not None and n % 256 == 0:
                pause()
        # Counting goes by group (rows repeat within a delta): one C-speed pass to group, then
        # a handful of dict updates per group rather than per request.
        groups = Counter((r[7], r[1], r[2], r[3]) for r in delta.results)
        self.per_second.update(int(r[0]) for r in delta.results)
        for (stage, index, outcome, predicted), count in groups.items():
            row = rows[index]
            outcomes[(stage, ALL, "", outcome)] += count
            for i, value in enumerate(row.slices):
                outcomes[(stage, i, value, outcome)] += count
            if predicted is not None:
                confusion[(stage, ALL, "", row.expected_text, predicted)] += count
                for i, value in enumerate(row.slices):
                    confusion[(stage, i, value, row.expected_text, predicted)] += count
        by_timing: dict[str, HdrHistogram] = {}
        for key, h in interval.items():
            total = self.histograms.get(key)
            if total is None:
                total = self.histograms[key] = new_histogram()
            total.add(h)
            if key[1] not in by_timing:
                by_timing[key[1]] = new_histogram()
            by_timing[key[1]].add(h)
        self._keep_recent(delta.ended, by_timing)
        e2e = by_timing.get("e2e") or new_histogram()
        if self._results is not None and lines:
            self._results.write(b"\n".join(lines) + b"\n")
            self._results.flush()
        if self._hlog is not None and e2e.get_total_count():
            HistogramLogWriter(self._hlog).output_interval_histogram(
                e2e,
                # the first delta may begin a hair before the run's start stamp
                start_time_stamp_sec=max(delta.started - self.started, 0.0),
                end_time_stamp_sec=max(delta.ended, delta.started + 1e-3) - self.started,
                max_value_unit_ratio=1000.0,  # interval max column in milliseconds
            )
            self._hlog.flush()

    def _merge_streams(
        self, delta: Delta, interval: dict[tuple[int, str], HdrHistogram]
    ) -> dict[int, tuple[int, int]]:
        """TTFT / ITL histograms and token counts of the delta's streams; returns (TTFT µs,
        output tokens) by the position of their request in ``delta.results``."""
        linked: dict[int, tuple[int, int]] = {}
        results = delta.results
        for stage, ttft_us, gaps, tokens, from_usage, position in delta.streams:
            self._latency(interval, stage, "ttft", ttft_us)
            for gap in gaps:
                self._latency(interval, stage, "itl", gap)
            self.output_tokens += tokens
            self.token_sources["usage" if from_usage else "deltas"] += 1
            self.tokens.record_value(min(max(tokens, 0), HIGHEST_US))
            if 0 <= position < len(results):
                linked[position] = (ttft_us, tokens)
                generating_us = results[position][5] - ttft_us  # e2e − TTFT
                if tokens > 1 and generating_us > 0:
                    milli = (tokens - 1) * 1_000_000_000 // generating_us
                    self.tokens_per_s_milli.record_value(min(milli, HIGHEST_US))
        return linked

    def _keep_recent(self, ended: float, by_timing: dict[str, HdrHistogram]) -> None:
        if by_timing:
            self.recent.append((ended, by_timing))
        while self.recent and self.recent[0][0] < self.ended - RECENT_S:
            for h in self.recent.popleft()[1].values():
                # An HdrHistogram and its encoder refer to each other: kept 30 s, it has
                # reached the oldest GC generation, which Python collects rarely, so each one
                # dropped (190 KB) would wait there — a soak's memory would grow by one a
                # second. Breaking the cycle frees it now.
                h.encoder = None

    def _latency(
        self, interval: dict[tuple[int, str], HdrHistogram], stage: int, timing: str, us: int
    ) -> None:
        h = interval.get((stage, timing))
        if h is None:
            h = interval[(stage, timing)] = new_histogram()
        if us < 0 or us > HIGHEST_US:
            # hdrh drops out-of-range values silently: clamp, record and count them.
            self.out_of_range[(stage, timing)] += 1
            us = 0 if us < 0 else HIGHEST_US
        h.record_value(us)

    def _result_line(
        self, result: Result, row: PreparedRow, stream: tuple[int, int] | None = None
    ) -> bytes:
        """One line of results.jsonl; the row's own fields are encoded once per row. A streamed
        answer adds ``ttft_us`` and ``tokens`` (its output tokens); a free-text scorer adds
        ``score`` (0..1), an LLM judge ``judge_ms`` (its grading time, not in ``latency_us``)."""
        started, index, outcome, predicted, got, latency_us, error, stage, lag_us = result[:9]
        score, judge_us = result[9], result[10]
        prefix = self._row_prefix.get(index)
        if prefix is None:
            fixed = {"row": index, "id": row.row_id, "expected": row.expected_text,
                     "slices": dict(zip(self.slice_fields, row.slices, strict=True))}  # fmt: skip
            prefix = self._row_prefix[index] = orjson.dumps(fixed)[:-1] + b","
        return prefix + orjson.dumps({
            "t": round(started, 6), "outcome": OUTCOMES[outcome], "got": got,
            "predicted": predicted,
            "latency_us": latency_us, "lag_us": lag_us, "stage": stage,
            "users": self.users_at(started), "error": error,
            **({} if stream is None else {"ttft_us": stream[0], "tokens": stream[1]}),
            **({} if score is None else {"score": score}),
            **({"judge_ms": round(judge_us / 1000, 3)} if judge_us else {}),
        })[1:]  # fmt: skip

    def _keep_sample(
        self, row: PreparedRow, outcome: int, got: str | None, latency_us: int, error: str | None
    ) -> None:
        group = (outcome, row.expected_text)
        if len(self.samples) >= MAX_SAMPLES or self._sample_groups[group] >= MAX_SAMPLES_PER_GROUP:
            return
        if (row.index, outcome) in self._sampled_rows:  # a row once per outcome (the error
            return  # analysis counts its repeats ×N from results.jsonl)
        self._sampled_rows.add((row.index, outcome))
        self._sample_groups[group] += 1
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
        for f in (self._results, self._hlog):
            if f is not None:
                f.close()
        self._results = self._hlog = None

    # -- queries (report time, never on the hot path) ------------------------------------------
    def histogram(self, timing: str, stage: int | None = None) -> HdrHistogram | None:
        """Latency histogram of one timing for one stage or the whole run (None if empty)."""
        total = new_histogram()
        for (s, t), h in self.histograms.items():
            if t == timing and (stage is None or s == stage):
                total.add(h)
        return total if total.get_total_count() else None

    def recent_histogram(self, timing: str, window_s: float) -> HdrHistogram | None:
        """Latency of one timing over the deltas that ended in the last ``window_s`` seconds."""
        total = new_histogram()
        for ended, by_timing in self.recent:
            h = by_timing.get(timing)
            if h is not None and ended > self.ended - window_s:
                total.add(h)
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
        self, slice_index: int = ALL, value: str = "", stage: int | None = None
    ) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for (s, i, v, o), n in self.outcomes.items():
            if i == slice_index and v == value and (stage is None or s == stage):
                counts[OUTCOMES[o]] += n
        return counts

    def confusion_counts(
        self, slice_index: int = ALL, value: str = "", stage: int | None = None
    ) -> Counter[tuple[str, str]]:
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

    def slice_values(self) -> list[tuple[int, str]]:
        return sorted({(i, v) for (_, i, v, _) in self.outcomes if i != ALL})

    def timings(self) -> list[str]:
        return [t for t in TIMINGS if any(k[1] == t for k in self.histograms)]
