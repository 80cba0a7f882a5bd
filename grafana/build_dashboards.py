"""Build the Grafana dashboard of a stagecheck run from typed grafana-foundation-sdk builders.

    python grafana/build_dashboards.py           # (re)write grafana/dashboards/stagecheck.json
    python grafana/build_dashboards.py --check   # exit 1 if the checked-in JSON is out of date

The JSON is generated, never edited by hand: change this file, run it, commit both. Every query
uses only the series of ``stagecheck/judging/catalogue.py`` (tests/grafana holds the two to each
other and evaluates every query against a real Prometheus scraping a real run). Queries filter on
the dashboard's ``$scenario`` and ``$run_id`` variables; the data source is the ``${datasource}``
variable, so the dashboard imports into any Grafana with a Prometheus data source.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prom_models

__all__ = ["OUTPUT", "build", "render", "main"]

OUTPUT = Path(__file__).resolve().parent / "dashboards" / "stagecheck.json"
UID = "stagecheck-run"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Every series carries scenario and run_id; "All" selects ".*" (see _label_variable).
_BASE_MATCHERS = ('scenario=~"$scenario"', 'run_id=~"$run_id"')
_RATE = "$__rate_interval"  # >= 4 scrape intervals: the datasource says timeInterval: 1s
_E2E = 'timing="e2e"'
_E2E_RUN_P99 = (_E2E, 'quantile="0.99"')
_INTERVAL = 'window="interval"'
_STREAM = ('timing=~"ttft|itl"', 'percentile=~"50|95|99"')
_MACRO = 'average="macro"'

Panel = Builder[Any]


def sel(name: str, *matchers: str) -> str:
    """``name{scenario=~"$scenario",run_id=~"$run_id",<matchers>}``."""
    return f"{name}{{{','.join((*_BASE_MATCHERS, *matchers))}}}"


def rate(name: str, *matchers: str) -> str:
    return f"rate({sel(name, *matchers)}[{_RATE}])"


def query(expr: str, legend: str = "", *, instant: bool = False, fmt: str = "") -> Any:
    """A Prometheus target (ref ids are given by :func:`_targets`)."""
    q = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    q = q.editor_mode(prom_models.QueryEditorMode.CODE)
    q = q.instant() if instant else q.range()
    if legend:
        q = q.legend_format(legend)
    if fmt:
        q = q.format(prom_models.PromQueryFormat(fmt))
    return q


def _targets(panel: Any, targets: Sequence[Any]) -> Any:
    for ref, target in zip("ABCDEFGHIJ", targets, strict=False):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def _legend_table(*calcs: str) -> Any:
    legend = common.VizLegendOptions().show_legend(True)
    legend = legend.placement(common_models.LegendPlacement.BOTTOM)
    if calcs:
        return legend.display_mode(common_models.LegendDisplayMode.TABLE).calcs(list(calcs))
    return legend.display_mode(common_models.LegendDisplayMode.LIST)


def graph(title: str, description: str, unit: str, *targets: Any, w: int = 12, h: int = 8,
          stacked: bool = False, minimum: float | None = 0, maximum: float | None = None,
          calcs: Iterable[str] = ("lastNotNull", "max")) -> Any:
    p = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .line_width(1)
        .fill_opacity(25 if stacked else 8)
        .show_points(common_models.VisibilityMode.NEVER)
        .legend(_legend_table(*calcs))
        .tooltip(common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI))
    )
    if stacked:
        p = p.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    if minimum is not None:
        p = p.min(minimum)
    if maximum is not None:
        p = p.max(maximum)
    return _targets(p, targets)


def _steps(*steps: tuple[float | None, str]) -> Any:
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=v, color=c) for v, c in steps])
    )


def _mapping(**texts: tuple[str, str]) -> list[models.ValueMapping]:
    """Value -> (text, colour) mappings, e.g. ``_mapping(**{"1": ("pass", "green")})``."""
    options = {k: models.ValueMappingResult(text=t, color=c, index=i)
               for i, (k, (t, c)) in enumerate(texts.items())}
    return [models.ValueMap(options=options)]


def single(title: str, description: str, unit: str, target: Any, *, w: int = 4, h: int = 4,
           steps: Sequence[tuple[float | None, str]] = ((None, "text"),),
           mappings: list[models.ValueMapping] | None = None,
           name_only: bool = False) -> Any:
    p = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .color_mode(common_models.BigValueColorMode.BACKGROUND if mappings or len(steps) > 1
                    else common_models.BigValueColorMode.NONE)
        .text_mode(common_models.BigValueTextMode.NAME if name_only
                   else common_models.BigValueTextMode.VALUE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_steps(*steps))
    )
    if mappings:
        p = p.mappings(mappings)
    return _targets(p, [target])


def bars(title: str, description: str, unit: str, target: Any, *, w: int = 12, h: int = 8,
         steps: Sequence[tuple[float | None, str]]) -> Any:
    p = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .min(0)
        .max(1)
        .decimals(3)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_steps(*steps))
    )
    return _targets(p, [target])


def grid(title: str, description: str, *targets: Any, w: int = 12, h: int = 8,
         hide: Sequence[str] = (), rename: dict[str, str] | None = None,
         units: dict[str, str] | None = None) -> Any:
    """A table of instant queries (format=table), one row per series, merged on their labels."""
    excluded = {name: True for name in ("Time", "__name__", "job", "instance", *hide)}
    p = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(w)
        .height(h)
        .decimals(3)
        .with_transformation(models.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": excluded, "renameByName": rename or {}},
            )
        )
    )
    for column, unit in (units or {}).items():
        p = p.override_by_name(column, [models.DynamicConfigValue(id_val="unit", value=unit)])
    return _targets(p, targets)


# --- panels, by row ------------------------------------------------------------------------

PASS_FAIL = _mapping(**{"1": ("pass", "green"), "0": ("FAIL", "red")})
DASHED = models.DynamicConfigValue(id_val="custom.lineStyle",
                                   value={"fill": "dash", "dash": [10, 10]})
VALID_INVALID = _mapping(**{"1": ("valid", "green"), "0": ("INVALID", "red")})


def run_row() -> list[Panel]:
    return [
        single("Verdict", "The run's current verdict: running, passed, failed or invalid.", "none",
               query(f"max by (verdict) ({sel('stagecheck_run_verdict')}) == 1", "{{verdict}}",
                     instant=True),
               name_only=True, w=4),
        single("Valid", "Enough requests, generator not saturated, schedule kept, no results "
               "missing (validity is separate from pass/fail).", "none",
               query(f"min({sel('stagecheck_run_valid')})", instant=True),
               mappings=VALID_INVALID),
        single("Thresholds failing", "Thresholds that do not hold on the figures so far.", "none",
               query(f"count({sel('stagecheck_threshold_passing')} == 0) or vector(0)",
                     instant=True),
               steps=((None, "green"), (1, "red"))),
        single("Elapsed", "Time since the run started.", "s",
               query(f"max({sel('stagecheck_run_elapsed_seconds')})", instant=True)),
        single("Requests", "Requests sent so far, all outcomes.", "short",
               query(f"sum({sel('stagecheck_requests_total')})", instant=True)),
        single("Accuracy", "Share of answered requests that are correct, whole run.", "percentunit",
               query(f"min({sel('stagecheck_accuracy_ratio')})", instant=True)),
        grid("Run info", "What runs where (the labels of stagecheck_run_info) and when it "
             "started.",
             query(f"max by (scenario, run_id) ({sel('stagecheck_run_start_time_seconds')}) "
                   "* 1000 * on (scenario, run_id) group_left (model, protocol, endpoint_host, "
                   "version) max by (scenario, run_id, model, protocol, endpoint_host, version) "
                   f"({sel('stagecheck_run_info')})", instant=True, fmt="table"),
             w=16, h=4, rename={"Value": "started"}, units={"started": "dateTimeAsIso"}),
        single("Stage", "Index of the current load stage (0-based).", "none",
               query(f"max({sel('stagecheck_stage_index')})", instant=True), w=4),
        single("p99 (whole run)", "End-to-end p99 latency over the whole run (HDR).", "s",
               query(f"max({sel('stagecheck_latency_hdr_seconds', *_E2E_RUN_P99)})",
                     instant=True),
               w=4),
    ]


def load_row() -> list[Panel]:
    return [
        graph("Throughput", "Requests sent and requests answered (correct, incorrect or "
              "unparseable) per second.", "reqps",
              query(f"sum by (run_id) ({rate('stagecheck_requests_total')})", "sent {{run_id}}"),
              query(f"sum by (run_id) ({rate('stagecheck_answers_total')})",
                    "answered {{run_id}}")),
        graph("Outcomes", "Requests per second by outcome.", "reqps",
              query(f"sum by (outcome) ({rate('stagecheck_requests_total')})", "{{outcome}}"),
              stacked=True),
        graph("Users and rates", "Simulated users; offered (planned, open loop) and achieved "
              "request rates.", "short",
              query(f"sum({sel('stagecheck_users')})", "users"),
              query(f"sum({sel('stagecheck_offered_rate_per_second')})", "offered /s"),
              query(f"sum({sel('stagecheck_achieved_rate_per_second')})", "achieved /s")),
        graph("Schedule lag (open loop)", "Largest lag behind the arrival schedule in the last "
              "interval, and requests that left more than 50 ms late per second.", "s",
              query(f"max({sel('stagecheck_schedule_lag_max_seconds')})", "max lag"),
              query(f"sum({rate('stagecheck_schedule_late_requests_total')})", "late /s")),
    ]


def latency_row() -> list[Panel]:
    return [
        graph("Latency percentiles (HDR)", "End-to-end latency percentiles of the last "
              "interval and the interval's maximum, from the run's HDR histograms; the dashed "
              "line is the whole run's p99.", "s",
              query(f"max by (percentile) ({sel('stagecheck_latency_interval_seconds', _E2E)})",
                    "p{{percentile}}"),
              query(f"max({sel('stagecheck_latency_max_seconds', _E2E, _INTERVAL)})", "max"),
              query(f"max({sel('stagecheck_latency_hdr_seconds', *_E2E_RUN_P99)})", "p99 (run)"),
              w=8).override_by_name("p99 (run)", [DASHED]),
        graph("Latency percentiles (histogram)", "End-to-end latency percentiles over the rate "
              "window, from the exported histogram buckets (coarser than HDR).", "s",
              *(query(f"histogram_quantile({q}, sum by (le) "
                      f"({rate('stagecheck_latency_seconds_bucket', _E2E)}))",
                      f"p{q}")
                for q in ("0.5", "0.9", "0.99")),
              query(f"sum({rate('stagecheck_latency_seconds_sum', _E2E)}) / "
                    f"sum({rate('stagecheck_latency_seconds_count', _E2E)})", "mean"),
              w=8),
        graph("Streaming: TTFT and ITL (HDR)", "Time to first token and inter-token latency "
              "percentiles of the last interval (streamed answers only).", "s",
              query(f"max by (timing, percentile) "
                    f"({sel('stagecheck_latency_interval_seconds', *_STREAM)})",
                    "{{timing}} p{{percentile}}"),
              w=8),
    ]


def correctness_row() -> list[Panel]:
    ok = ((None, "red"), (0.8, "orange"), (0.9, "green"))
    return [
        graph("Accuracy and F1", "Accuracy and class-averaged F1 (macro, weighted) on the "
              "answers so far.", "percentunit",
              query(f"min({sel('stagecheck_accuracy_ratio')})", "accuracy"),
              query(f"min by (average) ({sel('stagecheck_f1_ratio')})", "F1 {{average}}"),
              maximum=1, calcs=("lastNotNull", "min")),
        bars("F1 per class (latest)", "F1 score of each class, worst first.", "percentunit",
             query(f"sort(min by (class) ({sel('stagecheck_class_f1_ratio')}))", "{{class}}",
                   instant=True),
             steps=ok),
        grid("Precision, recall, F1 per class", "Per-class scores on the answers so far.",
             query(f"min by (class) ({sel('stagecheck_class_precision_ratio')})",
                   instant=True, fmt="table"),
             query(f"min by (class) ({sel('stagecheck_class_recall_ratio')})",
                   instant=True, fmt="table"),
             query(f"min by (class) ({sel('stagecheck_class_f1_ratio')})",
                   instant=True, fmt="table"),
             rename={"Value #A": "precision", "Value #B": "recall", "Value #C": "F1"}),
        bars("Worst slices (accuracy)", "The ten slice values with the lowest accuracy.",
             "percentunit",
             query(f"sort(bottomk(10, {sel('stagecheck_slice_accuracy_ratio')}))",
                   "{{slice}}={{value}}", instant=True),
             steps=ok),
        graph("Requests per slice", "Requests per second in each slice value.", "reqps",
              query(f"sum by (slice, value) ({rate('stagecheck_slice_requests_total')})",
                    "{{slice}}={{value}}"),
              w=24, calcs=("lastNotNull",)),
    ]


def tool_calls_row() -> list[Panel]:
    ok = ((None, "red"), (0.9, "orange"), (0.95, "green"))
    return [
        single("Tool-call accuracy", "Answers scored on their tool call (scoring.kind: "
               "tool-call) that made the expected call, or rightly none.", "percentunit",
               query(f"min({sel('stagecheck_tool_call_accuracy_ratio')})", instant=True),
               steps=ok),
        bars("Wrong tool calls by reason", "Why the wrong tool calls were wrong: the wrong "
             "tool, a missing or wrong argument, no call where one was expected, a call where "
             "none was.", "short",
             query(f"sum by (reason) ({sel('stagecheck_tool_call_wrong_total')})",
                   "{{reason}}", instant=True),
             steps=((None, "orange"),), w=20),
    ]


def production_variants_row() -> list[Panel]:
    ok = ((None, "red"), (0.8, "orange"), (0.9, "green"))
    flips = ((None, "green"), (0.05, "orange"), (0.1, "red"))
    return [
        single("Production-weighted accuracy", "Accuracy re-weighted to the production "
               "sample's mix of slice cells (--against PROD; filled when the run ends).",
               "percentunit",
               query(f"min({sel('stagecheck_production_accuracy_ratio')})", instant=True),
               steps=ok),
        single("Production-weighted macro-F1", "Macro-F1 re-weighted to the production "
               "sample's mix (--against PROD; filled when the run ends).", "percentunit",
               query(f"min({sel('stagecheck_production_f1_ratio', _MACRO)})",
                     instant=True),
               steps=ok),
        bars("Production-weighted recall per class", "Each class's recall re-weighted to the "
             "production sample's mix, worst first (--against PROD).", "percentunit",
             query(f"sort(min by (class) ({sel('stagecheck_production_class_recall_ratio')}))",
                   "{{class}}", instant=True),
             steps=ok, w=8),
        bars("Flip rate by variant", "Share of each dataset variant's rows whose answer "
             "differs from the row as written, highest first (dataset.variants; filled when "
             "the run ends).", "percentunit",
             query(f"sort_desc(max by (variant) ({sel('stagecheck_variant_flip_ratio')}))",
                   "{{variant}}", instant=True),
             steps=flips, w=8),
        grid("Variants: accuracy, flips, right→wrong", "Per dataset variant (original: the "
             "rows as written): accuracy, flip rate, and the share of rows right as written "
             "and wrong varied.",
             query(f"min by (variant) ({sel('stagecheck_variant_accuracy_ratio')})",
                   instant=True, fmt="table"),
             query(f"max by (variant) ({sel('stagecheck_variant_flip_ratio')})",
                   instant=True, fmt="table"),
             query(f"max by (variant) ({sel('stagecheck_variant_right_to_wrong_ratio')})",
                   instant=True, fmt="table"),
             w=8, rename={"Value #A": "accuracy", "Value #B": "flip rate",
                          "Value #C": "right→wrong"}),
    ]


def conversations_row() -> list[Panel]:
    ok = ((None, "red"), (0.8, "orange"), (0.9, "green"))
    return [
        single("Conversation success", "Conversations played to their end with every turn "
               "right (a conversation run; live from the turns answered so far).", "percentunit",
               query(f"min({sel('stagecheck_conversation_success_ratio')})", instant=True),
               steps=ok),
        single("Turns right per conversation", "Mean share of a conversation's turns right "
               "(live from the turns answered so far).", "percentunit",
               query(f"min({sel('stagecheck_conversation_turn_share_ratio')})", instant=True),
               steps=ok),
        bars("Accuracy by turn", "Accuracy at each turn position of the conversations: does "
             "it fall as the conversation goes on? (live)", "percentunit",
             query(f"min by (turn) ({sel('stagecheck_turn_accuracy_ratio')})", "turn {{turn}}",
                   instant=True),
             steps=ok, w=8),
        grid("Latency and TTFT by turn", "p50 and p95 of the end-to-end latency and the time "
             "to first token at each turn position: does the first token slow down as the "
             "history grows (filled when the run ends)?",
             query(f"max by (turn, timing, percentile) "
                   f"({sel('stagecheck_turn_latency_seconds')})", instant=True, fmt="table"),
             w=8, rename={"Value": "seconds"}, units={"seconds": "s"}),
    ]


def thresholds_row() -> list[Panel]:
    states = (
        statetimeline.Panel()
        .title("Threshold states")
        .description("Each threshold of the scenario: passing (1) or failing (0) on the "
                     "figures so far.")
        .datasource(DATASOURCE)
        .span(16)
        .height(8)
        .mappings(PASS_FAIL)
        .thresholds(_steps((None, "red"), (1, "green")))
        .show_value(common_models.VisibilityMode.NEVER)
    )
    return [
        _targets(states, [query(f"min by (threshold) ({sel('stagecheck_threshold_passing')})",
                                "{{threshold}}")]),
        grid("Thresholds: observed values", "Observed value of each threshold's metric in base "
             "units (seconds, ratio, per second), and whether it holds.",
             query(f"max by (threshold, metric) ({sel('stagecheck_threshold_observed')})",
                   instant=True, fmt="table"),
             query(f"min by (threshold, metric) ({sel('stagecheck_threshold_passing')})",
                   instant=True, fmt="table"),
             w=8, rename={"Value #A": "observed", "Value #B": "passing"}),
    ]


def resources_row() -> list[Panel]:
    return [
        graph("Generator CPU", "Highest CPU use of a load generator process so far (1 = one "
              "core). Near 1, the generator, not the target, limits the load.", "percentunit",
              query(f"max({sel('stagecheck_generator_cpu_ratio')})", "generator"), w=8),
        graph("Target CPU", "The target's process CPU (1 = one core), from its own metrics.",
              "percentunit", query(f"max({sel('stagecheck_target_cpu_ratio')})", "target"), w=8),
        graph("Target memory", "The target's resident memory, from its own metrics.", "bytes",
              query(f"max({sel('stagecheck_target_memory_bytes')})", "resident"), w=8),
    ]


ROWS = (
    ("Run", run_row),
    ("Load and throughput", load_row),
    ("Latency", latency_row),
    ("Correctness", correctness_row),
    ("Tool calls", tool_calls_row),
    ("Production and robustness", production_variants_row),
    ("Conversations", conversations_row),
    ("Thresholds", thresholds_row),
    ("Resources", resources_row),
)


def _label_variable(name: str, label: str, query_text: str) -> Any:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query_text)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_DESC)
        .include_all(True)
        .all_value(".*")  # the queries match with =~
        .multi(True)
    )


def build() -> models.Dashboard:
    board = (
        dashboard.Dashboard("stagecheck — run")
        .uid(UID)
        .description("A stagecheck run under load: throughput, outcomes, latency (HDR "
                     "and histogram), correctness per class and slice, thresholds, resources.")
        .tags(["stagecheck", "load-test", "ml"])
        .refresh("5s")
        .time("now-15m", "now")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .timepicker(dashboard.TimePicker().refresh_intervals(["1s", "5s", "10s", "30s", "1m"]))
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source")
                       .type("prometheus"))
        .with_variable(_label_variable("scenario", "Scenario",
                                       "label_values(stagecheck_run_info, scenario)"))
        .with_variable(_label_variable(
            "run_id", "Run", 'label_values(stagecheck_run_info{scenario=~"$scenario"}, run_id)'))
    )
    for title, panels in ROWS:
        # Expanded rows carry no panels of their own: Grafana strips those unless collapsed.
        board = board.with_row(dashboard.Row(title).collapsed(False))
        for panel in panels():
            board = board.with_panel(panel)
    model = board.build()
    for number, built in enumerate(model.panels or [], start=1):
        built.id_val = number
    return model


def render() -> str:
    """The dashboard JSON as written to :data:`OUTPUT` (stable: sorted keys, trailing newline)."""
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the checked-in JSON differs from the builders' output")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python grafana/build_dashboards.py",
                  file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
