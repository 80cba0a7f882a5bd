"""One capacity step's figures, recounted from its run folder with the warm-up left out.

A step is a real ``stagecheck run``; its ``results.jsonl`` holds every request (``t``: when it
started, epoch seconds; ``outcome``; ``latency_us``, counted from the request's due time in
open loop). Only requests started in the measured window — after the warm-up, up to the
planned end — count. Latency percentiles are exact (nearest rank on the raw values) with
order-statistics intervals, accuracy and error rate have Wilson intervals, and goodput counts
the answers both correct and within the latency SLO's bound. A step replays the dataset's rows,
so accuracy's interval counts rows, not requests: Wilson at scored / the replays' design effect
(:func:`stagecheck.stats.design_effect`), as in a run's summary; in a conversation dataset
the conversations (``rows.jsonl`` says which turn is whose), and with ``dataset.variants`` the
rows as written only. The error rate stays per request: a failure is the endpoint's under load,
not the row's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from stagecheck.errors import RunError
from stagecheck.recording.interval import LATE_US
from stagecheck.recording.recorder import FAILURE_OUTCOMES
from stagecheck.stats import design_effect, percentile_interval, wilson

__all__ = ["StepRequest", "StepSample", "read_requests", "measure"]


@dataclass(frozen=True)
class StepRequest:
    """What a step's figures need of one line of results.jsonl."""

    t: float  # started, epoch seconds (open loop: the due time)
    outcome: str
    latency_us: int
    lag_us: int = 0  # open loop: how late it left after its due time
    row: int = -1  # the dataset row it replayed (-1: not known)
    unit: int = -1  # its row's conversation (a conversation dataset; -1: the row is the unit)
    varied: bool = False  # a dataset.variants varied row: a request, not the rows as written


def _row_units(rows_path: Path) -> tuple[dict[int, int], frozenset[int]]:
    """From the step's rows.jsonl: each turn's conversation (as a code) and the varied rows."""
    from stagecheck.runfolder.rows import row_units

    units = row_units(rows_path)
    names: dict[str, int] = {}
    codes = {row: names.setdefault(name, len(names)) for row, name in units.conversation.items()}
    return codes, units.varied


def read_requests(path: Path) -> list[StepRequest]:
    """The requests of a step's ``results.jsonl`` (with their units of evidence from the
    ``rows.jsonl`` beside it); a missing or broken file is a RunError."""
    units, varied = _row_units(path.parent / "rows.jsonl")
    out = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise RunError(f"{path}: cannot read the step's results ({exc.strerror or exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:  # both line formats have these three fields (stagecheck.runfolder.results)
            rec = orjson.loads(line)
            row = int(rec.get("row", -1))
            out.append(StepRequest(float(rec["t"]), str(rec["outcome"]), int(rec["latency_us"]),
                                   int(rec.get("lag_us") or 0), row, units.get(row, -1),
                                   row in varied))  # fmt: skip
        except (ValueError, KeyError, TypeError):  # orjson.JSONDecodeError is a ValueError
            raise RunError(f"{path}:{number}: not a results line") from None
    return out


def _rank(n: int, p: float) -> int:
    """Nearest rank (1-based) of the p-th percentile of n values: ceil(p/100 · n)."""
    return min(n, max(1, math.ceil(p / 100 * n - 1e-9)))


@dataclass(frozen=True)
class StepSample:
    """The measured window of one step: sorted latencies (µs) and outcome counts."""

    window_s: float
    latencies_us: Sequence[int]  # sorted
    outcomes: Counter[str] = field(default_factory=Counter)
    good: int = 0  # correct and within the latency bound
    latency_bound_s: float | None = None
    late: int = 0  # left over LATE_US after their due time (the warm-up's are not counted)
    #: latencies (µs, sorted) of the requests started in the window's last quarter: a latency
    #: failure the step recovered from by its end was a transient, not the rate
    tail_latencies_us: Sequence[int] = ()
    #: (whole seconds into the window it started, latency µs) of every request: when the slow
    #: ones came (a burst, or all along)
    timeline: Sequence[tuple[int, int]] = ()
    #: latencies (µs, sorted) of the requests that left within LATE_US of their due time: what
    #: the endpoint did when the generator kept its schedule
    on_time_latencies_us: Sequence[int] = ()
    #: the design effect of the replayed rows on accuracy (1: every row scored once), or of a
    #: conversation dataset's conversations
    accuracy_design_effect: float = 1.0
    #: the outcomes of the rows as written, accuracy's base (None: ``outcomes``): dataset.variants'
    #: varied rows are requests, not the validation set
    written: Counter[str] | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies_us)

    @property
    def correct(self) -> int:
        return (self.outcomes if self.written is None else self.written)["correct"]

    @property
    def scored(self) -> int:
        counts = self.outcomes if self.written is None else self.written
        return counts["correct"] + counts["incorrect"]

    @property
    def failed(self) -> int:
        return sum(self.outcomes[o] for o in FAILURE_OUTCOMES)

    def percentile_s(self, p: float) -> float | None:
        n = self.requests
        return None if n == 0 else self.latencies_us[_rank(n, p) - 1] / 1e6

    def tail_percentile_s(self, p: float) -> float | None:
        """The p-th percentile over the window's last quarter only."""
        n = len(self.tail_latencies_us)
        return None if n == 0 else self.tail_latencies_us[_rank(n, p) - 1] / 1e6

    def seconds_over(self, bound_s: float) -> set[int]:
        """The window's whole seconds in which some request took longer than ``bound_s``."""
        bound_us = bound_s * 1e6
        return {second for second, us in self.timeline if us > bound_us}

    @property
    def in_flight(self) -> float:
        """Requests in flight on average (Little's law: rate × mean latency from due time)."""
        return sum(self.latencies_us) / 1e6 / self.window_s if self.window_s else 0.0

    def lookup(self, metric: str) -> float | None:
        """A threshold metric's figure in base units (seconds, fraction, per second)."""
        n = self.requests
        head, _, stat = metric.partition(".")
        if head == "latency":
            if n == 0:
                return None
            if stat == "mean":
                return sum(self.latencies_us) / n / 1e6
            if stat == "max":
                return self.latencies_us[-1] / 1e6
            if stat == "min":
                return self.latencies_us[0] / 1e6
            return self.percentile_s(float(stat[1:]))
        if metric == "accuracy":
            return self.correct / self.scored if self.scored else None
        if metric == "error_rate":
            return self.failed / n if n else None
        if metric == "unparseable_rate":
            return self.outcomes["unparseable"] / n if n else None
        if metric == "goodput":
            return self.good / self.window_s
        if metric == "throughput":
            return n / self.window_s
        if metric == "requests":
            return float(n)
        return None

    def interval(self, metric: str, confidence: float) -> tuple[float, float] | None:
        """The figure's interval: order statistics for percentiles, Wilson for proportions."""
        n = self.requests
        head, _, stat = metric.partition(".")
        if head == "latency" and stat.startswith("p"):
            bounds = percentile_interval(self.latencies_us, n, float(stat[1:]), confidence)
            return None if bounds is None else (bounds[0] / 1e6, bounds[1] / 1e6)
        if metric == "accuracy":
            return wilson(self.correct, self.scored, confidence, self.accuracy_design_effect)
        if metric == "error_rate":
            return wilson(self.failed, n, confidence)
        if metric == "unparseable_rate":
            return wilson(self.outcomes["unparseable"], n, confidence)
        return None


