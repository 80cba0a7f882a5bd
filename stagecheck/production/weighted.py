"""A run's figures re-weighted to production's mix (post-stratification): accuracy, macro-F1
and per-class recall, each stratum's requests weighted so that the strata count as their
production shares (:mod:`stagecheck.production.strata`).

Within a stratum the figures are over scored requests, as the run's own are; the uncertainty
comes from the dataset rows (the unit of evidence: a timed run replays rows; a conversation
run's conversations): a bootstrap that resamples them with replacement within each stratum,
seeded, its 2.5th and 97.5th percentiles the 95 % interval and its standard deviation the
standard error (what a threshold's ``at NN% confidence`` uses at any other level)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stagecheck.production.schema import Stratum, Weighted, WeightedClass
from stagecheck.production.strata import Strata, cell_text, stratify

__all__ = ["weighted_figures", "BOOTSTRAP_SEED", "RunRows", "run_rows"]

BOOTSTRAP_SEED = 0
BOOTSTRAP_REPS = 1000
MIN_REPS = 100  # a run of over 200,000 rows gets fewer resamples (said in the summary) …
_WORK = 20_000_000  # … so that rows × resamples stays about this (~5 s at 1 M rows)
_OTHER, _UNPARSEABLE = "(other)", "(unparseable)"


@dataclass(frozen=True)
class RunRows:
    """The scored requests of a run, gathered by dataset row."""

    cells: list[tuple[str, ...]]  # distinct cells (of the given fields)
    row_cell: np.ndarray  # per row: index into cells
    n: np.ndarray  # per row: scored requests
    k: np.ndarray  # per row: correct ones
    pair_row: np.ndarray  # (row, expected, predicted) with its requests
    pair_exp: np.ndarray
    pair_pred: np.ndarray
    pair_count: np.ndarray
    texts: list[str]  # expected and predicted texts (codes above)
    classification: bool
    # per row: its unit of evidence when rows come in clusters (a conversation's turns, not
    # independent of each other); None: each row is its own unit
    row_unit: np.ndarray | None = None


def run_rows(run_dir: Path, summary: Mapping[str, Any], fields: Sequence[str]) -> RunRows:
    """The scored requests of the run folder, by row, with each row's cell of ``fields``."""
    from stagecheck.analysis.columns import CORRECT, UNPARSEABLE, read_columns, stage_users
    from stagecheck.analysis.frame import Frame
    from stagecheck.runfolder.rows import variant_tags

    classification = bool(summary.get("classes"))
    cols = read_columns(run_dir, stage_users(summary), classification)
    fr = Frame.build(cols, summary)
    scored = fr.scored
    varied = variant_tags(run_dir / "rows.jsonl")
    if varied:  # dataset.variants: the rows as written only (variant rows are perturbed copies)
        scored = scored & ~np.isin(cols.row, np.fromiter(varied, np.int64, len(varied)))
    pos = fr.pos[scored]
    codes = [fr.slice_codes[f][scored] if f in fr.slice_codes
             else np.zeros(pos.size, np.int32) for f in fields]  # fmt: skip
    values = [fr.slice_values.get(f, ["(none)"]) for f in fields]
    rows, inv = np.unique(pos, return_inverse=True)
    conv = fr.conversations()
    row_unit = None if conv is None else conv.unit[rows]
    first = np.zeros(rows.size, np.int64)
    first[inv[::-1]] = np.arange(pos.size)[::-1]  # a request of each row: its cell
    if fields:
        stacked = np.stack([c[first] for c in codes], axis=1)
        uniq, row_cell = np.unique(stacked, axis=0, return_inverse=True)
        cells = [tuple(values[i][int(c)] for i, c in enumerate(u)) for u in uniq]
    else:  # the sample carries no slice field: one stratum, the figures unchanged
        row_cell, cells = np.zeros(rows.size, np.int64), [()]
    correct = cols.outcome[scored] == CORRECT
    n = np.bincount(inv, minlength=rows.size).astype(np.float64)
    k = np.bincount(inv, weights=correct.astype(np.float64), minlength=rows.size)
    texts = list(fr.expected_values)
    index = {t: i for i, t in enumerate(texts)}

    def code(t: str) -> int:
        if t not in index:
            index[t] = len(texts)
            texts.append(t)
        return index[t]

    exp = fr.expected[scored].astype(np.int64)
    answer = cols.predicted[scored]
    distinct, which = np.unique(answer, return_inverse=True)
    table = np.asarray([code(fr.text(int(a)) or _OTHER) if a >= 0 else code(_OTHER)
                        for a in distinct], np.int64)  # fmt: skip
    pred = table[which.reshape(-1)] if answer.size else np.zeros(0, np.int64)
    pred = np.where(correct, exp, pred)
    if (cols.outcome[scored] == UNPARSEABLE).any():
        pred = np.where(cols.outcome[scored] == UNPARSEABLE, code(_UNPARSEABLE), pred)
    t = len(texts)  # one int64 key per (row, expected, predicted): a 1-D unique is fast
    keys, counts = np.unique((inv.astype(np.int64) * t + exp) * t + pred, return_counts=True)
    return RunRows(cells=cells, row_cell=np.asarray(row_cell, np.int64).reshape(-1), n=n, k=k,
                   pair_row=keys // (t * t), pair_exp=keys // t % t, pair_pred=keys % t,
                   pair_count=counts.astype(np.float64), texts=texts,
                   classification=classification, row_unit=row_unit)  # fmt: skip


