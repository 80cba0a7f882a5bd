"""The per-row fold of a run's results (:class:`RunRows`): one entry per distinct dataset row,
its answers tallied as the lines are read (line by line or by columns, the same rules)."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stagecheck.runfolder.rows import row_lines

__all__ = ["RunRows", "RowFold", "RowFields", "Results", "read_row_fields", "ROWS_FILE",
           "SCORED"]  # fmt: skip

ROWS_FILE = "rows.jsonl"
SCORED = frozenset({"correct", "incorrect", "unparseable"})


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


#: A dataset row's fixed fields from rows.jsonl: ``(id, expected, slices)``.
RowFields = tuple[object, object, object]


def read_row_fields(path: Path) -> dict[int, RowFields]:
    """``row`` → its fixed fields, from rows.jsonl (empty when the file is missing)."""
    out: dict[int, RowFields] = {}
    for line in row_lines(path):
        slices = line.get("slices")
        if isinstance(line.get("turn"), int) and isinstance(slices, dict):
            # a conversation's turn: compared turn position by turn position
            slices = {**slices, "turn": str(line["turn"])}
        out[line["row"]] = (line.get("id"), line.get("expected"), slices)
    return out


class RowFold:
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

    def slot(self, line: Mapping[str, Any], joined: RowFields | None = None) -> int:
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


Results = tuple[RunRows, np.ndarray, int, int]

