"""A prometheus_client collector that turns the run's live view into metric families at scrape
time (nothing is computed per request for it). Names, kinds and labels: :mod:`.catalogue`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stagecheck.exporter import folder_figures
from stagecheck.judging.catalogue import (
    BASE_LABELS,
    LATENCY_BUCKETS_S,
    MAX_LABEL_VALUES,
    OTHER,
    PERCENTILES,
    QUANTILES,
    SERIES,
    Series,
)
from stagecheck.run.live import LiveView
from stagecheck.version import __version__

__all__ = ["StagecheckCollector", "label_value"]

_SPECS = {m.name: m for m in SERIES}
_VERDICTS = ("running", "passed", "failed", "invalid")
_LABEL_MAX_CHARS = 120
_BUCKET_LABELS = [repr(b) for b in LATENCY_BUCKETS_S] + ["+Inf"]
_SUMMARY_KEYS = {p.value: p.key for p in PERCENTILES}


def label_value(value: Any) -> str:
    """A label value that always encodes (lone surrogates replaced) and stays short."""
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= _LABEL_MAX_CHARS else text[: _LABEL_MAX_CHARS - 1] + "…"


class _Families:
    """The families of one scrape, created on first use, keyed by catalogue name."""

    def __init__(self, base: Sequence[str]) -> None:
        self._base = list(base)
        self._families: dict[str, Metric] = {}

    def add(self, name: str, value: float, labels: Sequence[Any] = ()) -> None:
        spec = _SPECS[name]
        family = self._families.get(name) or self._new(spec)
        values = self._base + [label_value(v) for v in labels]
        family.add_metric(values, value)  # type: ignore[attr-defined]

    def histogram(
        self, name: str, labels: Sequence[str], counts: Sequence[int], total: float
    ) -> None:
        spec = _SPECS[name]
        family = self._families.get(name) or self._new(spec)
        buckets = list(zip(_BUCKET_LABELS, counts, strict=True))
        family.add_metric(self._base + list(labels), buckets, total)  # type: ignore[attr-defined]

    def summary(
        self, name: str, labels: Sequence[str], quantiles: Sequence[tuple[str, float]],
        count: int, total: float,
    ) -> None:  # fmt: skip
        """A summary family: client-computed quantiles (HDR's), with count and sum."""
        spec = _SPECS[name]
        family = self._families.get(name) or self._new(spec)
        keys = [*BASE_LABELS, *(k for k in spec.labels if k != "quantile")]
        base = dict(zip(keys, self._base + list(labels), strict=True))
        for q, value in quantiles:
            family.add_sample(name, {**base, "quantile": q}, value)
        family.add_sample(f"{name}_count", base, count)
        family.add_sample(f"{name}_sum", base, total)

    def _new(self, spec: Series) -> Metric:
        labels = [*BASE_LABELS, *spec.labels]
        family: Metric
        if spec.kind == "summary":
            family = Metric(spec.name, spec.help, "summary")
        else:
            cls = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
                   "histogram": HistogramMetricFamily}[spec.kind]  # fmt: skip
            family = cls(spec.family, spec.help, labels=labels)
        self._families[spec.name] = family
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


class StagecheckCollector(Collector):
    """Exports the run that ``source()`` returns (None: no run yet, nothing exported)."""

    def __init__(self, source: Callable[[], LiveView | None]) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        return []  # values exist only at scrape time: no descriptions up front

    def collect(self) -> Iterable[Metric]:
        view = self._source()
        if view is None:
            return []
        out = _Families([label_value(view.scenario), label_value(view.run_id)])
        _run(out, view)
        _requests(out, view.summary)
        _latency(out, view)
        _quality(out, view.summary)
        _tool_calls(out, view.summary)
        _conversations(out, view.summary)
        folder_figures.production(out, view.summary)
        folder_figures.variants(out, view.summary)
        _load(out, view)
        _thresholds(out, view.summary)
        return list(out)


