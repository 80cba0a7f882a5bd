"""A run folder's per-request results as columns: ``results.jsonl`` joined with ``rows.jsonl``.

One pass over ``results.jsonl`` with orjson, line by line, into typed columns; text values
(answers, predicted labels, errors) become integer codes into small tables as they are read,
so a million requests cost a few tens of MB, not a list of a million dicts. Every later
grouping is numpy over these columns.

Two line formats are read, line by line, with the same figures: the old one (each line repeats
its row's ``id``, ``expected`` and ``slices``, its ``users``, and writes ``got``, ``predicted``,
``error`` and ``lag_us`` always) and line format 2 (those are left out: the row's fields come
from rows.jsonl, users from the summary's stage figures, and a classification answer's
``predicted`` and ``got`` only when they differ from the row's expected text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.analysis.lines import (
    OUTCOME_CODE,
    TextCodes,
    add_line_row,
    chunk_by_line,
    factorize,
)
from stagecheck.analysis.rowstore import DatasetRows, RowInfo
from stagecheck.recording.recorder import OUTCOMES
from stagecheck.runfolder.plain_lines import parse_block

__all__ = ["OUTCOMES", "RunColumns", "RowInfo", "read_columns", "stage_users", "CORRECT",
           "INCORRECT", "UNPARSEABLE", "FAILED_CODES", "ANSWER_CODES"]  # fmt: skip

CORRECT, INCORRECT, UNPARSEABLE = 0, 1, 2
ANSWER_CODES = (0, 1, 2)  # requests with an answer that was scored
FAILED_CODES = (3, 4, 5)  # requests without an answer (transport failures)
_CHUNK = 1 << 23  # bytes read at a time


@dataclass
class RunColumns:
    """Per-request columns (equal length) plus the code tables they index into."""

    row: np.ndarray  # int64 dataset index
    t: np.ndarray  # float64 epoch seconds of the request's start
    outcome: np.ndarray  # int8 index into OUTCOMES
    predicted: np.ndarray  # int32 code into ``texts`` (-1: none)
    got: np.ndarray  # int32 code into ``texts`` (-1: none)
    error: np.ndarray  # int32 code into ``texts`` (-1: none)
    latency_us: np.ndarray  # int64
    stage: np.ndarray  # int32
    users: np.ndarray  # int32
    texts: list[str]  # distinct answer, label and error texts
    rows: DatasetRows  # dataset rows by index
    dataset_rows: int  # rows listed in rows.jsonl
    bad_lines: int  # results lines that could not be read

    @property
    def n(self) -> int:
        return int(self.row.shape[0])


def _blocks(path: Path) -> Iterator[bytes]:
    """A file in large blocks of whole lines (a cut last line included, on its own)."""
    if not path.is_file():
        return
    with path.open("rb") as f:
        rest = b""
        while block := f.read(_CHUNK):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield block[: cut - 1]
        if rest:
            yield rest


def _lines(path: Path) -> Iterator[bytes]:
    for block in _blocks(path):
        yield from block.split(b"\n")


_ABSENT = object()  # a key left out of a format-2 line, unlike a key written as null


def stage_users(summary: Mapping[str, Any]) -> dict[int, int]:
    """Users per stage index from a summary's stage figures (line format 2 does not repeat
    them on every line)."""
    out: dict[int, int] = {}
    for stage in summary.get("stages") or ():
        if isinstance(stage, Mapping):
            index, users = stage.get("index"), stage.get("users")
            if isinstance(index, int) and isinstance(users, int):
                out[index] = users
    return out


def read_columns(
    run_dir: Path, users: Mapping[int, int] | None = None, classification: bool = False
) -> RunColumns:
    """The columns of ``run_dir``; a missing results file gives zero requests. ``users`` maps a
    stage index to its users (:func:`stage_users`) for lines that do not carry them; a stage
    without an entry reads 0 users. ``classification``: a right answer's label is its row's
    expected text (:func:`stagecheck.runfolder.results.line_answer`)."""
    rows = DatasetRows(run_dir / "rows.jsonl")
    dataset_rows = rows.file_rows
    expected_of = rows.expected_of
    texts = TextCodes()
    parts: list[list[np.ndarray]] = []
    bad = 0
    for block in _blocks(run_dir / "results.jsonl"):
        # Old lines (each repeats its row's fields: nested objects) read faster one by one.
        old = b'"expected"' in block.partition(b"\n")[0]
        part = None if old else _whole_chunk(block, rows, texts, classification)
        if part is None:  # a broken or unusual line: line by line, leaving out what is unusable
            chunk = block.split(b"\n")
            part, chunk_bad = chunk_by_line(chunk, rows, expected_of, texts, classification)
            bad += chunk_bad
        if part is not None:
            parts.append(part)
    dtypes = (np.int64, np.int8, np.float64, np.int64, np.int32, np.int32, np.int32, np.int32,
              np.int32)  # fmt: skip
    merged = [
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype)
        for i, dtype in enumerate(dtypes)
    ]
    row, outcome, t, latency, predicted, got, error, stage, line_users = merged
    return RunColumns(
        row=row,
        t=t,
        outcome=outcome,
        predicted=predicted,
        got=got,
        error=error,
        latency_us=latency,
        stage=stage,
        users=_fill_users(line_users, stage, users or {}),
        texts=texts.texts,
        rows=rows,
        dataset_rows=dataset_rows,
        bad_lines=bad,
    )


_ROW, _OUTCOME, _T = itemgetter("row"), itemgetter("outcome"), itemgetter("t")
_LATENCY, _STAGE = itemgetter("latency_us"), itemgetter("stage")
_USERS = methodcaller("get", "users", -1)
_ERROR = methodcaller("get", "error")
_PREDICTED = methodcaller("get", "predicted", _ABSENT)
_GOT = methodcaller("get", "got", _ABSENT)


def _objects(values: Iterator[Any], n: int) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=n)


def _whole_chunk(
    block: bytes,
    rows: DatasetRows,
    texts: TextCodes,
    classification: bool,
) -> list[np.ndarray] | None:
    """A block's columns, taken a column at a time; None when a line is broken or unusual
    (then :func:`chunk_by_line` reads it). Plain lines (the five fields only) are read
    with numpy over the bytes (:func:`~stagecheck.runfolder.plain_lines.parse_block`); the
    others are parsed with orjson and taken field by field at C speed (``map``; a Python loop
    over the lines costs ~3 µs a request). The rule for predicted/got is
    :func:`stagecheck.runfolder.results.line_answer`'s, over whole columns."""
    plain = parse_block(block, labels=True)  # a wrong label's line too (no dict per line)
    if plain is None:
        return _orjson_chunk(block.split(b"\n"), rows, texts, classification)
    n, at = plain.n, plain.extra
    try:
        ds = list(map(orjson.loads, plain.extra_lines))
        row, t, latency, stage = plain.row, plain.t, plain.latency_us, plain.stage
        outcome = plain.outcome
        users = np.full(n, -1, np.int32)
        if ds:
            row[at] = np.asarray(list(map(_ROW, ds)), np.int64)
            names = list(map(_OUTCOME, ds))
            outcome[at] = np.asarray([OUTCOME_CODE[x] for x in names], np.int8)
            t[at] = np.asarray(list(map(_T, ds)), np.float64)
            latency[at] = np.asarray(list(map(_LATENCY, ds)), np.int64)
            stage[at] = np.asarray(list(map(_STAGE, ds)), np.int32)
            users[at] = np.asarray(list(map(_USERS, ds)), np.int32)
        if stage.size and int(stage.max()) > np.iinfo(np.int32).max:
            raise OverflowError  # as np.asarray(..., np.int32) raises on the lines' values
        stage = stage.astype(np.int32)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None
    predicted = np.full(n, _ABSENT, object)
    got = np.full(n, _ABSENT, object)
    error = np.full(n, None, object)
    if plain.labelled.size:  # a label alone: as orjson reads it, the others absent
        predicted[plain.labelled] = plain.labels
    if ds:
        predicted[at] = _objects(map(_PREDICTED, ds), len(ds))
        got[at] = _objects(map(_GOT, ds), len(ds))
        error[at] = _objects(map(_ERROR, ds), len(ds))

    if not rows.all_known(row):
        extra = dict(zip(at.tolist(), ds, strict=True))
        _add_rows(rows, row, lambda i: extra.get(i) or {"row": int(row[i])})
    return _answers(row, outcome, t, latency, predicted, got, error, stage, users, rows,
                    texts, classification)  # fmt: skip


