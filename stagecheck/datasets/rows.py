"""Prepared rows stored column by column, and the row a user sends (built on demand).

A million rows as a million objects, each with its request bytes, took ~1.5 GB and as long to
build; in columns they take ~200 bytes a row (shared values stored once: labels, slices), and a
row whose request is built from its text input alone gets its request when it is sent
(:attr:`ProtocolAdapter.reads_inputs_only`). A :class:`RowTable` holds few objects the garbage
collector tracks, and reading it writes no page of it: forked worker processes share it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from stagecheck.protocols import PreparedRequest, ProtocolAdapter

if TYPE_CHECKING:
    from stagecheck.datasets.conversations import ConversationTable

__all__ = ["PreparedRow", "RowTable"]

_KEPT_BUILT = 10_000  # requests built when sent and kept (~0.5 KB each, ~5 MB at most)


class PreparedRow:
    """One dataset row as users, recorders and reports read it (a value: never changed)."""

    __slots__ = ("index", "line", "row_id", "_request", "expected", "expected_text", "slices",
                 "input_text", "_table")  # fmt: skip

    def __init__(
        self,
        index: int,  # position in the dataset (0-based), the key of results.jsonl's "row"
        line: int,  # line in the file (row number for Parquet)
        row_id: str,
        request: PreparedRequest | None,  # None: built by ``table`` when first read
        expected: Any,  # as the scorer wants it
        expected_text: str,  # for reports and the confusion matrix
        slices: tuple[str, ...],  # values of dataset.slices, in order
        input_text: str,  # for error samples
        table: RowTable | None = None,
    ) -> None:
        self.index = index
        self.line = line
        self.row_id = row_id
        self._request = request
        self.expected = expected
        self.expected_text = expected_text
        self.slices = slices
        self.input_text = input_text
        self._table = table

    @property
    def request(self) -> PreparedRequest:
        req = self._request
        if req is None:
            assert self._table is not None  # a row without its request comes from a table
            req = self._request = self._table.request(self.index)
        return req

    def __repr__(self) -> str:
        return f"PreparedRow(index={self.index}, line={self.line}, row_id={self.row_id!r})"


class RowTable(Sequence[PreparedRow]):
    """The prepared rows of a dataset, in columns; ``table[i]`` is row ``i`` as a
    :class:`PreparedRow`. Loops over every row read the columns rather than make rows."""

    def __init__(self, adapter: ProtocolAdapter | None = None, inputs: Sequence[str] = ()) -> None:
        self._adapter = adapter
        self._inputs = tuple(inputs)
        self.lines = array("q")
        self._ids: list[str | None] = []  # None: the row's line number
        self.expected: list[Any] = []
        self.expected_texts: list[str] = []
        self.slices: list[tuple[str, ...]] = []
        self.input_texts: list[str] = []
        # the request built at load time, or what it is built from when sent: the row's input
        # values (None: its one input, the same text as its input_text)
        self._requests: list[PreparedRequest | tuple[Any, ...] | None] = []
        # requests built when sent, kept for the next send of their row (building one costs
        # ~10 µs, an eighth of a request's CPU): at most _KEPT_BUILT of them, whatever the
        # dataset's size; in this process only (the columns stay unwritten, shared)
        self._built: dict[int, PreparedRequest] = {}
        # rows made by table[i], kept for the next read of their index (making one costs ~0.5
        # µs, read at each send and each fold): at most _KEPT_BUILT of them, as requests
        self._made: dict[int, PreparedRow] = {}
        # dataset.variants: a variant row's index → (its variant's name, its origin row's index)
        self.origins: dict[int, tuple[str, int]] = {}
        # a conversation dataset: which rows (turns) make which conversation
        self.conversations: ConversationTable | None = None

    def append(
        self,
        line: int,
        row_id: str | None,
        request: PreparedRequest | tuple[Any, ...] | None,
        expected: Any,
        expected_text: str,
        slices: tuple[str, ...],
        input_text: str,
    ) -> None:
        self.lines.append(line)
        self._ids.append(row_id)
        self._requests.append(request)
        self.expected.append(expected)
        self.expected_texts.append(expected_text)
        self.slices.append(slices)
        self.input_texts.append(input_text)

    def extend(
        self,
        lines: Sequence[int],
        row_ids: Sequence[str | None],
        requests: Sequence[PreparedRequest | tuple[Any, ...] | None],
        expected: Sequence[Any],
        expected_texts: Sequence[str],
        slices: Sequence[tuple[str, ...]],
        input_texts: Sequence[str],
    ) -> None:
        """:meth:`append` for many rows, column by column."""
        self.lines.extend(lines)
        self._ids.extend(row_ids)
        self._requests.extend(requests)
        self.expected.extend(expected)
        self.expected_texts.extend(expected_texts)
        self.slices.extend(slices)
        self.input_texts.extend(input_texts)

    def __len__(self) -> int:
        return len(self.lines)

    def set_request(self, i: int, request: PreparedRequest) -> None:
        """Row ``i``'s request, built by its loader (a conversation turn's, with its history)."""
        self._requests[i] = request
        self._built.pop(i, None)
        self._made.pop(i, None)

    def set_row_id(self, i: int, row_id: str) -> None:
        self._ids[i] = row_id
        self._made.pop(i, None)

    def truncate(self, n: int) -> None:
        """Forget the rows from ``n`` on (a loader taking back a group of rows)."""
        for column in (self.lines, self._ids, self._requests, self.expected,
                       self.expected_texts, self.slices, self.input_texts):  # fmt: skip
            del column[n:]
        self._built = {i: r for i, r in self._built.items() if i < n}
        self._made = {i: r for i, r in self._made.items() if i < n}

    @overload
    def __getitem__(self, i: int) -> PreparedRow: ...

    @overload
    def __getitem__(self, i: slice) -> list[PreparedRow]: ...

    def __getitem__(self, i: int | slice) -> PreparedRow | list[PreparedRow]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        row = self._made.get(i)
        if row is not None:
            return row
        built = self._requests[i]
        row = PreparedRow(
            i, self.lines[i], self.row_id(i),
            built if isinstance(built, PreparedRequest) else None,
            self.expected[i], self.expected_texts[i], self.slices[i], self.input_texts[i], self,
        )  # fmt: skip
        if len(self._made) < _KEPT_BUILT:
            self._made[i] = row
        return row

    def __iter__(self) -> Iterator[PreparedRow]:
        for i in range(len(self)):
            yield self[i]

    def row_id(self, i: int) -> str:
        rid = self._ids[i]
        return str(self.lines[i]) if rid is None else rid

    def row_ids(self) -> Iterator[str]:
        for line, rid in zip(self.lines, self._ids, strict=True):
            yield str(line) if rid is None else rid

    def source_text(self, i: int) -> str:
        """Row ``i``'s one input as sent (not cut like ``input_texts``, when it is at hand)."""
        built = self._requests[i]
        if isinstance(built, tuple) and len(built) == 1 and isinstance(built[0], str):
            return built[0]
        return self.input_texts[i]

    def request(self, i: int) -> PreparedRequest:
        """Row ``i``'s request (built now unless it was at load time)."""
        built = self._requests[i]
        if isinstance(built, PreparedRequest):
            return built
        kept = self._built.get(i)
        if kept is not None:
            return kept
        assert self._adapter is not None  # rows without a built request have their adapter
        values = (self.input_texts[i],) if built is None else built
        inputs = dict(zip(self._inputs, values, strict=True))
        request = self._adapter.prepare(inputs, inputs)
        if len(self._built) < _KEPT_BUILT:
            self._built[i] = request
        return request

    @classmethod
    def of(cls, rows: Sequence[PreparedRow]) -> RowTable:
        """A table of rows made one by one (tests, benchmarks); their requests are kept."""
        table = cls()
        for i, r in enumerate(rows):
            if r.index != i:
                raise ValueError(f"row {i} has index {r.index}")
            table.append(r.line, r.row_id, r.request, r.expected, r.expected_text, r.slices,
                         r.input_text)  # fmt: skip
        return table
