"""The summary's answer-quality figures: accuracy (or classification metrics) with their
intervals, per class, and the confusion matrix. The dataset row is the unit of evidence (in a
conversation dataset the conversation): an interval is that of the units' effective sample size
(see :mod:`stagecheck.stats`). The figures are of the rows as written: dataset.variants' varied
rows are copies of them, not the validation set (their figures are the summary's variants)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from stagecheck.recording import Aggregate
from stagecheck.scoring.metrics import classification_metrics
from stagecheck.stats import MIN_ROWS, cluster_sums, design_effect, is_thin, wilson

__all__ = ["ANSWER_OUTCOMES", "OTHER_LABEL", "proportion_ci", "quality_figures",
           "classes_section", "confusion_section", "no_pause"]  # fmt: skip

ANSWER_OUTCOMES = ("correct", "incorrect", "unparseable")


#: The confusion matrix's column for answers that are none of the dataset's labels.
OTHER_LABEL = "(other)"


def proportion_ci(successes: int, n: int, deff: float = 1.0) -> list[float] | None:
    """95 % Wilson interval of a proportion, as summary.json writes it; ``deff``: the design
    effect of replayed rows (the interval of the effective sample size n / deff)."""
    bounds = wilson(successes, n, deff=deff)
    return None if bounds is None else [round(bounds[0], 6), round(bounds[1], 6)]


def unit_design_effect(agg: Aggregate, index: np.ndarray, k: np.ndarray, n: np.ndarray) -> float:
    """The design effect of a proportion over dataset rows ``index`` (their correct ``k`` and
    scored ``n`` requests): the row is the unit of evidence (see stagecheck.stats), or in a
    conversation dataset the conversation, whose turns are not independent of each other."""
    table = getattr(agg.rows, "conversations", None)
    if table is not None and index.size and int(index.max()) < len(table.conversation_of):
        conversation_of = np.frombuffer(table.conversation_of, dtype=np.int64)
        k, n = cluster_sums(conversation_of[index], k, n)
    return design_effect(k, n)


def _rows_figures(agg: Aggregate, **where: Any) -> tuple[int, float]:
    """Distinct rows scored in a group and the design effect of its accuracy."""
    index, k, n = agg.row_tallies(**where)
    return int(n.size), unit_design_effect(agg, index, k, n)


def _thin(scored: int, rows: int, deff: float) -> bool:
    """Too few rows, or an interval wider than ±10 points at the effective sample size."""
    return rows < MIN_ROWS or is_thin(scored / deff)


def quality_figures(
    agg: Aggregate, classification: bool, labels: Collection[str], **where: Any
) -> dict[str, Any] | None:
    counts = agg.outcome_counts(written=True, **where)  # the rows as written (not variants')
    scored = sum(counts[o] for o in ANSWER_OUTCOMES)
    rows, deff = _rows_figures(agg, **where)
    if not classification:
        if not scored:
            return None
        return {
            "scored": scored,
            "correct": counts["correct"],
            "rows": rows,
            "design_effect": round(deff, 6),
            "accuracy": counts["correct"] / scored,
            "accuracy_ci": proportion_ci(counts["correct"], scored, deff),
            "thin": _thin(scored, rows, deff),
        }
    confusion = agg.confusion_counts(**where)
    metrics = classification_metrics(confusion)
    if not metrics.scored:
        return None
    out = metrics.as_dict()
    out["rows"] = rows
    out["design_effect"] = round(deff, 6)
    out["accuracy_ci"] = proportion_ci(metrics.correct, metrics.scored, deff)
    out["off_label"] = sum(n for (_, p), n in confusion.items() if p not in labels)
    out["thin"] = _thin(metrics.scored, rows, deff)
    return out


_CLASS_ROWS_PER_PAUSE = 256  # rows and wrong labels gone through between two pauses (~0.3 ms)


_Tallies = tuple[list[int], list[int], list[int]]  # per row: tp, answers, the row's index


def _class_rows(
    agg: Aggregate, pause: Callable[[], None] | None = None
) -> dict[str, dict[str, _Tallies]]:
    """Per class, per row: (tp, support, row) of its recall and (tp, predicted, row) of its
    precision, from each row's answers by label (a row is the unit of evidence, or its
    conversation: :func:`unit_design_effect`): its right answers name its own label, its wrong
    ones the labels in ``row_mislabelled`` (the rows as written: dataset.variants' varied rows
    are left out, as :meth:`Aggregate.row_tallies` leaves them)."""
    pause = pause or no_pause
    rows, right, _ = agg.row_tallies()
    wrong_by_row: dict[int, dict[str, int]] = {}
    for done, ((row, label), n) in enumerate(agg.row_mislabelled.items(), 1):
        wrong_by_row.setdefault(row, {})[label] = n  # a varied row's: never looked up
        if not done % _CLASS_ROWS_PER_PAUSE:
            pause()
    pause()
    # the expected label's column (a row table's), not a row object per row: a live view
    # rebuilds this each second while the users run
    texts = getattr(agg.rows, "expected_texts", None)
    if texts is None:
        texts = [r.expected_text for r in agg.rows]
    out: dict[str, dict[str, _Tallies]] = {}
    no_names: dict[str, int] = {}
    done, next_pause = 0, _CLASS_ROWS_PER_PAUSE
    for row, tp in zip(rows.tolist(), right.tolist(), strict=True):
        done += 1
        if done >= next_pause:  # done also counts wrong labels: it may step over a multiple
            pause()
            next_pause = done + _CLASS_ROWS_PER_PAUSE
        expected = texts[row]
        figures = out.get(expected)
        if figures is None:
            figures = out[expected] = {}
        recall = figures.get("recall")
        if recall is None:
            recall = figures["recall"] = ([], [], [])
        named = wrong_by_row.get(row, no_names)
        recall[0].append(tp)
        recall[1].append(tp + sum(named.values()) if named else tp)  # answers naming a label
        recall[2].append(row)
        if tp:
            precision = figures.get("precision")
            if precision is None:
                precision = figures["precision"] = ([], [], [])
            precision[0].append(tp)
            precision[1].append(tp)
            precision[2].append(row)
        for label, wrong in named.items():
            precision = out.setdefault(label, {}).setdefault("precision", ([], [], []))
            precision[0].append(0)
            precision[1].append(wrong)
            precision[2].append(row)
        done += len(named)
    return out


def classes_section(
    agg: Aggregate, pause: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    pause = pause or no_pause
    metrics = classification_metrics(agg.confusion_counts())
    by_row = _class_rows(agg, pause)
    pause()
    out = []
    for n, c in enumerate(metrics.classes, 1):
        if not n % 4:
            pause()
        figures = by_row.get(c.label, {})
        recall = figures.get("recall", ([], [], []))
        precision = figures.get("precision", ([], [], []))
        deff_p, deff_r = _class_design_effect(agg, precision), _class_design_effect(agg, recall)
        out.append({
            **c.as_dict(),
            "rows": len(recall[0]),
            "precision_ci": proportion_ci(c.tp, c.predicted, deff_p),
            "recall_ci": proportion_ci(c.tp, c.support, deff_r),
            "precision_design_effect": round(deff_p, 6),
            "recall_design_effect": round(deff_r, 6),
            "thin": _thin(c.support, len(recall[0]), deff_r),
        })  # fmt: skip
    return out


def _class_design_effect(agg: Aggregate, tallies: _Tallies) -> float:
    """A class's precision or recall over its rows: their design effect, by conversation in a
    conversation dataset (:func:`unit_design_effect`), as the run's accuracy."""
    k, n, rows = tallies
    return unit_design_effect(agg, np.asarray(rows, np.int64), np.asarray(k, np.int64),
                              np.asarray(n, np.int64))  # fmt: skip


def confusion_section(agg: Aggregate, labels: Collection[str]) -> dict[str, Any] | None:
    """Rows: the expected labels sent; columns: the dataset's labels that occur, then one
    ``(other)`` column for every answer that is none of them (off-label or unparseable)."""
    counts = agg.confusion_counts()
    if not counts:
        return None
    expected = sorted({e for e, _ in counts})
    known = sorted(set(expected) | {p for _, p in counts if p in labels})
    other = Counter[str]()
    for (e, p), n in counts.items():
        if p not in labels:
            other[e] += n
    columns = known + ([OTHER_LABEL] if other else [])
    matrix = [[counts.get((e, p), 0) for p in known] + ([other[e]] if other else [])
              for e in expected]  # fmt: skip
    return {
        "labels": columns,
        "matrix": matrix,
        "note": "rows: expected label (classes sent); columns: predicted label; "
        f"{OTHER_LABEL}: answers that are none of the dataset's labels (off-label or unparseable)",
    }


def no_pause() -> None:
    pass
