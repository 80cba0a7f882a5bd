"""What a validation dataset can and cannot tell: rows per class and per slice, duplicate
inputs (and duplicates labelled two ways), the input-length distribution, and the classes and
slices too small for their accuracy to be known to better than ±10 points.

Printed by ``stagecheck validate`` and shown in the report: see
:mod:`stagecheck.datasets.profile_view`. :func:`length_buckets` is public: the error analysis breaks
accuracy down by the same input-length buckets the profile shows.

One pass over the rows with counters (no sort of the rows), so a million rows take a few
seconds; what is kept is bounded (at most :data:`MAX_GROUPS` values per class or slice field,
:data:`MAX_EXAMPLES` examples, excerpts of :data:`EXCERPT_CHARS` characters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from stagecheck.datasets.conversations import turn_keys
from stagecheck.datasets.lengths import (
    bucket_index,
    bucket_label,
    length_buckets,
    length_quantile,
)
from stagecheck.datasets.prepared import PreparedDataset
from stagecheck.datasets.profile_schema import (
    EXCERPT_CHARS,
    INPUT_CAP_CHARS,
    MAX_EXAMPLES,
    MAX_GROUPS,
    THIN_HALF_WIDTH,
    DatasetProfile,
    DuplicateInput,
    Duplicates,
    Group,
    Groups,
    InputLengths,
    LengthBucket,
    excerpt,
    max_half_width,
)
from stagecheck.datasets.profile_warnings import profile_warnings
from stagecheck.scoring.toolcall import is_tool_row
from stagecheck.stats import is_thin

__all__ = [
    "MAX_GROUPS",
    "MAX_EXAMPLES",
    "EXCERPT_CHARS",
    "THIN_HALF_WIDTH",
    "Group",
    "Groups",
    "DuplicateInput",
    "Duplicates",
    "LengthBucket",
    "InputLengths",
    "DatasetProfile",
    "profile_dataset",
    "length_buckets",
    "bucket_index",
    "bucket_label",
    "max_half_width",
    "excerpt",
]

def _thin_below() -> int:
    """The fewest rows that are not thin (93 at ±10 points)."""
    n = 1
    while is_thin(n, THIN_HALF_WIDTH):
        n += 1
    return n


def _groups(counter: Counter[str], total: int, units: dict[str, set[int]] | None = None
            ) -> Groups:  # fmt: skip
    """``units``: a conversation dataset's conversations holding each value's turns."""
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[:MAX_GROUPS]

    def n(value: str, rows: int) -> int:
        return rows if units is None else len(units.get(value, ()))

    return Groups(
        values=[
            Group(
                value=value,
                rows=rows,
                share=rows / total,
                half_width=max_half_width(n(value, rows)),
                thin=is_thin(n(value, rows), THIN_HALF_WIDTH),
                conversations=None if units is None else n(value, rows),
            )
            for value, rows in kept
        ],
        distinct=len(ranked),
        omitted_rows=sum(rows for _, rows in ranked[MAX_GROUPS:]),
        thin=sum(1 for value, rows in ranked if is_thin(n(value, rows), THIN_HALF_WIDTH)),
        min_rows=ranked[-1][1] if ranked else 0,
    )


_Units = dict[str, set[int]]  # a value's conversations


def _conversation_units(dataset: PreparedDataset, classification: bool
                        ) -> tuple[_Units | None, list[_Units]]:  # fmt: skip
    """A conversation dataset's conversations per class and per slice value (None and [] for
    another dataset)."""
    rows = dataset.rows
    table = getattr(rows, "conversations", None)
    if table is None or len(table.conversation_of) != len(rows):
        return None, []
    classes: dict[str, set[int]] = {}
    slices: list[dict[str, set[int]]] = []
    expected = rows.expected_texts
    for i, (conversation, combo) in enumerate(zip(table.conversation_of, rows.slices,
                                                  strict=True)):  # fmt: skip
        if classification:
            classes.setdefault(expected[i], set()).add(conversation)
        while len(slices) < len(combo):
            slices.append({})
        for field, value in enumerate(combo):
            slices[field].setdefault(value, set()).add(conversation)
    return (classes if classification else None), slices


_DICT_CODES_UP_TO = 200_000  # values hashed in a dict below this; with pandas above


def _codes(values: Sequence[str]) -> tuple[np.ndarray, Sequence[str]]:
    """Each value's code and the distinct values, in the order they first appear. A large
    dataset's are hashed with pandas (a dict of a million texts to their first row took
    ~100 MB at the end of a run); a smaller one's in a dict (importing pandas costs a run
    0.1–0.5 CPU-s)."""
    if len(values) > _DICT_CODES_UP_TO:
        import pandas as pd  # the end of a run only

        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        return codes, uniques
    texts = list(values)
    lookup = {text: i for i, text in enumerate(dict.fromkeys(texts))}
    codes = np.fromiter(map(lookup.__getitem__, texts), np.int64, count=len(texts))
    return codes, list(lookup)


def _no_call(expected: object) -> bool:
    return is_tool_row(expected) and getattr(expected, "name", "") is None


def _duplicates(dataset: PreparedDataset) -> Duplicates:
    rows = dataset.rows
    table = getattr(rows, "conversations", None)
    compared = "input" if table is None else "history and input"
    codes, _ = _codes(rows.input_texts if table is None else turn_keys(table, rows.input_texts))
    repeated = np.flatnonzero(np.bincount(codes)[codes] > 1) if codes.size else codes
    grouped = repeated[np.argsort(codes[repeated], kind="stable")]  # by text, then row
    code = codes[grouped]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if grouped.size else grouped
    ends = np.r_[starts[1:], grouped.size].astype(np.int64)
    expected, _ = _codes(rows.expected_texts)
    e = expected[grouped]
    # an input whose rows expect more than one value; a row that expects no tool call checks
    # no text, so it agrees with any expected text
    no_call = np.fromiter((_no_call(rows.expected[i]) for i in grouped.tolist()), bool,
                          count=grouped.size)  # fmt: skip
    conflict = (np.minimum.reduceat(np.where(no_call, np.iinfo(np.int64).max, e), starts)
                < np.maximum.reduceat(np.where(no_call, -1, e), starts)
                if starts.size else np.zeros(0, bool))  # fmt: skip
    # repeated inputs in the order of each one's second row
    order = np.argsort(grouped[starts + 1], kind="stable")
    starts, ends, conflict = starts[order], ends[order], conflict[order]
    n = ends - starts
    rank = np.argsort(-n, kind="stable")  # stable: first seen first among equals
    expected_texts = rows.expected_texts

    def example(g: int) -> DuplicateInput:
        indexes = grouped[starts[g] : ends[g]].tolist()
        first_expecting: dict[str, int] = {}
        for i in indexes:
            first_expecting.setdefault(expected_texts[i], i)
        shown = list(first_expecting)[:MAX_EXAMPLES]
        return DuplicateInput(
            input=excerpt(rows.input_texts[grouped[starts[g]]]),
            rows=len(indexes),
            row_ids=[excerpt(rows[i].row_id) for i in indexes[:MAX_EXAMPLES]],
            expected=[excerpt(x) for x in shown],
            expected_rows=[excerpt(rows[first_expecting[x]].row_id) for x in shown],
            expected_distinct=len(first_expecting),
        )

    return Duplicates(
        compared=compared,
        rows=int((n - 1).sum()),
        inputs=int(n.size),
        examples=[example(g) for g in rank[:MAX_EXAMPLES].tolist()],
        conflicting_inputs=int(conflict.sum()),
        conflicting_rows=int(n[conflict].sum()),
        conflicting_examples=[example(g) for g in rank[conflict[rank]][:MAX_EXAMPLES].tolist()],
    )


def _lengths(lengths: Counter[int], total: int, capped: int) -> InputLengths:
    pairs = sorted(lengths.items())
    edges = length_buckets(lengths)
    per_bucket = [0] * len(edges)
    for length, rows in pairs:
        per_bucket[bucket_index(length, edges)] += rows
    return InputLengths(
        min=pairs[0][0],
        p50=length_quantile(pairs, total, 0.5),
        p90=length_quantile(pairs, total, 0.9),
        max=pairs[-1][0],
        mean=sum(k * v for k, v in pairs) / total,
        buckets=[
            LengthBucket(
                low=lo, high=hi, label=bucket_label((lo, hi), edges), rows=r, share=r / total
            )
            for (lo, hi), r in zip(edges, per_bucket, strict=True)
        ],
        capped=capped,
    )


def profile_dataset(
    dataset: PreparedDataset, slice_fields: Sequence[str], classification: bool
) -> DatasetProfile:
    """Profile ``dataset``'s rows: ``slice_fields`` name the values of ``row.slices`` in order
    (the scenario's ``dataset.slices``); classes are profiled only for a classification."""
    total = len(dataset.rows)
    classes: Counter[str] = Counter()
    slices: list[Counter[str]] = [Counter() for _ in slice_fields]
    lengths: Counter[int] = Counter()
    capped = 0
    cut = INPUT_CAP_CHARS + 1  # the kept text plus its "…"
    table = dataset.rows
    if classification:
        classes.update(table.expected_texts)
    for combo, count in Counter(table.slices).items():  # few distinct combinations
        for counter, value in zip(slices, combo, strict=False):
            counter[value] += count
    lengths.update(map(len, table.input_texts))
    capped = sum(1 for text in table.input_texts if len(text) == cut and text.endswith("…"))
    if capped:
        lengths[cut] -= capped
        lengths[INPUT_CAP_CHARS] += capped
        if not lengths[cut]:
            del lengths[cut]
    empty = InputLengths(min=0, p50=0, p90=0, max=0, mean=0.0, buckets=[], capped=0)
    class_units, slice_units = _conversation_units(dataset, classification)
    while slice_units and len(slice_units) < len(slice_fields):
        slice_units.append({})
    profile = DatasetProfile(
        rows=total,
        classification=classification,
        thin_below=_thin_below(),
        classes=_groups(classes, total, class_units) if classification and total else None,
        slices={
            name: _groups(counter, total, slice_units[i] if slice_units else None)
            for i, (name, counter) in enumerate(zip(slice_fields, slices, strict=True))
            if total
        },
        duplicates=_duplicates(dataset),
        lengths=_lengths(lengths, total, capped) if total else empty,
        warnings=[],
    )
    return profile.model_copy(update={"warnings": profile_warnings(profile)})
