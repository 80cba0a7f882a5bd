"""A run's verdict from its summary and its run folder: the error analysis, then the thresholds.

At the end of a run the controller calls :func:`complete_summary`; ``stagecheck report`` calls
:func:`rejudge_run_folder`, which recomputes the analysis and judges the thresholds again (the
run's own, or new ones given with ``--threshold``) from what the run folder holds, so an old run
can be judged by today's gates. The validity of a run is never re-decided: what made it invalid
happened during the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from stagecheck.errors import InputError, one_line
from stagecheck.judging.thresholds import parse_threshold
from stagecheck.recording.recorder import new_histogram
from stagecheck.summary.build import judge

__all__ = ["complete_summary", "rejudge_run_folder", "logged_histograms"]

log = logging.getLogger("stagecheck")

_REJUDGED = "thresholds judged again by stagecheck report: "
_RESTORED = (
    "the run's own thresholds judged again, from scenario.yaml (an older stagecheck report "
    "--threshold had replaced them in summary.json)"
)

Histograms = Callable[[str], "HdrHistogram | None"]


def complete_summary(
    summary: dict[str, Any],
    run_dir: Path | None,
    gates: Sequence[str],
    histograms: Histograms | None,
) -> None:
    """Add the error analysis of ``run_dir`` to a final summary and judge ``gates`` again with it
    (``goodput`` needs it). An analysis that cannot be built is a note, never a lost verdict."""
    if run_dir is not None and (run_dir / "results.jsonl").exists():
        from stagecheck.analysis import analyse_run  # report time only (numpy over the folder)

        try:
            analysis = analyse_run(run_dir, summary)
        except Exception as exc:  # noqa: BLE001 - the figures and the verdict must still be written
            log.exception("error analysis failed")
            summary.setdefault("notes", []).append(
                f"the error analysis could not be built: {one_line(f'{type(exc).__name__}: {exc}')}"
            )
        else:
            summary["analysis"] = analysis.model_dump(mode="json")
    judge(summary, gates, histograms)


def logged_histograms(run_dir: Path) -> Histograms:
    """Timing → histogram read back from ``latency.hlog`` (end-to-end latency only: time to
    first token and inter-token latency are not logged, so only their summary percentiles are
    known after the run)."""
    cache: dict[str, HdrHistogram | None] = {}

    def histograms(timing: str) -> HdrHistogram | None:
        if timing != "e2e":
            return None
        if timing not in cache:
            cache[timing] = _read_hlog(run_dir / "latency.hlog")
        return cache[timing]

    return histograms


def _read_hlog(path: Path) -> HdrHistogram | None:
    if not path.exists():
        return None
    total = new_histogram()
    reader = HistogramLogReader(str(path), new_histogram())
    while (h := reader.get_next_interval_histogram()) is not None:
        total.add(h)
    return total if total.get_total_count() else None


def rejudge_run_folder(
    run_dir: Path, summary: dict[str, Any], thresholds: Sequence[str] | None = None
) -> dict[str, Any]:
    """The summary of a run folder with its analysis rebuilt and its thresholds judged again:
    ``thresholds`` (expressions) replace the run's own when given. Bad expressions raise
    :class:`InputError`, one line each."""
    gates = (
        list(thresholds)
        if thresholds
        else [t["expression"] for t in summary.get("thresholds") or [] if "expression" in t]
    )
    if not thresholds and _rejudged(summary):
        # An older stagecheck wrote a re-judged verdict over the run's own: its thresholds are
        # still in the scenario as run.
        own = _scenario_gates(run_dir)
        if own is not None:
            gates = own
            notes = [n for n in summary.get("notes") or [] if not str(n).startswith(_REJUDGED)]
            summary["notes"] = [*notes, _RESTORED]
    problems = []
    for text in gates:
        try:
            parse_threshold(text)
        except ValueError as exc:
            problems.append(f"--threshold '{one_line(text)}': {exc}")
    if problems:
        raise InputError(problems)
    if thresholds:
        notes = [n for n in summary.get("notes") or [] if not str(n).startswith(_REJUDGED)]
        summary["notes"] = [*notes, _REJUDGED + "; ".join(gates)]
    complete_summary(summary, run_dir, gates, logged_histograms(run_dir))
    return summary


def _rejudged(summary: dict[str, Any]) -> bool:
    return any(str(n).startswith(_REJUDGED) for n in summary.get("notes") or [])


def _scenario_gates(run_dir: Path) -> list[str] | None:
    """The thresholds of the scenario as run (``scenario.yaml``), or None when unreadable."""
    from stagecheck.scenario.schema import DEFAULT_GATES
    from stagecheck.scenario.yamlread import YAMLProblem, read_yaml

    try:  # the scenario reader: bounded in size, depth and aliases
        _, raw = read_yaml((run_dir / "scenario.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLProblem):
        return None
    if not isinstance(raw, dict):
        return None
    gates = raw.get("thresholds", None)
    if gates is None:
        return list(DEFAULT_GATES)
    if isinstance(gates, list) and all(isinstance(g, str) for g in gates):
        return list(gates)
    return None
