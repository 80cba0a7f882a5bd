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
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.errors import InputError
from stagecheck.recording.recorder import FAILURE_OUTCOMES, OUTCOMES
from stagecheck.runfolder.plain_lines import parse_block
from stagecheck.runfolder.results import line_answer
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

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
    report: Summary
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


_Results = tuple[RunRows, np.ndarray, int, int]


def _read_results(path: Path) -> _Results:
    """Fold results.jsonl: a file of format-2 lines by columns (:func:`_fold_columns`), any
    other one line by line (:func:`_fold_lines`); both give the same figures."""
    try:
        folded = _fold_columns(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return folded if folded is not None else _fold_lines(path)


# keys of the old lines (a row's own fields): such a file is folded line by line
_ROW_KEYS = frozenset(("id", "expected", "slices", "input"))


def _fold_columns(path: Path) -> _Results | None:
    """Fold a results file whose lines are all format 2 (the common case) a column at a time:
    its plain lines read with numpy (:mod:`stagecheck.runfolder.plain_lines`), the others with
    orjson. None when a line is of another kind (then :func:`_fold_lines` reads the file). The
    rules are :func:`_fold_lines`'s, over whole columns."""
    blocks: list[_Block] = []
    names = list(OUTCOMES)  # outcome codes: OUTCOMES', then any other name a line gives
    with path.open("rb") as f:
        rest = b""
        while data := f.read(_BLOCK):
            block, rest = _whole_lines(rest + data)
            if block and not _add_block(block, blocks, names):
                return None
        if rest and not _add_block(rest, blocks, names):
            return None
    if not blocks:
        return None
    row, code, t, latency = (np.concatenate([b[i] for b in blocks]) for i in range(4))
    lines: dict[int, Any] = {}  # position in the file → a line with more than the plain fields
    offset = 0
    for b in blocks:
        lines.update(zip((b[4] + offset).tolist(), b[5], strict=True))
        offset += b[0].size
    return _fold_arrays(path, row, code, names, t, latency, lines)


_BLOCK = 1 << 23  # bytes read at a time
# a block's columns (row, outcome code, t, latencies), its other lines' positions and lines
_Block = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]


def _whole_lines(data: bytes) -> tuple[bytes, bytes]:
    """``data`` cut after its last newline: (whole lines without it, the rest)."""
    cut = data.rfind(b"\n") + 1
    return (data[: cut - 1] if cut else b""), data[cut:]


def _add_block(block: bytes, blocks: list[_Block], names: list[str]) -> bool:
    """Read a block into ``blocks``; False when a line is not format 2."""
    plain = parse_block(block)
    if plain is None:
        return False
    try:
        lines = list(map(orjson.loads, plain.extra_lines))
    except orjson.JSONDecodeError:
        return False
    at = plain.extra
    row, t, latency = plain.row, plain.t, plain.latency_us
    code = plain.outcome.astype(np.int64)
    has_latency = np.ones(row.size, bool)
    if lines:
        # (C-speed checks: set(map(type, ...)), not a Python loop over the lines)
        if not set(map(type, lines)) <= {dict} or not all(map(_ROW_KEYS.isdisjoint, lines)):
            return False
        rows, ts, outcomes = (list(map(g, lines)) for g in (_GET_ROW, _GET_T, _GET_OUTCOME))
        if not set(map(type, rows)) <= {int} or not set(map(type, outcomes)) <= {str}:
            return False
        if not set(map(type, ts)) <= {int, float}:
            return False
        try:
            finite = bool(np.isfinite(np.asarray(ts, np.float64)).all())
        except OverflowError:
            return False
        if not finite:
            return False  # t is used as written only when it is a finite number
        row[at], t[at] = rows, ts
        for o in set(outcomes) - set(names):
            names.append(o)
        index = {name: i for i, name in enumerate(names)}
        code[at] = [index[o] for o in outcomes]
        lat = list(map(_GET_LATENCY, lines))
        if set(map(type, lat)) <= {int}:  # the common case: every line has its latency
            latency[at] = lat
        else:
            has_latency[at] = [isinstance(x, int) for x in lat]
            latency[at] = [x if isinstance(x, int) else 0 for x in lat]
    blocks.append((row, code, t, latency[has_latency], at, lines))
    return True


_GET_ROW, _GET_T, _GET_OUTCOME, _GET_LATENCY = (
    methodcaller("get", k) for k in ("row", "t", "outcome", "latency_us")
)


