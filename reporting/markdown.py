"""``summary.md``: GitHub-flavoured Markdown that fits a CI job summary.

Every piece of text from the run (labels, slice values, dataset inputs, error messages) goes
through :func:`md_cell`, so a ``|``, a newline or a ``<script>`` in a dataset cannot break a table
or inject HTML into the page that renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stagecheck.datasets.profile_view import profile_markdown
from stagecheck.production.view import figures_markdown
from stagecheck.reporting import fmt
from stagecheck.reporting.analysis_text import analysis_markdown
from stagecheck.reporting.conversations import conversation_markdown_lines
from stagecheck.reporting.variants_text import variants_markdown_lines
from stagecheck.summary.figures import timing_name
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = ["render_markdown", "md_cell", "md_table", "MAX_SAMPLES", "INPUT_CHARS"]

#: Sample errors shown at most.
MAX_SAMPLES = 10
#: Inputs are cut to about this many characters.
INPUT_CHARS = 120
_MAX_ROWS = 50

_ICONS = {"passed": "✅", "failed": "❌", "invalid": "⚠️"}
# Markdown punctuation that could start emphasis, code, links or headings inside a cell.
_BACKSLASHED = "\\`*_[]#~|!"


def md_cell(text: object, limit: int | None = None) -> str:
    """Text made safe for a GFM table cell: one line, HTML and Markdown characters escaped."""
    raw = "" if text is None else str(text)
    flat = fmt.truncate(raw, limit) if limit else " ".join(raw.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in _BACKSLASHED else ch for ch in flat)


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table; ``align`` has one letter per column (``l``/``r``), left by default.

    Cells must already be escaped (:func:`md_cell`) or be trusted figures.
    """
    marks = {"l": ":---", "r": "---:"}
    rule = [marks.get(align[i] if i < len(align) else "l", "---") for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _title(report: Summary) -> list[str]:
    caveat = report.ungated_correctness
    icon = "⚠️" if caveat and report.verdict == "passed" else _ICONS.get(report.verdict, "❔")
    run = report.run
    failed = report.failed_thresholds()
    if report.verdict == "invalid" or not report.valid:
        why = "the run is not valid"
    elif failed:
        why = f"{len(failed)} of {len(report.thresholds)} thresholds failed"
    else:
        why = f"all {len(report.thresholds)} thresholds passed"
    lines = [
        f"## {icon} stagecheck · {md_cell(run.scenario)} — {md_cell(report.verdict.upper())}",
        "",
        f"{why} · {report.requests.total:,} requests in {fmt.seconds(run.duration_s)}"
        f" · {md_cell(run.load_summary())}"
        + (f" · {md_cell(run.workers_text())}" if run.workers_text() else "")
        + f" · endpoint {md_cell(run.endpoint.url or fmt.MISSING)}"
        + (f" ({md_cell(run.endpoint.protocol)})" if run.endpoint.protocol else ""),
    ]
    if not report.valid:
        reasons = "; ".join(report.validity.reasons) or "no reason given"
        lines += ["", f"> **Run invalid:** {md_cell(reasons)}"]
    if caveat:
        lines += ["", f"> **⚠️ {md_cell(caveat[0].upper() + caveat[1:])}**"]
    if report.target is not None:
        lines += ["", f"Target resources: {md_cell(report.target.describe())}"]
    if report.notes:
        lines += ["", *(f"- {md_cell(note, 300)}" for note in report.notes[:10])]
    return lines


def _thresholds(report: Summary) -> list[str]:
    if not report.thresholds:
        return []
    rows = [
        [
            "✅" if t.passed else "❌",
            md_cell(t.expression),
            md_cell(fmt.threshold_observed(t)),
            md_cell(fmt.threshold_target(t)),
        ]
        for t in report.thresholds
    ]
    return ["### Thresholds", "", *md_table(["", "Threshold", "Observed", "Target"], rows, "llrr")]


def _key_figures(report: Summary) -> list[str]:
    e2e = report.timing("e2e")
    q = report.quality
    header = ["Requests", "Throughput", "Error rate", "Accuracy"]
    row = [
        f"{report.requests.total:,}",
        fmt.rate(report.throughput.requests_per_s),
        fmt.percent(report.requests.error_rate, 2),
        fmt.fraction(report.accuracy),
    ]
    if q is not None and q.f1_macro is not None:
        header += ["Macro-F1", "Weighted-F1"]
        row += [fmt.fraction(q.f1_macro), fmt.fraction(q.f1_weighted)]
    if e2e is not None:
        header += ["p50", "p95", "p99"]
        row += [f"{fmt.ms(us)} ms" for us in (e2e.p50_us, e2e.p95_us, e2e.p99_us)]
    return ["### Key figures", "", *md_table(header, [row], "r" * len(header))]


def _outcomes(report: Summary) -> list[str]:
    if report.requests.total == 0:
        return ["### Requests by outcome", "", "No requests were made."]
    rows = [
        [md_cell(name), f"{n:,}", fmt.percent(report.share(n))]
        for name, n in report.requests.by_outcome.counts
    ]
    out = ["### Requests by outcome", "", *md_table(["Outcome", "Requests", "Share"], rows, "lrr")]
    if report.causes:
        out += ["", f"No usable answer, by cause: {md_cell(fmt.causes_text(report.causes))}"]
    return out


def _latency(report: Summary) -> list[str]:
    timings = report.timings()
    if not timings:
        return []
    labels = [label for label, _ in timings[0][1].values()]
    rows = [
        [md_cell(timing_name(key)), *(fmt.ms(us) for _, us in lat.values()), f"{lat.count:,}"]
        for key, lat in timings
    ]
    header = ["Timing (ms)", *labels, "count"]
    out = ["### Latency", "", *md_table(header, rows, "l" + "r" * (len(header) - 1))]
    if report.tokens is not None:
        out += ["", f"Tokens: {md_cell(report.tokens.describe())}"]
    if report.tool_calls is not None:
        out += ["", f"Tool calls: {md_cell(report.tool_calls.describe())}"]
    return out


def _classes(report: Summary) -> list[str]:
    classes = report.classes_worst_first()
    if not classes:
        return []
    rows = [
        [
            md_cell(c.label, 60),
            f"{c.support:,}",
            fmt.fraction(c.precision),
            fmt.fraction(c.recall),
            fmt.fraction(c.f1),
        ]
        for c in classes[:_MAX_ROWS]
    ]
    lines = ["### Per class (worst F1 first)", ""]
    lines += md_table(["Class", "Support", "Precision", "Recall", "F1"], rows, "lrrrr")
    if len(classes) > _MAX_ROWS:
        lines += ["", f"… and {len(classes) - _MAX_ROWS} more classes (see report.html)."]
    return lines


def _slices(report: Summary) -> list[str]:
    slices = report.slices_worst_first()
    if not slices:
        return []
    rows = [
        [
            md_cell(s.field, 40),
            md_cell(s.value, 60),
            f"{s.requests:,}",
            fmt.percent(s.accuracy, 2),
            fmt.percent(s.error_rate, 2),
        ]
        for s in slices[:_MAX_ROWS]
    ]
    header = ["Slice", "Value", "Requests", "Accuracy", "Error rate"]
    title = "### Where it is worst (slices, lowest accuracy first)"
    return [title, "", *md_table(header, rows, "llrrr")]


def _confusion(report: Summary) -> list[str]:
    cm = report.confusion
    if cm is None or len(cm.labels) > 30:
        return []
    header = ["expected ↓ / predicted →", *(md_cell(label, 30) for label in cm.labels)]
    rows = []
    for i, (label, row) in enumerate(zip(cm.row_labels, cm.matrix, strict=False)):
        cells = [f"**{n:,}**" if j == i else f"{n:,}" for j, n in enumerate(row)]
        cells += [""] * (len(cm.labels) - len(cells))
        rows.append([md_cell(label, 30), *cells[: len(cm.labels)]])
    return [
        "<details><summary>Confusion matrix</summary>",
        "",
        *md_table(header, rows, "l" + "r" * len(cm.labels)),
        "",
        "</details>",
    ]


def _samples(report: Summary) -> list[str]:
    samples = report.samples_for_review()[:MAX_SAMPLES]
    if not samples:
        return []
    rows = [
        [
            md_cell(s.id) if s.id else ("" if s.row is None else str(s.row)),
            md_cell(s.outcome),
            md_cell(s.input, INPUT_CHARS),
            md_cell(s.expected if s.expected is not None else "", 60),
            md_cell(s.got if s.got is not None else (s.error or ""), 60),
            fmt.ms(s.latency_us),
        ]
        for s in samples
    ]
    shown = f"{len(samples)} of {len(report.samples)}"
    header = ["Id", "Outcome", "Input", "Expected", "Got / error", "Latency (ms)"]
    return [
        f"<details><summary>Sample errors ({shown})</summary>",
        "",
        "By outcome, then expected label, then id.",
        "",
        *md_table(header, rows, "lllllr"),
        "",
        "</details>",
    ]


def _profile(report: Summary) -> list[str]:
    """The dataset profile, folded: it is about the dataset, not this run's figures."""
    if report.dataset_profile is None:
        return []
    body = profile_markdown(report.dataset_profile, level=3).splitlines()[1:]
    return ["<details><summary>Dataset profile</summary>", "", *body, "</details>"]


def render_markdown(summary: Mapping[str, Any] | Summary) -> str:
    """``summary.md`` for a summary.json dict (or its model, already read)."""
    report = summary if isinstance(summary, Summary) else load_summary_model(summary)
    blocks = [
        _title(report),
        _thresholds(report),
        _key_figures(report),
        _outcomes(report),
        _latency(report),
        _classes(report),
        _slices(report),
        _confusion(report),
        analysis_markdown(report.analysis).splitlines(),
        figures_markdown(report.production) if report.production is not None else [],
        variants_markdown_lines(report.variants),
        conversation_markdown_lines(report.conversations),
        _samples(report),
        _profile(report),
    ]
    lines: list[str] = []
    for block in blocks:
        if block:
            if lines:
                lines.append("")
            lines.extend(block)
    run = report.run
    version = f" {md_cell(report.tool.version)}" if report.tool.version else ""
    lines += ["", f"<sub>stagecheck{version} · run {md_cell(run.id)}</sub>"]
    return "\n".join(lines) + "\n"
