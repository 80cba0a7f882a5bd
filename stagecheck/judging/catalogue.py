"""Every figure a threshold (or ``stagecheck capacity``'s SLO) can name: one catalogue.

Each entry says what kind of value the name takes (which units a target is written in), how the
figure is computed, which confidence interval it has (``… at 95% confidence``) and which
Prometheus series carries it live. :mod:`stagecheck.judging.thresholds` parses and checks names
against it before a run, :mod:`stagecheck.judging.lookup` evaluates them after it, and the tests
hold the catalogue to the exporter's (:mod:`stagecheck.exporter.catalogue`) and to the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Kind", "Scope", "MetricName", "CATALOGUE", "by_scope", "names", "TIMINGS",
           "TOKEN_FIGURES", "TOKEN_STATS", "STREAM_ONLY"]  # fmt: skip

Kind = Literal["duration", "fraction", "rate", "count"]
Scope = Literal["run", "timing", "tokens", "class", "slice"]
Interval = Literal["wilson", "order-statistics"] | None

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
    interval: Interval = None  # the interval "at NN% confidence" judges on
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
        return self.name


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
)  # fmt: skip


def by_scope(scope: Scope) -> dict[str, MetricName]:
    return {m.name: m for m in CATALOGUE if m.scope == scope}


def names(scope: Scope) -> tuple[str, ...]:
    return tuple(m.name for m in CATALOGUE if m.scope == scope)
