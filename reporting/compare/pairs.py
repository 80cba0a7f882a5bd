"""Pairing two runs row by row: the rows scored in both, the rows that flipped, the rows scored
in one run only, and the paired figures for accuracy, each class and each slice value.

The unit is the dataset row, however often a timed run replayed it: each row counts once, by its
share of right answers, and the test is on the per-row differences of those shares
(:func:`stagecheck.stats.paired_fraction_p`, a sign-flip test). When every row's answers are all
right or all wrong in both runs (one pass, or a deterministic model) that is exactly McNemar's
exact test on the rows that flipped. A row is listed as flipped by the majority of its answers.

In a conversation run the unit is the conversation (its turns are not independent pairs): the
test is on each conversation's sum of those differences (:func:`stats.clustered_paired_p`, the
clustered McNemar test of Durkalski et al. 2003, exact on few conversations) and the
intervals are Wilson's at the conversations' effective sample size. dataset.variants' varied
rows are left out: the paired figures are of the rows as written, as the summary's are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from stagecheck import stats
from stagecheck.reporting.compare.data import RunData, RunRows, read_inputs
from stagecheck.reporting.compare.units import RowUnits, row_units, unit_codes

__all__ = ["MetricKind", "Section", "Figure", "Flip", "OneSided", "PairedRuns", "pair_runs"]

MetricKind = Literal["quality", "error_rate", "latency", "throughput"]
Section = Literal["headline", "class", "slice"]

#: Flipped rows kept per direction (the counts are always complete).
MAX_FLIPS = 200
#: Distinct values of one slice field compared (the most frequent ones).
MAX_SLICE_VALUES = 100
_EXAMPLES = 20


@dataclass(frozen=True)
class Figure:
    """A figure of both runs with its test, before Holm's correction over its family."""

    metric: str
    kind: MetricKind
    base: float | None
    new: float | None
    section: Section = "headline"
    test: str | None = None
    p: float | None = None
    base_interval: tuple[float, float] | None = None
    new_interval: tuple[float, float] | None = None
    detail: str = ""


@dataclass(frozen=True)
class Flip:
    """A row right in one run and wrong in the other."""

    key: str
    row: int
    expected: str | None
    slices: tuple[tuple[str, str], ...]
    base_answer: str | None
    new_answer: str | None
    input: str | None
    #: True: right in base, wrong in new (a regression of this row).
    regressed: bool


@dataclass(frozen=True)
class OneSided:
    """Rows scored in one run only: left out of the paired figures, counted here."""

    base_only: int
    new_only: int
    #: ("scored in base only; new: http_error", 31), most first.
    causes: tuple[tuple[str, int], ...]
    #: Row keys, a few per cause.
    examples: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def total(self) -> int:
        return self.base_only + self.new_only


@dataclass(frozen=True)
class PairedRuns:
    rows: int = 0
    accuracy: Figure | None = None
    breakdown: tuple[Figure, ...] = ()
    flips: tuple[Flip, ...] = ()
    flip_counts: tuple[int, int] = (0, 0)
    one_sided: OneSided | None = None
    warnings: tuple[str, ...] = ()
    #: Non-empty when the runs could not be paired (then nothing else is set).
    reason: str = ""
    #: Conversations the paired rows belong to (0: not a conversation run, the row is the unit).
    units: int = 0
    #: dataset.variants' varied rows left out of the pairing (both runs).
    varied: int = 0


def _paired(metric: str, x: np.ndarray, y: np.ndarray, section: Section,
            units: np.ndarray | None = None) -> Figure:  # fmt: skip
    """Paired accuracy of base (x) and new (y): each row's share of right answers (1 or 0 for
    a row answered once), the accuracy their mean, the test on their differences; ``units``:
    each row's conversation (the unit of evidence: test and intervals count conversations)."""
    n = len(x)
    d = y - x
    b, c = int((d < 0).sum()), int((d > 0).sum())
    ka, kb = float(x.sum()), float(y.sum())
    whole = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    if units is not None:
        m = int(np.unique(units).size)
        test = "clustered McNemar" if whole else "paired per conversation (sign-flip)"
        detail = (f"{b} right→wrong, {c} wrong→right of {n} paired rows in {m} conversations "
                  "(the unit: a conversation's turns are not independent)")  # fmt: skip
        ones = np.ones(n)
        deff_a = stats.design_effect(*stats.cluster_sums(units, x, ones))
        deff_b = stats.design_effect(*stats.cluster_sums(units, y, ones))
        return Figure(metric, "quality", ka / n if n else None, kb / n if n else None, section,
                      test, stats.clustered_paired_p(d, units), stats.wilson(ka, n, deff=deff_a),
                      stats.wilson(kb, n, deff=deff_b), detail)  # fmt: skip
    if whole:
        test, detail = "McNemar exact", f"{b} right→wrong, {c} wrong→right of {n} paired rows"
    else:
        test = "paired per row (sign-flip)"
        detail = (f"paired per row (share of right answers of its replays): {b} rows worse, "
                  f"{c} better of {n} paired rows")  # fmt: skip
    return Figure(metric, "quality", ka / n if n else None, kb / n if n else None, section,
                  test, stats.paired_fraction_p(d), stats.wilson(ka, n), stats.wilson(kb, n),
                  detail)  # fmt: skip


