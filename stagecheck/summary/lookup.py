"""Threshold metric names (:mod:`stagecheck.judging.catalogue`) → a summary's figures.

``metric_lookup(summary)`` gives a figure in base units (seconds, fractions, per second);
``interval_lookup(summary)`` its confidence interval (Wilson for proportions, order statistics
for latency percentiles). With ``histograms`` (timing → HdrHistogram: the run's aggregate, or
``latency.hlog`` read back) any percentile a threshold names is computed, not only the
summary's headline ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from stagecheck.judging.catalogue import LATENCY_STATS, PRODUCTION
from stagecheck.recording.hdr import percentile_reader, value_at_percentile
from stagecheck.recording.recorder import FAILURE_OUTCOMES
from stagecheck.stats import percentile_interval, wilson, z_value
from stagecheck.summary.conversations import conversation_interval, conversation_lookup

__all__ = ["FAILURE_OUTCOMES", "Histograms", "metric_lookup", "interval_lookup", "rank_lookup",
           "failures", "finished"]  # fmt: skip



def failures(by_outcome: Mapping[str, int]) -> int:
    """Requests without an answer at all (HTTP error, timeout, connection error)."""
    return sum(by_outcome[o] for o in FAILURE_OUTCOMES)


def finished(by_outcome: Mapping[str, int]) -> int:
    """Requests that ended with an outcome of the endpoint's: all but the ``unfinished`` ones
    (still open when the run ended), the base of every rate."""
    return sum(by_outcome.values()) - by_outcome.get("unfinished", 0)


def rank_lookup(h: HdrHistogram, n: int) -> Callable[[int], float]:
    """The value of the ``rank``-th smallest recorded value (1-based), at HDR precision."""
    at = percentile_reader(h)
    return lambda rank: float(at(100.0 * (rank - 0.5) / n))


_LATENCY_KEYS = {**dict(LATENCY_STATS), "min": "min_us"}
Histograms = Callable[[str], "HdrHistogram | None"]


def _timing(head: str) -> str:
    return "e2e" if head == "latency" else head


def _latency_value(
    latency: Mapping[str, Any], timing: str, stat: str, histograms: Histograms | None
) -> float | None:
    figures = latency.get(timing)
    if not figures:
        return None
    key = _LATENCY_KEYS.get(stat)
    if key is not None and figures.get(key) is not None:
        return float(figures[key]) / 1e6
    h = histograms(timing) if histograms is not None and stat.startswith("p") else None
    return None if h is None else value_at_percentile(h, float(stat[1:])) / 1e6


def _tokens_value(tokens: Mapping[str, Any] | None, head: str, stat: str) -> float | None:
    """``tokens.p50`` (per answer), ``tokens_per_s.p50`` (per answer), ``output_tokens``
    (total), ``output_tokens_per_s`` (over the run)."""
    if not tokens:
        return None
    if head == "output_tokens":
        return float(tokens["output_total"])
    if head == "output_tokens_per_s":
        return float(tokens["per_s_overall"])
    figures = tokens.get("per_request" if head == "tokens" else "per_s_per_request") or {}
    value = figures.get(stat)
    return None if value is None else float(value)


def _group_value(group: Mapping[str, Any], metric: str) -> float | None:
    """accuracy / error_rate / f1_macro … / requests of a slice (or the whole run)."""
    if metric == "requests":
        return float(group.get("requests", 0))
    if metric == "error_rate":
        return float(group["error_rate"])
    quality = group.get("quality") or {}
    value = quality.get(metric)
    return None if value is None else float(value)


def _find_class(summary: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
    return next((c for c in summary.get("classes") or [] if c.get("label") == label), None)


def _find_slice(summary: Mapping[str, Any], spec: str) -> Mapping[str, Any] | None:
    name, _, value = spec.partition("=")
    return next(
        (s for s in summary.get("slices") or [] if s["field"] == name and s["value"] == value),
        None,
    )


def _production(summary: Mapping[str, Any], metric: str) -> tuple[Any, Any, Any]:
    """(value, 95 % interval, standard error) of a production-weighted figure
    (``accuracy[production]``, ``class[x].recall[production]``), Nones when the run has none."""
    figures = (summary.get("production") or {}).get("figures") or {}
    base = metric[: -len(PRODUCTION)]
    if base.startswith("class["):
        label = base[len("class[") :].partition("].")[0]
        c = next((c for c in figures.get("classes") or [] if c.get("label") == label), None)
        return (None, None, None) if c is None else (c.get("recall"), c.get("recall_ci"), None)
    return figures.get(base), figures.get(f"{base}_ci"), figures.get(f"{base}_se")


def _find_variant(summary: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    variants = (summary.get("variants") or {}).get("variants") or []
    return next((v for v in variants if v.get("name") == name), None)


_VARIANT_COUNTS = {"accuracy": ("correct", "scored"), "flip_rate": ("flips", "pairs"),
                   "right_to_wrong_rate": ("right_to_wrong", "pairs")}  # fmt: skip


def metric_lookup(
    summary: Mapping[str, Any], histograms: Histograms | None = None
) -> Callable[[str], float | None]:
    """Threshold metric name → observed value in base units (seconds, fractions, per second).
    With ``histograms`` (timing → HdrHistogram), any latency percentile (``p75``) is computed."""

    def lookup(metric: str) -> float | None:
        if metric.endswith(PRODUCTION):
            value = _production(summary, metric)[0]
            return None if value is None else float(value)
        conversational, value = conversation_lookup(summary, metric)
        if conversational:
            return value
        head, _, rest = metric.partition(".")
        if head in ("latency", "ttft", "itl"):
            return _latency_value(summary["latency"], _timing(head), rest, histograms)
        if head in ("tokens", "tokens_per_s", "output_tokens", "output_tokens_per_s"):
            return _tokens_value(summary.get("tokens"), head, rest)
        if metric == "throughput":
            return float(summary["throughput"]["requests_per_s"])
        if metric == "goodput":
            goodput = (summary.get("analysis") or {}).get("goodput") or {}
            return None if goodput.get("per_s") is None else float(goodput["per_s"])
        if metric == "requests":
            return float(summary["requests"]["total"])
        if metric == "tool_call.accuracy":
            figures = summary.get("tool_calls") or {}
            return None if figures.get("accuracy") is None else float(figures["accuracy"])
        if metric in ("error_rate", "unparseable_rate"):
            return float(summary["requests"][metric])
        if metric.startswith("class["):
            label, _, stat = metric[len("class[") :].partition("].")
            found = _find_class(summary, label)
            return None if found is None or found.get(stat) is None else float(found[stat])
        if metric.startswith("slice["):
            spec, _, stat = metric[len("slice[") :].partition("].")
            group = _find_slice(summary, spec)
            return None if group is None else _group_value(group, stat)
        if metric.startswith("variant["):
            name, _, stat = metric[len("variant[") :].partition("].")
            found = _find_variant(summary, name)
            return None if found is None or found.get(stat) is None else float(found[stat])
        observed = (summary.get("quality") or {}).get(metric)
        return None if observed is None else float(observed)

    return lookup


def _deff(figures: Mapping[str, Any], key: str = "design_effect") -> float:
    """The design effect of replayed rows a figure was measured with (1 in older summaries)."""
    value = figures.get(key)
    return float(value) if isinstance(value, (int, float)) and value >= 1.0 else 1.0


def _proportion(summary: Mapping[str, Any], metric: str) -> tuple[int, int, float] | None:
    """(successes, n, design effect) behind a proportion metric, for its interval: accuracy,
    precision and recall are measured on dataset rows (a timed run replays them); error
    rates on requests."""
    if metric.startswith("class["):
        label, _, stat = metric[len("class[") :].partition("].")
        c = _find_class(summary, label)
        if c is None:
            return None
        if stat == "recall":
            return int(c["tp"]), int(c["support"]), _deff(c, "recall_design_effect")
        return int(c["tp"]), int(c["predicted"]), _deff(c, "precision_design_effect")
    if metric.startswith("variant["):
        name, _, stat = metric[len("variant[") :].partition("].")
        v = _find_variant(summary, name)
        if v is None or stat not in _VARIANT_COUNTS:
            return None
        k, n = (v.get(key) for key in _VARIANT_COUNTS[stat])
        if not isinstance(k, int) or not isinstance(n, int):
            return None
        deff = _deff(v) if stat == "accuracy" else 1.0  # a pair is one row already
        return k, n, deff
    if metric == "tool_call.accuracy":
        figures = summary.get("tool_calls")
        if not figures:
            return None
        return int(figures["correct"]), int(figures["scored"]), _deff(figures)
    group: Mapping[str, Any] = summary
    if metric.startswith("slice["):
        spec, _, metric = metric[len("slice[") :].partition("].")
        found = _find_slice(summary, spec)
        if found is None:
            return None
        group = found
    if metric == "accuracy":
        quality = group.get("quality") or {}
        if not quality:
            return None
        return int(quality["correct"]), int(quality["scored"]), _deff(quality)
    counts = group.get("by_outcome") or (group.get("requests") or {}).get("by_outcome") or {}
    if not counts:
        return None
    total = finished(counts)
    if metric == "error_rate":
        return failures(counts), total, 1.0
    if metric == "unparseable_rate":
        return int(counts["unparseable"]), total, 1.0
    return None


def interval_lookup(
    summary: Mapping[str, Any], histograms: Histograms | None = None
) -> Callable[[str, float], tuple[float, float] | None]:
    """Threshold metric name and confidence → the figure's interval in base units: Wilson for
    proportions (at the effective sample size of replayed rows), order statistics for latency
    percentiles (from ``histograms``)."""

    def interval(metric: str, confidence: float) -> tuple[float, float] | None:
        if metric.endswith(PRODUCTION):
            # the bootstrap's percentiles at 95 %; at another level, its standard error
            value, ci, se = _production(summary, metric)
            if ci and abs(confidence - 0.95) < 1e-9:
                return float(ci[0]), float(ci[1])
            if value is None or se is None:
                return None
            z = z_value(confidence) * float(se)
            return max(0.0, float(value) - z), min(1.0, float(value) + z)
        conversational, bounds = conversation_interval(summary, metric, confidence)
        if conversational:
            return bounds
        head, _, stat = metric.partition(".")
        if head in ("latency", "ttft", "itl"):
            h = histograms(_timing(head)) if histograms is not None else None
            if h is None or not stat.startswith("p"):
                return None
            n = h.get_total_count()
            bounds = percentile_interval(rank_lookup(h, n), n, float(stat[1:]), confidence)
            return None if bounds is None else (bounds[0] / 1e6, bounds[1] / 1e6)
        counts = _proportion(summary, metric)
        if counts is None:
            return None
        return wilson(counts[0], counts[1], confidence, deff=counts[2])

    return interval
