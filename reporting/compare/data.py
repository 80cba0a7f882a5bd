"""What ``compare`` reads from a run folder: its summary and, per dataset row, whether it was right.

``results.jsonl`` (one line per request, old lines or line format 2 joined with ``rows.jsonl``:
:mod:`stagecheck.runfolder.results`) is read line by line with orjson and folded as it is read:
memory grows with the number of distinct rows, not with the number of requests. Latencies
are kept as one integer array per run (8 bytes a request), the raw values the distribution tests
need.

A row answered several times (several passes, a timed run) is **correct when most of its scored
answers were correct**; a tie is settled by its first scored answer (earliest ``t``). Its answer
shown is that first scored answer. A row is *scored* when at least one of its requests got an
answer (``correct``, ``incorrect`` or ``unparseable``); a row whose every request failed
(``http_error``, ``timeout``, ``connection_error``) is *sent but not scored*.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.errors import InputError
from stagecheck.recording.recorder import FAILURE_OUTCOMES
from stagecheck.reporting.compare.columnar import fold_columns
from stagecheck.reporting.compare.fold import (
    ROWS_FILE,
    SCORED,
    Results,
    RowFields,
    RowFold,
    RunRows,
    read_row_fields,
)
from stagecheck.runfolder.results import line_answer
from stagecheck.runfolder.rows import row_lines
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = ["RunRows", "RunData", "load_run", "read_inputs", "RESULTS_FILE", "ROWS_FILE"]

RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True)
class RunData:
    """A run folder as compare sees it."""

    path: Path | None
    summary: Mapping[str, Any]
    report: Summary
    #: None when the folder has no results.jsonl (only summary figures can be compared then).
    rows: RunRows | None = None
    #: Sorted end-to-end latencies (µs) of every request that has one; None without results.
    latency_us: np.ndarray | None = None
    #: Requests and failed requests counted from results.jsonl (None without it).
    requests: int | None = None
    failed: int | None = None


def _read_results(path: Path) -> Results:
    """Fold results.jsonl: a file of format-2 lines by columns (:func:`fold_columns`), any
    other one line by line (:func:`_fold_lines`); both give the same figures."""
    try:
        folded = fold_columns(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return folded if folded is not None else _fold_lines(path)


def _fold_lines(path: Path) -> Results:
    """Fold results.jsonl, old lines or line format 2 (which names its row only by ``row``:
    the row's id, expected text and slices are joined from rows.jsonl beside it). One pass, a
    few dict lookups a line (this loop runs a million times for a 1 M-request run)."""
    fold = RowFold()
    latencies = array("q")
    append_latency = latencies.append
    requests = failed = 0
    joined: dict[int, RowFields] | None = None  # rows.jsonl, read at the first format-2 line
    by_row: dict[int, int] = {}  # format 2: row index → entry
    loads, errors, scored_outcomes = orjson.loads, frozenset(FAILURE_OUTCOMES), SCORED
    counts, scored, right_n = fold.requests, fold.scored, fold.right
    first_t, first_right, failure = fold.first_t, fold.first_right, fold.failure
    try:
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    line = loads(raw)
                except orjson.JSONDecodeError:
                    if not raw.strip():
                        continue
                    raise InputError(f"{path}:{number}: not valid JSON") from None
                if type(line) is not dict:
                    raise InputError(f"{path}:{number}: expected a JSON object")
                requests += 1
                get = line.get
                latency = get("latency_us")
                if isinstance(latency, int):
                    append_latency(latency)
                row = get("row")
                if type(row) is not int or "id" in line:
                    k = fold.slot(line)
                else:
                    k = by_row.get(row, -1)
                    if k < 0:
                        if joined is None:
                            joined = read_row_fields(path.parent / ROWS_FILE)
                        k = by_row[row] = fold.slot(line, joined.get(row))
                counts[k] += 1
                outcome = get("outcome")
                if outcome in errors:
                    failed += 1
                    failure[k] = fold.text(outcome) or ""
                    continue
                if outcome not in scored_outcomes:
                    continue
                right = 1 if outcome == "correct" else 0
                scored[k] += 1
                right_n[k] += right
                t = get("t")
                t = float(t) if isinstance(t, (int, float)) else float(number)
                if t < first_t[k]:
                    first_t[k] = t
                    first_right[k] = right
                    fold.answer[k] = fold.text(line_answer(line, fold.expected[k])[1])
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    values = np.frombuffer(latencies, dtype=np.int64).copy()
    values.sort()
    return fold.rows(), values, requests, failed


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder: summary.json (required) and results.jsonl (when present)."""
    from stagecheck.reporting import (
        load_summary,  # the package's loader: one-line errors, schema check
    )

    folder = Path(run_dir)
    summary = load_summary(folder)
    report = load_summary_model(summary)
    results = (folder if folder.is_dir() else folder.parent) / RESULTS_FILE
    if not results.is_file():
        return RunData(folder, summary, report)
    rows, latencies, requests, failed = _read_results(results)
    return RunData(folder, summary, report, rows, latencies, requests, failed)


def read_inputs(run: RunData, rows: Collection[int]) -> dict[int, str]:
    """Input texts of the given dataset rows: from the results lines, else rows.jsonl."""
    found: dict[int, str] = {}
    if run.rows is not None:
        found.update((r, run.rows.inputs[r]) for r in rows if r in run.rows.inputs)
    wanted = set(rows) - found.keys()
    if not wanted or run.path is None:
        return found
    path = (run.path if run.path.is_dir() else run.path.parent) / ROWS_FILE
    if not path.is_file():
        return found
    for line in row_lines(path):  # an input text is a nicety here: a broken line is passed over
        if line["row"] in wanted and isinstance(line.get("input"), str):
            found[line["row"]] = line["input"]
            wanted.discard(line["row"])
            if not wanted:
                break
    return found
