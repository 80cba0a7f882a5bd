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

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from stagecheck.datasets.conversations import turn_keys
from stagecheck.datasets.lengths import (
    bucket_index,
    bucket_label,
    length_buckets,
    length_quantile,
)
from stagecheck.datasets.prepared import PreparedDataset
from stagecheck.scoring.toolcall import is_tool_row
from stagecheck.stats import Z95, is_thin

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

MAX_GROUPS = 100  # values kept per class list or slice field (most rows first)
MAX_EXAMPLES = 5  # duplicate examples kept, and row ids per example
MAX_WARNED = 5  # thin classes / slice values named one by one; the rest are counted
EXCERPT_CHARS = 60  # dataset text is shown as excerpts, never whole
THIN_HALF_WIDTH = 0.10  # a group is thin when its 95 % interval can be wider than ±10 points
INPUT_CAP_CHARS = 2000  # PreparedRow.input_text keeps this many characters (then "…")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(_Strict):
    """One class, or one value of a slice field."""

    value: str
    rows: int
    share: float  # of all rows, 0..1
    half_width: float  # widest 95 % half-width at this n (max_half_width), 0..1
    thin: bool  # half_width can exceed ±10 points: its figures mean little
    # a conversation dataset: the conversations holding its turns, the unit of evidence (its
    # turns are not independent): half_width and thin are at this n, not at rows
    conversations: int | None = None


class Groups(_Strict):
    values: list[Group]  # most rows first, at most MAX_GROUPS
    distinct: int  # all distinct values
    omitted_rows: int  # rows of the values beyond MAX_GROUPS
    thin: int  # thin values, counted over all of them
    min_rows: int  # rows of the smallest value


class DuplicateInput(_Strict):
    """One input text that several rows carry."""

    input: str  # excerpt, at most EXCERPT_CHARS characters, on one line
    rows: int  # rows carrying it
    row_ids: list[str]  # the first MAX_EXAMPLES of them (excerpts)
    expected: list[str]  # its distinct expected answers, first seen first (excerpts, ≤ 5)
    expected_rows: list[str]  # for each of those, the first row id expecting it
    expected_distinct: int  # all its distinct expected answers


class Duplicates(_Strict):
    # what two rows must share to be duplicates: a conversation turn's history counts too
    compared: Literal["input", "history and input"] = "input"
    rows: int  # rows whose input repeats an earlier row's
    inputs: int  # distinct inputs carried by more than one row
    examples: list[DuplicateInput]  # most repeated first
    conflicting_inputs: int  # duplicated inputs with more than one expected answer
    conflicting_rows: int  # rows carrying those inputs
    conflicting_examples: list[DuplicateInput]


class LengthBucket(_Strict):
    low: int  # characters, inclusive
    high: int  # characters, exclusive
    label: str
    rows: int
    share: float


class InputLengths(_Strict):
    """Input length in characters (of the text shown in samples: inputs joined as
    ``name=value | …`` when several fields are sent)."""

    min: int
    p50: int
    p90: int
    max: int
    mean: float
    buckets: list[LengthBucket]
    capped: int  # rows longer than INPUT_CAP_CHARS, measured at the cap


class DatasetProfile(_Strict):
    rows: int
    classification: bool
    thin_below: int  # a class or slice value with fewer rows than this is thin
    classes: Groups | None  # None unless the scoring is a classification
    slices: dict[str, Groups]
    duplicates: Duplicates
    lengths: InputLengths
    warnings: list[str]


def max_half_width(n: int) -> float:
    """Half-width of the widest 95 % Wilson interval of a proportion over ``n`` trials (at
    p̂ = ½): z / (2·√(n + z²)); over :data:`THIN_HALF_WIDTH` exactly when
    :func:`stagecheck.stats.is_thin`. 1.0 for n = 0: nothing is known."""
    return 1.0 if n <= 0 else Z95 / (2 * math.sqrt(n + Z95**2))


def _thin_below() -> int:
    """The fewest rows that are not thin (93 at ±10 points)."""
    n = 1
    while is_thin(n, THIN_HALF_WIDTH):
        n += 1
    return n


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "…"): dataset text is shown
    as excerpts, never whole."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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


