"""The Prometheus metrics stagecheck exports: one catalogue for the collector, the Grafana
dashboards, the recording and alerting rules, and the tests that hold them to each other.

Every series carries the labels ``scenario`` and ``run_id`` (one run at a time per process, so
bounded), plus the labels listed here. Names follow Prometheus conventions: base units
(seconds, bytes, ratios), ``_total`` for counters; the ``_bucket``/``_sum``/``_count`` series of a
histogram are emitted by prometheus_client itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MetricSpec", "METRICS", "BASE_LABELS", "QUANTILES", "LATENCY_BUCKETS_S",
           "MAX_LABEL_VALUES", "OTHER", "series_names"]  # fmt: skip

BASE_LABELS = ("scenario", "run_id")
# HDR percentiles exported: (summary quantile label, interval gauge percentile label, percentile)
# with their label text written exactly (str(99.9 / 100) would be 0.9990000000000001).
QUANTILES = (("0.5", "50", 50.0), ("0.9", "90", 90.0), ("0.95", "95", 95.0),
             ("0.99", "99", 99.0), ("0.999", "99.9", 99.9))
# Histogram buckets for histogram_quantile(): 1 ms .. 60 s, roughly 1-2.5-5 per decade.
LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
)  # fmt: skip
MAX_LABEL_VALUES = 50  # classes or slice values per run; the rest are folded into OTHER
OTHER = "other"

Kind = Literal["counter", "gauge", "histogram", "summary"]


@dataclass(frozen=True)
class MetricSpec:
    name: str  # as exposed (counters end in _total)
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()  # beyond BASE_LABELS

    @property
    def family(self) -> str:
        """The name prometheus_client's metric family takes (without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("stagecheck_run_info", "gauge",
               "The run: always 1; its labels say what runs where (no secrets)",
               ("model", "protocol", "endpoint_host", "version")),
    MetricSpec("stagecheck_run_start_time_seconds", "gauge", "When the run started (Unix time)"),
    MetricSpec("stagecheck_run_elapsed_seconds", "gauge", "Seconds since the run started"),
    MetricSpec("stagecheck_run_valid", "gauge",
               "1 while the run is valid so far (enough requests, generator not saturated, "
               "schedule kept, no results missing), else 0"),
    MetricSpec("stagecheck_run_verdict", "gauge",
               "1 for the run's current verdict (running, passed, failed, invalid), 0 for the "
               "others", ("verdict",)),
    MetricSpec("stagecheck_requests_total", "counter", "Requests sent, by outcome",
               ("outcome",)),
    MetricSpec("stagecheck_answers_total", "counter",
               "Requests answered (correct, incorrect or unparseable)"),
    MetricSpec("stagecheck_latency_seconds", "histogram",
               "Latency per timing (e2e: whole request; ttft: time to first token; itl: "
               "inter-token), from the run's HDR histograms", ("timing",)),
    MetricSpec("stagecheck_latency_hdr_seconds", "summary",
               "HDR latency percentiles of the whole run per timing (exact to 0.1 %, no "
               "bucket interpolation)", ("timing", "quantile")),
    MetricSpec("stagecheck_latency_interval_seconds", "gauge",
               "HDR latency percentile per timing over the last interval (the last 10 s; the "
               "run so far in its first 10 s)",
               ("timing", "percentile")),
    MetricSpec("stagecheck_latency_max_seconds", "gauge",
               "Largest latency per timing, whole run or the last interval",
               ("timing", "window")),
    MetricSpec("stagecheck_accuracy_ratio", "gauge", "Share of answered requests that are correct"),
    MetricSpec("stagecheck_f1_ratio", "gauge", "F1 score averaged over classes",
               ("average",)),
    MetricSpec("stagecheck_class_precision_ratio", "gauge", "Precision of one class", ("class",)),
    MetricSpec("stagecheck_class_recall_ratio", "gauge", "Recall of one class", ("class",)),
    MetricSpec("stagecheck_class_f1_ratio", "gauge", "F1 score of one class", ("class",)),
    MetricSpec("stagecheck_slice_accuracy_ratio", "gauge",
               "Accuracy of the answers in one slice", ("slice", "value")),
    MetricSpec("stagecheck_slice_requests_total", "counter", "Requests sent in one slice",
               ("slice", "value")),
    MetricSpec("stagecheck_users", "gauge", "Simulated users (the pool of in-flight requests "
               "in an open loop)"),
    MetricSpec("stagecheck_stage_index", "gauge", "Index of the current load stage (0-based)"),
    MetricSpec("stagecheck_offered_rate_per_second", "gauge",
               "Open loop: the planned arrival rate (0 in a closed loop)"),
    MetricSpec("stagecheck_achieved_rate_per_second", "gauge",
               "Requests per second over the last interval"),
    MetricSpec("stagecheck_schedule_late_requests_total", "counter",
               "Open loop: requests that left more than 50 ms after their due time"),
    MetricSpec("stagecheck_schedule_lag_max_seconds", "gauge",
               "Open loop: the largest schedule lag in the last interval"),
    MetricSpec("stagecheck_generator_cpu_ratio", "gauge",
               "Highest CPU use of a load generator process so far (1 = one core)"),
    MetricSpec("stagecheck_target_cpu_ratio", "gauge",
               "The target's process CPU (1 = one core), from its own metrics"),
    MetricSpec("stagecheck_target_memory_bytes", "gauge",
               "The target's resident memory, from its own metrics"),
    MetricSpec("stagecheck_threshold_passing", "gauge",
               "1 while a threshold holds on the figures so far, 0 when it fails",
               ("threshold", "metric")),
    MetricSpec("stagecheck_threshold_observed", "gauge",
               "A threshold's observed value in base units (seconds, ratio, per second)",
               ("threshold", "metric")),
)  # fmt: skip


def series_names() -> set[str]:
    """Every series name a scrape can contain (histogram parts included)."""
    names: set[str] = set()
    for m in METRICS:
        if m.kind == "histogram":
            names |= {f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count"}
        elif m.kind == "summary":
            names |= {m.name, f"{m.name}_sum", f"{m.name}_count"}
        else:
            names.add(m.name)
    return names