def _fold_arrays(
    path: Path,
    row: np.ndarray,
    code: np.ndarray,
    names: list[str],
    t: np.ndarray,
    latency: np.ndarray,
    lines: Mapping[int, Any],
) -> _Results:
    """:func:`_fold_lines`'s fold of format-2 lines given as columns (``code``: the outcome's
    index in ``names``; ``lines``: the lines with more than the plain five fields, by
    position)."""
    fold = _Fold()
    joined = _read_row_fields(path.parent / ROWS_FILE)
    # entries: a row's key is its id from rows.jsonl ("#<row>" without one), in first-seen order
    distinct, first, where = _distinct(row)
    entry_of = np.zeros(distinct.size, np.int64)
    for j in np.argsort(first, kind="stable").tolist():
        r = int(distinct[j])
        entry_of[j] = fold.slot({"row": r}, joined.get(r))
    entry = entry_of[where]
    size = len(fold.key)
    failed_codes = [i for i, n in enumerate(names) if n in FAILURE_OUTCOMES]
    scored_codes = [i for i, n in enumerate(names) if n in _SCORED]
    right_code = names.index("correct")
    is_failed, is_scored = np.isin(code, failed_codes), np.isin(code, scored_codes)
    is_right = code == right_code
    fold.requests = np.bincount(entry, minlength=size)  # type: ignore[assignment]
    fold.scored = np.bincount(entry[is_scored], minlength=size)  # type: ignore[assignment]
    fold.right = np.bincount(entry[is_right], minlength=size)  # type: ignore[assignment]
    failed_at = np.flatnonzero(is_failed)
    last = dict(zip(entry[failed_at].tolist(), code[failed_at].tolist(), strict=True))
    for k, c in last.items():
        fold.failure[k] = fold.text(names[c]) or ""  # the last failure of the row
    # the first scored answer: the earliest t, then the first in the file
    scored_at = np.flatnonzero(is_scored)
    scored_entry, scored_t = entry[scored_at], t[scored_at]
    earliest = np.full(size, np.inf)
    np.minimum.at(earliest, scored_entry, scored_t)
    tied = scored_t == earliest[scored_entry]
    pick = np.full(size, row.size, np.int64)
    np.minimum.at(pick, scored_entry[tied], scored_at[tied])
    picked = np.sort(pick[pick < row.size])
    first_right = np.zeros(size, np.int64)
    first_right[entry[picked]] = is_right[picked]
    fold.first_right = first_right  # type: ignore[assignment]
    for k, i in zip(entry[picked].tolist(), picked.tolist(), strict=True):
        line = lines.get(i)
        if line is not None:
            fold.answer[k] = fold.text(line_answer(line, fold.expected[k])[1])
        elif code[i] == right_code:  # a plain line: right, its label the row's expected text
            fold.answer[k] = fold.expected[k]
    latency.sort()
    return fold.rows(), latency, int(row.size), int(is_failed.sum())


_DENSE_ROWS = 1 << 26  # row numbers below this are indexed directly (rows.jsonl's are 0..N-1)


def _distinct(row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct row numbers, the position of each one's first line, and each line's index
    into them: ``np.unique(row, return_index=True, return_inverse=True)``, by direct indexing
    when the numbers are small (no sort of a million lines)."""
    if not row.size or int(row.min()) < 0 or int(row.max()) >= _DENSE_ROWS:
        distinct, first, where = np.unique(row, return_index=True, return_inverse=True)
        return distinct, first, where.reshape(-1)
    first_of = np.full(int(row.max()) + 1, row.size, np.int64)
    np.minimum.at(first_of, row, np.arange(row.size))
    distinct = np.flatnonzero(first_of < row.size)
    slot = np.zeros(first_of.size, np.int64)
    slot[distinct] = np.arange(distinct.size)
    return distinct, first_of[distinct], slot[row]


def _fold_lines(path: Path) -> _Results:
    """Fold results.jsonl, old lines or line format 2 (which names its row only by ``row``:
    the row's id, expected text and slices are joined from rows.jsonl beside it). One pass, a
    few dict lookups a line (this loop runs a million times for a 1 M-request run)."""
    fold = _Fold()
    latencies = array("q")
    append_latency = latencies.append
    requests = failed = 0
    joined: dict[int, _RowFields] | None = None  # rows.jsonl, read at the first format-2 line
    by_row: dict[int, int] = {}  # format 2: row index → entry
    loads, errors, scored_outcomes = orjson.loads, frozenset(FAILURE_OUTCOMES), _SCORED
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
