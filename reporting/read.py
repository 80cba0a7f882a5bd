"""Reading summary.json (schema_version 1) into the :mod:`.model` dataclasses.

Reading is forgiving: a figure that is absent or not a number becomes ``None`` (shown as "n/a")
rather than an exception, because a report of a half-broken run is exactly when one is needed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from stagecheck.analysis.model import Analysis
from stagecheck.datasets.profile import DatasetProfile
from stagecheck.redact import redact_text
from stagecheck.reporting.model import (
    OUTCOMES,
    TIMING_NAMES,
    ClassMetrics,
    Confusion,
    Latency,
    Outcomes,
    Quality,
    Report,
    RunInfo,
    Sample,
    SliceMetrics,
    StageMetrics,
    TargetUsage,
    ThresholdResult,
    Tokens,
)

__all__ = ["build_report"]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    number = _num(value)
    return default if number is None else int(number)


def _text(value: Any) -> str:
    """Any JSON value as display text (datasets may send dicts or lists as input)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _outcomes(raw: Any) -> Outcomes:
    data = _map(raw)
    # unfinished (open when the run ended) is shown only when some request was: every view
    # reads these counts
    known = [(name, _int(data.get(name))) for name in OUTCOMES
             if name != "unfinished" or _int(data.get(name))]  # fmt: skip
    extra = [(str(k), _int(v)) for k, v in data.items() if k not in OUTCOMES]
    return Outcomes(tuple(known + extra))


def _latency(key: str, raw: Any) -> Latency:
    data = _map(raw)
    return Latency(
        key=key,
        count=_int(data.get("count")),
        min_us=_num(data.get("min_us")),
        mean_us=_num(data.get("mean_us")),
        p50_us=_num(data.get("p50_us")),
        p90_us=_num(data.get("p90_us")),
        p95_us=_num(data.get("p95_us")),
        p99_us=_num(data.get("p99_us")),
        p99_9_us=_num(data.get("p99_9_us")),
        max_us=_num(data.get("max_us")),
        out_of_range=_int(data.get("out_of_range")),
        distribution=_distribution(data.get("distribution")),
    )


def _distribution(raw: Any) -> tuple[tuple[float, float], ...]:
    points = []
    for point in _list(raw):
        if isinstance(point, list) and len(point) == 2:
            p, us = _num(point[0]), _num(point[1])
            if p is not None and us is not None:
                points.append((p, us))
    return tuple(points)


def _quality(raw: Any) -> Quality | None:
    if not isinstance(raw, Mapping):
        return None
    return Quality(
        scored=_int(raw.get("scored")),
        correct=_int(raw.get("correct")),
        accuracy=_num(raw.get("accuracy")),
        precision_macro=_num(raw.get("precision_macro")),
        recall_macro=_num(raw.get("recall_macro")),
        f1_macro=_num(raw.get("f1_macro")),
        precision_weighted=_num(raw.get("precision_weighted")),
        recall_weighted=_num(raw.get("recall_weighted")),
        f1_weighted=_num(raw.get("f1_weighted")),
        rows=None if _num(raw.get("rows")) is None else _int(raw.get("rows")),
        design_effect=_deff(raw.get("design_effect")),
    )


def _deff(value: Any) -> float:
    """A design effect of replayed rows; 1 where an older summary has none."""
    number = _num(value)
    return number if number is not None and number >= 1.0 else 1.0