def _orjson_chunk(
    chunk: list[bytes],
    rows: DatasetRows,
    texts: TextCodes,
    classification: bool,
) -> list[np.ndarray] | None:
    """A chunk's columns, parsed with orjson and taken field by field at C speed."""
    try:
        ds = list(map(orjson.loads, filter(None, chunk)))
        n = len(ds)
        if not n:
            return None
        row = np.asarray(list(map(_ROW, ds)), np.int64)
        local, names = factorize(list(map(_OUTCOME, ds)))
        outcome = np.asarray([OUTCOME_CODE[x] for x in names], np.int8)[local]
        t = np.asarray(list(map(_T, ds)), np.float64)
        latency = np.asarray(list(map(_LATENCY, ds)), np.int64)
        stage = np.asarray(list(map(_STAGE, ds)), np.int32)
        users = np.asarray(list(map(_USERS, ds)), np.int32)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None
    predicted = _objects(map(_PREDICTED, ds), n)
    got = _objects(map(_GOT, ds), n)
    error = _objects(map(_ERROR, ds), n)
    if not rows.all_known(row):  # rows.jsonl absent or cut: the lines' rows (old ones)
        _add_rows(rows, row, ds.__getitem__)
    return _answers(row, outcome, t, latency, predicted, got, error, stage, users, rows,
                    texts, classification)  # fmt: skip


