"""The dataset's columns against the fields a scenario names: a column the file does not have
is one line about the header (with a did-you-mean), not one line per row."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stagecheck.fields import MISSING, field_value
from stagecheck.scenario.schema import DatasetConfig

__all__ = ["Field", "named_fields", "absent_fields", "column_problems"]

Field = tuple[str, str]  # (scenario key, field name): ("dataset.expected", "label")

_SHOWN_COLUMNS = 12


def named_fields(cfg: DatasetConfig) -> list[Field]:
    """Every field the scenario reads from a row, with the key that names it."""
    fields = [("dataset.input", n) for n in cfg.input]
    fields.append(("dataset.expected", cfg.expected))
    fields += [("dataset.slices", n) for n in cfg.slices]
    if cfg.id:
        fields.append(("dataset.id", cfg.id))
    return fields


def absent_fields(
    record: Mapping[str, Any], fields: Sequence[Field], *, header: bool = False
) -> list[Field]:
    """The fields ``record`` does not have at all (a field holding null is present). With
    ``header``, only the column matters: ``meta.text`` is there when a ``meta`` column is,
    whatever this row holds in it."""
    if header:
        return [f for f in fields if f[1] not in record and f[1].split(".")[0] not in record]
    return [f for f in fields if field_value(record, f[1]) is MISSING]


def column_problems(
    path: Path, absent: Sequence[Field], columns: Sequence[str], *, header: bool
) -> list[str]:
    """One line per absent field, naming it, its scenario key and the nearest column."""
    lines = []
    for key, name in absent:
        close = difflib.get_close_matches(name, columns, n=1)
        if close:
            hint = f"; did you mean '{close[0]}'?"
        else:
            shown = ", ".join(columns[:_SHOWN_COLUMNS])
            more = ", …" if len(columns) > _SHOWN_COLUMNS else ""
            listed = "the columns are" if header else "the first row has"
            hint = f"; {listed}: {shown}{more}" if columns else ""
        if header:
            lines.append(f"{path}: no column '{name}' ({key}) in the header{hint}")
        else:
            lines.append(f"{path}: no row has the field '{name}' ({key}){hint}")
    return lines
