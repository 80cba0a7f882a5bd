"""The error analysis sections of report.html: where errors concentrate, top confusions,
off-label answers, failures by cause, errors against load, and consistency of repeated rows.

(The timeline and latency plots and the browsable wrong-answers table are in
``html_plots.py`` and ``html_table.py``.) Every text from the run goes through ``e``; inputs
and answers are excerpts already, cut again here for the table cells.
"""

from __future__ import annotations

from stagecheck.analysis.schema import Analysis, Concentration, RowSample
from stagecheck.reporting import fmt
from stagecheck.reporting.analysis_text import ci_text, replays_text
from stagecheck.reporting.html.parts import e, empty, meter, section, table

__all__ = ["render_analysis_html", "ANALYSIS_SECTION_IDS"]

#: Ids of the sections this module renders, for links and browser tests.
ANALYSIS_SECTION_IDS = (
    "analysis",
    "concentrations",
    "confusions",
    "off-label",
    "failures",
    "load-errors",
    "consistency",
)
_ROWS = 25
_CELL = 160
_SAMPLE = 90


def _p(p: float | None) -> str:
    if p is None:
        return fmt.MISSING
    return "&lt;0.0001" if p < 1e-4 else f"{p:.4f}"


def _sample(s: RowSample) -> str:
    times = f" ×{s.count:,}" if s.count > 1 else ""
    return (
        f'<div title="row {s.row} ({e(s.id)}), expected {e(s.expected)}">'
        f"{e(fmt.truncate(s.input, _SAMPLE))} → <code>{e(fmt.truncate(s.got or '', 40))}</code>"
        f"{times}</div>"
    )


def _samples(samples: list[RowSample]) -> str:
    """The first example in the cell, the others folded (no script: a details element)."""
    if not samples:
        return ""
    first, rest = _sample(samples[0]), "".join(_sample(s) for s in samples[1:])
    if not rest:
        return first
    return f"{first}<details><summary>{len(samples) - 1} more</summary>{rest}</details>"


def _worse(c: Concentration) -> bool:
    return c.accuracy is not None and c.rest_accuracy is not None and c.accuracy < c.rest_accuracy


def _marks(c: Concentration) -> str:
    marks = []
    if c.significant:
        marks.append('<span class="pill bad" title="significantly worse (Holm, 5 %)">worse</span>')
    if c.thin:
        marks.append(
            '<span class="pill na" title="under 10 rows, or too few for ±10 points">thin</span>'
        )
    return " ".join(marks)


def _overview(a: Analysis) -> str:
    bits = [f"<p>{e(replays_text(a))}.</p>"]
    if a.goodput is not None:
        g = a.goodput
        bits.append(
            f"<p>Goodput {e(fmt.rate(g.per_s))} ({g.requests:,} requests): {e(g.source)}.</p>"
        )
    if a.notes:
        bits.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in a.notes) + "</ul>")
    return section("analysis", "Why is it wrong?", "".join(bits))


def _concentrations(a: Analysis) -> str:
    if not a.concentrations:
        return ""
    worse = [c for c in a.concentrations if _worse(c)]
    rows = []
    for c in worse[:_ROWS]:
        label = f"<b>{e(c.label)}</b>" if c.significant else e(c.label)
        rows.append([
            f"{label} {_marks(c)}<br><small>{e(c.kind)} · {c.rows:,} rows · {c.scored:,} scored · "
            f"{e(fmt.percent(c.failure_rate))} failed</small>",
            meter(c.accuracy, f"{fmt.percent(c.accuracy)} {ci_text(c.accuracy_ci)}"),
            f"{e(fmt.percent(c.rest_accuracy))}<br><small>p {_p(c.p_adjusted)}</small>",
            _samples(c.samples),
        ])  # fmt: skip
    header = ["Group", "Accuracy [95% CI]", "Rest of run (p, Holm)", "Wrong answers"]
    significant = sum(1 for c in a.concentrations if c.significant)
    note = (
        f"{significant} of {len(a.concentrations)} groups significantly worse than the rest"
        if significant
        else "no group is significantly worse than the rest"
    )
    if not rows:
        nothing = empty("No group has a lower accuracy than the rest of the run.")
        return section("concentrations", "Where errors concentrate", nothing, note)
    hidden = len(a.concentrations) - min(len(worse), _ROWS)
    body = table(header, rows, numeric=(2,)) + empty(
        "Each group's accuracy against every other scored request: two-sided test (Fisher "
        "exact for small counts, else a two-proportion z-test), Holm-adjusted over all groups. "
        "The dataset row is the unit of evidence: replays of a row do not narrow an interval "
        "or a test (each side's counts are divided by its design effect, Rao–Scott). "
        "Thin: under 10 rows (never significant), or too few for the interval to be narrower "
        "than ±10 points."
        + (f" {hidden} groups not as bad (or not below the rest) are not shown." if hidden else "")
    )
    return section("concentrations", "Where errors concentrate", body, note)


