"""Turn dataset records into prepared rows: every row checked and its expected answer
normalised once, at load time, so the per-request hot path only sends and scores (its request
bytes built at load time, or when sent: :mod:`stagecheck.datasets.rows`)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from stagecheck.datasets.columns import Field, absent_fields, column_problems, named_fields
from stagecheck.datasets.conversations import ConversationTable, load_conversations
from stagecheck.datasets.reader import Record, detect_format, read_chunks
from stagecheck.datasets.rows import PreparedRow, RowTable
from stagecheck.datasets.values import value_problem
from stagecheck.errors import InputError
from stagecheck.fields import MISSING, field_value
from stagecheck.protocols import PreparedRequest, ProtocolAdapter
from stagecheck.scenario import LoadedScenario
from stagecheck.scoring import Scorer
from stagecheck.units import shown as shown_value

__all__ = ["PreparedRow", "PreparedDataset", "RowTable", "load_dataset", "MAX_SHOWN_PROBLEMS"]

MAX_SHOWN_PROBLEMS = 20
_first, _second = itemgetter(0), itemgetter(1)
MAX_INPUT_CHARS = 2000  # an input text longer than this is cut in reports
EXPECTED_MEMO_SIZE = 100_000  # distinct expected values prepared once each


@dataclass(frozen=True)
class PreparedDataset:
    path: str
    rows: RowTable
    slice_fields: tuple[str, ...]
    skipped: int
    skipped_problems: tuple[str, ...]
    variant_notes: tuple[str, ...] = ()  # dataset.variants: rows left out (an empty input)

    @property
    def conversations(self) -> ConversationTable | None:
        """A conversation dataset's turns by conversation (None: rows are single requests)."""
        return self.rows.conversations

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.rows.expected_texts))

    def as_written(self) -> PreparedDataset:
        """The dataset without its variant rows (they follow every row as written): what the
        profile describes, so that truncated or templated copies are not counted as
        duplicates."""
        rows = self.rows
        if not rows.origins:
            return self
        n = min(rows.origins)
        table = RowTable()
        table.extend(rows.lines[:n], list(rows.row_ids())[:n], [None] * n, rows.expected[:n],
                     rows.expected_texts[:n], rows.slices[:n], rows.input_texts[:n])  # fmt: skip
        return dataclasses.replace(self, rows=table)

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
    return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "…"


def load_dataset(
    loaded: LoadedScenario,
    adapter: ProtocolAdapter,
    scorer: Scorer,
    pause: Callable[[], None] | None = None,
) -> PreparedDataset:
    """Read and prepare every row; raise :class:`InputError` listing bad rows (with lines),
    unless ``dataset.on_bad_row: skip``, which skips and counts them. ``pause`` is called
    between chunks of a few thousand rows (a cooperative caller lets its event loop run)."""
    cfg = loaded.scenario.dataset
    path = loaded.resolve(cfg.path)
    fmt = detect_format(path, cfg.format)
    problems: list[str] = []
    loader = _Loader(loaded, path, adapter, scorer, problems)
    columns = _ColumnWatch(path, named_fields(cfg), tabular=fmt != "jsonl")
    # The records read make no cycles, but a chunk's thousands of dicts alive at once set off
    # full collections again and again (40 % of the load's time): none while loading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if cfg.conversations is not None:
            load_conversations(loaded, adapter, loader, path)
        else:
            _load(loader, columns.watch(read_chunks(path, fmt, problems)), cfg.limit, pause)
    finally:
        if collecting:
            gc.enable()
    if columns.suspects:
        # No row has these fields: one line each instead of one per row, the rows' other
        # problems kept.
        endings = tuple(_missing(_ROLES[key], name) for key, name in columns.suspects)
        others = _shown([p for p in problems if not p.endswith(endings)], path)
        raise InputError(
            column_problems(path, columns.suspects, columns.columns, header=False) + others
        )
    if problems and cfg.on_bad_row == "fail":
        raise InputError(_shown(problems, path))
    if not loader.rows:
        raise InputError(f"{path}: the dataset has no usable rows")
    variant_notes: list[str] = []
    if cfg.variants:
        from stagecheck.datasets.variants import add_variants

        variant_notes = add_variants(loader.rows, cfg.variants, cfg.seed, adapter, cfg.input[0])
    return PreparedDataset(
        path=str(path),
        rows=loader.rows,
        slice_fields=tuple(cfg.slices),
        skipped=len(problems),
        skipped_problems=tuple(problems[:MAX_SHOWN_PROBLEMS]),
        variant_notes=tuple(variant_notes),
    )


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