def _run(out: _Families, v: LiveView) -> None:
    out.add("stagecheck_run_info", 1,
            [v.model or "", v.protocol, v.endpoint_host, __version__])  # fmt: skip
    out.add("stagecheck_run_start_time_seconds", v.started)
    out.add("stagecheck_run_elapsed_seconds", v.elapsed_s)
    out.add("stagecheck_run_valid", 1 if v.summary["validity"]["valid"] else 0)
    for verdict in _VERDICTS:
        out.add("stagecheck_run_verdict", 1 if v.verdict == verdict else 0, [verdict])


def _requests(out: _Families, summary: Mapping[str, Any]) -> None:
    by_outcome = summary["requests"]["by_outcome"]
    for outcome, n in by_outcome.items():
        out.add("stagecheck_requests_total", n, [outcome])
    answers = by_outcome["correct"] + by_outcome["incorrect"] + by_outcome["unparseable"]
    out.add("stagecheck_answers_total", answers)


def _latency(out: _Families, v: LiveView) -> None:
    for timing, counts in v.buckets.items():
        out.histogram("stagecheck_latency_seconds", [timing], counts, v.sums_s[timing])
    for timing, figures in v.summary["latency"].items():
        quantiles = [(q, figures[_SUMMARY_KEYS[p]] / 1e6) for q, _, p in QUANTILES]
        total_s = figures["mean_us"] * figures["count"] / 1e6
        out.summary("stagecheck_latency_hdr_seconds", [timing], quantiles, figures["count"],
                    total_s)  # fmt: skip
        out.add("stagecheck_latency_max_seconds", figures["max_us"] / 1e6, [timing, "run"])
    for timing, interval in v.interval.items():
        for _, label, p in QUANTILES:
            out.add("stagecheck_latency_interval_seconds", interval.percentiles_us[p] / 1e6,
                    [timing, label])  # fmt: skip
        out.add("stagecheck_latency_max_seconds", interval.max_us / 1e6, [timing, "interval"])


def _quality(out: _Families, summary: Mapping[str, Any]) -> None:
    quality = summary.get("quality")
    if quality:
        out.add("stagecheck_accuracy_ratio", quality["accuracy"])
        for average in ("macro", "weighted", "micro"):
            if f"f1_{average}" in quality:
                out.add("stagecheck_f1_ratio", quality[f"f1_{average}"], [average])
    for c in _capped_classes(summary.get("classes") or []):
        out.add("stagecheck_class_precision_ratio", c["precision"], [c["label"]])
        out.add("stagecheck_class_recall_ratio", c["recall"], [c["label"]])
        out.add("stagecheck_class_f1_ratio", c["f1"], [c["label"]])
    for s in _capped_slices(summary.get("slices") or []):
        out.add("stagecheck_slice_requests_total", s["requests"], [s["field"], s["value"]])
        if s["accuracy"] is not None:
            out.add("stagecheck_slice_accuracy_ratio", s["accuracy"], [s["field"], s["value"]])