def _confusions(a: Analysis) -> str:
    if not a.confusions:
        return ""
    rows = [
        [e(c.expected), e(c.predicted), f"{c.count:,}", e(fmt.percent(c.share_of_expected)),
         _samples(c.samples)]
        for c in a.confusions
    ]  # fmt: skip
    body = table(["Expected", "Predicted", "Count", "Of expected", "Examples"], rows,
                 numeric=(2, 3))  # fmt: skip
    return section("confusions", "Top confusions", body, "expected → predicted")


def _off_label(a: Analysis) -> str:
    ol = a.off_label
    if ol is None or not ol.count:
        return ""
    hint = f'<p class="err">Hint: {e(ol.hint)}.</p>' if ol.hint else ""
    rows = [
        [f'<span class="input">{e(fmt.truncate(x.got, _CELL))}</span>',
         e(x.predicted or ""), e(x.expected), f"×{x.count:,}"]
        for x in ol.examples
    ]  # fmt: skip
    body = (
        f"<p><b>{ol.count:,}</b> of {ol.answers:,} answers ({e(fmt.percent(ol.share))}) are "
        "none of the dataset's labels: counted as incorrect, shown as “(other)” in the "
        f"confusions.</p>{hint}"
        + table(
            ["Answer", "Read as", "Expected", "Requests"], rows, numeric=(3,), css_class="samples"
        )  # fmt: skip
    )
    return section("off-label", "Off-label answers", body)


def _failures(a: Analysis) -> str:
    if not a.failures:
        return ""
    rows = []
    for f in a.failures:
        errors = "".join(
            f'<span class="err">{e(text)}' + (f" ×{n:,}" if n > 1 else "") + "</span>"
            for text, n in f.errors
        )
        rows.append([e(f.cause), f"{f.count:,}", e(fmt.seconds(f.first_s)),
                     e(fmt.seconds(f.last_s)), errors, _samples(f.examples)])  # fmt: skip
    body = table(["Cause", "Requests", "First", "Last", "Errors", "Rows"], rows,
                 numeric=(1, 2, 3), css_class="samples")  # fmt: skip
    return section("failures", "Failures by cause", body, "times since the run's start")


def _load(a: Analysis) -> str:
    if not a.load:
        return ""
    rows = [
        [e(x.kind), e(x.label), f"{x.requests:,}",
         meter(x.accuracy, f"{fmt.percent(x.accuracy)} {ci_text(x.accuracy_ci)}"),
         e(fmt.percent(x.failure_rate))]
        for x in a.load
    ]  # fmt: skip
    body = table(
        ["By", "Level", "Requests", "Accuracy [95% CI]", "Failures"], rows, numeric=(2, 3, 4)
    ) + empty(  # fmt: skip
        "Latency buckets are cut at the run's own p50, p90 and p99."
    )
    return section("load-errors", "Errors against load", body)


def _consistency(a: Analysis) -> str:
    c = a.consistency
    if c is None or not c.rows_repeated:
        return ""
    rows = [
        [f'<span class="input">{e(fmt.truncate(x.input, _CELL))}</span>', e(x.expected),
         "<br>".join(f"<code>{e(ans)}</code> ×{n:,}" for ans, n in x.answers)]
        for x in c.examples
    ]  # fmt: skip
    text = (
        f"<p><b>{c.rows_inconsistent:,}</b> of {c.rows_repeated:,} rows answered more than once "
        f"got different answers ({e(fmt.percent(c.share))}). A deterministic model that answers "
        "differently under load points at a serving bug.</p>"
    )
    body = text + (table(["Input", "Expected", "Answers"], rows, css_class="samples") if rows
                   else "")  # fmt: skip
    return section("consistency", "Consistency of repeated rows", body)


def render_analysis_html(a: Analysis | None) -> str:
    """The analysis sections of report.html, or an empty string when there is no analysis."""
    if a is None:
        return ""
    parts = [_overview(a), _off_label(a), _concentrations(a), _confusions(a), _failures(a),
             _load(a), _consistency(a)]  # fmt: skip
    return "\n".join(p for p in parts if p)