def _one_sided(a: RunData, b: RunData, ia: np.ndarray, ib: np.ndarray,
               written: tuple[np.ndarray, np.ndarray]) -> OneSided:  # fmt: skip
    assert a.rows is not None and b.rows is not None
    causes: dict[str, list[str]] = {}
    counts = [0, 0]
    for side, (x, y, ix, iy) in enumerate(((a.rows, b.rows, ia, ib), (b.rows, a.rows, ib, ia))):
        here, there = ("base", "new") if side == 0 else ("new", "base")
        partner = np.full(len(x), -1, dtype=np.int64)
        partner[ix] = iy
        scored_here = (x.correct >= 0) & written[side]
        scored_there = np.zeros(len(x), dtype=bool)
        scored_there[ix] = y.correct[iy] >= 0
        for i in np.flatnonzero(scored_here & ~scored_there):
            j = int(partner[i])
            why = "not sent" if j < 0 else (y.failure[j] or "not scored")
            causes.setdefault(f"scored in {here} only; {there}: {why}", []).append(x.key[i])
            counts[side] += 1
    ranked = sorted(causes.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return OneSided(counts[0], counts[1], tuple((c, len(keys)) for c, keys in ranked),
                    tuple((c, tuple(keys[:_EXAMPLES])) for c, keys in ranked))  # fmt: skip


def _flips(a: RunData, b: RunData, ia: np.ndarray, ib: np.ndarray) -> tuple[Flip, ...]:
    assert a.rows is not None and b.rows is not None
    ca, cb = a.rows.correct[ia], b.rows.correct[ib]
    chosen: list[tuple[int, int, bool]] = []
    for regressed, mask in ((True, (ca == 1) & (cb == 0)), (False, (ca == 0) & (cb == 1))):
        for k in np.flatnonzero(mask)[:MAX_FLIPS]:
            chosen.append((int(ia[k]), int(ib[k]), regressed))
    wanted = {int(b.rows.row[j]) for _, j, _ in chosen}
    inputs = read_inputs(b, wanted)
    missing = wanted - inputs.keys()
    if missing:
        inputs.update(read_inputs(a, missing))
    out = []
    for i, j, regressed in chosen:
        row = int(b.rows.row[j])
        out.append(Flip(a.rows.key[i], row, a.rows.expected[i],
                        tuple(sorted(a.rows.slices[i].items())), a.rows.answer[i],
                        b.rows.answer[j], inputs.get(row), regressed))  # fmt: skip
    return tuple(out)


def _codes(values: Iterable[str], n: int) -> tuple[np.ndarray, list[str]]:
    """Integer codes of ``values`` (one per paired row) and the names they stand for."""
    names: dict[str, int] = {}
    setdefault = names.setdefault
    codes = np.fromiter((setdefault(v, len(names)) for v in values), np.int64, n)
    return codes, list(names)


def _breakdown(a: RunData, ia: np.ndarray, x: np.ndarray, y: np.ndarray,
               units: np.ndarray | None) -> list[Figure]:  # fmt: skip
    assert a.rows is not None
    out: list[Figure] = []
    rows = ia.tolist()
    expected, slices = a.rows.expected, a.rows.slices

    def within(mask: np.ndarray) -> np.ndarray | None:
        return None if units is None else units[mask]

    codes, names = _codes((expected[i] or "" for i in rows), len(rows))
    for code, label in sorted(enumerate(names), key=lambda cn: cn[1]):
        if label:
            mask = codes == code
            out.append(_paired(f"recall[{label}]", x[mask], y[mask], "class", within(mask)))
    fields: dict[str, None] = {}
    for shared in {id(slices[i]): slices[i] for i in rows}.values():
        fields.update(dict.fromkeys(shared))
    for field in fields:
        codes, names = _codes((slices[i].get(field, "") for i in rows), len(rows))
        counts = np.bincount(codes, minlength=len(names))
        top = sorted((c for c, v in enumerate(names) if v), key=lambda c: -counts[c])
        for code in top[:MAX_SLICE_VALUES]:
            mask = codes == code
            out.append(_paired(f"accuracy[{field}={names[code]}]", x[mask], y[mask], "slice",
                               within(mask)))  # fmt: skip
    return out


def _shares(rows: RunRows, index: np.ndarray) -> np.ndarray:
    """Each row's share of right answers (its majority 1/0 when the counts are unknown)."""
    if rows.answers.size != len(rows):
        return rows.correct[index].astype(np.float64)
    answers = rows.answers[index]
    return np.where(answers > 0, rows.right[index] / np.maximum(answers, 1), 0.0)


def pair_runs(a: RunData, b: RunData) -> PairedRuns | None:
    """Pair two runs by row key; None when a folder has no results, ``reason`` set when the
    runs share too few scored rows (under half of the rows scored in either) to pair."""
    if a.rows is None or b.rows is None:
        return None
    index = {key: j for j, key in enumerate(b.rows.key)}
    get = index.get
    partner = np.fromiter((get(key, -1) for key in a.rows.key), np.int64, len(a.rows))
    del index
    units_a, units_b = row_units(a.path), row_units(b.path)
    written = (_written(a.rows, units_a), _written(b.rows, units_b))
    ia = np.flatnonzero((partner >= 0) & written[0])
    ib = partner[ia]
    keep = written[1][ib]
    ia, ib = ia[keep], ib[keep]
    ca, cb = a.rows.correct[ia], b.rows.correct[ib]
    both = (ca >= 0) & (cb >= 0)
    warnings = []
    ea, eb = a.rows.expected, b.rows.expected
    pairs = zip(ia.tolist(), ib.tolist(), strict=True)
    differ = np.fromiter((ea[i] != eb[j] for i, j in pairs), bool, len(ia))
    if differ.any():
        warnings.append(
            f"{int((differ & both).sum())} rows have a different expected answer in the two "
            "runs (another dataset version?); they are left out of the paired figures"
        )
        both &= ~differ
    n = int(both.sum())
    union = int(((a.rows.correct >= 0) & written[0]).sum()
                + ((b.rows.correct >= 0) & written[1]).sum()) - n  # fmt: skip
    if n == 0 or 2 * n < union:
        return PairedRuns(
            reason=f"unpaired: the runs scored only {n} rows in common of {union} scored in "
            "either, so each run's own figures are compared with a two-proportion test"
        )
    one_sided = _one_sided(a, b, ia, ib, written)
    ia, ib = ia[both], ib[both]
    x, y = _shares(a.rows, ia), _shares(b.rows, ib)
    units = unit_codes(a.rows.row[ia], units_a)
    varied = int((~written[0]).sum() + (~written[1]).sum())
    if varied:
        warnings.append(f"{varied} varied rows (dataset.variants) are left out: the paired "
                        "figures are of the rows as written")  # fmt: skip
    replays = max(int(a.rows.requests.max()), int(b.rows.requests.max()))
    if replays > 1:
        warnings.append(
            f"rows were answered up to {replays} times: each row counts once, by its share of "
            "right answers, paired row by row; a row is listed as flipped when most of its "
            "answers changed (a tie goes to its first answer)"
        )
    xa, yb = a.rows.correct[ia], b.rows.correct[ib]
    return PairedRuns(
        rows=n,
        accuracy=_paired("accuracy", x, y, "headline", units),
        breakdown=tuple(_breakdown(a, ia, x, y, units)),
        flips=_flips(a, b, ia, ib),
        flip_counts=(int(((xa == 1) & (yb == 0)).sum()), int(((xa == 0) & (yb == 1)).sum())),
        one_sided=one_sided,
        warnings=tuple(warnings),
        units=0 if units is None else int(np.unique(units).size),
        varied=varied,
    )


def _written(rows: RunRows, units: RowUnits) -> np.ndarray:
    """Per entry: a row as written (not one of dataset.variants' varied rows)."""
    if not units.varied:
        return np.ones(len(rows), bool)
    return ~np.isin(rows.row, np.fromiter(units.varied, np.int64, len(units.varied)))