class _ColumnWatch:
    """The fields the scenario names that the file lacks. In a CSV or Parquet file every row
    has the first row's columns, so a field it lacks is the header's fault (one line, at
    once); a JSONL field is the file's fault only when no row has it, so the fields the first
    row lacks are followed (usually none: no cost per row)."""

    def __init__(self, path: Path, fields: list[Field], *, tabular: bool) -> None:
        self.path, self.fields, self.tabular = path, fields, tabular
        self.suspects: list[Field] | None = None
        self.columns: list[str] = []

    def watch(self, chunks: Iterator[list[Record]]) -> Iterator[list[Record]]:
        for chunk in chunks:
            for _, record in chunk:
                if self.suspects is None:
                    self.columns = [str(k) for k in record]
                    self.suspects = absent_fields(record, self.fields, header=self.tabular)
                    if self.suspects and self.tabular:
                        raise InputError(column_problems(self.path, self.suspects,
                                                         self.columns, header=True))  # fmt: skip
                elif self.suspects:
                    self.suspects = absent_fields(record, self.suspects)
                else:
                    break
            yield chunk


def _load(loader: _Loader, chunks: Iterator[list[Record]], limit: int | None,
          pause: Callable[[], None] | None) -> None:  # fmt: skip
    for chunk in chunks:
        if limit is not None:
            loader.add_limited(chunk, limit)
            if len(loader.rows) >= limit:
                return
        elif not loader.add_chunk(chunk):  # anything unusual: row by row, each problem named
            for line, record in chunk:
                loader.add_row(line, record)
        if pause is not None:
            pause()


def _clean_text(values: list[Any]) -> bool:
    """Every value is text that UTF-8 can carry (C-speed checks over a whole column)."""
    try:
        "\n".join(values).encode("utf-8")
    except TypeError:  # not all text
        return False
    except UnicodeEncodeError:  # a lone surrogate somewhere
        return False
    return True


