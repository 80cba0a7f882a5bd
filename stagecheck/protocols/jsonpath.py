"""A tiny path getter for JSON documents: ``result.intent``, ``choices[0].message.content``,
``outputs.0.data.0``, ``$.a["odd.key"]``, ``items[-1]``.

The expression is parsed once (``compile_path``, at configuration time, with a readable
``ValueError``); the returned getter is a plain loop over pre-parsed steps, fit for the hot path.
A numeric dotted segment (``outputs.0``) indexes a list or reads the key ``"0"`` of an object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stagecheck.protocols.base import ResponseParseError

__all__ = ["compile_path"]

# (key for objects, index for arrays); either may be None when the segment cannot apply.
_Step = tuple[str | None, int | None]


def _int_or_none(text: str) -> int | None:
    body = text[1:] if text.startswith("-") else text
    return int(text) if body.isdigit() else None


def _parse(expr: str) -> list[_Step]:
    text = expr.strip()
    if not text:
        raise ValueError("empty path")
    pos = 0
    if text.startswith("$"):
        pos = 1
        if text[1:2] == ".":
            pos = 2
            if pos == len(text):
                raise ValueError(f"path {expr!r} ends with '.'")
    steps: list[_Step] = []
    expect_name = pos == 0 or text[pos - 1] == "."
    while pos < len(text):
        ch = text[pos]
        if ch == "[":
            end = text.find("]", pos)
            if end < 0:
                raise ValueError(f"path {expr!r} has '[' without ']'")
            inner = text[pos + 1 : end].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append((inner[1:-1], None))
            else:
                index = _int_or_none(inner)
                if index is None:
                    raise ValueError(
                        f"path {expr!r}: [{inner}] must be an integer index or a quoted key"
                    )
                steps.append((str(index), index))
            pos = end + 1
            expect_name = False
        elif ch == ".":
            if expect_name:
                raise ValueError(f"path {expr!r} has an empty segment")
            pos += 1
            expect_name = True
            if pos == len(text):
                raise ValueError(f"path {expr!r} ends with '.'")
        else:
            if not expect_name:
                raise ValueError(f"path {expr!r}: expected '.' or '[' at position {pos}")
            end = pos
            while end < len(text) and text[end] not in ".[]":
                end += 1
            name = text[pos:end]
            if text[end : end + 1] == "]":
                raise ValueError(f"path {expr!r} has ']' without '['")
            steps.append((name, _int_or_none(name)))
            pos = end
            expect_name = False
    if expect_name and steps:
        raise ValueError(f"path {expr!r} ends with '.'")
    return steps


def compile_path(
    expr: str,
    *,
    error: type[Exception] = ResponseParseError,
    where: str = "response",
) -> Callable[[Any], Any]:
    """A getter for ``expr``; it raises ``error("no <expr> in <where>")`` when a step is absent.

    ``$`` alone (or an empty step list) returns the whole document. ``ValueError`` for a
    malformed expression.
    """
    steps = tuple(_parse(expr))
    shown = expr.strip()
    if not steps:
        return lambda doc: doc

    def get(doc: Any) -> Any:
        current = doc
        try:
            for key, index in steps:
                if isinstance(current, dict):
                    current = current[key]
                elif isinstance(current, list) and index is not None:
                    current = current[index]
                else:
                    raise KeyError(key)
        except (KeyError, IndexError, TypeError):
            raise error(f"no {shown} in {where}") from None
        return current

    return get
