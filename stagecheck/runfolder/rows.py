"""Reading ``rows.jsonl``: each dataset row once, as the run sent it (its input, expected value
and slices; a variant row's variant and origin; a conversation turn's conversation and turn)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["row_lines", "variant_tags", "RowUnits", "row_units"]


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


@dataclass(frozen=True)
class RowUnits:
    """The unit of evidence of a run's rows: row index → its conversation (conversation runs
    only: its turns are not independent), and dataset.variants' varied rows (copies of the
    rows as written: not the validation set)."""

    conversation: Mapping[int, str] = field(default_factory=dict)
    varied: frozenset[int] = frozenset()


def row_units(rows_path: Path) -> RowUnits:
    """The :class:`RowUnits` of a ``rows.jsonl`` (none when it is missing: an older folder)."""
    conversation: dict[int, str] = {}
    varied: set[int] = set()
    for line in row_lines(rows_path):
        if "variant" in line:
            varied.add(line["row"])
        name = line.get("conversation")
        if name is not None and "turn" in line:
            conversation[line["row"]] = str(name)
    return RowUnits(conversation, frozenset(varied))
