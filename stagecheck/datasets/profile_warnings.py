"""The dataset profile's warnings: classes and slice values too small for their accuracy to
be known to ±10 points (in a conversation dataset, too few conversations), duplicates labelled
two ways, repeated inputs, inputs past the length cap."""

from __future__ import annotations

from collections.abc import Callable

from stagecheck.datasets.profile_schema import (
    INPUT_CAP_CHARS,
    MAX_WARNED,
    DatasetProfile,
    Group,
    Groups,
    excerpt,
    max_half_width,
)

__all__ = ["profile_warnings"]


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
    if groups.by_conversation:
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


def profile_warnings(profile: DatasetProfile) -> list[str]:
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
