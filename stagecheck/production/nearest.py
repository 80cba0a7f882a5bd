"""How far production inputs are from every validation row: the nearest-neighbour distance on
character trigrams, bounded in time by seeded samples.

Each text becomes the sorted list of its character trigrams (lower case, whitespace folded);
rapidfuzz's Indel distance between two sorted lists is 1 − 2·|A∩B| / (|A| + |B|) over the
multisets, i.e. one minus the Sørensen–Dice similarity of the trigrams. The yardstick is the
validation set's own: each sampled validation row's nearest other validation row; a
production input is *far* beyond that distance's 95th percentile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_PRODUCTION", "MAX_VALIDATION", "trigrams", "nearest_distances", "sample_index"]

MAX_PRODUCTION = 300  # production inputs compared (a seeded sample beyond)
MAX_VALIDATION = 2000  # validation rows they are compared with
SEED = 0


def trigrams(text: str) -> list[str]:
    folded = f" {' '.join(text.lower().split())} "
    return sorted(folded[i : i + 3] for i in range(max(len(folded) - 2, 1)))


def sample_index(n: int, k: int, seed: int = SEED) -> np.ndarray:
    """Up to ``k`` of ``range(n)``, a seeded sample without replacement, in order."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def nearest_distances(
    queries: Sequence[str], choices: Sequence[str], itself: np.ndarray | None = None
) -> np.ndarray:
    """Each query's distance (0..1) to its nearest choice; ``itself[i]``: the position among
    the choices of query ``i`` itself (a validation row is not its own neighbour)."""
    from rapidfuzz import process
    from rapidfuzz.distance import Indel

    q = [trigrams(t) for t in queries]
    c = [trigrams(t) for t in choices]
    if not q or len(c) < (2 if itself is not None else 1):
        return np.zeros(0)
    d = process.cdist(q, c, scorer=Indel.normalized_distance, dtype=np.float32, workers=1)
    if itself is not None:
        d[np.arange(len(q)), itself] = np.inf
    return np.asarray(d.min(axis=1), dtype=np.float64)
