"""Every figure stagecheck names: one catalogue for thresholds, the exporter, Grafana, web UI.

Two tables, each entry held to the other by the tests:

- :data:`CATALOGUE`, the figures a threshold (or ``stagecheck capacity``'s SLO) can name: what
  kind of value each takes (which units a target is written in), how it is computed, which
  confidence interval it has (``… at 95% confidence``) and which Prometheus series carries it
  live. :mod:`stagecheck.judging.thresholds` parses and checks names against it before a run,
  :mod:`stagecheck.summary.lookup` evaluates them after it.
- :data:`SERIES`, the Prometheus series the exporter serves, read by the collector, the Grafana
  dashboards and the recording and alerting rules. Every series carries the labels ``scenario``
  and ``run_id`` (one run at a time per process, so bounded), plus the labels listed. Names
  follow Prometheus conventions: base units (seconds, bytes, ratios), ``_total`` for counters;
  the ``_bucket``/``_sum``/``_count`` series of a histogram are emitted by prometheus_client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Kind", "Scope", "MetricName", "CATALOGUE", "by_scope", "names", "TIMINGS",
           "TOKEN_FIGURES", "TOKEN_STATS", "STREAM_ONLY", "Series", "SERIES", "BASE_LABELS",
           "Percentile", "PERCENTILES", "LATENCY_STATS", "percentile", "QUANTILES",
           "LATENCY_BUCKETS_S", "MAX_LABEL_VALUES", "OTHER",
           "series_names", "PRODUCTION", "CONTEXT_BUCKETS"]  # fmt: skip

Kind = Literal["duration", "fraction", "rate", "count"]
#: The suffix of a production-weighted figure: ``accuracy[production]``.
PRODUCTION = "[production]"
Scope = Literal["run", "timing", "tokens", "class", "slice", "variant", "production",
                "conversation", "turn", "context"]  # fmt: skip
# bootstrap: the production-weighted figures' (stagecheck.production.weighted)
IntervalMethod = Literal["wilson", "order-statistics", "bootstrap"] | None

#: ``latency`` (end to end), ``ttft`` and ``itl`` (streams): ``<timing>.<stat>``.
TIMINGS = ("latency", "ttft", "itl")
#: Streamed answers' tokens, per answer: ``tokens.<stat>`` (output tokens) and
#: ``tokens_per_s.<stat>`` (tokens after the first / (end to end − time to first token)).
TOKEN_FIGURES = ("tokens", "tokens_per_s")
TOKEN_STATS = ("p50", "p90", "p99", "mean")
#: Names that only a streaming endpoint produces (besides ttft / itl).
STREAM_ONLY = (*TOKEN_FIGURES, "output_tokens", "output_tokens_per_s")


@dataclass(frozen=True)
class MetricName:
    name: str  # as written after its scope: "accuracy", "p<NN>", "recall"
    scope: Scope  # run: accuracy; timing: latency.p99; tokens: tokens_per_s.p50;
    # class: class[x].recall; slice: slice[f=v].…
    kind: Kind
    computed: str  # how the figure is computed (documentation)
    interval: IntervalMethod = None  # the interval "at NN% confidence" judges on
    series: str | None = None  # the Prometheus series that carries it live

    @property
    def example(self) -> str:
        if self.scope == "timing":
            return f"latency.{self.name.replace('<NN>', '99')}"
        if self.scope == "tokens":
            return f"{self.name}.p50"
        if self.scope == "class":
            return f"class[refund].{self.name}"
        if self.scope == "slice":
            return f"slice[complexity=complex].{self.name}"
        if self.scope == "production":
            head, _, stat = self.name.partition(".")
            return f"class[refund].{stat}{PRODUCTION}" if stat else f"{head}{PRODUCTION}"
        if self.scope == "variant":
            return f"variant[typos].{self.name}"
        if self.scope == "conversation":
            return f"conversation.{self.name}"
        if self.scope in ("turn", "context"):
            where = "turn[3]" if self.scope == "turn" else "context[last]"
            return f"{where}.{self.name.replace('<NN>', '95')}"
        return self.name


#: Conversations: a turn's context length (characters of the messages sent, as the dataset
#: writes the history) in buckets, for latency and TTFT by context: (label, lowest, highest).
CONTEXT_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("<500", 0, 500), ("500-1k", 500, 1000), ("1k-2k", 1000, 2000), ("2k-4k", 2000, 4000),
    ("4k-8k", 4000, 8000), ("8k-16k", 8000, 16000), ("16k+", 16000, None),
)  # fmt: skip


_F1 = "stagecheck_f1_ratio"
CATALOGUE: tuple[MetricName, ...] = (
    MetricName("accuracy", "run", "fraction", "correct / scored answers", "wilson",
               "stagecheck_accuracy_ratio"),
    *(MetricName(f"{m}_{avg}", "run", "fraction",
                 f"{m} averaged over the dataset's classes ({avg}), as scikit-learn",
                 None, _F1 if m == "f1" and avg != "micro" else None)
      for avg in ("macro", "weighted", "micro") for m in ("precision", "recall", "f1")),
    MetricName("error_rate", "run", "fraction",
               "requests without an answer (HTTP error, timeout, connection error) / requests",
               "wilson", "stagecheck_requests_total"),
    MetricName("unparseable_rate", "run", "fraction", "unparseable answers / requests",
               "wilson", "stagecheck_requests_total"),
    MetricName("throughput", "run", "rate", "requests / run duration", None,
               "stagecheck_achieved_rate_per_second"),
    MetricName("goodput", "run", "rate",
               "requests both correct and within the tightest latency threshold / run "
               "duration (every correct answer when no latency threshold is set)"),
    MetricName("requests", "run", "count", "requests sent", None, "stagecheck_requests_total"),
    MetricName("tool_call.accuracy", "run", "fraction",
               "turns scored on their tool call (scoring.kind: tool-call) answered with the "
               "expected call, or rightly none / such turns", "wilson",
               "stagecheck_tool_call_accuracy_ratio"),
    MetricName("output_tokens", "run", "count",
               "output tokens of the streamed answers (the server's usage, else text deltas)"),
    MetricName("output_tokens_per_s", "run", "count",
               "output tokens of the streamed answers / run duration"),
    MetricName("tokens", "tokens", "count",
               "output tokens per streamed answer (stat: p50, p90, p99, mean)"),
    MetricName("tokens_per_s", "tokens", "count",
               "per streamed answer: tokens after the first / (end to end − time to first "
               "token) (stat: p50, p90, p99, mean)"),
    MetricName("p<NN>", "timing", "duration",
               "any percentile (p50, p75, p99.99) of the run's HDR histogram",
               "order-statistics", "stagecheck_latency_hdr_seconds"),
    MetricName("mean", "timing", "duration", "mean of the HDR histogram"),
    MetricName("min", "timing", "duration", "smallest value recorded"),
    MetricName("max", "timing", "duration", "largest value recorded", None,
               "stagecheck_latency_max_seconds"),
    MetricName("precision", "class", "fraction", "true positives / answers with this label",
               "wilson", "stagecheck_class_precision_ratio"),
    MetricName("recall", "class", "fraction", "true positives / rows expected to be this label",
               "wilson", "stagecheck_class_recall_ratio"),
    MetricName("f1", "class", "fraction", "harmonic mean of the class's precision and recall",
               None, "stagecheck_class_f1_ratio"),
    MetricName("support", "class", "count", "requests expected to be this label"),
    MetricName("accuracy", "slice", "fraction", "correct / scored answers in the slice",
               "wilson", "stagecheck_slice_accuracy_ratio"),
    MetricName("error_rate", "slice", "fraction", "requests without an answer / requests",
               "wilson"),
    *(MetricName(name, "slice", "fraction", f"{name.replace('_', ' ')} over the slice's answers")
      for name in ("f1_macro", "precision_macro", "recall_macro", "f1_weighted")),
    MetricName("requests", "slice", "count", "requests sent in the slice", None,
               "stagecheck_slice_requests_total"),
    # --against PROD: re-weighted to the production sample's mix of slice cells
    MetricName("accuracy", "production", "fraction",
               "accuracy re-weighted to the production sample's mix (--against)", "bootstrap",
               "stagecheck_production_accuracy_ratio"),
    MetricName("f1_macro", "production", "fraction",
               "macro-F1 re-weighted to the production sample's mix (--against)", "bootstrap",
               "stagecheck_production_f1_ratio"),
    MetricName("class.recall", "production", "fraction",
               "a class's recall re-weighted to the production sample's mix (--against)",
               "bootstrap", "stagecheck_production_class_recall_ratio"),
    # dataset.variants (variant[original] names the unperturbed rows); the unit is the row
    MetricName("accuracy", "variant", "fraction", "correct / scored answers of the variant's "
               "rows", "wilson", "stagecheck_variant_accuracy_ratio"),
    MetricName("flip_rate", "variant", "fraction", "varied rows whose (most frequent) answer "
               "differs from their origin row's / rows answered both ways", "wilson",
               "stagecheck_variant_flip_ratio"),
    MetricName("right_to_wrong_rate", "variant", "fraction", "varied rows wrong whose origin "
               "row was right / rows answered both ways", "wilson",
               "stagecheck_variant_right_to_wrong_ratio"),
    MetricName("pairs", "variant", "count", "rows answered both as written and varied"),
    MetricName("success", "conversation", "fraction",
               "conversations played to their end with every turn right / those played "
               "(interval: the conversation is the unit)", "wilson",
               "stagecheck_conversation_success_ratio"),
    MetricName("turn_share", "conversation", "fraction",
               "mean over conversations played of the share of their turns right", None,
               "stagecheck_conversation_turn_share_ratio"),
    MetricName("wrong_after_wrong", "conversation", "fraction",
               "turns wrong after a wrong turn / turns after a wrong turn (live history: "
               "derailment)", "wilson"),
    MetricName("wrong_after_right", "conversation", "fraction",
               "turns wrong after a right turn / turns after a right turn", "wilson"),
    MetricName("accuracy", "turn", "fraction",
               "correct / scored answers at this turn position (turn[1] is the first)", "wilson",
               "stagecheck_turn_accuracy_ratio"),
    MetricName("latency.p<NN>", "turn", "duration", "latency percentile of this turn position",
               None, "stagecheck_turn_latency_seconds"),
    MetricName("ttft.p<NN>", "turn", "duration", "time to first token at this turn position",
               None, "stagecheck_turn_latency_seconds"),
    MetricName("latency.p<NN>", "context", "duration",
               "latency percentile of the turns in a context-length bucket (context[1k-2k]; "
               "context[last]: the longest bucket with turns)"),
    MetricName("ttft.p<NN>", "context", "duration",
               "time to first token of the turns in a context-length bucket"),
)  # fmt: skip


def by_scope(scope: Scope) -> dict[str, MetricName]:
    return {m.name: m for m in CATALOGUE if m.scope == scope}


def names(scope: Scope) -> tuple[str, ...]:
    return tuple(m.name for m in CATALOGUE if m.scope == scope)


# The Prometheus series ------------------------------------------------------------------------

BASE_LABELS = ("scenario", "run_id")


@dataclass(frozen=True)
class Percentile:
    """One headline percentile, spelled once for every place that names it."""

    label: str  # "p99.9": in reports and threshold names (latency.p99.9)
    value: float  # 99.9
    key: str  # "p99_9_us": its key in a summary.json latency block (µs)
    quantile: str  # "0.999": the Prometheus summary's quantile label, written exactly
    gauge: str  # "99.9": the interval gauge's percentile label

    @property
    def field(self) -> str:
        """Its name in a summary's ``ci_us`` block and the model's attributes: ``p99_9``."""
        return self.key.removesuffix("_us")


#: The percentiles a summary, the exporter and the reports carry for every timing (a threshold
#: may name any other; it is computed from the histogram). Label texts are written exactly
#: (str(99.9 / 100) would be 0.9990000000000001).
PERCENTILES: tuple[Percentile, ...] = (
    Percentile("p50", 50.0, "p50_us", "0.5", "50"),
    Percentile("p90", 90.0, "p90_us", "0.9", "90"),
    Percentile("p95", 95.0, "p95_us", "0.95", "95"),
    Percentile("p99", 99.0, "p99_us", "0.99", "99"),
    Percentile("p99.9", 99.9, "p99_9_us", "0.999", "99.9"),
)
#: (label, key) of every figure of a summary's latency block reports show, in their order.
LATENCY_STATS: tuple[tuple[str, str], ...] = (
    *((p.label, p.key) for p in PERCENTILES), ("max", "max_us"), ("mean", "mean_us"),
)


def percentile(label: str) -> Percentile:
    """The headline percentile labelled ``label`` (``p99``)."""
    return next(p for p in PERCENTILES if p.label == label)


# HDR percentiles exported: (summary quantile label, interval gauge percentile label, percentile).
QUANTILES = tuple((p.quantile, p.gauge, p.value) for p in PERCENTILES)
# Histogram buckets for histogram_quantile(): 1 ms .. 60 s, roughly 1-2.5-5 per decade.
LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
)  # fmt: skip
MAX_LABEL_VALUES = 50  # classes or slice values per run; the rest are folded into OTHER
OTHER = "other"

SeriesKind = Literal["counter", "gauge", "histogram", "summary"]


@dataclass(frozen=True)
class Series:
    name: str  # as exposed (counters end in _total)
    kind: SeriesKind
    help: str
    labels: tuple[str, ...] = ()  # beyond BASE_LABELS

    @property
    def family(self) -> str:
        """The name prometheus_client's metric family takes (without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


