"""Build ``summary.json`` (schema version 1) from a run's aggregate.

The summary is the one model every report renders (HTML, Markdown, JUnit, console) and that
``compare`` reads; thresholds are evaluated against it through :func:`metric_lookup`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hdrh.histogram import HdrHistogram

from stagecheck import __version__
from stagecheck.datasets import PreparedDataset
from stagecheck.loadplan import LoadPlan
from stagecheck.recording import Aggregate
from stagecheck.redact import redact_url
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring.metrics import classification_metrics
from stagecheck.thresholds import evaluate_thresholds, parse_threshold
from stagecheck.validity import ValidityInput, validity_reasons

__all__ = ["SCHEMA_VERSION", "RunFacts", "build_summary", "metric_lookup", "latency_figures"]

SCHEMA_VERSION = 1
PERCENTILES = (
    ("p50_us", 50.0),
    ("p90_us", 90.0),
    ("p95_us", 95.0),
    ("p99_us", 99.0),
    ("p99_9_us", 99.9),
)
#: Percentiles of the "nines" distribution plot (HdrHistogram's percentile distribution).
NINES = (0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0)
FAILURE_OUTCOMES = ("http_error", "timeout", "connection_error")
ANSWER_OUTCOMES = ("correct", "incorrect", "unparseable")


@dataclass
class RunFacts:
    """What the summary needs to know about the run besides the recorded figures."""

    run_id: str
    classification: bool
    load: dict[str, Any] | None = None  # LoadPlan.as_dict() of the plan actually run
    workers: int = 1
    generator_cpu_max: float = 0.0
    interrupted: bool = False
    incomplete: list[str] = field(default_factory=list)  # reasons results may be missing
    target: dict[str, Any] | None = None  # ResourceSampler.summary(): the target's CPU/memory
    notes: list[str] = field(default_factory=list)


def _iso(t: float) -> str:
    return (
        datetime.fromtimestamp(t, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def latency_figures(h: HdrHistogram | None, out_of_range: int = 0) -> dict[str, Any] | None:
    if h is None:
        return None
    out: dict[str, Any] = {
        "count": h.get_total_count(),
        "min_us": h.get_min_value(),
        "mean_us": round(h.get_mean_value(), 1),
    }
    for key, p in PERCENTILES:
        out[key] = h.get_value_at_percentile(p)
    out["max_us"] = h.get_max_value()
    out["out_of_range"] = out_of_range
    out["distribution"] = [[p, h.get_value_at_percentile(p)] for p in NINES]
    return out


def _rates(by_outcome: Mapping[str, int]) -> tuple[int, float, float]:
    total = sum(by_outcome.values())
    failures = sum(by_outcome[o] for o in FAILURE_OUTCOMES)
    return (
        total,
        (failures / total if total else 0.0),
        (by_outcome["unparseable"] / total if total else 0.0),
    )


def _quality(agg: Aggregate, classification: bool, **where: Any) -> dict[str, Any] | None:
    counts = agg.outcome_counts(**where)
    scored = sum(counts[o] for o in ANSWER_OUTCOMES)
    if not classification:
        if not scored:
            return None
        return {
            "scored": scored,
            "correct": counts["correct"],
            "accuracy": counts["correct"] / scored,
        }
    metrics = classification_metrics(agg.confusion_counts(**where))
    return metrics.as_dict() if metrics.scored else None


def _classes(agg: Aggregate) -> list[dict[str, Any]]:
    metrics = classification_metrics(agg.confusion_counts())
    return [
        {
            "label": c.label,
            "support": c.support,
            "predicted": c.predicted,
            "tp": c.tp,
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
        }
        for c in metrics.classes
    ]


def _confusion(agg: Aggregate) -> dict[str, Any] | None:
    counts = agg.confusion_counts()
    if not counts:
        return None
    expected = sorted({e for e, _ in counts})
    extra = sorted({p for _, p in counts} - set(expected))
    labels = expected + extra
    matrix = [[counts.get((e, p), 0) for p in labels] for e in expected]
    return {
        "labels": labels,
        "matrix": matrix,
        "note": "rows: expected label (classes sent); columns: predicted label",
    }


def build_summary(
    loaded: LoadedScenario,
    dataset: PreparedDataset,
    agg: Aggregate,
    facts: RunFacts,
    *,
    final: bool = True,
    pause: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The summary of a finished run, or (``final=False``) of a run so far: then its verdict is
    ``running`` unless it is already invalid, and only the validity rules that cannot be undone
    apply. ``pause`` is called between the costlier sections (histogram queries) so that a
    cooperative caller does not hold up the requests in flight."""
    pause = pause or _no_pause
    sc = loaded.scenario
    duration = max(agg.ended - agg.started, 1e-9)
    by_outcome = agg.outcome_counts()
    by_cause = agg.cause_counts()
    total, error_rate, unparseable_rate = _rates(by_outcome)
    answers = sum(by_outcome[o] for o in ANSWER_OUTCOMES)

    latency: dict[str, Any] = {}
    for timing in agg.timings():
        figures = latency_figures(agg.histogram(timing), agg.out_of_range_count(timing))
        if figures is not None:
            latency[timing] = figures
        pause()

    slices = []
    for index, value in agg.slice_values():
        counts = agg.outcome_counts(slice_index=index, value=value)
        n, s_error, _ = _rates(counts)
        slices.append(
            {
                "field": agg.slice_fields[index],
                "value": value,
                "requests": n,
                "by_outcome": counts,
                "error_rate": s_error,
                "quality": _quality(agg, facts.classification, slice_index=index, value=value),
            }
        )

    stages = []
    for info in agg.stages:
        pause()
        counts = agg.outcome_counts(stage=info.index)
        n, s_error, _ = _rates(counts)
        end = info.end if info.end is not None else agg.ended
        span = max(end - info.start, 1e-9)
        stages.append(
            {
                "index": info.index,
                "name": info.name,
                "users": info.users,
                "start_s": round(info.start - agg.started, 3),
                "end_s": round(end - agg.started, 3),
                "requests": n,
                "by_outcome": counts,
                "error_rate": s_error,
                "throughput_per_s": n / span,
                "quality": _quality(agg, facts.classification, stage=info.index),
                "latency": {
                    "e2e": latency_figures(
                        agg.histogram("e2e", info.index), agg.out_of_range_count("e2e", info.index)
                    )
                },
            }
        )

    reasons = validity_reasons(
        ValidityInput(
            total=total,
            min_requests=sc.validity.min_requests,
            generator_cpu_max=facts.generator_cpu_max,
            max_generator_cpu=sc.validity.max_generator_cpu,
            late=agg.late,
            arrival_rate=(facts.load or {}).get("arrival_rate"),
            expected_total=None
            if sc.dataset.passes is None
            else sc.dataset.passes * len(dataset.rows),
            interrupted=facts.interrupted,
            incomplete=facts.incomplete,
            answered=by_outcome["correct"] + by_outcome["incorrect"],
            top_cause=next(iter(by_cause), None),
            dropped=agg.dropped,
        ),
        final=final,
    )

    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stagecheck", "version": __version__},
        "run": {
            "id": facts.run_id,
            "scenario": sc.name,
            "started_at": _iso(agg.started),
            "ended_at": _iso(agg.ended),
            "duration_s": round(duration, 3),
            "endpoint": {
                "url": redact_url(sc.endpoint.url),  # the real one stays in memory only
                "protocol": sc.endpoint.protocol,
                "model": sc.endpoint.model,
            },
            "load": facts.load
            if facts.load is not None
            else LoadPlan.from_scenario(loaded).as_dict(),
            "dataset": {
                "path": sc.dataset.path,
                "rows": len(dataset.rows),
                "skipped_rows": dataset.skipped,
                "order": sc.dataset.order,
                "seed": sc.dataset.seed,
                "passes": sc.dataset.passes,
            },
            "scoring": {"kind": sc.scoring["kind"]},
            "workers": facts.workers,
        },
        "validity": {"valid": not reasons, "reasons": reasons},
        "verdict": "passed",
        "requests": {
            "total": total,
            "by_outcome": by_outcome,
            "by_cause": by_cause,
            "dropped_arrivals": agg.dropped,
            "error_rate": error_rate,
            "unparseable_rate": unparseable_rate,
        },
        "throughput": {"requests_per_s": total / duration, "answers_per_s": answers / duration},
        "latency": latency,
        "target": facts.target,
        "quality": _quality(agg, facts.classification),
        "classes": _classes(agg) if facts.classification else [],
        "confusion": _confusion(agg) if facts.classification else None,
        "slices": slices,
        "stages": stages,
        "thresholds": [],
        "samples": [
            {
                "row": s.row,
                "id": s.row_id,
                "input": s.input,
                "expected": s.expected,
                "got": s.got,
                "outcome": s.outcome,
                "latency_us": s.latency_us,
                "slices": s.slices,
                "error": s.error,
            }
            for s in agg.samples
        ],
        "notes": [*facts.notes, *([sc.gates_note] if sc.gates_note else [])],
        "files": {
            "results": "results.jsonl",
            "latency_log": "latency.hlog",
            "scenario": "scenario.yaml",
            "html": "report.html",
            "markdown": "summary.md",
            "junit": "junit.xml",
        },
    }
    results = evaluate_thresholds([parse_threshold(t) for t in sc.gates], metric_lookup(summary))
    summary["thresholds"] = [
        {
            "expression": r.threshold.expression,
            "metric": r.threshold.metric,
            "op": r.threshold.op,
            "target": r.threshold.target,
            "observed": r.observed,
            "unit": r.threshold.unit,
            "passed": r.passed,
        }
        for r in results
    ]
    if reasons:
        summary["verdict"] = "invalid"
    elif not final:
        summary["verdict"] = "running"
    elif not all(r.passed for r in results):
        summary["verdict"] = "failed"
    return summary