def _run_info(raw: Mapping[str, Any]) -> RunInfo:
    run = _map(raw.get("run"))
    endpoint, load = _map(run.get("endpoint")), _map(run.get("load"))
    dataset, scoring = _map(run.get("dataset")), _map(run.get("scoring"))
    seed, passes, rows = dataset.get("seed"), dataset.get("passes"), dataset.get("rows")
    users, workers, lost = load.get("users"), run.get("workers"), run.get("workers_lost")
    return RunInfo(
        id=_text(run.get("id")),
        scenario=_text(run.get("scenario")) or "unnamed",
        started_at=_text(run.get("started_at")),
        ended_at=_text(run.get("ended_at")),
        duration_s=_num(run.get("duration_s")),
        endpoint_url=redact_text(_text(endpoint.get("url"))),  # again: older or edited files
        protocol=_text(endpoint.get("protocol")),
        model=_text(endpoint.get("model")),
        load_mode=_text(load.get("mode")),
        users=None if _num(users) is None else _int(users),
        spawn_rate=_num(load.get("spawn_rate")),
        arrival_rate=_num(load.get("arrival_rate")),
        load_duration_s=_num(load.get("duration_s")),
        stage_count=len(_list(load.get("stages"))),
        dataset_path=_text(dataset.get("path")),
        dataset_rows=None if _num(rows) is None else _int(rows),
        skipped_rows=_int(dataset.get("skipped_rows")),
        order=_text(dataset.get("order")),
        seed=None if _num(seed) is None else _int(seed),
        passes=None if _num(passes) is None else _int(passes),
        scoring_kind=_text(scoring.get("kind")),
        workers=None if _num(workers) is None else _int(workers),
        workers_lost=None if _num(lost) is None else _int(lost),
        tool_version=_text(_map(raw.get("tool")).get("version")),
        exact_pass=load.get("exact_pass") is True,
    )


def _latencies(raw: Any) -> tuple[Latency, ...]:
    data = _map(raw)
    keys = [k for k in TIMING_NAMES if k in data] + [k for k in data if k not in TIMING_NAMES]
    return tuple(_latency(k, data[k]) for k in keys if isinstance(data[k], Mapping))


def _confusion(raw: Any) -> Confusion | None:
    data = _map(raw)
    labels = tuple(_text(label) for label in _list(data.get("labels")))
    matrix = tuple(tuple(_int(c) for c in _list(row)) for row in _list(data.get("matrix")))
    if not labels or not matrix:
        return None
    return Confusion(labels=labels, matrix=matrix)


def _slice(raw: Mapping[str, Any]) -> SliceMetrics:
    outcomes = _outcomes(raw.get("by_outcome"))
    requests = raw.get("requests")
    return SliceMetrics(
        field=_text(raw.get("field")),
        value=_text(raw.get("value")),
        requests=outcomes.total if _num(requests) is None else _int(requests),
        outcomes=outcomes,
        error_rate=_num(raw.get("error_rate")),
        quality=_quality(raw.get("quality")),
    )


def _stage(raw: Mapping[str, Any], position: int) -> StageMetrics:
    outcomes = _outcomes(raw.get("by_outcome"))
    latency = _map(raw.get("latency"))
    requests, users = raw.get("requests"), raw.get("users")
    return StageMetrics(
        index=_int(raw.get("index"), position),
        name=_text(raw.get("name")),
        users=None if _num(users) is None else _int(users),
        start_s=_num(raw.get("start_s")),
        end_s=_num(raw.get("end_s")),
        requests=outcomes.total if _num(requests) is None else _int(requests),
        outcomes=outcomes,
        error_rate=_num(raw.get("error_rate")),
        throughput_per_s=_num(raw.get("throughput_per_s")),
        quality=_quality(raw.get("quality")),
        latency=_latency("e2e", latency["e2e"])
        if isinstance(latency.get("e2e"), Mapping)
        else None,
        offered_rate_per_s=_num(raw.get("offered_rate_per_s")),
    )


def _threshold(raw: Mapping[str, Any]) -> ThresholdResult:
    return ThresholdResult(
        expression=_text(raw.get("expression")) or _text(raw.get("metric")),
        metric=_text(raw.get("metric")),
        op=_text(raw.get("op")),
        target=_num(raw.get("target")),
        observed=_num(raw.get("observed")),
        unit=_text(raw.get("unit")),
        passed=raw.get("passed") is True,
        confidence=_num(raw.get("confidence")),
        estimate=_num(raw.get("estimate")),
    )


def _sample(raw: Mapping[str, Any]) -> Sample:
    row = raw.get("row")
    return Sample(
        row=None if _num(row) is None else _int(row),
        id=_opt_text(raw.get("id")),
        input=_text(raw.get("input")),
        expected=_opt_text(raw.get("expected")),
        got=_opt_text(raw.get("got")),
        outcome=_text(raw.get("outcome")),
        latency_us=_num(raw.get("latency_us")),
        slices=tuple((str(k), _text(v)) for k, v in _map(raw.get("slices")).items()),
        error=_opt_text(raw.get("error")),
    )


