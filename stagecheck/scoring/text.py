"""Turning answers and expected values into comparable label text.

``label_text`` maps scalars to text the same way on both sides (``1``, ``1.0`` and ``"1"`` all
give ``"1"``; booleans give ``"true"``/``"false"``), and ``make_normalizer`` composes the
normalisation steps once, so that the per-request work is a few string methods.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Sequence
from typing import Any, Literal

__all__ = [
    "NormalizeStep",
    "DEFAULT_LABEL_NORMALIZE",
    "label_text",
    "make_normalizer",
    "snake_case",
    "strip_punctuation",
]

NormalizeStep = Literal["lower", "strip", "collapse_whitespace", "strip_punctuation", "snake_case"]
DEFAULT_LABEL_NORMALIZE: tuple[NormalizeStep, ...] = (
    "lower",
    "strip",
    "collapse_whitespace",
    "strip_punctuation",
)

# ASCII punctuation plus the typographic marks LLMs like to add, and whitespace: stripping
# punctuation at the ends also drops the spaces it leaves behind ('"refund." ' -> 'refund').
_STRIP_CHARS = string.punctuation + string.whitespace + "“”‘’«»…–—·•¡¿"
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\W_]+")


def strip_punctuation(text: str) -> str:
    """Drop punctuation (and whitespace) at both ends; inner punctuation is kept."""
    return text.strip(_STRIP_CHARS)


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace become one space; leading/trailing whitespace goes."""
    return " ".join(text.split())


def snake_case(text: str) -> str:
    """``"Payment Issue"``, ``"payment-issue"``, ``"PaymentIssue"`` -> ``"payment_issue"``."""
    return _SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", text)).strip("_").lower()


_STEPS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "strip": str.strip,
    "collapse_whitespace": collapse_whitespace,
    "strip_punctuation": strip_punctuation,
    "snake_case": snake_case,
}


def make_normalizer(steps: Sequence[str]) -> Callable[[str], str]:
    """One function applying ``steps`` in order (identity for no steps)."""
    funcs = tuple(_STEPS[s] for s in steps)
    if not funcs:
        return _identity
    if len(funcs) == 1:
        return funcs[0]

    def normalize(text: str) -> str:
        for f in funcs:
            text = f(text)
        return text

    return normalize


def _identity(text: str) -> str:
    return text


def label_text(value: Any) -> str:
    """Text of a scalar label; ``TypeError`` for None, lists, objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if hasattr(value, "item") and not isinstance(value, (list, dict)):  # numpy scalars
        item = value.item()
        if not hasattr(item, "item"):
            return label_text(item)
    raise TypeError(f"a {type(value).__name__} is not a label")
