"""Which conversation, turn position and context-length bucket each row of a conversation run's
frame is, read once from ``rows.jsonl``: the analysis's unit of evidence (the turns of one
conversation are not independent) and its turn groups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stagecheck.judging.catalogue import CONTEXT_BUCKETS
from stagecheck.runfolder.rows import row_lines

__all__ = ["ConversationRows", "conversation_rows"]


@dataclass(frozen=True)
class ConversationRows:
    """Per row slot of a conversation run's frame: its turn (0: not a turn), its context
    bucket (-1: none) and its conversation (a code from 0; a slot no conversation names is a
    unit of its own, after them)."""

    turn: np.ndarray
    bucket: np.ndarray
    unit: np.ndarray


def conversation_rows(path: Path | None, row_keys: np.ndarray) -> ConversationRows | None:
    """The conversation rows of a frame whose row slots are ``row_keys`` (sorted row indexes),
    from the run's rows.jsonl at ``path``; None when it names no conversation turn."""
    if path is None:
        return None
    rows, turns, chars, names = [], [], [], []
    for d in row_lines(path):  # a cut or foreign line: its row is in no turn group
        try:
            if "turn" in d and "conversation" in d:
                turns.append(int(d["turn"]))
                chars.append(int(d.get("context_chars") or 0))
                names.append(str(d["conversation"]))
                rows.append(d["row"])
        except (TypeError, ValueError):
            continue
    if not rows:
        return None
    size = len(row_keys)
    row = np.asarray(rows, np.int64)
    slot = np.searchsorted(row_keys, row)
    known = slot < size
    known[known] = row_keys[slot[known]] == row[known]
    at = slot[known]
    turn = np.zeros(size, np.int64)
    turn[at] = np.asarray(turns, np.int64)[known]
    lows = np.asarray([low for _, low, _ in CONTEXT_BUCKETS], np.int64)
    bucket = np.full(size, -1, np.int64)
    bucket[at] = np.searchsorted(lows, np.asarray(chars, np.int64)[known], side="right") - 1
    codes = np.unique(np.asarray(names, dtype=object), return_inverse=True)[1].astype(np.int64)
    unit = np.arange(size, dtype=np.int64) + int(codes.max()) + 1
    unit[at] = codes[known]
    return ConversationRows(turn, bucket, unit)
