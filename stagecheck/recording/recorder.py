"""The per-process recorder: what the hot path touches, and nothing else.

Per request it appends one tuple. Everything else (HDR histograms, outcome and confusion
counts, samples, results.jsonl lines) is derived from those tuples off the request path, in the
same process: every second in a single process, at each report on a worker, the
:class:`Delta` (the tuples recorded between two drains) is folded into an
:class:`~.interval.IntervalReport` of fixed-size figures. That is what a worker ships; adding
intervals is exact, so a distributed run's totals are exact by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from stagecheck.recording.hdr import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES, new_histogram

__all__ = [
    "Outcome",
    "OUTCOMES",
    "ANSWER_OUTCOMES",
    "FAILURE_OUTCOMES",
    "CORRECT",
    "INCORRECT",
    "UNPARSEABLE",
    "HTTP_ERROR",
    "TIMEOUT",
    "CONNECTION_ERROR",
    "UNFINISHED",
    "FAILURES",
    "TIMINGS",
    "ALL",
    "LOWEST_US",
    "HIGHEST_US",
    "SIGNIFICANT_FIGURES",
    "new_histogram",
    "Result",
    "R_STARTED",
    "R_ROW",
    "R_OUTCOME",
    "R_PREDICTED",
    "R_GOT",
    "R_LATENCY_US",
    "R_ERROR",
    "R_STAGE",
    "R_LAG_US",
    "R_SCORE",
    "R_JUDGE_US",
    "StreamTiming",
    "Delta",
    "Recorder",
]

# The outcome of a request sent. ``unfinished``: still open when the run ended (after the plan's
# graceful stop, or killed by a signal): no verdict on the endpoint either way, never an error.
# Defined once here (codes are indices into it); summary.json, reports and capacity import these.
Outcome = Literal["correct", "incorrect", "unparseable", "http_error", "timeout",
                  "connection_error", "unfinished"]  # fmt: skip
OUTCOMES: tuple[str, ...] = get_args(Outcome)
#: Outcomes with an answer to score (the base of accuracy).
ANSWER_OUTCOMES: tuple[str, ...] = OUTCOMES[:3]
#: Outcomes without an answer at all (HTTP error, timeout, connection error): ``error_rate``.
FAILURE_OUTCOMES: tuple[str, ...] = OUTCOMES[3:6]
CORRECT, INCORRECT, UNPARSEABLE, HTTP_ERROR, TIMEOUT, CONNECTION_ERROR, UNFINISHED = range(7)
FAILURES = frozenset((HTTP_ERROR, TIMEOUT, CONNECTION_ERROR))
TIMINGS = ("e2e", "ttft", "itl")
ALL = -1  # slice index meaning "every request" (no slice)
# A check of a generator's event loop is late when it woke this long past due: its users' sends
# and reads waited as long (streams at a 50 ms token gap then get their packets merged).
LOOP_LATE_US = 20_000

# One request, as a plain tuple so that recording it costs next to nothing (a NamedTuple costs
# ~5x as much to build: ~0.5 µs a request more); readers unpack it or index it by the names
# below: (start epoch s, row index, outcome code, predicted label or None, answer text or None,
# latency µs, error or None, stage, schedule lag µs). ``predicted`` is set for classification
# only; the lag (how late an open-loop request left after its due time) is 0 in a closed loop.
# Then the free-text scorers' per-row score (0..1, None for the others) and the time an LLM
# judge took to grade the answer (µs, 0 without a judge; never part of the latency).
Result = tuple[
    float, int, int, "str | None", "str | None", int, "str | None", int, int, "float | None", int
]
R_STARTED: Final = 0
R_ROW: Final = 1
R_OUTCOME: Final = 2
R_PREDICTED: Final = 3
R_GOT: Final = 4
R_LATENCY_US: Final = 5
R_ERROR: Final = 6
R_STAGE: Final = 7
R_LAG_US: Final = 8
R_SCORE: Final = 9
R_JUDGE_US: Final = 10
# Streaming figures of one answer: (stage, time to first token µs, inter-token gaps µs,
#  output tokens, whether the server's usage gave them (else: counted text deltas), position of
#  the answer's Result in the same delta or -1, whether the TTFT is an upper bound, inter-token
#  gaps that are bounds because the kernel merged their packets). Readers unpack it.
StreamTiming = tuple[int, int, Sequence[int], int, bool, int, bool, int]


@dataclass
class Delta:
    """Everything recorded between two drains."""

    started: float
    ended: float = 0.0
    results: list[Result] = field(default_factory=list)
    streams: list[StreamTiming] = field(default_factory=list)
    dropped: int = 0  # open loop: arrivals due that no user was free to send (never sent)
    loop_checks: int = 0  # checks of this process's event loop (LoopProbe)
    loop_late: int = 0  # checks that found it late by over LOOP_LATE_US


class Recorder:
    """Hot-path recorder of one process. Safe under gevent: nothing here yields."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.stage = 0
        self._delta = Delta(started=clock())

    def record(
        self,
        *,
        row_index: int,
        outcome: int,
        latency_us: int,
        started: float,
        stage: int | None = None,
        predicted: str | None = None,
        got: str | None = None,
        error: str | None = None,
        lag_us: int = 0,
        score: float | None = None,
        judge_us: int = 0,
    ) -> None:
        """One request. ``stage``: the load stage when it was sent (default: now);
        ``predicted``: its label for the confusion matrix (classification only); ``got``: the
        answer text kept for error analysis; ``score``: a free-text scorer's per-row score;
        ``judge_us``: an LLM judge's time grading it (kept apart from ``latency_us``)."""
        self._delta.results.append((
            started, row_index, outcome, predicted, got, latency_us, error,
            self.stage if stage is None else stage, lag_us, score, judge_us,
        ))  # fmt: skip

    def record_stream(
        self,
        ttft_us: int,
        itl_us: Sequence[int],
        stage: int | None = None,
        *,
        output_tokens: int | None = None,
        linked: bool = False,
        ttft_bounded: bool = False,
        merged_gaps: int = 0,
    ) -> None:
        """Streaming figures of one answer: time to first token, each inter-token gap and its
        output tokens (the server's usage count; None: the text deltas, one per gap plus one).
        ``linked``: it belongs to the request :meth:`record` took just before (same greenlet,
        no yield in between), so that its results line carries its TTFT and tokens.
        ``ttft_bounded``: the first token's arrival is an upper bound (its packet was merged
        with a later one); ``merged_gaps``: gaps of ``itl_us`` next to such a token (bounds,
        not measurements)."""
        from_usage = output_tokens is not None
        tokens = output_tokens if output_tokens is not None else len(itl_us) + 1
        position = len(self._delta.results) - 1 if linked else -1
        self._delta.streams.append(
            (self.stage if stage is None else stage, ttft_us, itl_us, tokens, from_usage, position,
             ttft_bounded, merged_gaps)
        )

    def record_loop_check(self, late: bool) -> None:
        """One check of the event loop: ``late`` when it woke over LOOP_LATE_US past due."""
        self._delta.loop_checks += 1
        if late:
            self._delta.loop_late += 1

    def record_dropped(self, count: int) -> None:
        """Open loop: ``count`` arrivals were due but no user was free to send them."""
        self._delta.dropped += count

    def drain(self) -> Delta:
        """Hand over what was recorded since the last drain and start afresh."""
        now = self._clock()
        delta = self._delta
        delta.ended = now
        self._delta = Delta(started=now)
        return delta
