"""The run's columns with what every section derives from them: outcome masks, each request's
expected label and slice values (through its row), the run's clock, and deduplicated samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from stagecheck.analysis.columns import CORRECT, FAILED_CODES, INCORRECT, UNPARSEABLE, RunColumns
from stagecheck.analysis.conversation_rows import ConversationRows, conversation_rows
from stagecheck.analysis.schema import RowSample
from stagecheck.stats import design_effect

__all__ = ["Frame", "excerpt", "factorize", "EXCERPT_CHARS"]

EXCERPT_CHARS = 200


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """``text`` cut to ``limit`` characters with an ellipsis (None stays None)."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def factorize(values: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values (sorted) and each value's code."""
    table = sorted(set(values))
    index = {v: i for i, v in enumerate(table)}
    return table, np.fromiter((index[v] for v in values), dtype=np.int32, count=len(values))


def _recode(codes: np.ndarray, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """:func:`factorize` of the values ``texts[c]`` of ``codes``, computed on the codes: the
    distinct values present (sorted) and each entry's code among them."""
    present = np.unique(codes).tolist()
    table = sorted({texts[c] for c in present})
    index = {v: i for i, v in enumerate(table)}
    remap = np.fromiter((index[t] for t in texts), np.int32, count=len(texts))
    return table, remap[codes] if codes.size else np.zeros(0, np.int32)


def _written(cols: RunColumns) -> np.ndarray:
    """Per request: whether its row is one as written (rows.jsonl tags the varied rows)."""
    from stagecheck.runfolder.rows import variant_tags

    path = cols.rows.path
    varied = variant_tags(path) if path is not None else {}
    if not varied:
        return np.ones(cols.n, bool)
    return ~np.isin(cols.row, np.fromiter(varied, np.int64, len(varied)))


def _epoch(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Frame:
    """Everything the sections need, computed once."""

    cols: RunColumns
    summary: Mapping[str, Any]
    classification: bool = False
    started: float = 0.0  # epoch seconds of the run's start
    duration: float = 0.0  # seconds
    labels: list[str] = field(default_factory=list)  # the dataset's labels (expected values)
    row_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # request → row slot
    expected_values: list[str] = field(default_factory=list)
    expected: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # per request
    slice_fields: list[str] = field(default_factory=list)
    slice_values: dict[str, list[str]] = field(default_factory=dict)
    slice_codes: dict[str, np.ndarray] = field(default_factory=dict)  # per request
    input_len: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per row slot
    # per request: its row is one as written, not one of dataset.variants' varied rows (the
    # quality groups and their tests are of the rows as written, as the summary's figures)
    written: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    _conversations: Any = field(default=None, repr=False)  # conversations(): False for none

    @classmethod
    def build(cls, cols: RunColumns, summary: Mapping[str, Any]) -> Frame:
        run = summary.get("run") if isinstance(summary.get("run"), Mapping) else {}
        assert isinstance(run, Mapping)
        started = _epoch(run.get("started_at"))
        if started is None:
            started = float(cols.t.min()) if cols.n else 0.0
        duration = run.get("duration_s")
        if not isinstance(duration, (int, float)) or duration <= 0:
            duration = float(cols.t.max() - started) if cols.n else 0.0
        table = cols.rows.table()
        row_keys = table.keys
        pos = np.searchsorted(row_keys, cols.row) if cols.n else np.zeros(0, np.int64)
        exp_values, exp_rows = _recode(table.expected, table.expected_texts)
        # slice fields in the order they first appear, rows taken by row number
        used, first = np.unique(table.slices, return_index=True)
        sets = [table.slice_sets[c] for c in used[np.argsort(first, kind="stable")].tolist()]
        fields: list[str] = []
        for sl in sets:
            for f in sl:
                if f not in fields:
                    fields.append(f)
        slice_values: dict[str, list[str]] = {}
        slice_codes: dict[str, np.ndarray] = {}
        for f in fields:
            values, codes = _recode(table.slices, [s.get(f, "(none)") for s in table.slice_sets])
            slice_values[f] = values
            slice_codes[f] = codes[pos]
        classification = bool(summary.get("classes"))
        frame = cls(
            cols=cols,
            summary=summary,
            classification=classification,
            started=started,
            duration=max(float(duration), 1e-9),
            labels=exp_values if classification else [],
            row_keys=row_keys,
            pos=pos,
            expected_values=exp_values,
            expected=exp_rows[pos] if cols.n else np.zeros(0, np.int32),
            slice_fields=fields,
            slice_values=slice_values,
            slice_codes=slice_codes,
            input_len=table.input_len,
            written=_written(cols),
        )
        return frame

    # -- masks --------------------------------------------------------------------------------
    @property
    def correct(self) -> np.ndarray:
        return self.cols.outcome == CORRECT

    @property
    def scored(self) -> np.ndarray:
        return self.cols.outcome <= UNPARSEABLE

    @property
    def failed(self) -> np.ndarray:
        outcome = self.cols.outcome
        return (outcome >= FAILED_CODES[0]) & (outcome <= FAILED_CODES[-1])

    @property
    def wrong(self) -> np.ndarray:
        # every request that did not end right, but one still open at the end (unfinished)
        return (self.cols.outcome != CORRECT) & (self.cols.outcome <= FAILED_CODES[-1])

    @property
    def incorrect(self) -> np.ndarray:
        return self.cols.outcome == INCORRECT

    def conversations(self) -> ConversationRows | None:
        """A conversation run's turns and units (rows.jsonl read once); None otherwise."""
        if self._conversations is None:
            found = None
            if self.summary.get("conversations") and self.cols.n:
                found = conversation_rows(self.cols.rows.path, self.row_keys)
            self._conversations = found or False
        return self._conversations or None

    def units(self) -> tuple[np.ndarray, int]:
        """Each request's unit of evidence and how many there are: its row, or in a
        conversation run its conversation (the turns of one conversation are not
        independent)."""
        conv = self.conversations()
        if conv is None:
            return self.pos, len(self.row_keys)
        return conv.unit[self.pos], int(conv.unit.max()) + 1 if conv.unit.size else 0

    def design_effect(self, mask: np.ndarray) -> float:
        """The design effect of the accuracy of the requests of ``mask``, the units of evidence
        (:meth:`units`: rows, or conversations) as clusters
        (:func:`stagecheck.stats.design_effect`): 1 when no unit repeats."""
        units, size = self.units()
        k = np.bincount(units[self.correct & mask], minlength=size)
        n = np.bincount(units[self.scored & mask], minlength=size)
        return design_effect(k, n)

    def text(self, code: int) -> str | None:
        return None if code < 0 else self.cols.texts[code]

    def seconds(self, t: float) -> float:
        """Epoch seconds as seconds since the run's start."""
        return round(max(t - self.started, 0.0), 3)

    # -- samples ------------------------------------------------------------------------------
    def samples(self, mask: np.ndarray, k: int = 3) -> list[RowSample]:
        """Up to ``k`` rows among the requests of ``mask``, most requests first, each once with
        its count (×N) and its most frequent answer (or error, for a failure)."""
        idx = np.flatnonzero(mask)
        if not idx.size:
            return []
        rows = self.cols.row[idx]
        uniq, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
        order = np.lexsort((uniq, -counts))[:k]
        out = []
        for j in order:
            mine = idx[inverse == j]
            answers = np.where(self.cols.got[mine] >= 0, self.cols.got[mine], self.cols.error[mine])
            values, n = np.unique(answers, return_counts=True)
            best = int(values[int(np.argmax(n))])
            r = int(uniq[j])
            info = self.cols.rows[r]
            out.append(
                RowSample(
                    row=r,
                    id=info.id,
                    input=excerpt(info.input) or "",
                    expected=info.expected,
                    got=excerpt(self.text(best)),
                    count=int(counts[j]),
                )
            )
        return out
