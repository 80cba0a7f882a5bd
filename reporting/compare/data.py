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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.errors import InputError
from stagecheck.reporting.model import ERROR_OUTCOMES, Report
from stagecheck.reporting.read import build_report
from stagecheck.runfolder.results import line_answer

__all__ = ["RunRows", "RunData", "load_run", "read_inputs", "RESULTS_FILE", "ROWS_FILE"]

RESULTS_FILE = "results.jsonl"
ROWS_FILE = "rows.jsonl"
_SCORED = frozenset({"correct", "incorrect", "unparseable"})


@dataclass(frozen=True)
class RunRows:
    """One entry per distinct dataset row sent, in first-seen order; parallel tuples.

    ``key`` is the dataset id (``id``) when the results carry one, else ``#<row index>``.
    """

    key: tuple[str, ...]
    #: The dataset row index of each entry (-1 when the results line had none).
    row: np.ndarray
    expected: tuple[str | None, ...]
    slices: tuple[Mapping[str, str], ...]
    #: 1 correct, 0 wrong (incorrect or unparseable), -1 sent but not scored (every request failed).
    correct: np.ndarray
    #: The first scored answer (``got``), None when not scored.
    answer: tuple[str | None, ...]
    #: The outcome of the row's last failed request ("" when none failed).
    failure: tuple[str, ...]
    #: Requests made for the row (×N when replayed).
    requests: np.ndarray
    #: The input text, when the results line carried it (rows.jsonl is read on demand otherwise).
    inputs: Mapping[int, str]
    #: Scored answers of the row, and how many of them were right: its share of right answers
    #: (the paired test's unit when rows are replayed).
    answers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    right: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.key)

    @property
    def scored(self) -> int:
        return int((self.correct >= 0).sum())


@dataclass(frozen=True)
class RunData:
    """A run folder as compare sees it."""

    path: Path | None
    summary: Mapping[str, Any]
    report: Report
    #: None when the folder has no results.jsonl (only summary figures can be compared then).
    rows: RunRows | None = None
    #: Sorted end-to-end latencies (µs) of every request that has one; None without results.
    latency_us: np.ndarray | None = None
    #: Requests and failed requests counted from results.jsonl (None without it).
    requests: int | None = None
    failed: int | None = None


#: A dataset row's fixed fields from rows.jsonl: ``(id, expected, slices)``.
_RowFields = tuple[object, object, object]


def _read_row_fields(path: Path) -> dict[int, _RowFields]:
    """``row`` → its fixed fields, from rows.jsonl (empty when the file is missing)."""
    out: dict[int, _RowFields] = {}
    try:
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # a broken row line: its requests compare by row index
                if isinstance(line, dict) and isinstance(line.get("row"), int):
                    out[line["row"]] = (line.get("id"), line.get("expected"), line.get("slices"))
    except OSError:
        pass
    return out


class _Fold:
    """Per-row state while results.jsonl is read."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.key: list[str] = []
        self.row = array("q")
        self.expected: list[str | None] = []
        self.slices: list[Mapping[str, str]] = []
        # Typed arrays, not lists: 4-8 bytes a row instead of a pointer plus an object.
        self.scored = array("l")
        self.right = array("l")
        self.first_t = array("d")
        self.first_right = array("b")
        self.answer: list[str | None] = []
        self.failure: list[str] = []
        self.requests = array("l")
        self.inputs: dict[int, str] = {}
        # Rows share a few slice combinations and labels: keep one copy of each.
        self._slice_sets: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
        self._strings: dict[str, str] = {}

    def text(self, value: object) -> str | None:
        if value is None:
            return None
        s = str(value)
        return self._strings.setdefault(s, s)

    def slot(self, line: Mapping[str, Any], joined: _RowFields | None = None) -> int:
        """The entry of the line's row; ``joined``: the row's fields from rows.jsonl, for a
        line (format 2) that does not repeat them."""
        raw_id = line.get("id")
        row = line.get("row")
        if joined is not None and raw_id is None:
            raw_id = joined[0]
        key = str(raw_id) if raw_id is not None else f"#{row}"
        k = self.index.get(key)
        if k is None:
            k = self.index[key] = len(self.key)
            self.key.append(key)
            self.row.append(row if isinstance(row, int) else -1)
            if joined is None or "expected" in line:
                expected, slices = line.get("expected"), line.get("slices")
            else:
                _, expected, slices = joined
            self.expected.append(self.text(expected))
            items = (
                tuple((str(f), str(v)) for f, v in slices.items())
                if isinstance(slices, dict)
                else ()
            )
            shared = self._slice_sets.get(items)
            if shared is None:
                shared = self._slice_sets[items] = dict(items)
            self.slices.append(shared)
            self.scored.append(0)
            self.right.append(0)
            self.first_t.append(float("inf"))
            self.first_right.append(0)
            self.answer.append(None)
            self.failure.append(self.text("") or "")
            self.requests.append(0)
            text = line.get("input")
            if isinstance(text, str) and isinstance(row, int):
                self.inputs[row] = text
        return k

    def rows(self) -> RunRows:
        scored = np.asarray(self.scored, dtype=np.int64)
        right = np.asarray(self.right, dtype=np.int64)
        first = np.asarray(self.first_right, dtype=np.int64)
        del self.scored, self.right, self.first_right, self.first_t
        # Majority of the scored answers; a tie goes to the first scored answer.
        correct = np.where(2 * right > scored, 1, np.where(2 * right < scored, 0, first))
        correct = np.where(scored > 0, correct, -1).astype(np.int8)
        return RunRows(
            key=tuple(self.key),
            row=np.frombuffer(self.row, dtype=np.int64).copy(),
            expected=tuple(self.expected),
            slices=tuple(self.slices),
            correct=correct,
            answer=tuple(self.answer),
            failure=tuple(self.failure),
            requests=np.asarray(self.requests, dtype=np.int64),
            inputs=self.inputs,
            answers=scored,
            right=right,
        )


def _read_results(path: Path) -> tuple[RunRows, np.ndarray, int, int]:
    """Fold results.jsonl, old lines or line format 2 (which names its row only by ``row``:
    the row's id, expected text and slices are joined from rows.jsonl beside it). One pass, a
    few dict lookups a line (this loop runs a million times for a 1 M-request run)."""
    fold = _Fold()
    latencies = array("q")
    append_latency = latencies.append
    requests = failed = 0
    joined: dict[int, _RowFields] | None = None  # rows.jsonl, read at the first format-2 line
    by_row: dict[int, int] = {}  # format 2: row index → entry
    loads, errors, scored_outcomes = orjson.loads, ERROR_OUTCOMES, _SCORED
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
                            joined = _read_row_fields(path.parent / ROWS_FILE)
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
    report = build_report(summary)
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
    try:
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # an input text is a nicety here, not worth failing the compare
                row = line.get("row") if isinstance(line, dict) else None
                if row in wanted and isinstance(line.get("input"), str):
                    found[row] = line["input"]
                    wanted.discard(row)
                    if not wanted:
                        break
    except OSError:
        pass
    return found
