"""Classification metrics from confusion counts, checked against scikit-learn as the oracle.

scikit-learn is used only here: the class set is ``sorted(set(y_true))`` (labels that are only
ever predicted, such as ``(unparseable)``, count as errors but are not classes), with
``zero_division=0``.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from stagecheck.scoring import UNPARSEABLE_LABEL, ClassificationMetrics, classification_metrics

pytestmark = pytest.mark.unit

ABS = 1e-12


def confusion_of(y_true: list[str], y_pred: list[str]) -> dict[tuple[str, str], int]:
    return dict(Counter(zip(y_true, y_pred, strict=True)))


def check_against_sklearn(y_true: list[str], y_pred: list[str]) -> ClassificationMetrics:
    m = classification_metrics(confusion_of(y_true, y_pred))
    labels = sorted(set(y_true))
    assert [c.label for c in m.classes] == labels
    assert m.scored == len(y_true)
    assert m.correct == sum(t == p for t, p in zip(y_true, y_pred, strict=True))
    assert m.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=ABS)
    for average in ("macro", "weighted", "micro"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        assert getattr(m, f"precision_{average}") == pytest.approx(p, abs=ABS), average
        assert getattr(m, f"recall_{average}") == pytest.approx(r, abs=ABS), average
        assert getattr(m, f"f1_{average}") == pytest.approx(f, abs=ABS), average
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    for i, c in enumerate(m.classes):
        assert c.precision == pytest.approx(p[i], abs=ABS), c.label
        assert c.recall == pytest.approx(r[i], abs=ABS), c.label
        assert c.f1 == pytest.approx(f[i], abs=ABS), c.label
        assert c.support == s[i]
        assert c.predicted == sum(1 for x in y_pred if x == c.label)
        assert c.tp == sum(1 for t, x in zip(y_true, y_pred, strict=True) if t == x == c.label)
    return m


def random_dataset(rng: random.Random) -> tuple[list[str], list[str]]:
    n_classes = rng.randint(1, 8)
    classes = [f"c{i}" for i in range(n_classes)]
    extra = [UNPARSEABLE_LABEL, "off-list", "other answer"][: rng.randint(0, 3)]
    n = rng.randint(1, 300)
    # Imbalanced class weights; some classes never predicted, some answers off-list.
    weights = [rng.random() ** 3 + 0.01 for _ in classes]
    y_true = rng.choices(classes, weights=weights, k=n)
    accuracy = rng.random()
    never_predicted = set(rng.sample(classes, k=rng.randint(0, n_classes - 1)))
    predictable = [c for c in classes if c not in never_predicted] + extra
    y_pred = [
        t if (rng.random() < accuracy and t not in never_predicted) else rng.choice(predictable)
        for t in y_true
    ]
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(150))
def test_random_datasets_match_sklearn(seed: int) -> None:
    y_true, y_pred = random_dataset(random.Random(seed))
    check_against_sklearn(y_true, y_pred)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (["a"], ["a"]),  # a single class, right
        (["a"], ["b"]),  # a single class, answer off-list
        (["a", "a", "a"], ["a", UNPARSEABLE_LABEL, "a"]),
        (["a", "b"], ["b", "a"]),  # all wrong
        (["a", "b", "c"], ["a", "a", "a"]),  # classes never predicted
        (["a"] * 99 + ["b"], ["a"] * 100),  # imbalanced
        ([UNPARSEABLE_LABEL, "a"], ["a", "a"]),  # odd but legal: the label is just text
        (["x", "y", "x", "y"], ["z", "z", "z", "z"]),  # nothing names a class
    ],
)
def test_edge_cases_match_sklearn(y_true: list[str], y_pred: list[str]) -> None:
    check_against_sklearn(y_true, y_pred)


def test_golden_values() -> None:
    # refund: support 4, predicted 3, tp 2; billing: support 2, predicted 2, tp 1;
    # one answer unparseable.
    y_true = ["refund"] * 4 + ["billing"] * 2
    y_pred = ["refund", "refund", "billing", UNPARSEABLE_LABEL, "refund", "billing"]
    m = check_against_sklearn(y_true, y_pred)
    assert m.accuracy == pytest.approx(3 / 6)
    refund, billing = m.classes[1], m.classes[0]
    assert (refund.label, refund.support, refund.predicted, refund.tp) == ("refund", 4, 3, 2)
    assert (billing.label, billing.support, billing.predicted, billing.tp) == ("billing", 2, 2, 1)
    assert refund.precision == pytest.approx(2 / 3) and refund.recall == pytest.approx(0.5)
    assert m.precision_micro == pytest.approx(3 / 5)  # the unparseable answer names no class
    assert m.recall_micro == pytest.approx(3 / 6)


def test_empty_confusion_is_all_zeros() -> None:
    m = classification_metrics({})
    assert m.classes == ()
    assert m.as_dict() == {
        "scored": 0,
        "correct": 0,
        "accuracy": 0.0,
        "precision_macro": 0.0,
        "recall_macro": 0.0,
        "f1_macro": 0.0,
        "precision_weighted": 0.0,
        "recall_weighted": 0.0,
        "f1_weighted": 0.0,
        "precision_micro": 0.0,
        "recall_micro": 0.0,
        "f1_micro": 0.0,
    }


def test_zero_cells_do_not_create_classes_and_negative_counts_fail() -> None:
    m = classification_metrics({("a", "a"): 2, ("b", "a"): 0})
    assert [c.label for c in m.classes] == ["a"]
    assert m.accuracy == 1.0
    with pytest.raises(ValueError, match="negative"):
        classification_metrics({("a", "a"): -1})


def test_as_dict_shapes() -> None:
    m = classification_metrics({("a", "a"): 1, ("b", "a"): 1})
    assert list(m.as_dict()) == [
        "scored", "correct", "accuracy",
        "precision_macro", "recall_macro", "f1_macro",
        "precision_weighted", "recall_weighted", "f1_weighted",
        "precision_micro", "recall_micro", "f1_micro",
    ]  # fmt: skip
    assert m.classes[0].as_dict() == {
        "label": "a",
        "support": 1,
        "predicted": 2,
        "tp": 1,
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
    }
