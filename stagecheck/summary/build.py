"""Build ``summary.json`` (schema version 1) from a run's aggregate.

The summary is the one model every report renders (HTML, Markdown, JUnit, console) and that
``compare`` reads; thresholds are evaluated against it through
:func:`stagecheck.judging.lookup.metric_lookup` and ``interval_lookup``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hdrh.histogram import HdrHistogram

from stagecheck import __version__
from stagecheck.datasets import PreparedDataset
from stagecheck.judging.lookup import (
    failures,
    finished,
    interval_lookup,
    metric_lookup,
    rank_lookup,
)
from stagecheck.judging.thresholds import evaluate_thresholds, parse_threshold
from stagecheck.load.plan import LoadPlan
from stagecheck.recording import Aggregate
from stagecheck.recording.hdr import mean_value, percentile_reader
from stagecheck.redact import redact_url
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring.metrics import classification_metrics
from stagecheck.stats import MIN_ROWS, design_effect, is_thin, percentile_interval, wilson
from stagecheck.summary.validity import ValidityInput, validity_reasons

__all__ = ["SCHEMA_VERSION", "OTHER_LABEL", "RunFacts", "build_summary", "judge", "metric_lookup",
           "interval_lookup", "latency_figures", "tokens_section"]  # fmt: skip

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
ANSWER_OUTCOMES = ("correct", "incorrect", "unparseable")
#: The confusion matrix's column for answers that are none of the dataset's labels.
OTHER_LABEL = "(other)"


@dataclass
class RunFacts:
    """What the summary needs to know about the run besides the recorded figures."""

    run_id: str
    classification: bool
    load: dict[str, Any] | None = None  # LoadPlan.as_dict() of the plan actually run
    # workers that took part (sent results or were lost) and those lost before the run's end;
    # None: not known (a summary rebuilt from the results on disk)
    workers: int | None = 1
    workers_lost: int | None = 0
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
    at = percentile_reader(h)  # hdrh's own lookups walk every bucket in Python
    out: dict[str, Any] = {
        "count": h.get_total_count(),
        "min_us": h.get_min_value(),
        "mean_us": round(mean_value(h), 1),
    }
    for key, p in PERCENTILES:
        out[key] = at(p)
    out["max_us"] = h.get_max_value()
    out["out_of_range"] = out_of_range
    out["distribution"] = [[p, at(p)] for p in NINES]
    return out


def _distribution(h: HdrHistogram, scale: float = 1.0) -> dict[str, float] | None:
    if not h.get_total_count():
        return None
    at = percentile_reader(h)
    out = {k: at(p) / scale for k, p in (("p50", 50), ("p90", 90), ("p99", 99))}
    out["mean"] = round(mean_value(h) / scale, 3)
    return out


def tokens_section(agg: Aggregate, duration_s: float) -> dict[str, Any] | None:
    """Output tokens of the streamed answers (None when nothing streamed): per answer, per
    second over the run, and per answer its generation speed (tokens after the first / (e2e −
    TTFT)). ``source`` says where the counts come from: the server's ``usage`` or counted text
    deltas (``mixed`` when some answers had usage and some did not)."""
    sources = agg.token_sources
    answers = sum(sources.values())
    if not answers:
        return None
    source = "mixed" if len(sources) > 1 else next(iter(sources))
    return {
        "source": source,
        "answers": answers,
        "output_total": agg.output_tokens,
        "per_request": _distribution(agg.tokens),
        "per_s_overall": round(agg.output_tokens / max(duration_s, 1e-9), 3),
        "per_s_per_request": _distribution(agg.tokens_per_s_milli, 1000.0),
        "ttft_bounded": agg.stamp_bounds["ttft"],
        "itl_merged": agg.stamp_bounds["itl"],
    }


def _rates(by_outcome: Mapping[str, int]) -> tuple[int, float, float]:
    """Requests sent, error rate and unparseable rate. The rates are over the requests that
    finished: an unfinished request (open when the run ended) says nothing of the endpoint."""
    total = sum(by_outcome.values())
    base = finished(by_outcome)
    return (
        total,
        (failures(by_outcome) / base if base else 0.0),
        (by_outcome["unparseable"] / base if base else 0.0),
    )


def _ci(successes: int, n: int, deff: float = 1.0) -> list[float] | None:
    """95 % Wilson interval of a proportion, as summary.json writes it; ``deff``: the design
    effect of replayed rows (the interval of the effective sample size n / deff)."""
    bounds = wilson(successes, n, deff=deff)
    return None if bounds is None else [round(bounds[0], 6), round(bounds[1], 6)]


def _rows_figures(agg: Aggregate, **where: Any) -> tuple[int, float]:
    """Distinct rows scored in a group and the design effect of its accuracy (the dataset row
    is the unit of evidence: see stagecheck.stats)."""
    _, k, n = agg.row_tallies(**where)
    return int(n.size), design_effect(k, n)


def _thin(scored: int, rows: int, deff: float) -> bool:
    """Too few rows, or an interval wider than ±10 points at the effective sample size."""
    return rows < MIN_ROWS or is_thin(scored / deff)


def _quality(
    agg: Aggregate, classification: bool, labels: Collection[str], **where: Any
) -> dict[str, Any] | None:
    counts = agg.outcome_counts(**where)
    scored = sum(counts[o] for o in ANSWER_OUTCOMES)
    rows, deff = _rows_figures(agg, **where)
    if not classification:
        if not scored:
            return None
        return {
            "scored": scored,
            "correct": counts["correct"],
            "rows": rows,
            "design_effect": round(deff, 6),
            "accuracy": counts["correct"] / scored,
            "accuracy_ci": _ci(counts["correct"], scored, deff),
            "thin": _thin(scored, rows, deff),
        }
    confusion = agg.confusion_counts(**where)
    metrics = classification_metrics(confusion)
    if not metrics.scored:
        return None
    out = metrics.as_dict()
    out["rows"] = rows
    out["design_effect"] = round(deff, 6)
    out["accuracy_ci"] = _ci(metrics.correct, metrics.scored, deff)
    out["off_label"] = sum(n for (_, p), n in confusion.items() if p not in labels)
    out["thin"] = _thin(metrics.scored, rows, deff)
    return out


_CLASS_ROWS_PER_PAUSE = 1024  # rows and wrong labels gone through between two pauses (~0.3 ms)


def _class_rows(
    agg: Aggregate, pause: Callable[[], None] | None = None
) -> dict[str, dict[str, tuple[list[int], list[int]]]]:
    """Per class, per row: (tp, support) of its recall and (tp, predicted) of its precision,
    from each row's answers by label (a row is the unit of evidence): its right answers name
    its own label, its wrong ones the labels in ``row_mislabelled``."""
    pause = pause or _no_pause
    rows, right, _ = agg.row_tallies()
    wrong_by_row: dict[int, dict[str, int]] = {}
    for done, ((row, label), n) in enumerate(agg.row_mislabelled.items(), 1):
        wrong_by_row.setdefault(row, {})[label] = n
        if not done % _CLASS_ROWS_PER_PAUSE:
            pause()
    # the expected label's column (a row table's), not a row object per row: a live view
    # rebuilds this each second while the users run
    texts = getattr(agg.rows, "expected_texts", None)
    if texts is None:
        texts = [r.expected_text for r in agg.rows]
    out: dict[str, dict[str, tuple[list[int], list[int]]]] = {}
    no_names: dict[str, int] = {}
    done = 0
    for row, tp in zip(rows.tolist(), right.tolist(), strict=True):
        done += 1
        if not done % _CLASS_ROWS_PER_PAUSE:
            pause()
        expected = texts[row]
        figures = out.get(expected)
        if figures is None:
            figures = out[expected] = {}
        recall = figures.get("recall")
        if recall is None:
            recall = figures["recall"] = ([], [])
        named = wrong_by_row.get(row, no_names)
        recall[0].append(tp)
        recall[1].append(tp + sum(named.values()) if named else tp)  # answers naming a label
        if tp:
            precision = figures.get("precision")
            if precision is None:
                precision = figures["precision"] = ([], [])
            precision[0].append(tp)
            precision[1].append(tp)
        for label, wrong in named.items():
            precision = out.setdefault(label, {}).setdefault("precision", ([], []))
            precision[0].append(0)
            precision[1].append(wrong)
        done += len(named)
    return out


def _classes(agg: Aggregate, pause: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    pause = pause or _no_pause
    metrics = classification_metrics(agg.confusion_counts())
    by_row = _class_rows(agg, pause)
    pause()
    out = []
    for n, c in enumerate(metrics.classes, 1):
        if not n % 4:
            pause()
        figures = by_row.get(c.label, {})
        recall, precision = figures.get("recall", ([], [])), figures.get("precision", ([], []))
        deff_p, deff_r = design_effect(*precision), design_effect(*recall)
        out.append({
            **c.as_dict(),
            "rows": len(recall[0]),
            "precision_ci": _ci(c.tp, c.predicted, deff_p),
            "recall_ci": _ci(c.tp, c.support, deff_r),
            "precision_design_effect": round(deff_p, 6),
            "recall_design_effect": round(deff_r, 6),
            "thin": _thin(c.support, len(recall[0]), deff_r),
        })  # fmt: skip
    return out


def _confusion(agg: Aggregate, labels: Collection[str]) -> dict[str, Any] | None:
    """Rows: the expected labels sent; columns: the dataset's labels that occur, then one
    ``(other)`` column for every answer that is none of them (off-label or unparseable)."""
    counts = agg.confusion_counts()
    if not counts:
        return None
    expected = sorted({e for e, _ in counts})
    known = sorted(set(expected) | {p for _, p in counts if p in labels})
    other = Counter[str]()
    for (e, p), n in counts.items():
        if p not in labels:
            other[e] += n
    columns = known + ([OTHER_LABEL] if other else [])
    matrix = [[counts.get((e, p), 0) for p in known] + ([other[e]] if other else [])
              for e in expected]  # fmt: skip
    return {
        "labels": columns,
        "matrix": matrix,
        "note": "rows: expected label (classes sent); columns: predicted label; "
        f"{OTHER_LABEL}: answers that are none of the dataset's labels (off-label or unparseable)",
    }


def _percentile_cis(h: HdrHistogram) -> dict[str, list[int] | None]:
    """Distribution-free 95 % intervals of the headline percentiles (order statistics read
    from the histogram), None where the sample is too small for one."""
    n = h.get_total_count()
    out: dict[str, list[int] | None] = {}
    for key, p in PERCENTILES:
        bounds = percentile_interval(rank_lookup(h, n), n, p)
        out[key.removesuffix("_us")] = None if bounds is None else [int(b) for b in bounds]
    return out


def _latency_section(agg: Aggregate, pause: Callable[[], None]) -> dict[str, Any]:
    latency: dict[str, Any] = {}
    for timing in agg.timings():
        h = agg.histogram(timing)
        pause()
        figures = latency_figures(h, agg.out_of_range_count(timing))
        pause()
        if figures is not None and h is not None:
            figures["ci_us"] = _percentile_cis(h)
            latency[timing] = figures
        pause()
    return latency


def _slices_section(agg: Aggregate, facts: RunFacts, labels: Collection[str]) -> list[Any]:
    slices = []
    for index, value in agg.slice_values():
        counts = agg.outcome_counts(slice_index=index, value=value)
        n, s_error, _ = _rates(counts)
        where = {"slice_index": index, "value": value}
        slices.append(
            {
                "field": agg.slice_fields[index],
                "value": value,
                "requests": n,
                "by_outcome": counts,
                "error_rate": s_error,
                "error_rate_ci": _ci(failures(counts), finished(counts)),
                "quality": _quality(agg, facts.classification, labels, **where),
            }
        )
    return slices


def _planned_stages(facts: RunFacts) -> list[tuple[float, float, float | None]]:
    """The plan's stages as ``(start s, end s, arrival rate)``; a single stage's rate is the
    run's (None in a closed loop)."""
    load = facts.load or {}
    planned = load.get("stages") or []
    if not planned:
        return [(0.0, float(load.get("duration_s") or 0.0), load.get("arrival_rate"))]
    out, start = [], 0.0
    for s in planned:
        out.append((start, float(s["end_s"]), s.get("arrival_rate")))
        start = float(s["end_s"])
    return out