def _figures(rr: RunRows, r: np.ndarray, w: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(accuracy, macro-F1, recall per text; NaN where no support) at row multiplicities r."""
    cells = len(rr.cells)
    scored = np.bincount(rr.row_cell, weights=r * rr.n, minlength=cells)
    scale = np.divide(w, scored, out=np.zeros(cells), where=scored > 0)
    accuracy = float((r * rr.k * scale[rr.row_cell]).sum())
    t = len(rr.texts)
    pw = r[rr.pair_row] * scale[rr.row_cell[rr.pair_row]] * rr.pair_count
    support = np.bincount(rr.pair_exp, weights=pw, minlength=t)
    predicted = np.bincount(rr.pair_pred, weights=pw, minlength=t)
    hit = rr.pair_exp == rr.pair_pred
    tp = np.bincount(rr.pair_exp[hit], weights=pw[hit], minlength=t)
    has = support > 0
    recall = np.where(has, np.divide(tp, support, out=np.zeros(t), where=has), np.nan)
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(t), where=(support + predicted) > 0)
    macro = float(f1[has].mean()) if has.any() else float("nan")
    return accuracy, macro, recall


class _Resampler:
    """Bootstrap resamples of units with replacement within each cell (its unit count kept):
    the rows, or a conversation run's conversations (a cluster bootstrap: a conversation's
    turns are drawn together; Davison & Hinkley (1997), *Bootstrap Methods*, §3.8)."""

    def __init__(self, rr: RunRows, rng: np.random.Generator) -> None:
        self.rng = rng
        if rr.row_unit is None:
            self.of_row: np.ndarray | None = None
            unit_cell = rr.row_cell
        else:  # a unit per (conversation, cell): a conversation split by a slice stays apart
            keys = rr.row_unit.astype(np.int64) * max(len(rr.cells), 1) + rr.row_cell
            distinct, self.of_row = np.unique(keys, return_inverse=True)
            self.of_row = self.of_row.reshape(-1)
            unit_cell = distinct % max(len(rr.cells), 1)
        self.order = np.argsort(unit_cell, kind="stable")
        sizes = np.bincount(unit_cell, minlength=len(rr.cells))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        cell = unit_cell[self.order]
        self.start, self.size = starts[cell], sizes[cell].astype(np.float64)

    def __call__(self) -> np.ndarray:
        """Row multiplicities of one resample."""
        u = self.rng.random(self.size.size)
        picks = self.start + (u * self.size).astype(np.int64)
        units = np.bincount(self.order[picks], minlength=self.size.size).astype(np.float64)
        return units if self.of_row is None else units[self.of_row]


def _interval(values: np.ndarray) -> tuple[list[float] | None, float | None]:
    values = values[np.isfinite(values)]
    if values.size < 2:
        return None, None
    lo, hi = np.quantile(values, [0.025, 0.975])
    return [float(lo), float(hi)], float(values.std(ddof=1))


def weighted_figures(
    rr: RunRows, fields: Sequence[str], production: Mapping[tuple[str, ...], int]
) -> tuple[Strata, list[Stratum], Weighted | None, str]:
    """The strata and the figures re-weighted to ``production`` (cell → production rows)."""
    rows_per_cell = np.bincount(rr.row_cell, minlength=len(rr.cells))
    strata = stratify(fields, production, {c: int(rows_per_cell[i])
                                           for i, c in enumerate(rr.cells)})  # fmt: skip
    w = np.asarray([strata.weights.get(c, 0.0) for c in rr.cells])
    scored = np.bincount(rr.row_cell, weights=rr.n, minlength=len(rr.cells))
    correct = np.bincount(rr.row_cell, weights=rr.k, minlength=len(rr.cells))
    table = [Stratum(cell=cell_text(fields, c), production_share=strata.shares.get(c, 0.0),
                     weight=float(w[i]), validation_rows=int(rows_per_cell[i]),
                     scored=int(scored[i]),
                     accuracy=float(correct[i] / scored[i]) if scored[i] else None)
             for i, c in enumerate(rr.cells)]  # fmt: skip
    table.sort(key=lambda s: (-s.production_share, -s.weight, s.cell))
    size = int(rr.n.size)
    reps = int(min(BOOTSTRAP_REPS, max(MIN_REPS, _WORK // max(size, 1))))
    what = "dataset rows" if rr.row_unit is None else "conversations"
    how = f"{reps} resamples of {what} within strata, seed {BOOTSTRAP_SEED}"
    if not size or w.sum() <= 0:
        return strata, table, None, how
    accuracy, macro, recall = _figures(rr, np.ones(size), w)
    resample = _Resampler(rr, np.random.default_rng(BOOTSTRAP_SEED))
    boot = [_figures(rr, resample(), w) for _ in range(reps)]
    acc_ci, acc_se = _interval(np.asarray([b[0] for b in boot]))
    classes: list[WeightedClass] = []
    f1_ci: list[float] | None = None
    f1_se: float | None = None
    if rr.classification:
        f1_ci, f1_se = _interval(np.asarray([b[1] for b in boot]))
        recalls = np.asarray([b[2] for b in boot])
        for i, label in enumerate(rr.texts):
            if np.isnan(recall[i]):
                continue
            ci, _ = _interval(recalls[:, i])
            classes.append(WeightedClass(label=label, recall=float(recall[i]), recall_ci=ci))
        classes.sort(key=lambda c: c.label)
    unweighted = float(rr.k.sum() / rr.n.sum()) if rr.n.sum() else None
    figures = Weighted(
        accuracy=accuracy, accuracy_ci=acc_ci, accuracy_se=acc_se,
        f1_macro=macro if rr.classification else None, f1_macro_ci=f1_ci, f1_macro_se=f1_se,
        classes=classes, unweighted_accuracy=unweighted,
    )  # fmt: skip
    return strata, table, figures, how
