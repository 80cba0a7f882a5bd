"""Results lines read one at a time into the analysis's columns: old lines (each repeating its
row's fields) and blocks holding a broken or unusual line; and the codes the columns hold for
answer, label and error texts (each text stored once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from stagecheck.analysis.rowstore import DatasetRows, RowInfo
from stagecheck.recording.recorder import OUTCOMES
from stagecheck.runfolder.results import line_answer

__all__ = ["OUTCOME_CODE", "TextCodes", "factorize", "chunk_by_line", "add_line_row"]

OUTCOME_CODE = {name: i for i, name in enumerate(OUTCOMES)}


class TextCodes:
    """Answer, label and error texts, each stored once; columns hold their codes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.texts: list[str] = []

    def code(self, value: object) -> int:
        text = value if type(value) is str else str(value)
        c = self.codes.get(text)
        if c is None:
            c = self.codes[text] = len(self.texts)
            self.texts.append(text)
        return c

    def column(self, values: Sequence[object] | np.ndarray) -> np.ndarray:
        """Codes of a chunk's values (-1 for None): factorised, then only the chunk's distinct
        values are looked up."""
        local, uniques = factorize(values)
        table = np.fromiter((self.code(u) for u in uniques), np.int32, count=len(uniques))
        table = np.append(table, np.int32(-1))  # local -1 (None) picks the last entry
        return table[local]


def factorize(values: Sequence[object] | np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Each value's index among the distinct values (-1 for None), and the distinct values in
    the order they first appear: what ``pandas.factorize`` gives, without importing pandas
    (half a second of a run's CPU) for it. Both loops are C's (``dict.fromkeys``, ``map``)."""
    if isinstance(values, np.ndarray):
        values = values.tolist()  # iterating a list is several times faster
    uniques = [v for v in dict.fromkeys(values) if v is not None]
    lookup: dict[Any, int] = {v: i for i, v in enumerate(uniques)}
    lookup[None] = -1
    codes = np.fromiter(map(lookup.__getitem__, values), np.int64, count=len(values))
    return codes, uniques


_OLD_LINE = itemgetter("row", "outcome", "t", "latency_us", "predicted", "got", "error", "stage",
                       "users")  # fmt: skip


_Line = tuple[Any, ...]


def _lenient_line(d: Any, expected_of: Callable[[int], str | None], classification: bool) -> _Line:
    """The fields of a results line that lacks some of them (an older run): defaults."""
    predicted, got = line_answer(d, expected_of(d["row"]), classification)
    return (d["row"], d["outcome"], d["t"], d.get("latency_us") or 0, predicted, got,
            d.get("error"), d.get("stage") or 0, d.get("users", -1))  # fmt: skip


def _checked(line: _Line) -> _Line | None:
    """One line's fields with their types checked, or None when it is unusable."""
    r, o, t, lat, pred, got, err, stage, users = line
    try:
        return (int(r), OUTCOME_CODE[o], float(t), int(lat or 0), pred, got, err,
                int(stage or 0), int(users or 0))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def _columns(lines: list[_Line], texts: TextCodes) -> list[np.ndarray]:
    """A chunk's lines as its nine columns (raises on a value of the wrong type)."""
    r, o, t, lat, pred, got, err, stage, users = zip(*lines, strict=True)
    codes = OUTCOME_CODE
    return [
        np.asarray(r, dtype=np.int64),
        np.asarray([codes[x] if type(x) is str else x for x in o], dtype=np.int8),
        np.asarray(t, dtype=np.float64),
        np.asarray(lat, dtype=np.int64),
        texts.column(pred),
        texts.column(got),
        texts.column(err),
        np.asarray(stage, dtype=np.int32),
        np.asarray(users, dtype=np.int32),
    ]


def chunk_by_line(
    chunk: list[bytes],
    rows: DatasetRows,
    expected_of: Callable[[int], str | None],
    texts: TextCodes,
    classification: bool,
) -> tuple[list[np.ndarray] | None, int]:
    """A chunk's columns read line by line, and how many of its lines are unusable."""
    lines: list[_Line] = []
    bad = 0
    for raw in chunk:
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            bad += raw.strip() != b""
            continue
        try:
            line = _OLD_LINE(d)  # an old line writes every field: read as written
        except (KeyError, TypeError):
            try:
                line = _lenient_line(d, expected_of, classification)
            except (KeyError, TypeError, AttributeError):
                bad += 1
                continue
        if line[0] not in rows:  # rows.jsonl absent (an older run) or cut: the line has them
            add_line_row(rows, d)
        lines.append(line)
    if not lines:
        return None, bad
    try:
        return _columns(lines, texts), bad
    except (KeyError, TypeError, ValueError, OverflowError):
        kept = [c for c in map(_checked, lines) if c is not None]
        bad += len(lines) - len(kept)
        return (_columns(kept, texts) if kept else None), bad


def add_line_row(rows: DatasetRows, d: Any) -> None:
    try:
        r = int(d["row"])
        rows.add(
            r,
            RowInfo(
                id=str(d.get("id", r)),
                input="",
                expected=str(d.get("expected") or ""),
                slices={str(k): str(v) for k, v in (d.get("slices") or {}).items()},
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        pass