def build_report(summary: Mapping[str, Any]) -> Report:
    """Read a summary.json dict (schema_version 1) into a :class:`Report`."""
    requests = _map(summary.get("requests"))
    outcomes = _outcomes(requests.get("by_outcome"))
    total = requests.get("total")
    throughput = _map(summary.get("throughput"))
    validity = _map(summary.get("validity"))
    verdict = _text(summary.get("verdict")) or "invalid"
    valid = validity.get("valid") is not False and verdict != "invalid"
    return Report(
        run=_run_info(summary),
        verdict=verdict,
        valid=valid,
        invalid_reasons=tuple(_text(r) for r in _list(validity.get("reasons"))),
        outcomes=outcomes,
        causes=tuple(
            sorted(
                ((_text(k), _int(v)) for k, v in _map(requests.get("by_cause")).items()),
                key=lambda kv: -kv[1],
            )
        ),  # fmt: skip
        total_requests=outcomes.total if _num(total) is None else _int(total),
        error_rate=_num(requests.get("error_rate")),
        unparseable_rate=_num(requests.get("unparseable_rate")),
        requests_per_s=_num(throughput.get("requests_per_s")),
        answers_per_s=_num(throughput.get("answers_per_s")),
        latency=_latencies(summary.get("latency")),
        quality=_quality(summary.get("quality")),
        classes=tuple(
            ClassMetrics(
                label=_text(c.get("label")),
                support=_int(c.get("support")),
                predicted=_int(c.get("predicted")),
                precision=_num(c.get("precision")),
                recall=_num(c.get("recall")),
                f1=_num(c.get("f1")),
                recall_design_effect=_deff(c.get("recall_design_effect")),
            )
            for c in _list(summary.get("classes"))
            if isinstance(c, Mapping)
        ),
        confusion=_confusion(summary.get("confusion")),
        slices=tuple(_slice(s) for s in _list(summary.get("slices")) if isinstance(s, Mapping)),
        stages=tuple(
            _stage(s, i)
            for i, s in enumerate(_list(summary.get("stages")))
            if isinstance(s, Mapping)
        ),
        thresholds=tuple(
            _threshold(t) for t in _list(summary.get("thresholds")) if isinstance(t, Mapping)
        ),
        samples=tuple(_sample(s) for s in _list(summary.get("samples")) if isinstance(s, Mapping)),
        notes=tuple(_text(n) for n in _list(summary.get("notes"))),
        target=_target(summary.get("target")),
        analysis=Analysis.read(summary.get("analysis")),
        dataset_profile=_profile(summary.get("dataset_profile")),
        tokens=_tokens(summary.get("tokens")),
    )


def _tokens(raw: Any) -> Tokens | None:
    if not isinstance(raw, Mapping):
        return None
    per_request, per_s = _map(raw.get("per_request")), _map(raw.get("per_s_per_request"))
    return Tokens(
        source=_text(raw.get("source")),
        output_total=_int(raw.get("output_total")),
        per_s_overall=_num(raw.get("per_s_overall")),
        per_request_p50=_num(per_request.get("p50")),
        per_request_mean=_num(per_request.get("mean")),
        per_s_p50=_num(per_s.get("p50")),
        per_s_p90=_num(per_s.get("p90")),
    )


def _profile(raw: Any) -> DatasetProfile | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return DatasetProfile.model_validate(raw)
    except ValidationError:  # another version's profile: the report goes on without it
        return None


def _target(raw: Any) -> TargetUsage | None:
    if not isinstance(raw, Mapping):
        return None
    return TargetUsage(
        metrics_url=_text(raw.get("metrics_url")),
        samples=_int(raw.get("samples")),
        errors=_int(raw.get("errors")),
        last_error=_opt_text(raw.get("last_error")),
        cpu_percent_mean=_num(raw.get("cpu_percent_mean")),
        cpu_percent_max=_num(raw.get("cpu_percent_max")),
        memory_bytes_mean=_num(raw.get("memory_bytes_mean")),
        memory_bytes_max=_num(raw.get("memory_bytes_max")),
    )