def _no_pause() -> None:
    pass


_LATENCY_KEYS = {
    "p50": "p50_us",
    "p90": "p90_us",
    "p95": "p95_us",
    "p99": "p99_us",
    "p99.9": "p99_9_us",
    "max": "max_us",
    "min": "min_us",
    "mean": "mean_us",
}


def _latency_value(
    latency: Mapping[str, Any], timing: str, stat: str, agg: Aggregate | None
) -> float | None:
    figures = latency.get(timing)
    if not figures:
        return None
    key = _LATENCY_KEYS.get(stat)
    if key is not None:
        return float(figures[key]) / 1e6
    h = agg.histogram(timing) if agg is not None and stat.startswith("p") else None
    return None if h is None else h.get_value_at_percentile(float(stat[1:])) / 1e6


def _group_value(group: Mapping[str, Any], metric: str) -> float | None:
    """accuracy / error_rate / f1_macro … / requests of a slice (or the whole run)."""
    if metric == "requests":
        return float(group.get("requests", 0))
    if metric == "error_rate":
        return float(group["error_rate"])
    quality = group.get("quality") or {}
    value = quality.get(metric)
    return None if value is None else float(value)


def metric_lookup(
    summary: Mapping[str, Any], agg: Aggregate | None = None
) -> Callable[[str], float | None]:
    """Threshold metric name → observed value in base units (seconds, fractions, per second).
    With the aggregate, any latency percentile (``p75``) is computed from its histograms."""

    def lookup(metric: str) -> float | None:
        head, _, rest = metric.partition(".")
        if head in ("latency", "ttft", "itl"):
            timing = "e2e" if head == "latency" else head
            return _latency_value(summary["latency"], timing, rest, agg)
        if metric == "throughput":
            return float(summary["throughput"]["requests_per_s"])
        if metric == "requests":
            return float(summary["requests"]["total"])
        if metric in ("error_rate", "unparseable_rate"):
            return float(summary["requests"][metric])
        if metric.startswith("class["):
            label, _, stat = metric[len("class[") :].partition("].")
            for c in summary["classes"]:
                if c["label"] == label:
                    return float(c[stat])
            return None
        if metric.startswith("slice["):
            spec, _, stat = metric[len("slice[") :].partition("].")
            name, _, value = spec.partition("=")
            for s in summary["slices"]:
                if s["field"] == name and s["value"] == value:
                    return _group_value(s, stat)
            return None
        observed = (summary.get("quality") or {}).get(metric)
        return None if observed is None else float(observed)

    return lookup
