"""Reading a row's fields by dotted path (``meta.text``, ``turns.0.content``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MISSING", "field_value"]


class _Missing:
    """The sentinel of an absent field (``None`` is a value a row may hold)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def field_value(record: Mapping[str, Any], name: str) -> Any:
    """Value of a (possibly dotted: ``a.b.0``) field of a row, or :data:`MISSING`.
    A key that itself contains dots wins over the path."""
    if name in record:
        return record[name]
    current: Any = record
    for part in name.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current
