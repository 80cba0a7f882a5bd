"""The tool-call figures of a run (``scoring.kind: tool-call``): how often the model called the
expected tool with the expected arguments, or rightly called none, and why it did not.

The base is the turns scored on their tool call (a call expected, or none expected while the
scenario declares tools), not those scored on their text; the dataset row is the unit of
evidence, as for accuracy. The reasons are the wrong answers' labels (``wrong tool: x``,
``missing argument: y`` …: :mod:`stagecheck.scoring.toolcall`), counted over the requests.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import numpy as np

from stagecheck.recording import Aggregate
from stagecheck.scoring.toolcall import is_tool_row, reason_kind
from stagecheck.summary.quality import proportion_ci, unit_design_effect

__all__ = ["tool_calls_section"]


# dataset rows -> which are scored on their tool call: found once per dataset, since a live view
# rebuilds the summary every second while the users run
_TOOL_ROWS: weakref.WeakKeyDictionary[Any, np.ndarray] = weakref.WeakKeyDictionary()


def _tool_rows(rows: Any) -> np.ndarray:
    try:
        known = _TOOL_ROWS.get(rows)
    except TypeError:  # rows that cannot be weakly referenced (a plain list)
        known = None
    if known is None:
        expected = getattr(rows, "expected", None)
        if expected is None:
            expected = [r.expected for r in rows]
        known = np.fromiter(map(is_tool_row, expected), bool, len(expected))
        with contextlib.suppress(TypeError):  # rows that cannot be weakly referenced
            _TOOL_ROWS[rows] = known
    return known


def tool_calls_section(agg: Aggregate) -> dict[str, Any] | None:
    """``tool_calls`` of summary.json; None when no row is scored on its tool call."""
    rows, correct, scored = agg.row_tallies()
    mine = _tool_rows(agg.rows)[rows]
    if not mine.any():
        return None
    k, n = correct[mine], scored[mine]
    right, total = int(k.sum()), int(n.sum())
    if not total:
        return None
    deff = unit_design_effect(agg, rows[mine], k, n)
    reasons: dict[str, int] = {}
    for (_, label), count in agg.confusion_counts().most_common():
        if reason_kind(label) is not None:
            reasons[label] = reasons.get(label, 0) + count
    return {
        "scored": total,
        "correct": right,
        "rows": int(mine.sum()),
        "design_effect": round(deff, 6),
        "accuracy": right / total,
        "accuracy_ci": proportion_ci(right, total, deff),
        "reasons": reasons,
    }
