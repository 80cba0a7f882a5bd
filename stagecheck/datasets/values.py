"""Values a dataset row may not hold, found at load time (``stagecheck validate``) rather than
at run time, where they would break encoding the results: text with lone surrogates (valid in
JSON, ``"\\udc00"``, but not Unicode), integers beyond 64 bits, nesting deeper than
:data:`MAX_DEPTH`."""

from __future__ import annotations

from typing import Any

from stagecheck.errors import unicode_problem

__all__ = ["MAX_DEPTH", "value_problem"]

MAX_DEPTH = 32
_INT_LIMIT = 2**63


def value_problem(value: Any) -> str | None:
    """Why ``value`` cannot be used (a short phrase), or None. Iterative: any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            reason = unicode_problem(item)
            if reason:
                return reason
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            continue
        elif isinstance(item, int):
            if not -_INT_LIMIT <= item < _INT_LIMIT:
                return "holds an integer beyond 64 bits"
        elif isinstance(item, (list, tuple, dict)):
            if depth >= MAX_DEPTH:
                return f"is nested more than {MAX_DEPTH} levels deep"
            if isinstance(item, dict):
                stack.extend((k, depth + 1) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return None
