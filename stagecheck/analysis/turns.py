"""The turn groups a conversation run adds to the error analysis: its turn positions (groups
``turn=3``) and context-length buckets (``context 500-1k chars``, the characters of the messages
sent as the dataset writes them), from the rows' conversation table (``conversation_rows``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from stagecheck.analysis.conversation_rows import ConversationRows
from stagecheck.analysis.frame import Frame
from stagecheck.judging.catalogue import CONTEXT_BUCKETS

__all__ = ["turn_groups"]


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
