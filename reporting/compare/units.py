"""What a run folder's ``rows.jsonl`` says about the unit of evidence of compare's paired
figures: each conversation turn's conversation (its turns are not independent pairs, the
conversation is the unit) and dataset.variants' varied rows (copies of the rows as written:
not the validation set, left out of the paired quality figures as they are of the summary's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stagecheck.reporting.compare.fold import ROWS_FILE
from stagecheck.runfolder.rows import RowUnits
from stagecheck.runfolder.rows import row_units as read_units

__all__ = ["RowUnits", "row_units", "unit_codes"]


def row_units(folder: Path | None) -> RowUnits:
    """The units of a run folder's rows (none when it has no rows.jsonl: an older folder)."""
    if folder is None:
        return RowUnits()
    return read_units((folder if folder.is_dir() else folder.parent) / ROWS_FILE)


def unit_codes(rows: np.ndarray, units: RowUnits) -> np.ndarray | None:
    """Each paired row's unit as a small integer code (its conversation; a row no conversation
    names is a unit of its own); None when no row shares its unit (then the row is the unit)."""
    if not units.conversation:
        return None
    names: dict[str, int] = {}
    codes = np.empty(rows.size, np.int64)
    lone = 0
    for i, r in enumerate(rows.tolist()):
        name = units.conversation.get(r)
        if name is None:
            codes[i] = -1 - lone  # made unique below, after the conversations
            lone += 1
        else:
            codes[i] = names.setdefault(name, len(names))
    codes[codes < 0] = len(names) - 1 - codes[codes < 0]
    return codes
