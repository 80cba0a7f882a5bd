"""``report.html``: one self-contained page (inline CSS and SVG, no external URL; the only script
is the wrong-answers table's own, allowed by its hash in the CSP: :mod:`.html_table`).

Every piece of text that comes from the run — labels, slice values, dataset inputs, model
answers, error messages, URLs — goes through :func:`.html_parts.e` (``html.escape``): datasets
may hold ``<script>``. A Content-Security-Policy meta tag forbids other scripts and network
loads, as a second line of defence and because the page is meant to open offline anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stagecheck.reporting import fmt
from stagecheck.reporting.html.analysis import render_analysis_html
from stagecheck.reporting.html.conversations import conversations_section
from stagecheck.reporting.html.load import latency_section, requests_section, stages_section
from stagecheck.reporting.html.parts import e, empty, meter, section, table
from stagecheck.reporting.html.plots import CSS as PLOTS_CSS
from stagecheck.reporting.html.plots import (
    class_plots_section,
    distribution_section,
    stage_plots_section,
    timeline_section,
)
from stagecheck.reporting.html.production import production_section
from stagecheck.reporting.html.profile import profile_section
from stagecheck.reporting.html.style import CSS
from stagecheck.reporting.html.table import CSS as TABLE_CSS
from stagecheck.reporting.html.table import SCRIPT_CSP_SOURCE, wrong_answers_section
from stagecheck.reporting.html.variants import variants_section
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = ["render_html", "SECTION_IDS", "MAX_SAMPLES"]

#: The ids of the main sections, for links and browser tests.
SECTION_IDS = (
    "verdict",
    "thresholds",
    "requests",
    "latency",
    "classes",
    "confusion",
    "slices",
    "stages",
    "run",
)  # and "wrong-answers" (every wrong answer, from the analysis) or, for older runs, "samples"
#: Samples of wrong answers shown at most.
MAX_SAMPLES = 100
_INPUT_CHARS = 600
_MAX_MATRIX = 40
# Above this many columns the matrix may not fit a laptop-wide card: say it scrolls.
_WIDE_MATRIX = 14
_HEAD_CHARS = 24


def _verdict(report: Summary) -> str:
    failed = report.failed_thresholds()
    verdict = report.verdict if report.verdict in ("passed", "failed", "invalid") else "invalid"
    if not report.valid:
        verdict, sub = "invalid", "The run is not valid, so its figures cannot be trusted."
    elif failed:
        sub = f"{len(failed)} of {len(report.thresholds)} thresholds failed: " + ", ".join(
            t.expression for t in failed
        )
    else:
        sub = f"All {len(report.thresholds)} thresholds passed."
    caveat = report.ungated_correctness
    reasons = ""
    if not report.valid:
        items = report.validity.reasons or ("no reason given",)
        reasons = "<ul>" + "".join(f"<li>{e(r)}</li>" for r in items) + "</ul>"
    q, e2e = report.quality, report.timing("e2e")
    kpis = [
        ("Requests", fmt.count(report.requests.total)),
        ("Throughput", fmt.rate(report.throughput.requests_per_s)),
        ("Error rate", fmt.percent(report.requests.error_rate, 2)),
        ("Accuracy", fmt.percent(report.accuracy, 2)),
    ]
    if q is not None and q.f1_macro is not None:
        kpis.append(("Macro-F1", fmt.fraction(q.f1_macro, 3)))
    tools = report.tool_calls
    if tools is not None:
        kpis.append(("Tool calls right", fmt.percent(tools.accuracy, 2)))
    if e2e is not None:
        kpis.append(("p99 latency", f"{fmt.ms(e2e.p99_us)} ms"))
    cards = "".join(
        f'<div class="kpi"><div class="v">{e(v)}</div><div class="k">{e(k)}</div></div>'
        for k, v in kpis
    )
    return (
        f'<section id="verdict" class="banner {verdict}">\n'
        f"<h1>{e(verdict.upper())}</h1>\n"
        f'<p class="sub">{e(report.run.scenario)} · {e(sub)}</p>\n'
        + (f'<p class="sub caveat">⚠ {e(caveat)}</p>\n' if caveat else "")
        + (f'<p class="sub" id="tool-calls">Tool calls: {e(tools.describe())}</p>\n'
           if tools is not None else "")
        + f'{reasons}<div class="kpis">{cards}</div>\n</section>'
    )


def _thresholds(report: Summary) -> str:
    if not report.thresholds:
        return section("thresholds", "Thresholds", empty("The scenario sets no thresholds."))
    rows = []
    for t in report.thresholds:
        if t.passed:
            pill = '<span class="pill ok">✓ pass</span>'
        elif t.observed is None:
            pill = '<span class="pill na">✗ n/a</span>'
        else:
            pill = '<span class="pill bad">✗ fail</span>'
        rows.append(
            [
                pill,
                f"<code>{e(t.expression)}</code>",
                e(fmt.threshold_observed(t)),
                e(fmt.threshold_target(t)),
            ]
        )
    passed = sum(t.passed for t in report.thresholds)
    note = f"{passed} of {len(report.thresholds)} passed"
    body = table(["", "Threshold", "Observed", "Target"], rows, numeric=(2, 3))
    return section("thresholds", "Thresholds", body, note)


def _classes(report: Summary) -> str:
    classes = report.classes_worst_first()
    if not classes:
        why = f"scoring kind {report.run.scoring.kind!r} is not a classification"
        return section("classes", "Per class", empty(f"No per-class figures: {why}."))
    rows = [
        [
            e(c.label),
            f"{c.support:,}",
            f"{c.predicted:,}",
            e(fmt.fraction(c.precision)),
            e(fmt.fraction(c.recall)),
            meter(c.f1, fmt.fraction(c.f1)),
        ]
        for c in classes
    ]
    q = report.quality
    note = "worst F1 first"
    if q is not None:
        note += (
            f" · accuracy {fmt.fraction(q.accuracy)} · macro-F1 {fmt.fraction(q.f1_macro)}"
            f" · weighted-F1 {fmt.fraction(q.f1_weighted)}"
        )
    header = ["Class", "Support", "Predicted", "Precision", "Recall", "F1"]
    return section("classes", "Per class", table(header, rows, (1, 2, 3, 4, 5)), note)


def _abbreviate(label: str, limit: int) -> str:
    """``label`` cut in the middle to ``limit`` characters: ends tell similar labels apart."""
    if len(label) <= limit:
        return label
    tail = (limit - 1) // 2
    return label[: limit - 1 - tail] + "…" + label[-tail:]


def _confusion(report: Summary) -> str:
    cm = report.confusion
    if cm is None:
        return section("confusion", "Confusion matrix", empty("No confusion matrix."))
    if len(cm.labels) > _MAX_MATRIX:
        text = f"{len(cm.labels)} labels are too many to draw; the matrix is in summary.json."
        return section("confusion", "Confusion matrix", empty(text))
    # Column heads are written vertically so ten or so labels fit the card; the full label is in
    # the title when a long one is cut. Labels keep their case: "Refund" and "refund" differ.
    head = "".join(
        f'<th class="col" title="predicted {e(label)}"><span>'
        f"{e(_abbreviate(label, _HEAD_CHARS))}</span></th>"
        for label in cm.labels
    )
    body = []
    for i, (label, row, fracs) in enumerate(
        zip(cm.row_labels, cm.matrix, cm.row_fractions(), strict=False)
    ):
        cells = []
        for j, (n, frac) in enumerate(zip(row, fracs, strict=False)):
            rgb = "45,164,78" if i == j else "207,34,46"
            alpha = 0.0 if n == 0 else 0.08 + 0.87 * frac
            colour = "#fff" if alpha > 0.55 else "inherit"
            tip = f"expected {e(label)}, predicted {e(cm.labels[j])}: {n:,}"
            style = f"background:rgba({rgb},{alpha:.2f});color:{colour}"
            if n == 0:
                # Blank (CSS draws a faint dot) so the few non-zero cells stand out.
                cells.append(f'<td class="zero" style="{style}" title="{tip}"></td>')
                continue
            cells.append(
                f'<td style="{style}" title="{tip} ({frac * 100:.0f}% of the row)">'
                f"{n:,}<small>{frac * 100:.0f}%</small></td>"
            )
        body.append(
            f'<tr><th class="rowh">{e(label)}</th>{"".join(cells)}'
            f'<td class="num">{sum(row):,}</td></tr>'
        )
    table = (
        '<div class="scroll"><table class="heat"><thead><tr>'
        '<th class="corner">expected ↓<br>predicted →</th>'
        f'{head}<th class="col"><span>total</span></th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    note = "shading: share of the row (green: right, red: wrong); empty cells are blank"
    if len(cm.labels) > _WIDE_MATRIX:
        note += f" · {len(cm.labels)} columns: scroll sideways for all of them"
    return section("confusion", "Confusion matrix", table, note)


def _slices(report: Summary) -> str:
    slices = report.slices_worst_first()
    if not slices:
        return section("slices", "Where it is worst", empty("The dataset defines no slices."))
    # Non-classification scoring has no F1: drop the column rather than fill it with n/a.
    with_f1 = any(s.quality is not None and s.quality.f1_macro is not None for s in slices)
    rows = []
    for s in slices:
        f1 = [e(fmt.fraction(s.quality.f1_macro if s.quality else None))] if with_f1 else []
        rows.append(
            [
                e(s.field),
                e(s.value),
                f"{s.requests:,}",
                meter(s.accuracy, fmt.percent(s.accuracy, 2)),
                e(fmt.percent(s.error_rate, 2)),
                *f1,
                f"{s.by_outcome.get('incorrect'):,}",
            ]
        )
    header = ["Slice", "Value", "Requests", "Accuracy", "Error rate"]
    header += ["Macro-F1", "Wrong"] if with_f1 else ["Wrong"]
    body = table(header, rows, tuple(range(2, len(header))))
    return section("slices", "Where it is worst", body, "slices by accuracy, lowest first")


def _samples(report: Summary) -> str:
    ordered = report.samples_for_review()
    samples = ordered[:MAX_SAMPLES]
    if not samples:
        return section("samples", "Wrong answers and failures", empty("No samples were kept."))
    rows = []
    for s in samples:
        got = e(s.got) if s.got is not None else ""
        if s.error:
            got += f'<span class="err">{e(s.error)}</span>'
        # The dataset's id is what people search for; the 0-based row index only as a hint.
        where = "" if s.row is None else f' title="row index {s.row} (0-based)" data-row="{s.row}"'
        label = s.id or ("" if s.row is None else f"row {s.row}")
        name = f'<span class="sid"{where}>{e(label)}</span>'
        pill = "ok" if s.outcome == "correct" else "bad"
        slices = "".join(
            f'<span class="slice">{e(k)}=<wbr>{e(v)}</span>' for k, v in s.slices.items()
        )
        rows.append(
            [
                f'{name}<span class="pill {pill}">{e(s.outcome)}</span>',
                f'<div class="input">{e(fmt.truncate(s.input, _INPUT_CHARS))}</div>'
                + (f'<div class="slices">{slices}</div>' if slices else ""),
                e(s.expected if s.expected is not None else ""),
                got,
                e(fmt.ms(s.latency_us)),
            ]
        )
    header = ["Sample", "Input · slices", "Expected", "Got", "Latency ms"]
    note = (
        f"{len(samples)} of {len(report.samples)} kept · by outcome, then expected label, then id"
    )
    body = table(header, rows, (4,), css_class="samples")
    return section("samples", "Wrong answers and failures", body, note)


def _run_details(report: Summary) -> str:
    run = report.run
    items = [
        ("Run", run.id),
        ("Scenario", run.scenario),
        ("Started", run.started_at),
        ("Ended", run.ended_at),
        ("Duration", fmt.seconds(run.duration_s)),
        ("Endpoint", run.endpoint.url),
        ("Protocol", run.endpoint.protocol),
        ("Model", run.endpoint.model),
        ("Load", run.load_summary()),
        ("Workers", run.workers_text() or ("" if run.workers is None else str(run.workers))),
        ("Dataset", run.dataset.path),
        (
            "Rows",
            ""
            if run.dataset.rows is None
            else f"{run.dataset.rows:,} ({run.dataset.skipped_rows:,} skipped)",
        ),
        ("Order", run.dataset.order),
        ("Seed", "" if run.dataset.seed is None else str(run.dataset.seed)),
        ("Passes", "" if run.dataset.passes is None else str(run.dataset.passes)),
        ("Scoring", run.scoring.kind),
    ]
    body = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items if v)
    notes = ""
    if report.notes:
        notes = "<h3>Notes</h3><ul>" + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>"
    return section("run", "Run details", f'<dl class="details">{body}</dl>{notes}')


def _run_name(report: Summary) -> str:
    """The run id, with the scenario in front only when the id does not already say it."""
    run = report.run
    if not run.id:
        return run.scenario
    return run.id if run.scenario in run.id else f"{run.scenario} · {run.id}"


def render_html(summary: Mapping[str, Any] | Summary) -> str:
    """``report.html`` for a summary.json dict (or its model, already read)."""
    report = summary if isinstance(summary, Summary) else load_summary_model(summary)
    run = report.run
    sections = [
        _verdict(report),
        _thresholds(report),
        requests_section(report),
        timeline_section(report),
        latency_section(report),
        distribution_section(report),
        _classes(report),
        class_plots_section(report),
        _confusion(report),
        render_analysis_html(report.analysis),
        variants_section(report.variants),
        conversations_section(report.conversations),
        _slices(report),
        stages_section(report),
        stage_plots_section(report),
        # the browsable table holds every wrong answer ×N; the samples are for older runs
        wrong_answers_section(report) if report.analysis and report.analysis.wrong else "",
        "" if report.analysis and report.analysis.wrong else _samples(report),
        production_section(report.production),
        profile_section(report.dataset_profile),
        _run_details(report),
    ]
    sections = [s for s in sections if s]
    title = f"stagecheck · {run.scenario} · {report.verdict.upper()}"
    version = f" {report.tool.version}" if report.tool.version else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src {SCRIPT_CSP_SOURCE}">
<title>{e(title)}</title>
<style>{CSS}{PLOTS_CSS}{TABLE_CSS}</style>
</head>
<body>
<div class="top"><b>stagecheck report</b><span>{e(_run_name(report))} · \
{e(run.started_at)}</span></div>
<main>
{chr(10).join(sections)}
</main>
<footer>stagecheck{e(version)} · built from summary.json</footer>
</body>
</html>
"""
