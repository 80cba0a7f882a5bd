"""Turn dataset records into prepared rows: request bytes built and expected answers
normalised once, at load time, so the per-request hot path only sends and scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagecheck.datasets.columns import absent_fields, column_problems, named_fields
from stagecheck.datasets.reader import detect_format, read_records
from stagecheck.datasets.values import value_problem
from stagecheck.errors import InputError
from stagecheck.fields import MISSING, field_value
from stagecheck.protocols import PreparedRequest, ProtocolAdapter
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring import Scorer
from stagecheck.units import shown as shown_value

__all__ = ["PreparedRow", "PreparedDataset", "load_dataset", "MAX_SHOWN_PROBLEMS"]

MAX_SHOWN_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class PreparedRow:
    index: int  # position in the dataset (0-based), the key of results.jsonl's "row"
    line: int  # line in the file (row number for Parquet)
    row_id: str
    request: PreparedRequest
    expected: Any  # as the scorer wants it
    expected_text: str  # for reports and the confusion matrix
    slices: tuple[str, ...]  # values of dataset.slices, in order
    input_text: str  # for error samples


@dataclass(frozen=True)
class PreparedDataset:
    path: str
    rows: tuple[PreparedRow, ...]
    slice_fields: tuple[str, ...]
    skipped: int
    skipped_problems: tuple[str, ...]

    @property
    def labels(self) -> list[str]:
        return sorted({r.expected_text for r in self.rows})

    def slice_values(self) -> dict[str, list[str]]:
        return {
            f: sorted({r.slices[i] for r in self.rows}) for i, f in enumerate(self.slice_fields)
        }


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _input_text(inputs: dict[str, Any]) -> str:
    if len(inputs) == 1:
        text = _as_text(next(iter(inputs.values())))
    else:
        text = " | ".join(f"{k}={_as_text(v)}" for k, v in inputs.items())
    return text if len(text) <= 2000 else text[:2000] + "…"


_ROLES = {"dataset.input": "input", "dataset.expected": "expected", "dataset.slices": "slice",
          "dataset.id": "id"}  # fmt: skip


def _missing(role: str, name: str) -> str:
    """The end of a row's line about a field it lacks (``where`` + this)."""
    return f": {role} field '{name}' is missing"


def _shown(problems: list[str], path: Path) -> list[str]:
    shown = problems[:MAX_SHOWN_PROBLEMS]
    if len(problems) > MAX_SHOWN_PROBLEMS:
        shown.append(
            f"{path}: … and {len(problems) - MAX_SHOWN_PROBLEMS} more bad rows "
            "(set dataset.on_bad_row: skip to skip them)"
        )
    return shown


def load_dataset(
    loaded: LoadedScenario, adapter: ProtocolAdapter, scorer: Scorer
) -> PreparedDataset:
    """Read and prepare every row; raise :class:`InputError` listing bad rows (with lines),
    unless ``dataset.on_bad_row: skip``, which skips and counts them."""
    cfg = loaded.scenario.dataset
    path = loaded.resolve(cfg.path)
    fmt = detect_format(path, cfg.format)
    problems: list[str] = []
    rows: list[PreparedRow] = []
    # Fields the first row lacks: in a CSV or Parquet file every row has the same columns, so
    # that is the header's fault (one line, not one per row); a JSONL field is the file's fault
    # only when no row has it, so the suspects are followed (usually none: no cost per row).
    suspects: list[tuple[str, str]] | None = None
    columns: list[str] = []
    for line, record in read_records(path, fmt, problems):
        if cfg.limit is not None and len(rows) >= cfg.limit:
            break
        if suspects is None:
            columns = [str(k) for k in record]
            tabular = fmt != "jsonl"
            suspects = absent_fields(record, named_fields(cfg), header=tabular)
            if suspects and tabular:
                raise InputError(column_problems(path, suspects, columns, header=True))
        elif suspects:
            suspects = absent_fields(record, suspects)
        where = f"{path}:{line}"
        row_problems = []
        inputs = {name: field_value(record, name) for name in cfg.input}
        for name, value in inputs.items():
            if value is MISSING or value is None:
                row_problems.append(where + _missing("input", name))
        raw_expected = field_value(record, cfg.expected)
        if raw_expected is MISSING or raw_expected is None:
            row_problems.append(where + _missing("expected", cfg.expected))
        slice_values = []
        for name in cfg.slices:
            value = field_value(record, name)
            if value is MISSING or value is None:
                row_problems.append(where + _missing("slice", name))
            slice_values.append(_as_text(value))
        used = [
            *(("input", n, v) for n, v in inputs.items()),
            ("expected", cfg.expected, raw_expected),
            *(("slice", n, field_value(record, n)) for n in cfg.slices),
        ]
        if cfg.id:
            used.append(("id", cfg.id, field_value(record, cfg.id)))
        for role, name, value in used:
            reason = None if value is MISSING else value_problem(value)
            if reason:
                row_problems.append(f"{where}: {role} field '{name}' {reason}")
        if row_problems:
            problems += row_problems
            continue
        try:
            request = adapter.prepare(inputs, record)
        except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
            problems.append(f"{where}: cannot build the request: {str(exc)[:200]}")
            continue
        try:
            expected = scorer.prepare_row(raw_expected, record, _input_text(inputs))
        except (ValueError, TypeError, OverflowError) as exc:
            problems.append(
                f"{where}: expected value {shown_value(raw_expected)} is unusable: {str(exc)[:200]}"
            )
            continue
        row_id = field_value(record, cfg.id) if cfg.id else MISSING
        rows.append(
            PreparedRow(
                index=len(rows),
                line=line,
                row_id=_as_text(row_id) if row_id is not MISSING else str(line),
                request=request,
                expected=expected,
                expected_text=_as_text(expected),
                slices=tuple(slice_values),
                input_text=_input_text(inputs),
            )
        )
    if suspects:
        # No row has these fields: one line each instead of one per row, the rows' other
        # problems kept.
        endings = tuple(_missing(_ROLES[key], name) for key, name in suspects)
        others = _shown([p for p in problems if not p.endswith(endings)], path)
        raise InputError(column_problems(path, suspects, columns, header=False) + others)
    if problems and cfg.on_bad_row == "fail":
        raise InputError(_shown(problems, path))
    if not rows:
        raise InputError(f"{path}: the dataset has no usable rows")
    return PreparedDataset(
        path=str(path),
        rows=tuple(rows),
        slice_fields=tuple(cfg.slices),
        skipped=len(problems),
        skipped_problems=tuple(problems[:MAX_SHOWN_PROBLEMS]),
    )