def _stages_section(
    agg: Aggregate, facts: RunFacts, labels: Collection[str], pause: Callable[[], None]
) -> list[Any]:
    """Each stage's figures. Open loop, staged: a request belongs to the stage its due time
    falls in, so the stage's bounds (and its achieved rate's span) are the plan's, cut at the
    run's end; otherwise they are when the load shape entered and left it."""
    stages = []
    planned = _planned_stages(facts)
    staged_open = len(planned) > 1 and all(rate for _, _, rate in planned)
    ran = agg.ended - agg.started
    for info in agg.stages:
        pause()
        counts = agg.outcome_counts(stage=info.index)
        n, s_error, _ = _rates(counts)
        offered = planned[info.index][2] if info.index < len(planned) else None
        if staged_open and info.index < len(planned):
            start_s, end_s = planned[info.index][0], min(planned[info.index][1], ran)
        else:
            end = info.end if info.end is not None else agg.ended
            start_s, end_s = info.start - agg.started, end - agg.started
        latency = {}
        for timing in ("e2e", "ttft", "itl"):
            h = agg.histogram(timing, info.index)
            if h is not None or timing == "e2e":
                latency[timing] = latency_figures(h, agg.out_of_range_count(timing, info.index))
        stages.append(
            {
                "index": info.index,
                "name": info.name,
                "users": info.users,
                "start_s": round(start_s, 3),
                "end_s": round(end_s, 3),
                "requests": n,
                "by_outcome": counts,
                "error_rate": s_error,
                "error_rate_ci": _ci(failures(counts), finished(counts)),
                "offered_rate_per_s": offered,
                "throughput_per_s": n / max(end_s - start_s, 1e-9),
                "quality": _quality(agg, facts.classification, labels, stage=info.index),
                "latency": latency,
            }
        )
    return stages


