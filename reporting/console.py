"""The plain-text summary printed at the end of ``stagecheck run``.

At most about 60 lines of at most 100 characters, no colour: long lists (classes, slices, stages)
are cut to their worst entries and the cut is said, the full lists live in report.html.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stagecheck.errors import shorten
from stagecheck.production.view import figures_lines
from stagecheck.recording.recorder import FAILURE_OUTCOMES
from stagecheck.reporting import fmt
from stagecheck.reporting.analysis_text import analysis_console_lines
from stagecheck.reporting.conversations import conversation_console_lines
from stagecheck.reporting.variants_text import variants_console_lines
from stagecheck.summary.figures import StageFigures
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = ["render_console", "WIDTH"]

#: No line is longer than this.
WIDTH = 100
_MAX_CLASSES = 8
# Up to this many classes all are listed: a dozen lines is worth not hiding any class.
_ALL_CLASSES_UP_TO = 12
_MAX_SLICES = 6
_MAX_STAGES = 6
_MAX_REASONS = 4


def _fit(line: str) -> str:
    return shorten(line, WIDTH)  # at a word boundary: never "p 0.0013 t…"


def _header(report: Summary) -> list[str]:
    run = report.run
    endpoint = run.endpoint.url or fmt.MISSING
    model = run.endpoint.model
    details = ", ".join(
        part for part in (run.endpoint.protocol, f"model {model}" if model else "") if part
    )
    load = f"{run.load_text()} for {fmt.seconds(run.duration_s)}"
    if run.load.exact_pass:
        load += f" · {run.pass_text()}"
    if run.workers_text():
        load += f" · {run.workers_text()}"
    replays = _replays(report)
    # on the load line when it fits (the console counts its lines), else a line of its own
    load_lines = [f"load      {load}" + (f" · {replays}" if replays else "")]
    if len(load_lines[0]) > WIDTH:
        load_lines = [f"load      {load}", f"          {replays}"]
    data = run.dataset
    dataset = [data.path or fmt.MISSING]
    if data.rows is not None:
        dataset.append(f"{data.rows:,} rows")
    if data.order:
        dataset.append(data.order + (f" seed {data.seed}" if data.seed is not None else ""))
    if run.scoring.kind:
        dataset.append(f"scoring {run.scoring.kind}")
    return [
        f"stagecheck · {run.scenario}" + (f" · {run.id}" if run.id else ""),
        f"endpoint  {endpoint}" + (f"  ({details})" if details else ""),
        *load_lines,
        f"dataset   {' · '.join(dataset)}",
    ]


def _replays(report: Summary) -> str:
    """How often each row was sent: a timed run replays rows, so its figures rest on fewer
    independent rows than requests."""
    r = report.analysis.replays if report.analysis is not None else None
    if r is None or not r.unique_rows:
        return ""
    if r.unique_rows == r.dataset_rows:
        if report.run.load.exact_pass:
            return ""  # the load line says it: "exact pass: every row once"
        once = r.factor <= 1.0
        return "each row sent once" if once else f"each row sent {r.factor:.1f} times on average"
    times = f"{r.factor:.1f} times each on average" if r.factor > 1.0 else "once each"
    return f"{r.unique_rows:,} of {r.dataset_rows:,} rows sent, {times}"


def _verdict(report: Summary) -> list[str]:
    failed = report.failed_thresholds()
    if report.verdict == "invalid" or not report.valid:
        reasons = "; ".join(report.validity.reasons) or "no reason given"
        return [f"INVALID  the run is not valid: {reasons}"]
    caveat = [f"  ⚠ {report.ungated_correctness}"] if report.ungated_correctness else []
    if report.verdict == "passed":
        return [f"PASSED  all {len(report.thresholds)} thresholds passed", *caveat]
    if failed:
        names = ", ".join(t.expression for t in failed)
        return [f"FAILED  {len(failed)} of {len(report.thresholds)} thresholds failed: {names}",
                *caveat]  # fmt: skip
    return [f"{report.verdict.upper()}"]


def _requests(report: Summary) -> list[str]:
    total = report.requests.total
    answered = f"{fmt.rate(report.throughput.answers_per_s)} answered (failures excluded)"
    line = (
        f"Requests  {total:,} in {fmt.seconds(report.run.duration_s)}"
        f" · {fmt.rate(report.throughput.requests_per_s)} sent · {answered}"
        f" · error rate {fmt.percent(report.requests.error_rate, 2)}"
    )
    if len(line) > WIDTH:  # a long run's figures: "answered" has to say it alone
        line = line.replace(" (failures excluded)", "")
    if total == 0:
        return [line, "  no requests were made"]
    # Answers on the left, failures (no answer at all) on the right.
    left: list[str] = []
    right: list[str] = []
    for name, n in report.requests.by_outcome.counts:
        cell = f"{name:<17}{n:>8,} {fmt.percent(report.share(n)):>7}"
        (right if name in FAILURE_OUTCOMES else left).append(cell)
    rows = max(len(left), len(right))
    left += [""] * (rows - len(left))
    right += [""] * (rows - len(right))
    out = [line] + [f"  {a:<36}    {b}".rstrip() for a, b in zip(left, right, strict=True)]
    if report.causes:
        out.append(f"  no usable answer, by cause: {fmt.causes_text(report.causes)}")
    return out


def _latency(report: Summary) -> list[str]:
    timings = report.timings()
    if not timings:
        return []
    labels = [label for label, _ in timings[0][1].values()]
    out = ["Latency (ms)  " + "".join(f"{label:>9}" for label in labels) + f"{'count':>10}"]
    for key, lat in timings:
        name = {"e2e": "end-to-end"}.get(key, key)
        cells = "".join(f"{fmt.ms(us):>9}" for _, us in lat.values())
        out.append(f"  {name:<12}{cells}{lat.count:>10,}")
        if lat.out_of_range:
            out.append(f"  ({lat.out_of_range:,} {name} values out of the histogram's range)")
    if report.tokens is not None:
        out.append(_fit(f"  tokens      {report.tokens.describe()}"))
    return out


def _target(report: Summary) -> list[str]:
    return [f"Target    {report.target.describe()}"] if report.target is not None else []


def _quality(report: Summary) -> list[str]:
    q = report.quality
    accuracy = report.accuracy
    if accuracy is None:
        return []
    line = f"Quality   accuracy {fmt.fraction(accuracy)} ({fmt.percent(accuracy, 2)})"
    tools = [f"Tool calls {report.tool_calls.describe()}"] if report.tool_calls else []
    if q is None or q.accuracy is None:
        return [line + " · correct / answered", *tools]
    # Non-classification scoring (exact, regex, …) has accuracy but no F1.
    if q.f1_macro is not None:
        line += f" · macro-F1 {fmt.fraction(q.f1_macro)}"
    if q.f1_weighted is not None:
        line += f" · weighted-F1 {fmt.fraction(q.f1_weighted)}"
    return [line + f" · {q.scored:,} scored", *tools]


def _classes(report: Summary) -> list[str]:
    classes = report.classes_worst_first()
    if not classes:
        return []
    width = min(max(len(c.label) for c in classes), 30)
    width = max(width, 5)
    out = [
        "Per class (worst F1 first)",
        f"  {'label':<{width}} {'support':>8} {'precision':>10} {'recall':>8} {'F1':>8}",
    ]
    shown = classes if len(classes) <= _ALL_CLASSES_UP_TO else classes[:_MAX_CLASSES]
    for c in shown:
        label = fmt.truncate(c.label, width)
        out.append(
            f"  {label:<{width}} {c.support:>8,} {fmt.fraction(c.precision):>10}"
            f" {fmt.fraction(c.recall):>8} {fmt.fraction(c.f1):>8}"
        )
    if len(classes) > len(shown):
        out.append(f"  … {len(classes) - len(shown)} more classes in report.html")
    return out


def _slices(report: Summary) -> list[str]:
    slices = report.slices_worst_first()
    if not slices:
        return []
    names = [fmt.truncate(f"{s.field}={s.value}", 40) for s in slices]
    width = max(len(n) for n in names[:_MAX_SLICES])
    out = ["Where it is worst (slices by accuracy, lowest first)"]
    for name, s in list(zip(names, slices, strict=True))[:_MAX_SLICES]:
        out.append(
            f"  {name:<{width}}  accuracy {fmt.percent(s.accuracy, 2):>7}"
            f"  error rate {fmt.percent(s.error_rate, 2):>7}  {s.requests:>8,} requests"
        )
    if len(slices) > _MAX_SLICES:
        out.append(f"  … {len(slices) - _MAX_SLICES} more slices in report.html")
    return out


def _stage_rate(st: StageFigures) -> str:
    """Achieved rate; open loop: ``achieved/offered`` (``39.8/40/s``)."""
    if st.offered_rate_per_s is None or st.throughput_per_s is None:
        return fmt.rate(st.throughput_per_s)
    return f"{st.throughput_per_s:.1f}/{st.offered_rate_per_s:g}/s"


def _stages(report: Summary) -> list[str]:
    if len(report.stages) <= 1:
        return []
    out = ["Stages"]
    for st in report.stages[:_MAX_STAGES]:
        users = f"{st.users} users" if st.users is not None else "users n/a"
        window = f"{fmt.seconds(st.start_s)}–{fmt.seconds(st.end_s)}"
        e2e = st.latency.e2e
        p95 = fmt.ms(e2e.p95_us) if e2e else fmt.MISSING
        out.append(
            f"  {st.index} {fmt.truncate(st.name, 12):<12} {users:>10}  {window:<13}"
            f" {_stage_rate(st):>9}  errors {fmt.percent(st.error_rate):>6}"
            f"  accuracy {fmt.percent(st.accuracy):>6}  p95 {p95}ms"
        )
    if len(report.stages) > _MAX_STAGES:
        out.append(f"  … {len(report.stages) - _MAX_STAGES} more stages in report.html")
    return out


def _thresholds(report: Summary) -> list[str]:
    if not report.thresholds:
        return []
    width = min(max(len(t.expression) for t in report.thresholds), 50)
    out = ["Thresholds"]
    for t in report.thresholds:
        expression = fmt.truncate(t.expression, width)
        observed = fmt.threshold_observed(t)
        out.append(f"  {expression:<{width}}  observed {observed:<10}  {fmt.threshold_mark(t)}")
    return out


def _listed(title: str, items: Sequence[str]) -> list[str]:
    out = [title] + [f"  - {shorten(' '.join(i.split()), WIDTH - 4)}" for i in items[:_MAX_REASONS]]
    if len(items) > _MAX_REASONS:
        out.append(f"  … {len(items) - _MAX_REASONS} more")
    return out


def _validity(report: Summary) -> list[str]:
    if report.valid or not report.validity.reasons:
        return []
    return _listed("Why the run is invalid", report.validity.reasons)


def _notes(report: Summary) -> list[str]:
    return _listed("Notes", report.notes) if report.notes else []


def render_console(summary: Mapping[str, Any] | Summary) -> str:
    """The end-of-run terminal summary of a summary.json dict (or its model, already read)."""
    report = summary if isinstance(summary, Summary) else load_summary_model(summary)
    blocks = [
        _header(report),
        _verdict(report),
        _requests(report),
        _latency(report),
        _target(report) + _quality(report),  # the target's load and the answers' quality
        _classes(report),
        # the analysis ranks slices by how significantly worse they are: it replaces the list
        [] if report.analysis and report.analysis.concentrations else _slices(report),
        _stages(report),
        analysis_console_lines(report.analysis),
        figures_lines(report.production) if report.production is not None else [],
        variants_console_lines(report.variants),
        conversation_console_lines(report.conversations),
        _thresholds(report),
        _validity(report),
        _notes(report),
    ]
    lines: list[str] = []
    for block in blocks:
        if block:
            if lines:
                lines.append("")
            lines.extend(_fit(line) for line in block)
    return "\n".join(lines) + "\n"
