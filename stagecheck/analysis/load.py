"""Failures by cause, errors against load (stage, users, latency bucket), the timeline, and
goodput: does the model get worse when the endpoint is busy?"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from stagecheck.analysis.frame import Frame, excerpt
from stagecheck.analysis.packed import unique_rows
from stagecheck.analysis.schema import FailureCause, Goodput, LoadLevel, TimeBin, Timeline
from stagecheck.stats import wilson

__all__ = ["failures", "load_levels", "timeline", "goodput", "bin_width", "hdr_percentile",
           "LATENCY_BUCKETS"]  # fmt: skip

#: Latency buckets of :func:`load_levels`: cut at these percentiles of the run's own latency.
LATENCY_BUCKETS = (50.0, 90.0, 99.0)
_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_BINS = 120
ERROR_CHARS = 300


def _cause(error: str | None, outcome: str) -> str:
    """The cause of a failure: its error text before the first colon ("HTTP 404", "timeout")."""
    if not error:
        return outcome
    return error.partition(":")[0].strip() or outcome


def failures(fr: Frame) -> list[FailureCause]:
    """Requests without a usable answer (transport failures and unparseable answers) by cause,
    most frequent first."""
    from stagecheck.analysis.columns import OUTCOMES

    cols = fr.cols
    mask = fr.failed | (cols.outcome == 2)
    idx = np.flatnonzero(mask)
    if not idx.size:
        return []
    # causes per distinct (error, outcome): few, whatever the number of requests
    pairs, inverse, _ = unique_rows(
        np.stack((cols.error[idx].astype(np.int64), cols.outcome[idx].astype(np.int64)), axis=1)
    )
    names = [_cause(fr.text(int(e)), OUTCOMES[int(o)]) for e, o in pairs]
    table = sorted(set(names))
    of_pair = np.asarray([table.index(n) for n in names], dtype=np.int64)
    cause = of_pair[inverse]
    out = []
    for c, name in enumerate(table):
        mine = idx[cause == c]
        t = cols.t[mine]
        texts, n = np.unique(cols.error[mine], return_counts=True)
        pairs_n = zip(texts.tolist(), n.tolist(), strict=True)
        errors = sorted(
            ((excerpt(fr.text(x), ERROR_CHARS) or name, k) for x, k in pairs_n),
            key=lambda e: (-e[1], e[0]),
        )[:5]
        member = np.zeros(cols.n, dtype=bool)
        member[mine] = True
        out.append(
            FailureCause(
                cause=name,
                count=int(mine.size),
                first_s=fr.seconds(float(t.min())),
                last_s=fr.seconds(float(t.max())),
                examples=fr.samples(member),
                errors=errors,
            )
        )
    out.sort(key=lambda f: (-f.count, f.cause))
    return out


def _level(fr: Frame, kind: Any, label: str, mask: np.ndarray) -> LoadLevel:
    requests = int(mask.sum())
    quality = mask & fr.written  # accuracy: the rows as written (not dataset.variants')
    k, n = int((fr.correct & quality).sum()), int((fr.scored & quality).sum())
    return LoadLevel(
        kind=kind,
        label=label,
        requests=requests,
        scored=n,
        accuracy=k / n if n else None,
        accuracy_ci=wilson(k, n, deff=fr.design_effect(quality)),  # units, not replays
        failure_rate=int((fr.failed & mask).sum()) / requests if requests else 0.0,
    )


def _ms(us: float) -> str:
    ms = us / 1000.0
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def hdr_percentile(sorted_values: np.ndarray, p: float) -> int | None:
    """The p-th percentile of sorted values by HdrHistogram's rank rule (round half up), so
    that a bin's figures read like the summary's."""
    n = int(sorted_values.size)
    if not n:
        return None
    rank = min(max(int(p / 100.0 * n + 0.5), 1), n)
    return int(sorted_values[rank - 1])


def load_levels(fr: Frame) -> list[LoadLevel]:
    """Accuracy and failure rate per stage and per user count (when the run had more than one:
    a single level is the whole run), and per latency bucket (cut at the run's own p50, p90
    and p99)."""
    cols = fr.cols
    if not cols.n:
        return []
    out = []
    names: dict[int, str] = {}
    for stage in fr.summary.get("stages") or ():
        if isinstance(stage, Mapping) and isinstance(stage.get("index"), int):
            names[stage["index"]] = str(stage.get("name") or "")
    stages = np.unique(cols.stage)
    if stages.size > 1:
        for s in stages.tolist():
            name = names.get(s)
            out.append(_level(fr, "stage", f"stage {s}" + (f" ({name})" if name else ""),
                              cols.stage == s))  # fmt: skip
    users = np.unique(cols.users)
    for u in users.tolist() if users.size > 1 else ():
        out.append(_level(fr, "users", f"{u} users", cols.users == u))
    ordered = np.sort(cols.latency_us)
    cuts = [hdr_percentile(ordered, p) or 0 for p in LATENCY_BUCKETS]
    bounds = [0, *cuts, None]
    edge = ["min", *(f"p{p:g}" for p in LATENCY_BUCKETS), "max"]
    start = 0  # the edge this bucket starts at: equal percentiles merge buckets
    for i in range(len(bounds) - 1):
        low, high = bounds[i], bounds[i + 1]
        assert low is not None
        if high is not None and high <= low:
            continue  # an empty bucket: the next one starts where this one did
        span = f"({edge[start]}–{edge[i + 1]})"
        if high is None:
            mask = cols.latency_us >= low
            label = f"≥ {_ms(low)} {span}" if start else f"all {span}"
        else:
            mask = (cols.latency_us >= low) & (cols.latency_us < high)
            label = (f"< {_ms(high)}" if not start else f"{_ms(low)}–{_ms(high)}") + f" {span}"
        if mask.any():  # an empty bucket, too, leaves its start to the next one
            out.append(_level(fr, "latency", label, mask))
            start = i + 1
    return out


def bin_width(duration_s: float) -> float:
    """The smallest round width (at least 1 s) that gives a run at most MAX_BINS bins: a run
    longer than a minute gets between 60 and 120 bins (or close to it at the large widths)."""
    for w in _WIDTHS:
        if duration_s / w <= MAX_BINS:
            return float(w)
    return float(math.ceil(duration_s / MAX_BINS))


def timeline(fr: Frame) -> Timeline | None:
    cols = fr.cols
    if not cols.n:
        return None
    rel = np.maximum(cols.t - fr.started, 0.0)
    span = max(fr.duration, float(rel.max()))
    width = bin_width(span)
    b = (rel // width).astype(np.int64)
    nbins = int(b.max()) + 1
    out = cols.outcome
    count = np.bincount(b, minlength=nbins)
    by = [np.bincount(b[out == o], minlength=nbins) for o in (0, 1, 2)]
    failed = np.bincount(b[fr.failed], minlength=nbins)
    order = np.lexsort((cols.latency_us, b))
    lat_sorted = cols.latency_us[order]
    edges = np.concatenate(([0], np.cumsum(count)))
    bins = []
    for i in range(nbins):
        values = lat_sorted[edges[i] : edges[i + 1]]
        answered = int(by[0][i] + by[1][i] + by[2][i])
        bins.append(
            TimeBin(
                t_s=round(i * width, 3),
                requests=int(count[i]),
                correct=int(by[0][i]),
                incorrect=int(by[1][i]),
                unparseable=int(by[2][i]),
                failed=int(failed[i]),
                accuracy=int(by[0][i]) / answered if answered else None,
                p50_us=hdr_percentile(values, 50.0),
                p90_us=hdr_percentile(values, 90.0),
                p99_us=hdr_percentile(values, 99.0),
            )
        )
    return Timeline(bin_s=width, bins=bins)


def _latency_bound(summary: Mapping[str, Any]) -> tuple[float, str] | None:
    """The tightest ``latency.*`` upper bound among the thresholds (seconds) and its text."""
    best: tuple[float, str] | None = None
    for t in summary.get("thresholds") or ():
        if not isinstance(t, Mapping):
            continue
        metric, target, op = t.get("metric"), t.get("target"), t.get("op")
        if not (isinstance(metric, str) and metric.startswith("latency.")):
            continue
        if op not in ("<", "<=") or not isinstance(target, (int, float)) or target <= 0:
            continue
        if best is None or target < best[0]:
            best = (float(target), str(t.get("expression") or f"{metric} {op} {target}"))
    return best


def goodput(fr: Frame) -> Goodput:
    """Correct answers within the tightest latency threshold's bound, per second of the run."""
    bound = _latency_bound(fr.summary)
    good = fr.correct
    if bound is None:
        source = "no latency threshold: every correct answer counts"
        limit = None
    else:
        limit, expression = bound
        good = good & (fr.cols.latency_us <= limit * 1e6)
        source = f"threshold {expression} (correct and at most {limit:g} s)"
    n = int(good.sum())
    return Goodput(latency_bound_s=limit, source=source, requests=n, per_s=n / fr.duration)
