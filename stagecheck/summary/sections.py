"""The summary's sections about the run itself: what ran (run), its requests, slices and
stages, its validity, and the sampled answers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from stagecheck.datasets import PreparedDataset
from stagecheck.load.plan import LoadPlan
from stagecheck.recording import Aggregate
from stagecheck.redact import redact_url
from stagecheck.scenario import LoadedScenario
from stagecheck.summary.facts import RunFacts
from stagecheck.summary.latency import latency_figures
from stagecheck.summary.lookup import failures, finished
from stagecheck.summary.quality import proportion_ci, quality_figures
from stagecheck.summary.validity import ValidityInput, validity_reasons

__all__ = ["slices_section", "stages_section", "run_validity_reasons", "run_section",
           "requests_section", "samples_section"]  # fmt: skip


def _iso(t: float) -> str:
    return (
        datetime.fromtimestamp(t, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


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


def slices_section(
    agg: Aggregate, facts: RunFacts, labels: Collection[str], pause: Callable[[], None]
) -> list[Any]:
    slices = []
    for index, value in agg.slice_values():
        pause()
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
                "error_rate_ci": proportion_ci(failures(counts), finished(counts)),
                "quality": quality_figures(agg, facts.classification, labels, **where),
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


def stages_section(
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
            pause()
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
                "error_rate_ci": proportion_ci(failures(counts), finished(counts)),
                "offered_rate_per_s": offered,
                "throughput_per_s": n / max(end_s - start_s, 1e-9),
                "quality": quality_figures(agg, facts.classification, labels, stage=info.index),
                "latency": latency,
            }
        )
    return stages


def run_validity_reasons(
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
            streamed=sum(agg.token_sources.values()),
            ttft_bounded=agg.stamp_bounds["ttft"],
        ),
        final=final,
    )


def run_section(
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


def requests_section(agg: Aggregate) -> dict[str, Any]:
    by_outcome = agg.outcome_counts()
    total, error_rate, unparseable_rate = _rates(by_outcome)
    return {
        "total": total,
        "by_outcome": by_outcome,
        "by_cause": agg.cause_counts(),
        "dropped_arrivals": agg.dropped,
        "error_rate": error_rate,
        "error_rate_ci": proportion_ci(failures(by_outcome), finished(by_outcome)),
        "unparseable_rate": unparseable_rate,
    }


def samples_section(agg: Aggregate) -> list[dict[str, Any]]:
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
