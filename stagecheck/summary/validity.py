"""Is the run valid? (MLPerf LoadGen's question, kept apart from "did it pass?").

A run is invalid when it measured too little to judge, or measured the generator rather than
the target. Some rules can only be judged at the end (enough requests, an exact pass complete,
the planned duration reached); the others hold at any moment, so a live run says whether it is
still valid so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stagecheck.endpoint.check import status_hint
from stagecheck.recording.aggregate import LATE_US
from stagecheck.recording.recorder import LOOP_LATE_US

EARLY_STOP_REQUESTS = 20  # a run whose first K requests all got 401/403/404 stops early
_EARLY_STOP_STATUSES = (401, 403, 404)

__all__ = ["ValidityInput", "validity_reasons", "lateness_reason", "early_stop_reason",
           "EARLY_STOP_REQUESTS", "LATE_SHARE", "LOOP_LATE_SHARE", "MIN_LOOP_CHECKS",
           "TTFT_BOUNDED_SHARE", "MIN_STREAMED_ANSWERS", "stream_stamps_reason"]  # fmt: skip

#: An open loop whose requests leave late more often than this did not keep its schedule.
LATE_SHARE = 0.01
#: A generator whose event loop woke over LOOP_LATE_US past due in more than this share of
#: its checks was saturated: the sends and reads of its users waited for it.
LOOP_LATE_SHARE = 0.05
#: The loop rule judges at least this many checks (3 s of the loop): the first second of a
#: run (users spawning, first connections, lazy imports) holds the loop on a busy machine, and
#: a handful of checks says nothing about the run.
MIN_LOOP_CHECKS = 300
#: A run whose streamed answers had their first token's time only as an upper bound (the
#: generator read it late, merged in the kernel with later packets) in more than this share:
#: TTFT's p99, the headline tail, may itself be such a bound. Measured: 0.01 % in a healthy
#: 1,000-stream run; 3.8-36 % where the generator fell behind its streams (TTFT p99 +17 to
#: +87 ms off the server's log) while its loop probe stayed under its rule.
TTFT_BOUNDED_SHARE = 0.01
#: The stream rule judges at least this many streamed answers: a short run on a busy machine
#: (one stall of the process while a few dozen streams were open) says nothing of the run.
MIN_STREAMED_ANSWERS = 200


@dataclass(frozen=True)
class ValidityInput:
    total: int  # requests recorded
    min_requests: int
    generator_cpu_max: float  # percent of one core
    max_generator_cpu: float
    late: int  # open-loop requests that left over LATE_US after their due time
    arrival_rate: float | None
    expected_total: int | None = None  # exact pass: passes × rows
    interrupted: bool = False
    incomplete: Sequence[str] = ()  # reasons results may be missing (workers lost, …)
    answered: int | None = None  # requests with a usable answer (correct or incorrect)
    top_cause: str | None = None  # the most frequent reason requests got no usable answer
    dropped: int = 0  # open loop: arrivals due that no user was free to send
    loop_checks: int = 0  # checks of the generators' event loops (LoopProbe)
    loop_late: int = 0  # checks that found one late by over LOOP_LATE_US
    streamed: int = 0  # streamed answers (their TTFT recorded)
    ttft_bounded: int = 0  # of them: the first token's time only an upper bound (merged)


def validity_reasons(v: ValidityInput, *, final: bool = True) -> list[str]:
    """Why the run is invalid (empty: valid). ``final=False`` judges a run still going: only
    the rules that cannot be undone later."""
    reasons: list[str] = []
    if final and v.total < v.min_requests:
        reasons.append(f"only {v.total} requests (validity.min_requests is {v.min_requests})")
    if final and v.total and v.answered == 0:
        # whatever the thresholds say: a run that scored nothing measured nothing of the model
        why = f" (mostly {v.top_cause})" if v.top_cause else ""
        reasons.append(f"none of the {v.total} requests got a usable answer{why}")
    if v.generator_cpu_max > v.max_generator_cpu:
        reasons.append(
            f"load generator CPU reached {v.generator_cpu_max:.0f}% (above "
            f"{v.max_generator_cpu:.0f}%): latencies include its queueing"
        )
    if v.loop_checks >= MIN_LOOP_CHECKS and v.loop_late > LOOP_LATE_SHARE * v.loop_checks:
        reasons.append(
            f"load generator saturated: its event loop was over {LOOP_LATE_US // 1000} ms late "
            f"in {v.loop_late} of {v.loop_checks} checks: its timings are not the endpoint's"
        )
    stamps = stream_stamps_reason(v.ttft_bounded, v.streamed) if final else None
    if stamps:
        reasons.append(stamps)
    if final and v.expected_total is not None and v.total != v.expected_total:
        reasons.append(f"exact pass incomplete: {v.total} of {v.expected_total} requests done")
    late = lateness_reason(v.late, v.total) if v.arrival_rate else None
    if late:
        reasons.append(late)
    if v.arrival_rate and v.dropped > 0.01 * (v.total + v.dropped):
        reasons.append(f"{v.dropped} arrivals were due but never sent: no user was free "
                       "(raise load.users)")  # fmt: skip
    if final and v.interrupted:
        reasons.append("the run was interrupted before its planned end")
    reasons += v.incomplete
    return reasons


def lateness_reason(late: int, total: int, why: str | None = None) -> str | None:
    """The lateness rule of an open loop: over :data:`LATE_SHARE` of ``total`` requests left
    over LATE_US after their due time. ``why``: the cause when the caller knows it (a run
    does not know whether its pool ran short or its process was short of CPU)."""
    if not total or late <= LATE_SHARE * total:
        return None
    why = why or ("too few users for the answers' latency (raise load.users), or a load "
                  "generator short of CPU")  # fmt: skip
    return (f"the arrival schedule was not kept: {late} of {total} requests left over "
            f"{LATE_US // 1000} ms after their due time ({why})")  # fmt: skip


def stream_stamps_reason(bounded: int, streamed: int) -> str | None:
    """The stream rule: the first token of over :data:`TTFT_BOUNDED_SHARE` of the streamed
    answers came merged with later ones (the generator read it late: its time is an upper
    bound), judged on at least :data:`MIN_STREAMED_ANSWERS` answers."""
    if streamed < MIN_STREAMED_ANSWERS or bounded <= TTFT_BOUNDED_SHARE * streamed:
        return None
    return (f"load generator behind its streams: the first token of {bounded:,} of "
            f"{streamed:,} streamed answers ({bounded / streamed:.1%}) was read merged with "
            "later ones, its time only an upper bound: TTFT and ITL are not the endpoint's")


def early_stop_reason(
    total: int, causes: Mapping[str, int], route: str, *, final: bool = False
) -> str | None:
    """Why a run should stop now rather than spend its duration: its first
    :data:`EARLY_STOP_REQUESTS` requests (or all of them, at the end of a shorter run) got
    the same HTTP 401, 403 or 404 — a wrong key, a missing permission or a wrong route, which
    more requests only repeat. ``causes``: failed requests by cause (``"HTTP 401"``)."""
    if total == 0 or (total < EARLY_STOP_REQUESTS and not final):
        return None
    for status in _EARLY_STOP_STATUSES:
        cause = f"HTTP {status}"
        if causes.get(cause, 0) == total:
            where = f" for {route}" if status == 404 else ""
            what = f"{cause}{where} ({status_hint(status)})"
            if total < EARLY_STOP_REQUESTS:  # judged at the end of a shorter run
                return f"all {total} requests got {what}"
            return f"stopped early: the first {EARLY_STOP_REQUESTS} requests all got {what}"
    return None
