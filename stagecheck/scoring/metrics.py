"""Classification metrics from confusion counts (no per-request data, no scikit-learn).

The classes are the labels that occur as *expected* values. A label that is only ever
predicted (``(unparseable)``, an LLM's off-list answer) is an error against the true class but
not a class of its own. With that class set the figures equal scikit-learn's
``precision_recall_fscore_support(y_true, y_pred, labels=sorted(set(y_true)),
zero_division=0)`` for each ``average``, and ``accuracy_score(y_true, y_pred)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClassMetrics", "ClassificationMetrics", "classification_metrics"]


@dataclass(frozen=True)
class ClassMetrics:
    """Figures of one class (one expected label)."""

    label: str
    support: int  # rows whose expected label is this one
    predicted: int  # answers that named this label
    tp: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "support": self.support,
            "predicted": self.predicted,
            "tp": self.tp,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class ClassificationMetrics:
    """Accuracy and averaged precision / recall / F1 of a set of scored answers."""

    scored: int
    correct: int
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    precision_micro: float
    recall_micro: float
    f1_micro: float
    classes: tuple[ClassMetrics, ...]  # sorted by label

    def as_dict(self) -> dict[str, Any]:
        """The summary's ``quality`` object (classes apart)."""
        return {
            "scored": self.scored,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "precision_macro": self.precision_macro,
            "recall_macro": self.recall_macro,
            "f1_macro": self.f1_macro,
            "precision_weighted": self.precision_weighted,
            "recall_weighted": self.recall_weighted,
            "f1_weighted": self.f1_weighted,
            "precision_micro": self.precision_micro,
            "recall_micro": self.recall_micro,
            "f1_micro": self.f1_micro,
        }


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # zero_division=0


def classification_metrics(confusion: Mapping[tuple[str, str], int]) -> ClassificationMetrics:
    """Metrics from ``{(expected_label, predicted_label): count}``; empty -> all zeros."""
    support: dict[str, int] = {}
    predicted: dict[str, int] = {}
    tp: dict[str, int] = {}
    total = 0
    for (expected, guess), count in confusion.items():
        if count < 0:
            raise ValueError(f"negative count {count} for {(expected, guess)!r}")
        if count == 0:
            continue  # a zero cell must not turn a label into a class
        total += count
        support[expected] = support.get(expected, 0) + count
        predicted[guess] = predicted.get(guess, 0) + count
        if expected == guess:
            tp[expected] = tp.get(expected, 0) + count

    classes = []
    for label in sorted(support):
        t, s, p = tp.get(label, 0), support[label], predicted.get(label, 0)
        classes.append(
            ClassMetrics(
                label=label,
                support=s,
                predicted=p,
                tp=t,
                precision=_ratio(t, p),
                recall=_ratio(t, s),
                f1=_ratio(2 * t, s + p),  # = 2PR/(P+R), the form scikit-learn computes
            )
        )
    n = len(classes)
    correct = sum(c.tp for c in classes)
    predicted_as_class = sum(c.predicted for c in classes)  # answers naming a real class
    return ClassificationMetrics(
        scored=total,
        correct=correct,
        accuracy=_ratio(correct, total),
        precision_macro=_ratio(sum(c.precision for c in classes), n),
        recall_macro=_ratio(sum(c.recall for c in classes), n),
        f1_macro=_ratio(sum(c.f1 for c in classes), n),
        precision_weighted=_ratio(sum(c.precision * c.support for c in classes), total),
        recall_weighted=_ratio(sum(c.recall * c.support for c in classes), total),
        f1_weighted=_ratio(sum(c.f1 * c.support for c in classes), total),
        precision_micro=_ratio(correct, predicted_as_class),
        recall_micro=_ratio(correct, total),
        f1_micro=_ratio(2 * correct, predicted_as_class + total),
        classes=tuple(classes),
    )