class _Loader:
    """Prepares rows into a :class:`RowTable`: a chunk at a time when all of it is ordinary
    (:meth:`add_chunk`, column by column), else row by row (:meth:`add_row`), with the same
    rows and, for the row-by-row path, a problem line for each thing wrong with a row."""

    def __init__(self, loaded: LoadedScenario, path: Path, adapter: ProtocolAdapter,
                 scorer: Scorer, problems: list[str]) -> None:  # fmt: skip
        self.cfg = cfg = loaded.scenario.dataset
        self.path = path
        self.adapter = adapter
        self.scorer = scorer
        self.problems = problems
        self.rows = RowTable(adapter, cfg.input)
        # Work done once per distinct value rather than per row: expected values (labels
        # repeat) when the scorer reads nothing else of the row, and the slices' value tuples
        # (stored once).
        self.expected_memo: dict[tuple[type, Any], tuple[Any, str]] | None = (
            {} if type(scorer).prepare_row is Scorer.prepare_row else None
        )
        self.slice_memo: dict[tuple[str, ...], tuple[str, ...]] = {}
        # text labels → the expected value and its text (the chunk path's memo)
        self.expected_values: dict[str, Any] = {}
        self.expected_texts: dict[str, str] = {}
        self.lazy = adapter.reads_inputs_only
        self.one_input = len(cfg.input) == 1

    def add_chunk(self, chunk: list[Record]) -> bool:
        """Add every row of ``chunk`` at once if all its used fields are ordinary text (and
        its expected values prepare), the adapter builds requests from text inputs alone and
        one row has been built already; False (nothing added) otherwise."""
        cfg, rows = self.cfg, self.rows
        if not (self.lazy and self.one_input and len(rows) and self.expected_memo is not None):
            return False
        records = list(map(_second, chunk))
        texts = self._column(records, cfg.input[0])
        if not _clean_text(texts) or max(map(len, texts), default=0) > MAX_INPUT_CHARS:
            return False
        ids: list[Any] = [None] * len(records)
        if cfg.id:
            ids = self._column(records, cfg.id)
            if not _clean_text(ids):
                return False
        slice_columns = [self._column(records, name) for name in cfg.slices]
        if not all(_clean_text(c) for c in slice_columns):
            return False
        expected = self._column(records, cfg.expected)
        if not _clean_text(expected):  # labels as numbers, say: row by row
            return False
        values, texts_of = self.expected_values, self.expected_texts
        try:
            for raw in set(expected) - values.keys():
                value = self.scorer.prepare_expected(raw)
                values[raw], texts_of[raw] = value, _as_text(value)
        except (TypeError, ValueError, OverflowError):  # unusable: row by row, named
            return False
        tuples = list(zip(*slice_columns, strict=True)) if slice_columns else [()] * len(records)
        rows.extend(
            list(map(_first, chunk)), ids, [None] * len(records),
            list(map(values.__getitem__, expected)), list(map(texts_of.__getitem__, expected)),
            list(map(self.slice_memo.setdefault, tuples, tuples)), texts,
        )  # fmt: skip
        if len(values) > EXPECTED_MEMO_SIZE:
            values.clear()
            texts_of.clear()
        return True

    def add_limited(self, chunk: list[Record], limit: int) -> None:
        """Rows of ``chunk`` until ``limit`` usable rows are in (a bad row does not count)."""
        for line, record in chunk:
            if len(self.rows) >= limit:
                return
            self.add_row(line, record)

    @staticmethod
    def _column(records: list[dict[str, Any]], name: str) -> list[Any]:
        if "." not in name:
            with contextlib.suppress(KeyError):  # a row without it: MISSING below
                return list(map(itemgetter(name), records))
        return [field_value(r, name) for r in records]

    def add_row(self, line: int, record: dict[str, Any]) -> None:
        """Check and add one row, or note each of its problems."""
        cfg, rows = self.cfg, self.rows
        where = f"{self.path}:{line}"
        inputs = {name: field_value(record, name) for name in cfg.input}
        raw_expected = field_value(record, cfg.expected)
        slice_raw = [field_value(record, name) for name in cfg.slices]
        raw_id = field_value(record, cfg.id) if cfg.id else MISSING
        row_problems = self._row_problems(where, inputs, raw_expected, slice_raw, raw_id)
        if row_problems:
            self.problems += row_problems
            return
        text = _input_text(inputs)
        request: PreparedRequest | tuple[Any, ...] | None
        if self.lazy and len(rows) and all(type(v) is str for v in inputs.values()):
            # built when sent (one such row was built below: the others build alike)
            values = tuple(inputs.values())
            request = None if self.one_input and values[0] is text else values
        else:
            try:
                request = self.adapter.prepare(inputs, record)
            except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
                self.problems.append(f"{where}: cannot build the request: {str(exc)[:200]}")
                return
        known = self._expected(where, raw_expected, record, text)
        if known is None:
            return
        slices = tuple(_as_text(v) for v in slice_raw)
        slices = self.slice_memo.setdefault(slices, slices)
        row_id = None if raw_id is MISSING else _as_text(raw_id)
        rows.append(line, row_id, request, known[0], known[1], slices, text)

    def _row_problems(
        self, where: str, inputs: dict[str, Any], raw_expected: Any, slice_raw: list[Any],
        raw_id: Any,
    ) -> list[str]:  # fmt: skip
        """A row's missing fields, then its unusable values, one line each."""
        cfg = self.cfg
        row_problems = []
        for name, value in inputs.items():
            if value is MISSING or value is None:
                row_problems.append(where + _missing("input", name))
        if raw_expected is MISSING or raw_expected is None:
            row_problems.append(where + _missing("expected", cfg.expected))
        for name, value in zip(cfg.slices, slice_raw, strict=True):
            if value is MISSING or value is None:
                row_problems.append(where + _missing("slice", name))
        used = [
            *(("input", n, v) for n, v in inputs.items()),
            ("expected", cfg.expected, raw_expected),
            *(("slice", n, v) for n, v in zip(cfg.slices, slice_raw, strict=True)),
        ]
        if cfg.id:
            used.append(("id", cfg.id, raw_id))
        for role, name, value in used:
            reason = None if value is MISSING else value_problem(value)
            if reason:
                row_problems.append(f"{where}: {role} field '{name}' {reason}")
        return row_problems

    def _expected(
        self, where: str, raw_expected: Any, record: dict[str, Any], text: str
    ) -> tuple[Any, str] | None:
        """The row's expected value and its text (memoised by value), or None with the
        problem noted."""
        key = (type(raw_expected), raw_expected)
        memo = self.expected_memo
        known = None
        if memo is not None:
            with contextlib.suppress(TypeError):  # an unhashable expected value
                known = memo.get(key)
        if known is None:
            try:
                expected = self.scorer.prepare_row(raw_expected, record, text)
            except (ValueError, TypeError, OverflowError) as exc:
                self.problems.append(
                    f"{where}: expected value {shown_value(raw_expected)} is unusable: "
                    f"{str(exc)[:200]}"
                )
                return None
            known = (expected, _as_text(expected))
            if memo is not None and len(memo) < EXPECTED_MEMO_SIZE:
                with contextlib.suppress(TypeError):
                    memo[key] = known
        return known