def _points(half_width: float) -> str:
    return f"±{round(half_width * 100)} points"


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _thin_warnings(
    named: Callable[[str], str], plural: str, groups: Groups, thin_below: int
) -> list[str]:
    """One line per thin value when few are; else one line for all of them, smallest first.
    A conversation dataset's are judged and said in conversations, its unit of evidence."""
    thin = sorted((g for g in groups.values if g.thin), key=lambda g: (g.rows, g.value))
    if groups.values and groups.values[0].conversations is not None:
        return _thin_conversations(named, plural, groups, thin, thin_below)
    if groups.thin <= 3:
        return [
            f"{named(excerpt(g.value))} has {_rows(g.rows)}: its accuracy can only be known "
            f"to {_points(g.half_width)}"
            for g in thin
        ]
    largest = thin[-1].rows if thin else groups.min_rows
    how_many = (
        f"all {groups.distinct} {plural}"
        if groups.thin == groups.distinct
        else f"{groups.thin} of {groups.distinct} {plural}"
    )
    smallest = ", ".join(f"{excerpt(g.value, 24)} {g.rows}" for g in thin[:MAX_WARNED])
    return [
        f"{how_many} have fewer than {thin_below} rows ({groups.min_rows}–{largest}): their "
        f"accuracy can only be known to ±{round(max_half_width(largest) * 100)} to "
        f"{_points(max_half_width(groups.min_rows))}; smallest: {smallest}"
    ]


def _thin_conversations(named: Callable[[str], str], plural: str, groups: Groups,
                        thin: list[Group], thin_below: int) -> list[str]:  # fmt: skip
    """:func:`_thin_warnings` of a conversation dataset: its turns are not independent, so a
    value's accuracy is known as well as its conversations (not its turns) allow."""
    def units(g: Group) -> str:
        n = g.conversations or 0
        return f"{_rows(g.rows)} in {n} conversation{'s' if n != 1 else ''}"

    if groups.thin <= 3:
        return [f"{named(excerpt(g.value))} has {units(g)}: its accuracy can only be known to "
                f"{_points(g.half_width)}" for g in thin]  # fmt: skip
    smallest = ", ".join(f"{excerpt(g.value, 24)} {g.conversations}" for g in
                         sorted(thin, key=lambda g: (g.conversations or 0, g.value))[:MAX_WARNED])
    widest = max((g.half_width for g in thin), default=0.0)
    return [f"{groups.thin} of {groups.distinct} {plural} are in fewer than {thin_below} "
            f"conversations: their accuracy can only be known to {_points(widest)} at worst; "
            f"smallest (conversations): {smallest}"]  # fmt: skip


def _slice_value(field: str) -> Callable[[str], str]:
    return lambda value: f"slice {field}={value}"


def _warnings(profile: DatasetProfile) -> list[str]:
    out: list[str] = []
    if profile.classes is not None:
        out += _thin_warnings(
            lambda v: f"class '{v}'", "classes", profile.classes, profile.thin_below
        )
    for name, groups in profile.slices.items():
        field = excerpt(name, 40)
        out += _thin_warnings(_slice_value(field), f"{field} values", groups, profile.thin_below)
    d = profile.duplicates
    after = "" if d.compared == "input" else " after the same history"
    if d.conflicting_inputs:
        ex = d.conflicting_examples[0]
        ways = ", ".join(
            f"'{e}' in row {r}" for e, r in zip(ex.expected[:3], ex.expected_rows, strict=False)
        )
        more = ex.expected_distinct - min(3, len(ex.expected))
        out.append(
            f"{_rows(d.conflicting_rows)} carry an input that is labelled more than one way{after} "
            f"({d.conflicting_inputs} distinct input{'s' if d.conflicting_inputs != 1 else ''}): "
            f"a labelling problem, e.g. '{ex.input}' is {ways}"
            + (f" (+{more} more answers)" if more > 0 else "")
        )
    if d.rows:
        ex = d.examples[0]
        out.append(
            f"{d.rows} row{'s repeat' if d.rows != 1 else ' repeats'} another row's input{after} "
            f"({d.inputs} distinct input{'s' if d.inputs != 1 else ''}), e.g. '{ex.input}' "
            f"×{ex.rows} (rows {', '.join(ex.row_ids)})"
        )
    if profile.lengths.capped:
        out.append(
            f"{profile.lengths.capped} inputs are longer than {INPUT_CAP_CHARS} characters: "
            f"lengths and duplicates count their first {INPUT_CAP_CHARS}"
        )
    return out


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
    return profile.model_copy(update={"warnings": _warnings(profile)})
