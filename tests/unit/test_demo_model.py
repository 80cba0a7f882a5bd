"""The demo classifier: naive Bayes mechanics, and accuracy on the bundled validation split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stagecheck.demo.evaluate import Evaluation, evaluate
from stagecheck.demo.model import IntentClassifier, features, load_default

pytestmark = pytest.mark.unit

VALIDATION = Path(__file__).parents[2] / "scenarios" / "data" / "support_intents.jsonl"

TOY = [
    {"text": "where is my parcel", "label": "shipping"},
    {"text": "parcel tracking not updated", "label": "shipping"},
    {"text": "I want my money back", "label": "refund"},
    {"text": "refund my money please", "label": "refund"},
]


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return load_default()


@pytest.fixture(scope="module")
def evaluation(classifier: IntentClassifier) -> Evaluation:
    with VALIDATION.open(encoding="utf-8") as f:
        return evaluate(classifier, [json.loads(line) for line in f])


def test_features_are_lowercased_unigrams_then_bigrams() -> None:
    assert features("I don't want a REFUND!") == [
        "i", "don't", "want", "a", "refund",
        "i don't", "don't want", "want a", "a refund",
    ]  # fmt: skip


def test_toy_training_predicts_and_gives_probabilities() -> None:
    model = IntentClassifier.train(TOY)
    assert model.labels == ("refund", "shipping")
    assert model.predict("has my parcel shipped")[0] == "shipping"
    label, confidence = model.predict("money back")
    assert label == "refund" and 0.5 < confidence <= 1.0
    assert math.isclose(sum(model.probabilities("anything at all").values()), 1.0)


def test_unseen_words_leave_the_prior() -> None:
    model = IntentClassifier.train([*TOY, {"text": "refund", "label": "refund"}])
    probs = model.probabilities("zzz qqq")
    assert probs["refund"] == pytest.approx(3 / 5)


def test_training_needs_two_labels_and_positive_smoothing() -> None:
    with pytest.raises(ValueError, match="two labels"):
        IntentClassifier.train(TOY[:2])
    with pytest.raises(ValueError, match="alpha"):
        IntentClassifier.train(TOY, alpha=0)


def test_bundled_model_knows_every_intent(classifier: IntentClassifier) -> None:
    assert len(classifier.labels) >= 8
    label, confidence = classifier.predict("I can't log in, the password reset link never comes")
    assert label == "account_access" and 0 < confidence <= 1


def test_accuracy_is_good_but_imperfect(evaluation: Evaluation) -> None:
    assert 0.80 <= evaluation.overall.accuracy <= 0.95


def test_errors_concentrate_in_the_complex_slice(evaluation: Evaluation) -> None:
    simple = evaluation.by_slice["complexity"]["simple"].accuracy
    complex_ = evaluation.by_slice["complexity"]["complex"].accuracy
    assert simple >= 0.95
    assert 0.60 <= complex_ <= 0.80
    assert simple - complex_ >= 0.15


def test_every_channel_and_label_is_mostly_right(evaluation: Evaluation) -> None:
    for name in ("channel", "label"):
        for value, acc in evaluation.by_slice[name].items():
            assert acc.accuracy >= 0.6, (name, value, acc)
