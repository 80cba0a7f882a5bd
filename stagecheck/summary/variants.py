"""The ``variants`` section of a summary (``dataset.variants:``), computed from the run folder:
``rows.jsonl`` tags each variant row with its variant and origin row, ``results.jsonl`` holds
every answer. See :mod:`stagecheck.summary.variant_schema` for what the figures mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from stagecheck.runfolder.rows import variant_tags
from stagecheck.scenario.variants import ORIGINAL
from stagecheck.stats import design_effect, wilson
from stagecheck.summary.variant_schema import FlipExample, FlipGroup, VariantFigures, Variants

__all__ = ["variant_figures", "MAX_WORST"]

MAX_WORST = 5  # flips shown side by side per variant
_ANSWERED = (0, 1, 2)  # correct, incorrect, unparseable: the scored outcomes


def _ci(k: float, n: int, deff: float = 1.0) -> list[float] | None:
    bounds = wilson(k, n, 0.95, deff=deff)
    return None if bounds is None else [bounds[0], bounds[1]]


class _PerRow:
    """Per dataset row: scored and correct requests, its most frequent answer (a text code,
    -1: none), and whether it was right (most of its scored answers correct)."""

    def __init__(self, cols: Any) -> None:
        size = int(cols.row.max()) + 1 if cols.n else 0
        scored = np.isin(cols.outcome, _ANSWERED)
        row = cols.row[scored]
        self.scored = np.bincount(row, minlength=size)
        self.correct = np.bincount(cols.row[cols.outcome == 0], minlength=size)
        self.right = self.correct * 2 > self.scored
        answer = np.where(cols.predicted >= 0, cols.predicted, cols.got)[scored].astype(np.int64)
        self.answer = np.full(size, -1, np.int64)
        if row.size:
            width = int(answer.max()) + 2
            keys, counts = np.unique(row * width + (answer + 1), return_counts=True)
            # most frequent answer per row (ties: the smallest code, deterministic)
            order = np.lexsort((keys % width, -counts, keys // width))
            keys = keys[order]
            rows_of = keys // width
            first = np.ones(rows_of.size, bool)
            first[1:] = rows_of[1:] != rows_of[:-1]
            self.answer[rows_of[first]] = keys[first] % width - 1
        self.size = size

    def has(self, rows: np.ndarray) -> np.ndarray:
        inside = rows < self.size
        out = np.zeros(rows.shape, bool)
        out[inside] = self.scored[rows[inside]] > 0
        return out


def variant_figures(run_dir: Path, classification: bool) -> dict[str, Any] | None:
    """The ``variants`` section (a dict of the typed model), or None when the run has no
    variant rows."""
    tags = variant_tags(run_dir / "rows.jsonl")
    if not tags:
        return None
    from stagecheck.analysis.columns import read_columns

    cols = read_columns(run_dir, None, classification)
    per = _PerRow(cols)
    table = cols.rows.table()
    names = list(dict.fromkeys(name for name, _ in tags.values()))
    tagged = np.fromiter(tags, np.int64, len(tags))
    originals = np.setdiff1d(table.keys, tagged)
    figures = [_accuracy(ORIGINAL, originals, per)]
    notes = [f"the run's quality figures (accuracy, classes, slices, thresholds) are the "
             f"{originals.size:,} rows as written (variant[{ORIGINAL}]); its requests, error rate "
             f"and latency count the {len(tags):,} varied rows too"]
    for name in names:
        rows = np.asarray([r for r, (n, _) in tags.items() if n == name], np.int64)
        origin = np.asarray([tags[int(r)][1] for r in rows], np.int64)
        figures.append(_flips(name, rows, origin, per, cols, table))
        missing = originals.size - rows.size
        if missing > 0:
            notes.append(f"variant {name}: {missing:,} of {originals.size:,} rows make an empty "
                         "input and were not sent")  # fmt: skip
    return Variants(variants=figures, notes=notes).model_dump(mode="json")


def _accuracy(name: str, rows: np.ndarray, per: _PerRow) -> VariantFigures:
    rows = rows[per.has(rows)]
    k, n = per.correct[rows], per.scored[rows]
    correct, scored = int(k.sum()), int(n.sum())
    deff = design_effect(k, n) if scored else 1.0
    return VariantFigures(
        name=name, rows=int(rows.size), scored=scored, correct=correct,
        accuracy=correct / scored if scored else None, accuracy_ci=_ci(correct, scored, deff),
        design_effect=deff,
    )  # fmt: skip


def _flips(name: str, rows: np.ndarray, origin: np.ndarray, per: _PerRow, cols: Any,
           table: Any) -> VariantFigures:  # fmt: skip
    base = _accuracy(name, rows, per)
    paired = per.has(rows) & per.has(origin)
    rows, origin = rows[paired], origin[paired]
    flipped = per.answer[rows] != per.answer[origin]
    r2w = per.right[origin] & ~per.right[rows]
    w2r = ~per.right[origin] & per.right[rows]
    pairs = int(rows.size)
    expected = cols.rows.expected_texts(origin)
    by_class = [_group(None, str(label), flipped[expected == label], r2w[expected == label])
                for label in sorted({str(e) for e in expected})]  # fmt: skip
    by_slice = []
    slot = np.searchsorted(table.keys, origin)
    codes = table.slices[slot] if table.keys.size else np.zeros(0, np.int32)
    fields = sorted({f for s in table.slice_sets for f in s})
    for field in fields:
        values = np.asarray([table.slice_sets[c].get(field, "") for c in codes], dtype=object)
        for value in sorted(set(values.tolist())):
            mask = values == value
            by_slice.append(_group(field, value, flipped[mask], r2w[mask]))
    flips, rw = int(flipped.sum()), int(r2w.sum())
    return base.model_copy(update={
        "pairs": pairs, "flips": flips, "flip_rate": flips / pairs if pairs else None,
        "flip_rate_ci": _ci(flips, pairs), "right_to_wrong": rw,
        "right_to_wrong_rate": rw / pairs if pairs else None, "right_to_wrong_ci": _ci(rw, pairs),
        "wrong_to_right": int(w2r.sum()), "by_class": by_class, "by_slice": by_slice,
        "worst": list(_worst(rows, origin, flipped, r2w, per, cols)),
    })  # fmt: skip


def _group(field: str | None, value: str, flipped: np.ndarray, r2w: np.ndarray) -> FlipGroup:
    pairs, flips = int(flipped.size), int(flipped.sum())
    return FlipGroup(field=field, value=value, pairs=pairs, flips=flips,
                     flip_rate=flips / pairs if pairs else None,
                     right_to_wrong=int(r2w.sum()))  # fmt: skip


def _worst(rows: np.ndarray, origin: np.ndarray, flipped: np.ndarray, r2w: np.ndarray,
           per: _PerRow, cols: Any) -> Iterator[FlipExample]:  # fmt: skip
    """Right → wrong flips first, then the other flips, in row order."""
    order = np.lexsort((origin, ~r2w))
    shown = [i for i in order if flipped[i]][:MAX_WORST]

    def text(code: int) -> str | None:
        return None if code < 0 else cols.texts[code]

    for i in shown:
        r, o = int(rows[i]), int(origin[i])
        orig, varied = cols.rows[o], cols.rows[r]
        yield FlipExample(
            row=o, id=orig.id, expected=orig.expected, input=orig.input,
            answer=text(int(per.answer[o])), right=bool(per.right[o]), varied_input=varied.input,
            varied_answer=text(int(per.answer[r])), varied_right=bool(per.right[r]),
        )  # fmt: skip
