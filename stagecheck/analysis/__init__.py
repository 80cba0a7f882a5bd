"""The error analysis of a run, built from its run folder: why is it wrong where it is wrong?

``analyse_run(run_dir, summary)`` reads ``results.jsonl`` (one line per request) joined with
``rows.jsonl`` (each dataset row once) and returns an :class:`Analysis`: replays, off-label
answers, top confusions, where errors concentrate (slices, crossings, input lengths, classes;
tested against the rest of the run with a Holm correction), failures by cause, errors against
load, the timeline, consistency of repeated rows, goodput, and every wrong answer ×N.

Used at the end of a run and by ``stagecheck report`` (``summary["analysis"]``). Numpy over
columns read once with orjson: a synthetic 1 M-request run folder takes a few seconds
(``benchmarks/analysis_scale.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stagecheck.analysis.schema import Analysis

__all__ = ["analyse_run", "Analysis"]


def analyse_run(run_dir: Path, summary: Mapping[str, Any]) -> Analysis:
    """The error analysis of the run folder ``run_dir`` whose summary is ``summary``."""
    # Imported here, not above: every report reads the Analysis model, and only this needs
    # numpy, pandas and the sections (half a second of imports for `stagecheck compare`).
    from stagecheck.analysis.answers import consistency, replays, wrong_answers
    from stagecheck.analysis.columns import read_columns, stage_users
    from stagecheck.analysis.frame import Frame
    from stagecheck.analysis.groups import concentrations, confusions, off_label
    from stagecheck.analysis.load import failures, goodput, load_levels, timeline

    cols = read_columns(Path(run_dir), stage_users(summary), bool(summary.get("classes")))
    fr = Frame.build(cols, summary)
    notes: list[str] = []
    if cols.bad_lines:
        notes.append(f"{cols.bad_lines:,} unreadable lines of results.jsonl are left out")
    if not (Path(run_dir) / "rows.jsonl").is_file():
        notes.append("no rows.jsonl (an older run folder): inputs are not shown")
    groups, group_notes = concentrations(fr)
    wrong, wrong_total, wrong_notes = wrong_answers(fr)
    return Analysis(
        replays=replays(fr),
        off_label=off_label(fr),
        confusions=confusions(fr),
        concentrations=groups,
        failures=failures(fr),
        load=load_levels(fr),
        timeline=timeline(fr),
        consistency=consistency(fr),
        goodput=goodput(fr),
        wrong=wrong,
        wrong_total=wrong_total,
        notes=[*notes, *group_notes, *wrong_notes],
    )