def _validity_reasons(
    loaded: LoadedScenario, dataset: PreparedDataset, agg: Aggregate, facts: RunFacts,
    final: bool,
) -> list[str]:  # fmt: skip
    sc = loaded.scenario
    by_outcome = agg.outcome_counts()
    return validity_reasons(
        ValidityInput(
            total=sum(by_outcome.values()),
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
            top_cause=next(iter(agg.cause_counts()), None),
            dropped=agg.dropped,
            loop_checks=agg.loop["checks"],
            loop_late=agg.loop["late"],
        ),
        final=final,
    )


def _run_section(
    loaded: LoadedScenario, dataset: PreparedDataset, agg: Aggregate, facts: RunFacts
) -> dict[str, Any]:
    sc = loaded.scenario
    return {
        "id": facts.run_id,
        "scenario": sc.name,
        "started_at": _iso(agg.started),
        "ended_at": _iso(agg.ended),
        "duration_s": round(max(agg.ended - agg.started, 1e-9), 3),
        "endpoint": {
            "url": redact_url(sc.endpoint.url),  # the real one stays in memory only
            "protocol": sc.endpoint.protocol,
            "model": sc.endpoint.model,
        },
        "load": facts.load if facts.load is not None else LoadPlan.from_scenario(loaded).as_dict(),
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
        "workers_lost": facts.workers_lost,
    }