def _tool_calls(out: _Families, summary: Mapping[str, Any]) -> None:
    """Answers scored on their tool call (scoring.kind: tool-call), live."""
    calls = summary.get("tool_calls")
    if not calls:
        return
    out.add("stagecheck_tool_call_accuracy_ratio", calls["accuracy"])
    reasons = sorted(calls["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    for reason, n in reasons[: MAX_LABEL_VALUES - 1]:  # reasons name tools: bounded, capped
        out.add("stagecheck_tool_call_wrong_total", n, [reason])
    if len(reasons) >= MAX_LABEL_VALUES:
        out.add("stagecheck_tool_call_wrong_total",
                sum(n for _, n in reasons[MAX_LABEL_VALUES - 1 :]), [OTHER])  # fmt: skip


def _conversations(out: _Families, summary: Mapping[str, Any]) -> None:
    """A conversation run's figures: success and accuracy by turn live (the per-row tallies),
    latency by turn once the run ends (the run folder)."""
    conv = summary.get("conversations")
    if not conv:
        return
    if conv["success"]["value"] is not None:
        out.add("stagecheck_conversation_success_ratio", conv["success"]["value"])
    if conv.get("turn_share") is not None:
        out.add("stagecheck_conversation_turn_share_ratio", conv["turn_share"])
    for t in (conv.get("by_turn") or [])[:MAX_LABEL_VALUES]:  # turn labels stay bounded
        if t["accuracy"] is not None:
            out.add("stagecheck_turn_accuracy_ratio", t["accuracy"], [t["turn"]])
        for timing, key in (("e2e", "latency"), ("ttft", "ttft")):
            for pct in (50, 95):
                value = t.get(f"{key}_p{pct}_us")
                if value is not None:
                    out.add("stagecheck_turn_latency_seconds", value / 1e6,
                            [t["turn"], timing, pct])  # fmt: skip


def _capped_classes(classes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """At most MAX_LABEL_VALUES classes, the most supported; the rest pooled as ``other``."""
    if len(classes) <= MAX_LABEL_VALUES:
        return list(classes)
    ranked = sorted(classes, key=lambda c: (-c["support"], c["label"]))
    kept, rest = ranked[: MAX_LABEL_VALUES - 1], ranked[MAX_LABEL_VALUES - 1 :]
    tp = sum(c["tp"] for c in rest)
    support = sum(c["support"] for c in rest)
    predicted = sum(c["predicted"] for c in rest)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return [*kept, {"label": OTHER, "precision": precision, "recall": recall, "f1": f1}]


def _capped_slices(slices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per slice field at most MAX_LABEL_VALUES values, the busiest; the rest pooled."""
    by_field: dict[str, list[Mapping[str, Any]]] = {}
    for s in slices:
        by_field.setdefault(s["field"], []).append(s)
    out: list[dict[str, Any]] = []
    for name, group in by_field.items():
        ranked = sorted(group, key=lambda s: (-s["requests"], s["value"]))
        if len(ranked) > MAX_LABEL_VALUES:
            ranked, rest = ranked[: MAX_LABEL_VALUES - 1], ranked[MAX_LABEL_VALUES - 1 :]
        else:
            rest = []
        for s in ranked:
            q = s.get("quality")
            out.append({"field": name, "value": s["value"], "requests": s["requests"],
                        "accuracy": q["accuracy"] if q else None})  # fmt: skip
        if rest:
            scored = sum((s.get("quality") or {}).get("scored", 0) for s in rest)
            correct = sum((s.get("quality") or {}).get("correct", 0) for s in rest)
            out.append({"field": name, "value": OTHER,
                        "requests": sum(s["requests"] for s in rest),
                        "accuracy": correct / scored if scored else None})  # fmt: skip
    return out


def _load(out: _Families, v: LiveView) -> None:
    out.add("stagecheck_users", v.users)
    out.add("stagecheck_stage_index", v.stage_index)
    out.add("stagecheck_offered_rate_per_second", v.offered_rate or 0.0)
    out.add("stagecheck_achieved_rate_per_second", v.achieved_rate)
    out.add("stagecheck_schedule_late_requests_total", v.late)
    out.add("stagecheck_schedule_lag_max_seconds", v.lag_max_us / 1e6)
    out.add("stagecheck_generator_cpu_ratio", v.generator_cpu_max / 100.0)
    if v.target_cpu_percent is not None:
        out.add("stagecheck_target_cpu_ratio", v.target_cpu_percent / 100.0)
    if v.target_memory_bytes is not None:
        out.add("stagecheck_target_memory_bytes", v.target_memory_bytes)


def _thresholds(out: _Families, summary: Mapping[str, Any]) -> None:
    for t in summary.get("thresholds") or []:
        if t["observed"] is None:
            continue  # nothing to judge yet
        labels = [t["expression"], t["metric"]]
        out.add("stagecheck_threshold_passing", 1 if t["passed"] else 0, labels)
        out.add("stagecheck_threshold_observed", t["observed"], labels)
