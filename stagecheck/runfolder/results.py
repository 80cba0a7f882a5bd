"""Reading one line of ``results.jsonl`` in either of its two formats (no heavy imports: the
analysis, ``compare`` and capacity steps all read these lines).

The old format repeats the row's ``id``, ``expected`` and ``slices`` and the stage's ``users``
on every line and always writes ``got``, ``predicted``, ``error`` and ``lag_us``. Line format 2
(issue 10, ≤ 100 bytes a request) leaves those out: the row's fields are joined from
``rows.jsonl`` by ``row``, users come from the summary's stage figures, and a classification
answer's ``predicted`` is written only when it differs from the row's expected text (``got``
only when it differs from ``predicted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["line_answer"]

_ABSENT = object()  # a key left out of the line, unlike a key written as null


def line_answer(
    line: Mapping[str, Any], expected: str | None, classification: bool = False
) -> tuple[Any, Any]:
    """``(predicted, got)`` of a results line; ``expected`` is its row's expected text (None
    when unknown). An old line has both keys and reads as written. In a classification run a
    right answer's label is the row's expected text even when its raw answer (``got``, e.g.
    "Billing." for ``billing``) is written without it."""
    predicted = line.get("predicted", _ABSENT)
    if predicted is not _ABSENT:
        return predicted, line.get("got", predicted)
    got = line.get("got", _ABSENT)
    if got is not _ABSENT:
        if classification and line.get("outcome") == "correct":
            return expected, got
        return None, got  # a free-text answer, or a label that could not be read
    if line.get("outcome") == "correct":  # classification, right: not repeated on the line
        return expected, expected
    return None, None
