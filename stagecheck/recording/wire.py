"""Counts with tuple keys on the wire from a worker to its master, as int64 columns.

An interval's outcome, confusion and mislabelled counts have a few hundred to a few thousand
keys that repeat a few dozen strings (labels, slice values). Shipped as msgpack lists, the
master made a list and a str object per key part and then a tuple per key in a Python loop:
~0.2 µs a key, a cost per report whatever its number of requests. Here each counter is one
int64 array (a row per key: its parts, strings as indexes into the interval's string table,
then the count), and the master adds it to the run's counts, the keys rebuilt by numpy and
C-level ``zip``/``map`` (:func:`add_packed`).
"""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from operator import add
from typing import Any

import numpy as np

__all__ = ["StringTable", "pack_counts", "unpack_counts", "add_packed", "WIRE_VERSION"]

# The format of a worker's report (IntervalReport.to_payload); a master reads only its own.
# 2: counts as int64 columns with a string table (1, unnamed: counts as lists of keys).
WIRE_VERSION = 2


class StringTable:
    """The strings of one interval's payload, each once (their index is their code)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        code = self.codes.get(text)
        if code is None:
            code = self.codes[text] = len(self.codes)
        return code

    def strings(self) -> list[str]:
        return list(self.codes)


def pack_counts(counts: dict[Any, int], text_parts: tuple[int, ...], table: StringTable) -> bytes:
    """``counts`` (tuple keys of ints and strings, the strings at ``text_parts``) as int64
    bytes: a row per key, its parts then its count."""
    if not counts:
        return b""
    columns: list[Any] = list(zip(*counts, strict=True))
    for n in text_parts:
        for text in dict.fromkeys(columns[n]):  # a few distinct strings: coded once each
            table.code(text)
        columns[n] = list(map(table.codes.__getitem__, columns[n]))
    columns.append(list(counts.values()))
    return np.asarray(columns, dtype="<i8").T.tobytes()


def unpack_counts(
    data: bytes, width: int, text_parts: tuple[int, ...], strings: list[str]
) -> Counter[Any]:
    """The Counter :func:`pack_counts` packed (keys of ``width`` parts)."""
    out: Counter[Any] = Counter()
    add_packed(out, data, width, text_parts, strings)
    return out


def add_packed(
    total: dict[Any, int], data: bytes, width: int, text_parts: tuple[int, ...], strings: list[str]
) -> None:
    """Add the counts :func:`pack_counts` packed to ``total``, key by key in C-level loops (no
    Counter of the interval's own on the way)."""
    if not data:
        return
    table = np.frombuffer(data, dtype="<i8").reshape(-1, width + 1)
    texts = np.array(strings, dtype=object)  # the string parts looked up by numpy
    parts = [(texts[table[:, n]] if n in text_parts else table[:, n]).tolist()
             for n in range(width)]  # fmt: skip
    keys = list(zip(*parts, strict=True))
    sums = map(add, table[:, width].tolist(), map(total.get, keys, repeat(0)))
    dict.update(total, zip(keys, sums, strict=True))