def _add_rows(rows: DatasetRows, row: np.ndarray, line: Callable[[int], Any]) -> None:
    """rows.jsonl absent or cut: the rows of lines it lacks, from the lines themselves."""
    for i, r in enumerate(row.tolist()):
        if r not in rows:
            add_line_row(rows, line(i))


def _answers(
    row: np.ndarray,
    outcome: np.ndarray,
    t: np.ndarray,
    latency: np.ndarray,
    predicted: np.ndarray,
    got: np.ndarray,
    error: np.ndarray,
    stage: np.ndarray,
    users: np.ndarray,
    rows: DatasetRows,
    texts: TextCodes,
    classification: bool,
) -> list[np.ndarray]:
    """The nine columns, with predicted/got (object columns, ``_ABSENT`` where a line left
    the key out) resolved by the line-format rule and coded."""
    no_predicted, no_got = predicted == _ABSENT, got == _ABSENT
    only_predicted = no_got & ~no_predicted
    got[only_predicted] = predicted[only_predicted]  # classification: got is the label
    predicted[no_predicted & ~no_got] = None  # free text (or no label): no label
    neither = no_predicted & no_got
    predicted[neither] = got[neither] = None
    right = neither & (outcome == CORRECT)  # a right classification answer: the row's text
    if right.any():
        predicted[right] = got[right] = rows.expected_texts(row[right])
    if classification:  # a right label written with its raw answer only ("got")
        labelled = no_predicted & ~no_got & (outcome == CORRECT)
        if labelled.any():
            predicted[labelled] = rows.expected_texts(row[labelled])
    return [row, outcome, t, latency, texts.column(predicted), texts.column(got),
            texts.column(error), stage, users]  # fmt: skip


def _fill_users(users: np.ndarray, stage: np.ndarray, by_stage: Mapping[int, int]) -> np.ndarray:
    """Lines without ``users`` (-1) take their stage's users (0 when the summary has none)."""
    missing = users < 0
    if missing.any():
        stages = stage[missing]
        fill = np.zeros(stages.shape[0], np.int32)
        for index, n in by_stage.items():
            fill[stages == index] = n
        users[missing] = fill
    return users
