"""The groups of a conversation run for the error analysis: each turn position (``turn=3``) and
each context-length bucket (``context 500-1k chars``, the characters of the messages sent as
the dataset writes them), read from ``rows.jsonl``'s ``turn`` and ``context_chars``.

A turn is a dataset row, so the unit of evidence stays the row, as for every other group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from stagecheck.analysis.frame import Frame
from stagecheck.judging.catalogue import CONTEXT_BUCKETS

__all__ = ["turn_groups", "conversation_units"]


def _per_row(path: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row numbers, turn, context chars) of rows.jsonl's conversation turns."""
    rows: list[int] = []
    turns: list[int] = []
    chars: list[int] = []
    if path is not None and path.is_file():
        with path.open("rb") as f:
            for line in f:
                try:
                    d = orjson.loads(line)
                    if isinstance(d, dict) and "turn" in d:
                        r, t, c = int(d["row"]), int(d["turn"]), int(d.get("context_chars") or 0)
                    else:
                        continue
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a cut or foreign line: its row is in no turn group
                rows.append(r)
                turns.append(t)
                chars.append(c)
    return np.asarray(rows, np.int64), np.asarray(turns, np.int64), np.asarray(chars, np.int64)


def turn_groups(fr: Frame) -> Iterator[tuple[str, dict[str, str], str, np.ndarray]]:
    """(kind, group, label, per-request mask) of each turn position and context bucket; none
    when the run is not a conversation run."""
    if not fr.summary.get("conversations") or not fr.cols.n:
        return
    rows, turns, chars = _per_row(fr.cols.rows.path)
    if not rows.size:
        return
    size = len(fr.row_keys)
    slot = np.searchsorted(fr.row_keys, rows)
    known = slot < size
    known[known] = fr.row_keys[slot[known]] == rows[known]
    turn_of = np.zeros(size, np.int64)  # 0: not a turn (no group)
    turn_of[slot[known]] = turns[known]
    bucket_of = np.full(size, -1, np.int64)
    lows = np.asarray([low for _, low, _ in CONTEXT_BUCKETS], np.int64)
    bucket_of[slot[known]] = np.searchsorted(lows, chars[known], side="right") - 1
    turn = turn_of[fr.pos]
    for t in np.unique(turn[turn > 0]).tolist():
        yield "turn", {"turn": str(t)}, f"turn={t}", turn == t
    bucket = bucket_of[fr.pos]
    present = np.unique(bucket[bucket >= 0]).tolist()
    if len(present) > 1:  # one bucket is the whole run
        for b in present:
            name = CONTEXT_BUCKETS[b][0]
            yield "context", {"context_chars": name}, f"context {name} chars", bucket == b


def conversation_units(fr: Frame) -> np.ndarray | None:
    """Each row slot's conversation (a code from 0) in a conversation run: the unit of
    evidence, since the turns of one conversation are not independent; None otherwise."""
    if not fr.summary.get("conversations") or not fr.cols.n:
        return None
    path = fr.cols.rows.path
    if path is None or not path.is_file():
        return None
    rows: list[int] = []
    names: list[str] = []
    with path.open("rb") as f:
        for line in f:
            if b'"conversation"' not in line:
                continue
            try:
                d = orjson.loads(line)
                rows.append(int(d["row"]))
                names.append(str(d["conversation"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    size = len(fr.row_keys)
    slot = np.searchsorted(fr.row_keys, np.asarray(rows, np.int64))
    known = slot < size
    known[known] = fr.row_keys[slot[known]] == np.asarray(rows, np.int64)[known]
    codes = np.unique(np.asarray(names, dtype=object), return_inverse=True)[1].astype(np.int64)
    # a row slot no conversation names is a unit of its own, after the conversations
    units = np.arange(size, dtype=np.int64) + (int(codes.max()) + 1 if codes.size else 0)
    units[slot[known]] = codes[known]
    return units
