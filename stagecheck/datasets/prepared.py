"""Turn dataset records into prepared rows: every row checked and its expected answer
normalised once, at load time, so the per-request hot path only sends and scores (its request
bytes built at load time, or when sent: :mod:`stagecheck.datasets.rows`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stagecheck.datasets.reader import detect_format, read_records
from stagecheck.datasets.rows import PreparedRow, RowTable
from stagecheck.datasets.values import value_problem
from stagecheck.errors import InputError
from stagecheck.fields import MISSING, field_value
from stagecheck.protocols import PreparedRequest, ProtocolAdapter
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring import Scorer
from stagecheck.units import shown as shown_value

__all__ = ["PreparedRow", "PreparedDataset", "RowTable", "load_dataset", "MAX_SHOWN_PROBLEMS",
           "PAUSE_EVERY"]  # fmt: skip

MAX_SHOWN_PROBLEMS = 20
PAUSE_EVERY = 2048  # rows read between two pauses (~5 ms)
EXPECTED_MEMO_SIZE = 100_000  # distinct expected values prepared once each


@dataclass(frozen=True)
class PreparedDataset:
    path: str
    rows: RowTable
    slice_fields: tuple[str, ...]
    skipped: int
    skipped_problems: tuple[str, ...]

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.rows.expected_texts))

    def slice_values(self) -> dict[str, list[str]]:
        combos = set(self.rows.slices)  # few distinct: each is stored once
        return {f: sorted({c[i] for c in combos}) for i, f in enumerate(self.slice_fields)}


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


def load_dataset(
    loaded: LoadedScenario,
    adapter: ProtocolAdapter,
    scorer: Scorer,
    pause: Callable[[], None] | None = None,
) -> PreparedDataset:
    """Read and prepare every row; raise :class:`InputError` listing bad rows (with lines),
    unless ``dataset.on_bad_row: skip``, which skips and counts them. ``pause`` is called every
    :data:`PAUSE_EVERY` rows (a cooperative caller lets its event loop run)."""
    cfg = loaded.scenario.dataset
    path = loaded.resolve(cfg.path)
    fmt = detect_format(path, cfg.format)
    problems: list[str] = []
    rows = RowTable(adapter, cfg.input)
    # Work done once per distinct value rather than per row: expected values (labels repeat)
    # when the scorer reads nothing else of the row, and the slices' value tuples (stored once).
    expected_memo: dict[tuple[type, Any], tuple[Any, str]] | None = (
        {} if type(scorer).prepare_row is Scorer.prepare_row else None
    )
    slice_memo: dict[tuple[str, ...], tuple[str, ...]] = {}
    lazy = adapter.reads_inputs_only
    one_input = len(cfg.input) == 1
    for n, (line, record) in enumerate(read_records(path, fmt, problems)):
        if cfg.limit is not None and len(rows) >= cfg.limit:
            break
        if pause is not None and n % PAUSE_EVERY == PAUSE_EVERY - 1:
            pause()
        where = f"{path}:{line}"
        row_problems = []
        inputs = {name: field_value(record, name) for name in cfg.input}
        for name, value in inputs.items():
            if value is MISSING or value is None:
                row_problems.append(f"{where}: input field '{name}' is missing")
        raw_expected = field_value(record, cfg.expected)
        if raw_expected is MISSING or raw_expected is None:
            row_problems.append(f"{where}: expected field '{cfg.expected}' is missing")
        slice_raw = [field_value(record, name) for name in cfg.slices]
        for name, value in zip(cfg.slices, slice_raw, strict=True):
            if value is MISSING or value is None:
                row_problems.append(f"{where}: slice field '{name}' is missing")
        used = [
            *(("input", n, v) for n, v in inputs.items()),
            ("expected", cfg.expected, raw_expected),
            *(("slice", n, v) for n, v in zip(cfg.slices, slice_raw, strict=True)),
        ]
        raw_id = field_value(record, cfg.id) if cfg.id else MISSING
        if cfg.id:
            used.append(("id", cfg.id, raw_id))
        for role, name, value in used:
            if value is MISSING or (type(value) is str and value.isascii()):
                continue  # the usual text: nothing to check
            reason = value_problem(value)
            if reason:
                row_problems.append(f"{where}: {role} field '{name}' {reason}")
        if row_problems:
            problems += row_problems
            continue
        text = _input_text(inputs)
        request: PreparedRequest | tuple[Any, ...] | None
        if lazy and len(rows) and all(type(v) is str for v in inputs.values()):
            # built when sent (one such row was built below: the others build alike)
            values = tuple(inputs.values())
            request = None if one_input and values[0] is text else values
        else:
            try:
                request = adapter.prepare(inputs, record)
            except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
                problems.append(f"{where}: cannot build the request: {str(exc)[:200]}")
                continue
        key = (type(raw_expected), raw_expected)
        known = None
        if expected_memo is not None:
            with contextlib.suppress(TypeError):  # an unhashable expected value
                known = expected_memo.get(key)
        if known is None:
            try:
                expected = scorer.prepare_row(raw_expected, record, text)
            except (ValueError, TypeError, OverflowError) as exc:
                problems.append(
                    f"{where}: expected value {shown_value(raw_expected)} is unusable: "
                    f"{str(exc)[:200]}"
                )
                continue
            known = (expected, _as_text(expected))
            if expected_memo is not None and len(expected_memo) < EXPECTED_MEMO_SIZE:
                with contextlib.suppress(TypeError):
                    expected_memo[key] = known
        slices = tuple(_as_text(v) for v in slice_raw)
        slices = slice_memo.setdefault(slices, slices)
        row_id = None if raw_id is MISSING else _as_text(raw_id)
        rows.append(line, row_id, request, known[0], known[1], slices, text)
    if problems and cfg.on_bad_row == "fail":
        shown = problems[:MAX_SHOWN_PROBLEMS]
        if len(problems) > MAX_SHOWN_PROBLEMS:
            shown.append(
                f"{path}: … and {len(problems) - MAX_SHOWN_PROBLEMS} more bad rows "
                "(set dataset.on_bad_row: skip to skip them)"
            )
        raise InputError(shown)
    if not rows:
        raise InputError(f"{path}: the dataset has no usable rows")
    return PreparedDataset(
        path=str(path),
        rows=rows,
        slice_fields=tuple(cfg.slices),
        skipped=len(problems),
        skipped_problems=tuple(problems[:MAX_SHOWN_PROBLEMS]),
    )
