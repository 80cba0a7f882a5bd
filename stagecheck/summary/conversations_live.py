"""Conversation figures while the run goes on: accuracy by turn position, conversation success and
the share of turns right, from the aggregate's per-row tallies (each turn is a dataset row), so
the web UI, the exporter and the live thresholds have them before the run ends.

The run folder's figures (:func:`stagecheck.summary.conversations.conversation_figures`) replace
these when the run ends: they pair the answers of a conversation played more than once into
plays in time order, count a failed request as a wrong turn, and add latency by turn and
context, first failures, derailment and the worst conversations, which the tallies cannot say.
With each conversation played at most once and no failed request (an exact pass) both agree.

From the tallies, a conversation's complete plays are the fewest scored answers of any of its
turns, its successful plays the fewest right ones (no more than its plays), and its share of
turns right the mean over its turns of each turn's right/scored. A few numpy passes over the
rows answered: the live view is rebuilt every second while the users run.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from stagecheck.datasets.conversations import ConversationTable
from stagecheck.recording import Aggregate
from stagecheck.stats import design_effect, wilson
from stagecheck.summary.conversations import ConversationFigures, Proportion, TurnFigures
from stagecheck.summary.conversations import _share_ci as share_ci

__all__ = ["live_conversation_figures"]


def _proportion(k: np.ndarray, n: np.ndarray) -> Proportion:
    """Σk/Σn over clusters (one entry a conversation), its interval clustered by them."""
    events, total = int(k.sum()), int(n.sum())
    if not total:
        return Proportion(events=0, n=0, value=None, ci=None, design_effect=1.0)
    deff = design_effect(k, n)
    ci = wilson(events, total, deff=deff)
    return Proportion(events=events, n=total, value=events / total,
                      ci=None if ci is None else [ci[0], ci[1]], design_effect=deff)  # fmt: skip


class _Static:
    """What the per-second rebuild reads of a table that never changes during the run."""

    def __init__(self, table: ConversationTable) -> None:
        self.table = weakref.ref(table)
        self.conversation_of = np.frombuffer(table.conversation_of, np.int64)
        self.turn_of = np.frombuffer(table.turn_of, np.int64)
        self.length = np.asarray(table.ends, np.int64) - np.asarray(table.starts, np.int64)
        self.positions = range(1, int(self.turn_of.max(initial=0)) + 1)
        lengths, counts = np.unique(self.length, return_counts=True)
        self.per_length = {str(int(n)): int(c) for n, c in zip(lengths, counts, strict=True)}


_STATIC: dict[int, _Static] = {}  # id(table) → its arrays (a table is not hashable)


def _static(table: ConversationTable) -> _Static:
    known = _STATIC.get(id(table))
    if known is None or known.table() is not table:
        known = _STATIC[id(table)] = _Static(table)
        weakref.finalize(table, _STATIC.pop, id(table), None)
    return known


def _live_by_turn(turn: np.ndarray, positions: Any, correct: np.ndarray, scored: np.ndarray,
                  pause: Callable[[], None]) -> list[TurnFigures]:  # fmt: skip
    """Accuracy by turn position from the rows answered (``turn``: each one's position)."""
    by_turn = []
    for t in positions:
        mine = turn == t
        if not mine.any():
            continue
        acc = _proportion(correct[mine], scored[mine])
        by_turn.append(TurnFigures(
            turn=t, conversations=int(mine.sum()), requests=acc.n, scored=acc.n,
            correct=acc.events, accuracy=acc.value, accuracy_ci=acc.ci,
            design_effect=acc.design_effect, latency_p50_us=None, latency_p95_us=None,
            ttft_p50_us=None, ttft_p95_us=None,
        ))  # fmt: skip
        pause()  # a turn position at a time: ~0.5 ms each for 30k conversations
    return by_turn


def live_conversation_figures(
    agg: Aggregate, table: ConversationTable, pause: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """The conversation figures the per-row tallies give (a plain dict of
    :class:`ConversationFigures`; latency, first failures and derailment left empty).
    ``pause`` is called between the steps (a live view is built while the users run)."""
    static = _static(table)
    rows, correct, scored = agg.row_tallies()
    if rows.size and rows[-1] >= len(static.turn_of):  # rows past the table's (none so far)
        keep = rows < len(static.turn_of)
        rows, correct, scored = rows[keep], correct[keep], scored[keep]
    by_turn = _live_by_turn(static.turn_of[rows], static.positions, correct, scored, pause)
    # the rows come sorted and a conversation's rows are contiguous: one segment each
    conv = static.conversation_of[rows]
    first = np.flatnonzero(np.r_[True, conv[1:] != conv[:-1]]) if conv.size else conv
    ids = conv[first]
    answered = np.diff(first, append=len(conv))
    length = static.length[ids]
    complete = answered == length
    pause()
    plays = np.where(complete, np.minimum.reduceat(scored, first) if len(first) else 0, 0)
    right = np.minimum(np.minimum.reduceat(correct, first) if len(first) else 0, plays)
    pause()
    share = np.add.reduceat(correct / scored, first) if len(first) else np.zeros(0)
    share = np.where(complete, share / length, 0.0) * plays
    done = plays > 0
    pause()
    total_plays = int(plays.sum())
    empty = Proportion(events=0, n=0, value=None, ci=None, design_effect=1.0)
    figures = ConversationFigures(
        history=table.history,
        conversations=len(static.length),
        turns=len(static.turn_of),
        turns_per_conversation=static.per_length,
        plays=total_plays,
        incomplete_plays=int((~complete).sum()),
        success=_proportion(right[done], plays[done]),
        # summed in conversation order as the run folder's figures are: an exact pass agrees
        turn_share=sum(share[done].tolist()) / total_plays if total_plays else None,
        turn_share_ci=share_ci(share[done], plays[done].astype(np.float64)),
        first_failure={},
        by_turn=by_turn,
        wrong_after_wrong=empty,
        wrong_after_right=empty,
        by_context=[],
        worst=[],
    )
    pause()
    return figures.model_dump(mode="json")