SERIES: tuple[Series, ...] = (
    Series("stagecheck_run_info", "gauge",
               "The run: always 1; its labels say what runs where (no secrets)",
               ("model", "protocol", "endpoint_host", "version")),
    Series("stagecheck_run_start_time_seconds", "gauge", "When the run started (Unix time)"),
    Series("stagecheck_run_elapsed_seconds", "gauge", "Seconds since the run started"),
    Series("stagecheck_run_valid", "gauge",
               "1 while the run is valid so far (enough requests, generator not saturated, "
               "schedule kept, no results missing), else 0"),
    Series("stagecheck_run_verdict", "gauge",
               "1 for the run's current verdict (running, passed, failed, invalid), 0 for the "
               "others", ("verdict",)),
    Series("stagecheck_requests_total", "counter", "Requests sent, by outcome",
               ("outcome",)),
    Series("stagecheck_answers_total", "counter",
               "Requests answered (correct, incorrect or unparseable)"),
    Series("stagecheck_latency_seconds", "histogram",
               "Latency per timing (e2e: whole request; ttft: time to first token; itl: "
               "inter-token), from the run's HDR histograms", ("timing",)),
    Series("stagecheck_latency_hdr_seconds", "summary",
               "HDR latency percentiles of the whole run per timing (exact to 0.1 %, no "
               "bucket interpolation)", ("timing", "quantile")),
    Series("stagecheck_latency_interval_seconds", "gauge",
               "HDR latency percentile per timing over the last interval (the last 10 s; the "
               "run so far in its first 10 s)",
               ("timing", "percentile")),
    Series("stagecheck_latency_max_seconds", "gauge",
               "Largest latency per timing, whole run or the last interval",
               ("timing", "window")),
    Series("stagecheck_accuracy_ratio", "gauge", "Share of answered requests that are correct"),
    Series("stagecheck_f1_ratio", "gauge", "F1 score averaged over classes",
               ("average",)),
    Series("stagecheck_class_precision_ratio", "gauge", "Precision of one class", ("class",)),
    Series("stagecheck_class_recall_ratio", "gauge", "Recall of one class", ("class",)),
    Series("stagecheck_class_f1_ratio", "gauge", "F1 score of one class", ("class",)),
    Series("stagecheck_slice_accuracy_ratio", "gauge",
               "Accuracy of the answers in one slice", ("slice", "value")),
    Series("stagecheck_slice_requests_total", "counter", "Requests sent in one slice",
               ("slice", "value")),
    Series("stagecheck_tool_call_accuracy_ratio", "gauge",
               "Share of the answers scored on their tool call that made the expected call "
               "(or rightly none)"),
    Series("stagecheck_tool_call_wrong_total", "counter",
               "Answers scored on their tool call that were wrong, by reason (wrong tool: x, "
               "missing argument: x, no call, …)", ("reason",)),
    Series("stagecheck_conversation_success_ratio", "gauge",
               "Conversations played to their end with every turn right"),
    Series("stagecheck_conversation_turn_share_ratio", "gauge",
               "Mean share of a conversation's turns right"),
    Series("stagecheck_turn_accuracy_ratio", "gauge",
               "Accuracy at one turn position of the conversations",
               ("turn",)),
    Series("stagecheck_turn_latency_seconds", "gauge",
               "A latency percentile (50, 95) at one turn position, end to end or time to "
               "first token (once the run ends)", ("turn", "timing", "percentile")),
    # Built from the run folder when the run ends (--against PROD, dataset.variants): a scrape
    # after the end, the web UI's /metrics or --pushgateway carries them.
    Series("stagecheck_production_accuracy_ratio", "gauge",
               "Accuracy re-weighted to the production sample's mix of slice cells "
               "(--against; once the run ends)"),
    Series("stagecheck_production_f1_ratio", "gauge",
               "F1 averaged over classes, re-weighted to the production sample's mix "
               "(--against; once the run ends)", ("average",)),
    Series("stagecheck_production_class_recall_ratio", "gauge",
               "Recall of one class re-weighted to the production sample's mix (--against; "
               f"once the run ends; the {MAX_LABEL_VALUES} most supported classes: a "
               "re-weighted recall cannot be pooled)", ("class",)),
    Series("stagecheck_variant_accuracy_ratio", "gauge",
               "Accuracy of the rows of one dataset variant (original: the rows as written; "
               "once the run ends)", ("variant",)),
    Series("stagecheck_variant_flip_ratio", "gauge",
               "Share of a variant's rows whose answer differs from the row as written "
               "(once the run ends)", ("variant",)),
    Series("stagecheck_variant_right_to_wrong_ratio", "gauge",
               "Share of a variant's rows answered wrong whose row as written was answered "
               "right (once the run ends)", ("variant",)),
    Series("stagecheck_users", "gauge", "Simulated users (the pool of in-flight requests "
               "in an open loop)"),
    Series("stagecheck_stage_index", "gauge", "Index of the current load stage (0-based)"),
    Series("stagecheck_offered_rate_per_second", "gauge",
               "Open loop: the planned arrival rate (0 in a closed loop)"),
    Series("stagecheck_achieved_rate_per_second", "gauge",
               "Requests per second over the last interval"),
    Series("stagecheck_schedule_late_requests_total", "counter",
               "Open loop: requests that left more than 50 ms after their due time"),
    Series("stagecheck_schedule_lag_max_seconds", "gauge",
               "Open loop: the largest schedule lag in the last interval"),
    Series("stagecheck_generator_cpu_ratio", "gauge",
               "Highest CPU use of a load generator process so far (1 = one core)"),
    Series("stagecheck_target_cpu_ratio", "gauge",
               "The target's process CPU (1 = one core), from its own metrics"),
    Series("stagecheck_target_memory_bytes", "gauge",
               "The target's resident memory, from its own metrics"),
    Series("stagecheck_threshold_passing", "gauge",
               "1 while a threshold holds on the figures so far, 0 when it fails",
               ("threshold", "metric")),
    Series("stagecheck_threshold_observed", "gauge",
               "A threshold's observed value in base units (seconds, ratio, per second)",
               ("threshold", "metric")),
)  # fmt: skip


def series_names() -> set[str]:
    """Every series name a scrape can contain (histogram parts included)."""
    names: set[str] = set()
    for m in SERIES:
        if m.kind == "histogram":
            names |= {f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count"}
        elif m.kind == "summary":
            names |= {m.name, f"{m.name}_sum", f"{m.name}_count"}
        else:
            names.add(m.name)
    return names
