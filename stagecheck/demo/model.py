"""The demo model: a multinomial naive Bayes intent classifier in numpy.

Features are lower-cased word unigrams and bigrams; probabilities use Laplace (add-one)
smoothing. Each training text's counts are scaled to the mean text length (document-length
normalisation, Rennie et al. 2003): without it the long complex queries dominate the word
statistics and short direct ones ("where is my order") get misread.

Deliberately simple: it trains in milliseconds at server start-up, and its weaknesses (bag of
words, no notion of negation) are exactly what the complex slice of the dataset exposes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

import numpy as np

__all__ = ["IntentClassifier", "features", "load_default", "read_rows", "DEFAULT_TRAINING_FILE"]

DEFAULT_TRAINING_FILE = "support_intents_train.jsonl"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def features(text: str) -> list[str]:
    """Lower-cased word unigrams followed by bigrams (``"i don't"``)."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


class IntentClassifier:
    """Multinomial naive Bayes over unigram + bigram counts."""

    def __init__(
        self,
        labels: Sequence[str],
        vocabulary: Mapping[str, int],
        log_prior: np.ndarray,
        log_likelihood: np.ndarray,
    ) -> None:
        if log_prior.shape != (len(labels),):
            raise ValueError(f"log_prior has shape {log_prior.shape}, expected ({len(labels)},)")
        if log_likelihood.shape != (len(labels), len(vocabulary)):
            raise ValueError(
                f"log_likelihood has shape {log_likelihood.shape}, "
                f"expected ({len(labels)}, {len(vocabulary)})"
            )
        self._labels = tuple(labels)
        self._vocabulary = dict(vocabulary)
        self._log_prior = log_prior
        self._log_likelihood = log_likelihood

    @classmethod
    def train(cls, rows: Iterable[Mapping[str, object]], alpha: float = 1.0) -> IntentClassifier:
        """Fit on rows with ``text`` and ``label`` fields; ``alpha`` is the additive smoothing."""
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        rows = list(rows)
        label_index = {label: i for i, label in enumerate(sorted({str(r["label"]) for r in rows}))}
        vocabulary: dict[str, int] = {}
        row_labels: list[int] = []
        row_lengths: list[int] = []
        pair_labels: list[int] = []
        pair_features: list[int] = []
        for row in rows:
            y = label_index[str(row["label"])]
            feats = features(str(row["text"]))
            row_labels.append(y)
            row_lengths.append(len(feats))
            pair_labels.extend([y] * len(feats))
            pair_features.extend(vocabulary.setdefault(f, len(vocabulary)) for f in feats)
        if len(label_index) < 2:
            raise ValueError(f"need at least two labels to train, got {sorted(label_index)}")
        n_labels, n_features = len(label_index), len(vocabulary)
        lengths = np.maximum(np.asarray(row_lengths, dtype=np.float64), 1.0)
        # Every occurrence weighs mean_length / its text's length: each text counts the same.
        weights = np.repeat(lengths.mean() / lengths, np.asarray(row_lengths))
        # One bincount over (label, feature) cells builds the whole count matrix at once.
        cells = np.asarray(pair_labels, dtype=np.int64) * n_features + np.asarray(pair_features)
        counts = np.bincount(cells, weights=weights, minlength=n_labels * n_features)
        counts = counts.reshape(n_labels, n_features)
        smoothed = counts + alpha
        log_likelihood = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        priors = np.bincount(row_labels, minlength=n_labels) / len(row_labels)
        return cls(list(label_index), vocabulary, np.log(priors), log_likelihood)

    @property
    def labels(self) -> tuple[str, ...]:
        """The classes, sorted."""
        return self._labels

    def probabilities(self, text: str) -> dict[str, float]:
        """Posterior probability of every label; features never seen in training are ignored."""
        idx = [self._vocabulary[f] for f in features(text) if f in self._vocabulary]
        joint = self._log_prior + self._log_likelihood[:, idx].sum(axis=1)
        joint -= joint.max()
        posterior = np.exp(joint)
        posterior /= posterior.sum()
        return {label: float(p) for label, p in zip(self._labels, posterior, strict=True)}

    def predict(self, text: str) -> tuple[str, float]:
        """The most probable label and its posterior probability (0..1)."""
        probs = self.probabilities(text)
        label = max(probs, key=probs.__getitem__)
        return label, probs[label]


def read_rows(lines: Iterable[str]) -> list[dict[str, object]]:
    """Parse JSONL lines, skipping blank ones."""
    return [json.loads(line) for line in lines if line.strip()]


def load_default() -> IntentClassifier:
    """Train on the training split bundled with the package."""
    data = resources.files("stagecheck.demo").joinpath("data", DEFAULT_TRAINING_FILE)
    with data.open("r", encoding="utf-8") as f:
        return IntentClassifier.train(read_rows(f))
