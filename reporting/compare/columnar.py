"""A results file whose lines are all format 2 (the common case), folded a column at a time:
its plain lines read with numpy (:mod:`stagecheck.runfolder.plain_lines`), the others with
orjson; the figures are those of the line-by-line fold (:mod:`.data`)."""

from __future__ import annotations

from collections.abc import Mapping
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.recording.recorder import FAILURE_OUTCOMES, OUTCOMES
from stagecheck.reporting.compare.fold import ROWS_FILE, SCORED, Results, RowFold, read_row_fields
from stagecheck.runfolder.plain_lines import parse_block
from stagecheck.runfolder.results import line_answer

__all__ = ["fold_columns"]

# keys of the old lines (a row's own fields): such a file is folded line by line
_ROW_KEYS = frozenset(("id", "expected", "slices", "input"))


def fold_columns(path: Path) -> Results | None:
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
) -> Results:
    """:func:`_fold_lines`'s fold of format-2 lines given as columns (``code``: the outcome's
    index in ``names``; ``lines``: the lines with more than the plain five fields, by
    position)."""
    fold = RowFold()
    joined = read_row_fields(path.parent / ROWS_FILE)
    # entries: a row's key is its id from rows.jsonl ("#<row>" without one), in first-seen order
    distinct, first, where = _distinct(row)
    entry_of = np.zeros(distinct.size, np.int64)
    for j in np.argsort(first, kind="stable").tolist():
        r = int(distinct[j])
        entry_of[j] = fold.slot({"row": r}, joined.get(r))
    entry = entry_of[where]
    size = len(fold.key)
    failed_codes = [i for i, n in enumerate(names) if n in FAILURE_OUTCOMES]
    scored_codes = [i for i, n in enumerate(names) if n in SCORED]
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

