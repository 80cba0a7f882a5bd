"""Console and Markdown views of a capacity search (:class:`~stagecheck.capacity.CapacityResult`).

Both show the answer first (capacity, margin, the SLO that failed first above it, or why the
search could not be carried out), then one row per step in the order the steps ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from stagecheck.capacity.schema import CapacityResult, Step
from stagecheck.reporting import fmt

__all__ = ["answer_lines", "step_rows", "STEP_HEADER", "render_capacity_console",
           "render_capacity_markdown"]  # fmt: skip

STEP_HEADER = ("#", "phase", "offered", "achieved", "requests", "p50", "p99", "accuracy",
               "errors", "goodput", "status")  # fmt: skip
_VERDICT = {"passed": "CAPACITY FOUND", "failed": "NO CAPACITY", "not_carried_out":
            "SEARCH NOT CARRIED OUT"}  # fmt: skip


def _s_ms(seconds: float | None) -> str:
    return fmt.MISSING if seconds is None else fmt.ms(seconds * 1e6) + "ms"


def _status(step: Step) -> str:
    if step.superseded:  # not final: the next step at this rate decided
        return f"{step.status}, run again: {step.recheck}"
    if step.status == "failed":
        return "failed: " + (step.note or ", ".join(c.expression for c in step.slos
                                                    if not c.passed))  # fmt: skip
    text: str = step.status
    if step.note and step.status != "passed":
        text += f" ({step.note})"
    return text


def step_rows(result: CapacityResult) -> list[list[str]]:
    """One row of text cells per step, in :data:`STEP_HEADER`'s order."""
    rows = []
    for s in result.steps:
        f = s.figures
        stretched = " *" if s.stretched else ""
        rows.append([
            str(s.index),
            s.phase,
            f"{s.offered_rate:g}/s",
            fmt.rate(f.achieved_rate) if f else fmt.MISSING,
            (fmt.count(f.requests) if f else fmt.MISSING) + stretched,
            _s_ms(f.latency_p50_s) if f else fmt.MISSING,
            _s_ms(f.latency_p99_s) if f else fmt.MISSING,
            fmt.fraction(f.accuracy) if f else fmt.MISSING,
            fmt.percent(f.error_rate) if f else fmt.MISSING,
            fmt.rate(f.goodput) if f else fmt.MISSING,
            _status(s),
        ])  # fmt: skip
    return rows


def answer_lines(r: CapacityResult) -> list[str]:
    """The answer in a few lines: verdict, capacity and margin, what failed first, settings."""
    lines = [f"{_VERDICT[r.verdict]}: {r.reason}"]
    if r.capacity is not None:
        achieved = (f" (achieved {fmt.rate(r.capacity_achieved)})"
                    if r.capacity_achieved is not None else "")  # fmt: skip
        lines.append(f"Highest sustained rate meeting every SLO: {r.capacity:g}/s{achieved}")
    if r.first_failing_rate is not None:
        margin = f", margin {fmt.percent(r.margin)}" if r.margin is not None else ""
        kinds = " and ".join(r.failed_first_kinds) or "the endpoint"
        what = ", ".join(r.failed_first) or "no SLO figure (the endpoint answered nothing)"
        lines.append(f"First failing rate: {r.first_failing_rate:g}/s{margin}; "
                     f"{kinds} failed first: {what}")  # fmt: skip
    st = r.settings
    lines.append(
        f"SLOs: {'; '.join(r.slos)}. {len(r.steps)} steps of {fmt.seconds(st.step_duration_s)} "
        f"after a {fmt.seconds(st.warmup_s)} warm-up, at least {st.min_requests} requests each"
        f"; search took {fmt.seconds(r.wall_s)}"
    )
    rerun = sum(1 for s in r.steps if s.superseded)
    if rerun:
        lines.append(f"{rerun} step(s) run again at the same rate before deciding (a starved "
                     "generator, or a failure within noise); the last run at a rate decides")
    if any(s.stretched for s in r.steps):
        lines.append("* step lengthened to reach the minimum request count")
    return lines


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    last = len(header) - 1

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(w) if i in (1, last) else c.rjust(w)
               for i, (c, w) in enumerate(zip(cells, widths, strict=True))]  # fmt: skip
        return "  ".join(out).rstrip()

    return [line(header), *(line(row) for row in rows)]


def render_capacity_console(result: CapacityResult, folder: str | None = None) -> str:
    """The terminal view: the answer, then the steps' table."""
    lines = answer_lines(result)
    rows = step_rows(result)
    if rows:
        lines += ["", "Steps", *("  " + x for x in _aligned(STEP_HEADER, rows))]
    if folder:
        lines += ["", f"Capacity folder: {folder}"]
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_capacity_markdown(result: CapacityResult) -> str:
    """capacity.md: fits a CI job summary."""
    head, *rest = answer_lines(result)
    out = [f"# Capacity — {result.scenario}", "", f"**{head}**", ""]
    out += [f"- {line}" for line in rest]
    rows = step_rows(result)
    if rows:
        out += ["", "## Steps", "", "| " + " | ".join(STEP_HEADER) + " |",
                "|" + "|".join("---:" if i not in (1, 10) else "---"
                               for i in range(len(STEP_HEADER))) + "|"]  # fmt: skip
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"
