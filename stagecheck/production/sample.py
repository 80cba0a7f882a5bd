"""Reading a production sample (``--against PROD``): JSONL, CSV or Parquet rows of real
production inputs, unlabelled, whose fields are named like the dataset's (``dataset.input``,
``dataset.slices``), plus, optionally, the production model's predicted label
(``--against-label FIELD``). Read with the dataset's own reader."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagecheck.datasets.columns import column_problems
from stagecheck.datasets.prepared import _input_text
from stagecheck.datasets.reader import detect_format, read_records
from stagecheck.errors import InputError
from stagecheck.fields import MISSING, field_value

__all__ = ["ProductionRows", "read_production", "MISSING_VALUE"]

MISSING_VALUE = "(missing)"  # a carried slice field a production row lacks
_SHOWN_PROBLEMS = 3


@dataclass
class ProductionRows:
    """The usable rows of a production sample, column by column."""

    source: str
    texts: list[str] = field(default_factory=list)
    slice_fields: list[str] = field(default_factory=list)  # the dataset's, that the file has
    slices: list[tuple[str, ...]] = field(default_factory=list)  # in slice_fields order
    predicted_field: str | None = None
    predicted: list[str] = field(default_factory=list)  # empty without predicted_field
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.texts)

    def cell_counts(self) -> Counter[tuple[str, ...]]:
        return Counter(self.slices)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _value(v: Any) -> str:
    return MISSING_VALUE if v is MISSING or v is None else _text(v)


def _keep_cells(out: ProductionRows, values: list[tuple[Any, ...]], present: list[str],
                slices: list[str], predicted: str | None) -> None:  # fmt: skip
    """Each kept row's cell of the slice fields the sample has (``present``), and its
    predicted label; a slice field the sample lacks is a note."""
    kept = [slices.index(n) for n in present]
    out.slice_fields = present
    lacking = [n for n in slices if n not in present]
    if lacking:
        out.notes.append(f"the production sample has no slice field {', '.join(lacking)}: "
                         "its weights use " + (", ".join(present) or "no slice"))  # fmt: skip
    memo: dict[tuple[str, ...], tuple[str, ...]] = {}
    for row in values:
        cell = tuple(_value(row[i]) for i in kept)
        out.slices.append(memo.setdefault(cell, cell))
        if predicted:
            out.predicted.append(_value(row[-1]))


def read_production(
    path: Path, inputs: list[str], slices: list[str], predicted: str | None = None
) -> ProductionRows:
    """The production sample at ``path``, its fields mapped like the dataset's. Raises
    :class:`InputError` (one line each) for a missing, unreadable or empty file, one without
    the dataset's input field(s), or without the ``predicted`` field named."""
    where = f"--against {path}"
    if not path.is_file():
        raise InputError(f"{where}: production sample not found")
    try:
        fmt = detect_format(path)
    except InputError:
        raise InputError(f"{where}: cannot tell its format from the file name (use .jsonl, "
                         ".csv or .parquet)") from None  # fmt: skip
    problems: list[str] = []
    out = ProductionRows(source=str(path), predicted_field=predicted)
    named = [*slices, *([predicted] if predicted else [])]
    seen = dict.fromkeys([*inputs, *named], False)  # fields some row has
    columns: list[str] = []
    values: list[tuple[Any, ...]] = []  # slice values (and the predicted label) of each row
    records = 0
    # one pass, keeping only the fields used: a large sample is not held as dicts
    for _, record in read_records(path, fmt, problems):
        if not records:
            columns = [str(k) for k in record]
        records += 1
        texts = {n: field_value(record, n) for n in inputs}
        row = tuple(field_value(record, n) for n in named)
        for n, v in [*texts.items(), *zip(named, row, strict=True)]:
            if not seen[n] and v is not MISSING:
                seen[n] = True
        if any(v is MISSING or v is None for v in texts.values()):
            out.skipped += 1
            continue
        out.texts.append(_input_text(texts))
        values.append(row)
    if not records:
        why = f" ({problems[0]})" if problems else ""
        raise InputError(f"{where}: the production sample has no rows{why}")
    absent = [("dataset.input", n) for n in inputs if not seen[n]]
    if predicted and not seen[predicted]:
        absent.append(("--against-label", predicted))
    if absent:
        lines = column_problems(path, absent, columns, header=False)
        raise InputError([f"--against {line}" for line in lines])
    _keep_cells(out, values, [n for n in slices if seen[n]], slices, predicted)
    if not out.texts:
        raise InputError(f"{where}: no production row has the input field(s) "
                         f"{', '.join(inputs)} with a value")  # fmt: skip
    if out.skipped:
        out.notes.append(f"{out.skipped:,} production rows without an input were left out")
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > 3 else ""
        out.notes.append(f"{len(problems):,} unreadable production lines left out: {shown}{more}")
    return out
