"""What a conversation run adds to the error analysis, read once from ``rows.jsonl``: each row's
turn position (groups ``turn=3``), its context-length bucket (``context 500-1k chars``, the
characters of the messages sent as the dataset writes them) and its conversation, the unit of
evidence (the turns of one conversation are not independent)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from stagecheck.analysis.frame import Frame
from stagecheck.judging.catalogue import CONTEXT_BUCKETS
from stagecheck.runfolder.rows import row_lines

__all__ = ["ConversationRows", "conversation_rows", "turn_groups"]


@dataclass(frozen=True)
class ConversationRows:
    """Per row slot of a conversation run's frame: its turn (0: not a turn), its context
    bucket (-1: none) and its conversation (a code from 0; a slot no conversation names is a
    unit of its own, after them)."""

    turn: np.ndarray
    bucket: np.ndarray
    unit: np.ndarray


def conversation_rows(fr: Frame) -> ConversationRows | None:
    """The frame's conversation rows; None when the run is not a conversation run."""
    path = fr.cols.rows.path
    if not fr.summary.get("conversations") or not fr.cols.n or path is None:
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
    size = len(fr.row_keys)
    row = np.asarray(rows, np.int64)
    slot = np.searchsorted(fr.row_keys, row)
    known = slot < size
    known[known] = fr.row_keys[slot[known]] == row[known]
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


def turn_groups(fr: Frame, conv: ConversationRows | None
                ) -> Iterator[tuple[str, dict[str, str], str, np.ndarray]]:  # fmt: skip
    """(kind, group, label, per-request mask) of each turn position and context bucket; none
    when the run is not a conversation run."""
    if conv is None:
        return
    turn = conv.turn[fr.pos]
    for t in np.unique(turn[turn > 0]).tolist():
        yield "turn", {"turn": str(t)}, f"turn={t}", turn == t
    bucket = conv.bucket[fr.pos]
    present = np.unique(bucket[bucket >= 0]).tolist()
    if len(present) > 1:  # one bucket is the whole run
        for b in present:
            name = CONTEXT_BUCKETS[b][0]
            yield "context", {"context_chars": name}, f"context {name} chars", bucket == b
