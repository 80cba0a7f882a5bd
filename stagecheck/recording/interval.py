"""A recorder's delta folded where it was recorded: the figures of one interval.

A process that runs users drains its :class:`~.recorder.Recorder` every second or so and folds
the :class:`~.recorder.Delta` into an :class:`IntervalReport` right there (a worker for its own
requests; the single process for its own). An interval holds fixed-size figures (HDR histograms
per stage and timing, outcome / confusion / cause counts per stage and slice, requests per
second) plus the interval's lines of ``results.jsonl``, already encoded, and a few candidate
samples of wrong answers. The run's :class:`~.aggregate.Aggregate` adds intervals up: a cost per
interval, not per request, so a master's cost stays flat in the number of workers. Adding
histograms and counts is exact, so a distributed run's totals equal a single process's.

Folding works in chunks of :data:`CHUNK` requests and calls ``pause`` between them, so that a
cooperative caller (gevent) never holds its event loop for long (issue 10: ~1 ms slices).

``results.jsonl``, line format 2 (DESIGN.md, "Run folder"): ``row``, ``t``, ``outcome``,
``latency_us``, ``stage`` always; ``predicted`` (a label that is not the row's expected one),
``got`` (a free-text answer), ``error``, ``lag_us`` (> 0), ``ttft_us`` and ``tokens``
(streams), ``score`` and ``judge_ms`` only when they apply. The row's id, expected value and
slices are in ``rows.jsonl``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import orjson

from stagecheck.datasets import PreparedRow
from stagecheck.recording.hdr import HIGHEST_US, new_histogram, record_values
from stagecheck.recording.recorder import (
    ALL,
    CORRECT,
    OUTCOMES,
    R_LATENCY_US,
    UNFINISHED,
    UNPARSEABLE,
    Delta,
    Result,
)
from stagecheck.recording.report import PACKED, IntervalReport
from stagecheck.recording.samples import (
    MAX_SAMPLES,
    MAX_SAMPLES_PER_GROUP,
    SampleCandidate,
    SampleRule,
)
from stagecheck.recording.tally import row_tallies

__all__ = ["IntervalReport", "DeltaFold", "SampleCandidate", "CHUNK", "LATE_US", "MAX_SAMPLES",
           "MAX_SAMPLES_PER_GROUP", "SampleRule", "PACKED"]  # fmt: skip

CHUNK = 128  # requests folded between two pauses (~0.3 ms on this machine)
GROUP_CHUNK = 64  # count groups expanded between two pauses
VALUE_CHUNK = 1024  # latencies recorded in a histogram between two pauses
LATE_US = 50_000  # an open-loop request leaving later than this after its due time is late
_MEMO_TEXT = 64  # texts up to this long have their JSON encoding memoised (labels, causes)
_MEMO_SIZE = 8192


_OUTCOME_JSON = [orjson.dumps(o) for o in OUTCOMES]
_LINE = b'{"row":%d,"t":%.6f,"outcome":%s,"latency_us":%d,"stage":%d'


def _no_pause() -> None:
    pass


class DeltaFold:
    """Folds the deltas of one process into intervals (keeps which samples it has offered)."""

    def __init__(self, rows: Sequence[PreparedRow], *, write_lines: bool = True) -> None:
        self.rows = rows
        # dataset.variants: the varied rows follow every row as written (RowTable.origins)
        origins = getattr(rows, "origins", None)
        self.varied_from = min(origins) if origins else len(rows)
        # a row's expected text without making the row (a RowTable keeps them as a column)
        texts = getattr(rows, "expected_texts", None)
        self._expected_text: Callable[[int], str] = (
            texts.__getitem__ if isinstance(texts, list) else lambda i: rows[i].expected_text
        )
        self.write_lines = write_lines
        self.samples = SampleRule()
        self._json: dict[str, bytes] = {}
        record_values(new_histogram(), [1])  # numpy's first call costs ~1 ms: not mid-run

    def fold(self, delta: Delta, pause: Callable[[], None] | None = None) -> IntervalReport:
        pause = pause or _no_pause
        iv = IntervalReport(started=delta.started, ended=delta.ended, dropped=delta.dropped)
        if delta.loop_checks:
            iv.loop["checks"] = delta.loop_checks
            iv.loop["late"] = delta.loop_late
        values: dict[tuple[int, str], list[int]] = {}
        linked = self._fold_streams(delta, iv, values)
        groups: Counter[tuple[int, int, int, str | None]] = Counter()
        lines: list[bytes] = []
        results = delta.results
        for start in range(0, len(results), CHUNK):
            chunk = results[start : start + CHUNK]
            self._fold_chunk(chunk, start, iv, values, groups, linked, lines)
            pause()
        self._record(iv, values, pause)
        self._count_groups(iv, groups, pause)
        iv.lines = b"".join(lines)
        pause()
        return iv

    # -- pieces --------------------------------------------------------------------------------
    def _fold_chunk(
        self,
        chunk: Sequence[Result],
        start: int,
        iv: IntervalReport,
        values: dict[tuple[int, str], list[int]],
        groups: Counter[tuple[int, int, int, str | None]],
        linked: dict[int, tuple[int, int, bool]],
        lines: list[bytes],
    ) -> None:
        started, index, outcome, predicted, _, latency, errors, stage, lag = list(
            zip(*chunk, strict=True)
        )[:9]
        groups.update(zip(stage, index, outcome, predicted, strict=True))
        iv.per_second.update(map(int, started))
        timed_stage: Sequence[int] = stage
        timed: Sequence[int] = latency
        if UNFINISHED in outcome:  # the end of a run: no answer, so no latency to record
            kept = [i for i, o in enumerate(outcome) if o != UNFINISHED]
            timed_stage, timed = [stage[i] for i in kept], [latency[i] for i in kept]
        first = timed_stage[0] if timed_stage else 0
        if timed_stage.count(first) == len(timed_stage):  # one stage (the common case)
            values.setdefault((first, "e2e"), []).extend(timed)
        else:
            for s, us in zip(timed_stage, timed, strict=True):
                values.setdefault((s, "e2e"), []).append(us)
        if any(lag):
            for t, us in zip(started, lag, strict=True):
                if us > 0:
                    second = int(t)
                    if us > iv.lag_max.get(second, 0):
                        iv.lag_max[second] = us
                    if us > LATE_US:
                        iv.late += 1
        rule, expected_text = self.samples, self._expected_text
        if outcome.count(CORRECT) == len(outcome):
            pass
        elif rule.kept < MAX_SAMPLES:
            for _, row, out_code, _, got, latency_us, error, stage_no, _, _, _ in chunk:
                if out_code == CORRECT:
                    continue
                if error is not None:
                    iv.causes[(stage_no, error.partition(":")[0])] += 1
                if rule.admit_at(row, expected_text(row), out_code):
                    iv.samples.append((row, out_code, got, latency_us, error))
        elif errors.count(None) != len(errors):  # every sample kept: only the causes count
            for out_code, error, stage_no in zip(outcome, errors, stage, strict=True):
                if out_code != CORRECT and error is not None:
                    iv.causes[(stage_no, error.partition(":")[0])] += 1
        if self.write_lines:
            line, text = _LINE, self._text
            done: list[bytes] = []
            out = done.append
            for n, r in enumerate(chunk, start=start):
                t, row, out_code, label, got, e2e_us, error, stage_no, lag_us, score, judge_us = r
                head = line % (row, t, _OUTCOME_JSON[out_code], e2e_us, stage_no)
                if (error is None and not lag_us and score is None and not judge_us and got == label
                        and (label is None or label == expected_text(row))
                        and n not in linked):  # fmt: skip
                    out(head + b"}\n")  # the common line: a right label, or a failure's
                else:
                    out(head + self._extra(r, n, linked, text) + b"}\n")
            lines.append(b"".join(done))

    def _extra(
        self,
        r: Result,
        n: int,
        linked: dict[int, tuple[int, int, bool]],
        text: Callable[[str], bytes],
    ) -> bytes:
        _, row, _, predicted, got, _, error, _, lag_us, score, judge_us = r
        parts: list[bytes] = []
        if predicted is not None:
            # a label is written when it is not the row's expected one, and whenever the
            # answer's text is written too (a reader takes a lone "got" for free text)
            if got != predicted:
                parts.append(b',"predicted":' + text(predicted))
                parts.append(b',"got":' + (b"null" if got is None else text(got)))
            elif predicted != self._expected_text(row):
                parts.append(b',"predicted":' + text(predicted))
        elif got is not None:
            parts.append(b',"got":' + text(got))
        if error is not None:
            parts.append(b',"error":' + text(error))
        if lag_us:
            parts.append(b',"lag_us":%d' % lag_us)
        stream = linked.get(n)
        if stream is not None:
            parts.append(b',"ttft_us":%d,"tokens":%d' % stream[:2])
            if stream[2]:  # the first token's packet was merged: its TTFT is an upper bound
                parts.append(b',"ttft_bound":1')
        if score is not None:
            parts.append(b',"score":' + orjson.dumps(score))
        if judge_us:
            parts.append(b',"judge_ms":' + orjson.dumps(round(judge_us / 1000, 3)))
        return b"".join(parts)

    def _text(self, value: str) -> bytes:
        encoded = self._json.get(value)
        if encoded is None:
            encoded = orjson.dumps(value)
            if len(value) <= _MEMO_TEXT and len(self._json) < _MEMO_SIZE:
                self._json[value] = encoded
        return encoded

    def _fold_streams(
        self, delta: Delta, iv: IntervalReport, values: dict[tuple[int, str], list[int]]
    ) -> dict[int, tuple[int, int, bool]]:
        """TTFT / ITL values and token counts of the delta's streams; returns (TTFT µs, output
        tokens, TTFT an upper bound) by the position of their request in ``delta.results``."""
        linked: dict[int, tuple[int, int, bool]] = {}
        if not delta.streams:
            return linked
        results = delta.results
        counts: list[int] = []
        rates: list[int] = []
        bounds = iv.stamp_bounds
        for stage, ttft_us, gaps, tokens, from_usage, position, bounded, merged in delta.streams:
            if bounded:
                bounds["ttft"] += 1
            if merged:
                bounds["itl"] += merged
            values.setdefault((stage, "ttft"), []).append(ttft_us)
            values.setdefault((stage, "itl"), []).extend(gaps)
            iv.output_tokens += tokens
            iv.token_sources["usage" if from_usage else "deltas"] += 1
            counts.append(min(max(tokens, 0), HIGHEST_US))
            if 0 <= position < len(results):
                linked[position] = (ttft_us, tokens, bounded)
                generating_us = results[position][R_LATENCY_US] - ttft_us  # e2e − TTFT
                if tokens > 1 and generating_us > 0:
                    milli = (tokens - 1) * 1_000_000_000 // generating_us
                    rates.append(min(milli, HIGHEST_US))
        iv.tokens = new_histogram()
        record_values(iv.tokens, counts)
        iv.tokens_per_s_milli = new_histogram()
        record_values(iv.tokens_per_s_milli, rates)
        return linked

    @staticmethod
    def _record(
        iv: IntervalReport, values: dict[tuple[int, str], list[int]], pause: Callable[[], None]
    ) -> None:
        """The interval's latency histograms; hdrh drops out-of-range values silently, so they
        are clamped, recorded and counted."""
        for key, vals in values.items():
            if not vals:
                continue
            h = iv.histograms[key] = new_histogram()
            for start in range(0, len(vals), VALUE_CHUNK):
                part = vals[start : start + VALUE_CHUNK]
                if min(part) < 0 or max(part) > HIGHEST_US:
                    iv.out_of_range[key] += sum(1 for v in part if v < 0 or v > HIGHEST_US)
                    part = [0 if v < 0 else HIGHEST_US if v > HIGHEST_US else v for v in part]
                record_values(h, part)
                pause()

    def _count_groups(
        self,
        iv: IntervalReport,
        groups: Counter[tuple[int, int, int, str | None]],
        pause: Callable[[], None],
    ) -> None:
        """Outcome and confusion counts per stage and slice value, from the (stage, row,
        outcome, predicted) groups: rows repeat, so a few dict updates per group."""
        rows = self.rows
        size, varied_from = len(rows), self.varied_from
        outcomes, confusion, mislabelled = iv.outcomes, iv.confusion, iv.mislabelled
        answered: list[tuple[int, int, int, int]] = []  # stage, row, scored, correct
        for n, ((stage, index, outcome, predicted), count) in enumerate(groups.items(), 1):
            row = rows[index]
            if outcome <= UNPARSEABLE and 0 <= index < size:
                answered.append((stage, index, count, count if outcome == CORRECT else 0))
                if (predicted is not None and outcome != CORRECT and index < varied_from
                        and predicted != row.expected_text):  # fmt: skip
                    mislabelled[(index, predicted)] += count
            outcomes[(stage, ALL, "", outcome)] += count
            for i, value in enumerate(row.slices):
                outcomes[(stage, i, value, outcome)] += count
            if index >= varied_from:  # a request, not evidence on the rows as written
                varied = iv.varied
                varied[(stage, ALL, "", outcome)] += count
                for i, value in enumerate(row.slices):
                    varied[(stage, i, value, outcome)] += count
            elif predicted is not None:
                confusion[(stage, ALL, "", row.expected_text, predicted)] += count
                for i, value in enumerate(row.slices):
                    confusion[(stage, i, value, row.expected_text, predicted)] += count
            if n % GROUP_CHUNK == 0:
                pause()
        pause()
        iv.row_tallies = row_tallies(answered)
