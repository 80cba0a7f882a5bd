"""Reading ``rows.jsonl``: each dataset row once, as the run sent it (its input, expected value
and slices; a variant row's variant and origin; a conversation turn's conversation and turn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["row_lines", "variant_tags"]


def row_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of rows.jsonl that name their row (none when the file is missing or cannot be
    read; a broken line is passed over)."""
    try:
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(line, dict) and isinstance(line.get("row"), int):
                    yield line
    except OSError:
        return


def variant_tags(rows_path: Path) -> dict[int, tuple[str, int]]:
    """Each variant row's (variant name, origin row) from ``rows.jsonl``, in file order."""
    tags: dict[int, tuple[str, int]] = {}
    if not rows_path.is_file():
        return tags
    with rows_path.open("rb") as f:
        for line in f:
            if b'"variant"' not in line:
                continue
            try:
                d = orjson.loads(line)
                tags[int(d["row"])] = (str(d["variant"]), int(d["origin"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return tags