def _requests_section(agg: Aggregate) -> dict[str, Any]:
    by_outcome = agg.outcome_counts()
    total, error_rate, unparseable_rate = _rates(by_outcome)
    return {
        "total": total,
        "by_outcome": by_outcome,
        "by_cause": agg.cause_counts(),
        "dropped_arrivals": agg.dropped,
        "error_rate": error_rate,
        "error_rate_ci": _ci(failures(by_outcome), finished(by_outcome)),
        "unparseable_rate": unparseable_rate,
    }


def _samples_section(agg: Aggregate) -> list[dict[str, Any]]:
    return [
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
    ]


FILES = {
    "results": "results.jsonl",
    "rows": "rows.jsonl",
    "latency_log": "latency.hlog",
    "scenario": "scenario.yaml",
    "html": "report.html",
    "markdown": "summary.md",
    "junit": "junit.xml",
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
    cooperative caller does not hold up the requests in flight.

    The thresholds are judged here on the figures alone; :func:`judge` judges them again once
    the error analysis (``goodput``) is in."""
    pause = pause or _no_pause
    sc = loaded.scenario
    labels = frozenset(dataset.labels)
    requests = _requests_section(agg)
    duration = max(agg.ended - agg.started, 1e-9)
    by_outcome = requests["by_outcome"]
    answers = sum(by_outcome[o] for o in ANSWER_OUTCOMES)
    reasons = _validity_reasons(loaded, dataset, agg, facts, final)
    classification = facts.classification
    # the sections one by one, yielding in between (a live view is built while users run)
    pause()
    latency = _latency_section(agg, pause)
    pause()
    quality = _quality(agg, classification, labels)
    pause()
    classes = _classes(agg, pause) if classification else []
    pause()
    confusion = _confusion(agg, labels) if classification else None
    pause()
    slices = _slices_section(agg, facts, labels)
    pause()
    stages = _stages_section(agg, facts, labels, pause)
    pause()
    samples = _samples_section(agg)
    pause()
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stagecheck", "version": __version__},
        "run": _run_section(loaded, dataset, agg, facts),
        "validity": {"valid": not reasons, "reasons": reasons},
        "verdict": "passed",
        "requests": requests,
        "throughput": {
            "requests_per_s": requests["total"] / duration,
            "answers_per_s": answers / duration,
        },
        "latency": latency,
        "target": facts.target,
        "quality": quality,
        "classes": classes,
        "confusion": confusion,
        "slices": slices,
        "stages": stages,
        "thresholds": [],
        "samples": samples,
        "notes": [*facts.notes, *([sc.gates_note] if sc.gates_note else [])],
        "files": dict(FILES),
    }
    tokens = tokens_section(agg, duration)
    if tokens is not None:  # streamed answers only, as latency's ttft and itl
        summary["tokens"] = tokens
    pause()
    judge(summary, sc.gates, agg.histogram, final=final)
    return summary


def judge(
    summary: dict[str, Any],
    gates: Sequence[str],
    histograms: Callable[[str], HdrHistogram | None] | None = None,
    *,
    final: bool = True,
) -> None:
    """Judge ``gates`` (threshold expressions) on the summary's figures and set its
    ``thresholds`` and ``verdict``: ``invalid`` when the validity rules say so, else ``running``
    for a run still going, else ``failed`` or ``passed``. ``histograms(timing)`` gives any
    latency percentile a threshold names (the run's aggregate; ``latency.hlog`` in a report)."""
    results = evaluate_thresholds(
        [parse_threshold(t) for t in gates],
        metric_lookup(summary, histograms),
        interval_lookup(summary, histograms),
    )
    summary["thresholds"] = [r.as_dict() for r in results]
    if not (summary.get("validity") or {}).get("valid", False):
        summary["verdict"] = "invalid"
    elif not final:
        summary["verdict"] = "running"
    elif not all(r.passed for r in results):
        summary["verdict"] = "failed"
    else:
        summary["verdict"] = "passed"


def _no_pause() -> None:
    pass
