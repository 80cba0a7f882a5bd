"""Input lengths in a few buckets cut at nice numbers (50, 100, 150, 250 …): the dataset
profile's length histogram and the error analysis's accuracy by input length."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["length_buckets", "bucket_index", "bucket_label", "length_quantile"]

_NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


def _nice(x: float) -> int:
    """The nice number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k; integers) nearest to ``x``."""
    if x <= 1:
        return 1
    k = math.floor(math.log10(x))
    raw = (m * 10.0**e for e in (k - 1, k, k + 1) for m in _NICE)
    candidates = [round(c) for c in raw if c >= 1 and abs(c - round(c)) < 1e-9]
    return min(candidates, key=lambda c: (abs(c - x), c))


def length_quantile(counts: Sequence[tuple[int, int]], total: int, q: float) -> int:
    """Nearest-rank quantile of sorted ``(value, count)`` pairs holding ``total`` values."""
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value, count in counts:
        seen += count
        if seen >= rank:
            return value
    return counts[-1][0]


def length_buckets(lengths: Iterable[int] | Mapping[int, int], n: int = 5) -> list[tuple[int, int]]:
    """At most ``n`` contiguous half-open ``[low, high)`` buckets of input lengths, cut at the
    quantiles of ``lengths`` rounded to nice numbers (50, 100, 150, 250 …), covering every
    length given: the first starts at 0, the last ends past the longest. ``lengths`` may be a
    ``{length: rows}`` mapping. Empty input gives no buckets."""
    counts = Counter({k: v for k, v in Counter(lengths).items() if v > 0})
    if not counts:
        return []
    pairs = sorted(counts.items())
    total = sum(counts.values())
    low, high = pairs[0][0], pairs[-1][0]
    edges: list[int] = []
    for i in range(1, n):
        edge = _nice(length_quantile(pairs, total, i / n))
        # an edge must leave rows on both sides of it, and edges must grow
        if low < edge <= high and (not edges or edge > edges[-1]):
            edges.append(edge)
    bounds = [0, *edges, high + 1]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def bucket_index(length: int, buckets: Sequence[tuple[int, int]]) -> int:
    """The bucket holding ``length``; lengths beyond the ends go to the first or last."""
    i = bisect.bisect_right([b[0] for b in buckets], length) - 1
    return min(max(i, 0), len(buckets) - 1)


def bucket_label(bucket: tuple[int, int], buckets: Sequence[tuple[int, int]]) -> str:
    """``<50``, ``50–99``, ``≥250`` (characters): open ends where the bucket is first or last."""
    low, high = bucket
    if len(buckets) > 1 and bucket == buckets[0]:
        return f"<{high}"
    if len(buckets) > 1 and bucket == buckets[-1]:
        return f"≥{low}"
    return f"{low}–{high - 1}"