def measure(
    requests: Iterable[StepRequest],
    *,
    started: float,
    warmup_s: float,
    window_s: float,
    latency_bound_s: float | None,
) -> StepSample:
    """The requests started in ``[started + warmup_s, started + warmup_s + window_s)``."""
    lo = started + warmup_s
    hi = lo + window_s
    # an unfinished request (open when the step ended) has no latency and no outcome to judge
    kept = sorted((r for r in requests if lo <= r.t < hi and r.outcome != "unfinished"),
                  key=lambda r: r.t)  # fmt: skip
    tail_from = hi - window_s / 4
    bound_us = None if latency_bound_s is None else latency_bound_s * 1e6
    good = sum(
        1 for r in kept if r.outcome == "correct" and (bound_us is None or r.latency_us <= bound_us)
    )
    return StepSample(
        window_s=window_s,
        latencies_us=sorted(r.latency_us for r in kept),
        outcomes=Counter(r.outcome for r in kept),
        good=good,
        latency_bound_s=latency_bound_s,
        late=sum(1 for r in kept if r.lag_us > LATE_US),
        tail_latencies_us=sorted(r.latency_us for r in kept if r.t >= tail_from),
        timeline=[(int(r.t - lo), r.latency_us) for r in kept],
        on_time_latencies_us=sorted(r.latency_us for r in kept if r.lag_us <= LATE_US),
        accuracy_design_effect=_rows_design_effect(kept),
        written=(Counter(r.outcome for r in kept if not r.varied)
                 if any(r.varied for r in kept) else None),
    )


def _rows_design_effect(kept: Sequence[StepRequest]) -> float:
    """The replays' design effect on accuracy over the scored requests of known rows as
    written, clustered by their unit (a conversation's turns together)."""
    per_row: dict[tuple[bool, int], list[int]] = {}
    for r in kept:
        if r.row >= 0 and not r.varied and r.outcome in ("correct", "incorrect"):
            key = (True, r.unit) if r.unit >= 0 else (False, r.row)
            tally = per_row.setdefault(key, [0, 0])
            tally[0] += r.outcome == "correct"
            tally[1] += 1
    if not per_row:
        return 1.0
    right, scored = zip(*per_row.values(), strict=True)
    return design_effect(right, scored)
