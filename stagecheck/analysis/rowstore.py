"""The dataset rows of a run folder (``rows.jsonl``) held as columns, for the analysis.

A million rows as one ``RowInfo`` each (with its id, input and slices) took ~400 MB at the end
of a run. The analysis needs, for every row, only its expected label, its slice values and the
length of its input; the id and input text only of the few rows it shows. So each row is a few
integers: its number, codes into the tables of distinct labels and slice sets, its input
length and the byte offset of its line; a shown row is read back from its line
(:meth:`DatasetRows.__getitem__`). ~30 bytes a row.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["DatasetRows", "RowInfo", "RowTableView"]

_CHUNK = 1 << 23  # bytes read at a time


@dataclass(frozen=True, slots=True)
class RowInfo:
    """One dataset row (from rows.jsonl, or from its first results line if rows.jsonl lacks it)."""

    id: str
    input: str
    expected: str
    slices: dict[str, str]


@dataclass(frozen=True)
class RowTableView:
    """Every row, sorted by row number: codes into ``expected_texts`` and ``slice_sets``."""

    keys: np.ndarray  # int64, sorted, distinct
    expected: np.ndarray  # int32 code into expected_texts
    expected_texts: list[str]
    slices: np.ndarray  # int32 code into slice_sets
    slice_sets: list[dict[str, str]]
    input_len: np.ndarray  # int64 characters


def _parsed(d: Any) -> tuple[int, str, str, str, tuple[tuple[str, str], ...]]:
    """(row, id, input, expected, slices) of a rows.jsonl line (raises on an unusable one)."""
    sl = tuple((str(k), str(v)) for k, v in (d.get("slices") or {}).items())
    return (int(d["row"]), str(d.get("id", d["row"])), str(d.get("input") or ""),
            str(d.get("expected") or ""), sl)  # fmt: skip


_BAD = (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, OverflowError)


class DatasetRows:
    """rows.jsonl's rows as columns, plus rows added from old results lines (:meth:`add`)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._texts: dict[str, int] = {}  # expected text → code
        self._sets: dict[tuple[tuple[str, str], ...], int] = {}  # slice values → code
        self._set_dicts: list[dict[str, str]] = []
        self._held: dict[int, RowInfo] = {}  # rows not read from the file (old lines, tests)
        keys, exp, sl, length, offset = (array("q"), array("i"), array("i"), array("q"),
                                         array("q"))  # fmt: skip
        if path is not None and path.is_file():
            for at, line in _lines(path):
                try:
                    r, _, text, expected, slices = _parsed(orjson.loads(line))
                except _BAD:
                    continue
                keys.append(r)
                exp.append(self._text(expected))
                sl.append(self._set(slices))
                length.append(len(text))
                offset.append(at)
        k = np.frombuffer(keys, np.int64) if keys else np.zeros(0, np.int64)
        # a row number listed twice: its last line counts (as a dict of rows would have it)
        last = k.size - 1 - np.unique(k[::-1], return_index=True)[1]
        self._keys = k[last]  # sorted by np.unique
        self._exp = _col(exp, np.int32)[last]
        self._sl = _col(sl, np.int32)[last]
        self._len = _col(length, np.int64)[last]
        self._offset = _col(offset, np.int64)[last]
        self._file_rows = int(self._keys.size)
        self._exp_objects = np.asarray([*self._texts, None], dtype=object)

    @classmethod
    def of(cls, rows: Mapping[int, RowInfo]) -> DatasetRows:
        """Rows given as objects (tests, simulations)."""
        out = cls()
        for r, info in rows.items():
            out.add(r, info)
        return out

    def _text(self, text: str) -> int:
        code = self._texts.get(text)
        if code is None:
            code = self._texts[text] = len(self._texts)
        return code

    def _set(self, slices: tuple[tuple[str, str], ...]) -> int:
        code = self._sets.get(slices)
        if code is None:
            code = self._sets[slices] = len(self._set_dicts)
            self._set_dicts.append(dict(slices))
        return code

    @property
    def path(self) -> Path | None:
        """The rows.jsonl read (None: rows given in memory)."""
        return self._path

    # -- rows.jsonl's own rows ---------------------------------------------------------------
    @property
    def file_rows(self) -> int:
        """Rows read from rows.jsonl."""
        return self._file_rows

    def _slots(self, row: np.ndarray) -> np.ndarray:
        """Each row number's index among rows.jsonl's rows, -1 when it is not there."""
        keys = self._keys
        if not keys.size:
            return np.full(row.shape, -1, np.int64)
        i = np.minimum(np.searchsorted(keys, row), keys.size - 1)
        return np.where(keys[i] == row, i, -1)

    def all_known(self, row: np.ndarray) -> bool:
        """Whether every row number of ``row`` is in rows.jsonl."""
        return bool((self._slots(row) >= 0).all())

    def expected_texts(self, row: np.ndarray) -> np.ndarray:
        """The expected text of each row number (None when not in rows.jsonl), as objects."""
        slots = self._slots(row)
        if not self._exp.size:
            return self._exp_objects[np.full(row.shape, -1, np.int64)]
        codes = np.where(slots >= 0, self._exp[slots], -1)  # -1 picks the trailing None
        return self._exp_objects[codes]

    def expected_of(self, r: object) -> str | None:
        if isinstance(r, float) and r.is_integer():
            r = int(r)
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
            return None
        slot = int(self._slots(np.asarray([r], np.int64))[0])
        return None if slot < 0 else self._exp_objects[self._exp[slot]]

    # -- every row ---------------------------------------------------------------------------
    def add(self, r: int, info: RowInfo) -> None:
        """A row that rows.jsonl lacks, with its fields (from a results line)."""
        self._held[r] = info

    def __len__(self) -> int:
        return self._file_rows + sum(r not in self for r in self._held)

    def __contains__(self, r: object) -> bool:
        if r in self._held:
            return True
        if not isinstance(r, (int, np.integer)):
            return False
        return bool(self._slots(np.asarray([r], np.int64))[0] >= 0)

    def __getitem__(self, r: int) -> RowInfo:
        slot = int(self._slots(np.asarray([r], np.int64))[0])
        if slot < 0:
            return self._held[r]
        assert self._path is not None
        with self._path.open("rb") as f:
            f.seek(int(self._offset[slot]))
            _, rid, text, expected, slices = _parsed(orjson.loads(f.readline()))
        return RowInfo(id=rid, input=text, expected=expected, slices=dict(slices))

    def keys(self) -> set[int]:
        """Every row number (a set: for checks, not for a million rows)."""
        return set(self.table().keys.tolist())

    def table(self) -> RowTableView:
        """Every row, rows.jsonl's and added ones, sorted by row number."""
        keys, exp, sl, length = self._keys, self._exp, self._sl, self._len
        extra = [(r, i) for r, i in self._held.items() if int(self._slots(np.asarray([r]))[0]) < 0]
        if extra:
            keys = np.concatenate([keys, np.asarray([r for r, _ in extra], np.int64)])
            exp = np.concatenate([exp, np.asarray([self._text(i.expected) for _, i in extra],
                                                  np.int32)])  # fmt: skip
            sl = np.concatenate([sl, np.asarray([self._set(tuple(i.slices.items()))
                                                 for _, i in extra], np.int32)])  # fmt: skip
            length = np.concatenate([length, np.asarray([len(i.input) for _, i in extra],
                                                        np.int64)])  # fmt: skip
            order = np.argsort(keys, kind="stable")
            keys, exp, sl, length = keys[order], exp[order], sl[order], length[order]
        return RowTableView(keys=keys, expected=exp, expected_texts=list(self._texts),
                            slices=sl, slice_sets=list(self._set_dicts),
                            input_len=length)  # fmt: skip


def _col(values: array[Any], dtype: type) -> np.ndarray:
    return np.asarray(values, dtype) if values else np.zeros(0, dtype)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line) of each line of a file, read in large blocks."""
    with path.open("rb") as f:
        at, rest = 0, b""
        while block := f.read(_CHUNK):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield at, line
                at += len(line) + 1
        if rest:
            yield at, rest
