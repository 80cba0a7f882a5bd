"""HDR histograms of the run: one layout for every latency, and recording in bulk.

``hdrh`` records one value at a time in pure Python (~1.6 µs each). A merge records thousands at
once: :func:`record_values` puts them in the same buckets with one numpy pass over the
histogram's own counts array (the one its encoder compresses), so the histogram and its encoding
are exactly those of calling ``record_value`` on each value.

Its queries walk every one of the ~23,500 buckets in Python too (~5 ms a percentile): a summary
or a live view asks for dozens, which held a generator's event loop for 35-60 ms at a time.
:func:`values_at_percentiles`, :func:`mean_value` and :func:`recorded` read the same counts with
numpy and return exactly what hdrh's ``get_value_at_percentile``, ``get_mean_value`` and
``get_recorded_iterator`` return (tested against them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = ["LOWEST_US", "HIGHEST_US", "SIGNIFICANT_FIGURES", "new_histogram", "record_values",
           "value_at_percentile", "values_at_percentiles", "percentile_reader", "mean_value",
           "recorded"]  # fmt: skip

# 0 .. 1 hour in µs at 3 significant digits: ~0.1 % value precision across the range.
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def record_values(h: HdrHistogram, values: Sequence[int] | np.ndarray) -> None:
    """Record each of ``values`` once, as ``h.record_value`` would; every value must lie in
    0 .. ``HIGHEST_US`` (callers clamp and count the others, which hdrh would drop silently)."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return
    # hdrh's _counts_index_for, vectorised: the bucket is the bit length of (v | mask) less the
    # unit and sub-bucket magnitudes (frexp's exponent is the bit length; exact below 2**53).
    bits = np.frexp((v | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub = v >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub - h.sub_bucket_half_count
    added = np.bincount(index)
    counts = np.ctypeslib.as_array(h.counts)
    counts[: added.size] += added.astype(counts.dtype)
    h.total_count += int(v.size)
    h.min_value = min(h.min_value, int(v.min()))
    h.max_value = max(h.max_value, int(v.max()))


def _counts(h: HdrHistogram) -> np.ndarray:
    return np.frombuffer(h.counts, dtype=np.uint64)


def _index_values(h: HdrHistogram, index: np.ndarray) -> np.ndarray:
    """hdrh's get_value_from_index (the lowest value of each bucket), vectorised."""
    bucket = (index >> h.sub_bucket_half_count_magnitude) - 1
    sub = (index & (h.sub_bucket_half_count - 1)) + h.sub_bucket_half_count
    first = bucket < 0
    sub = np.where(first, sub - h.sub_bucket_half_count, sub)
    bucket = np.where(first, 0, bucket)
    return sub << (bucket + h.unit_magnitude)


def _range_sizes(h: HdrHistogram, values: np.ndarray) -> np.ndarray:
    """hdrh's _hdr_size_of_equiv_value_range of each (lowest) value, vectorised."""
    bits = np.frexp((values | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub = values >> (bucket + h.unit_magnitude)
    bucket = np.where(sub >= h.sub_bucket_count, bucket + 1, bucket)
    return np.left_shift(1, h.unit_magnitude + bucket)


def recorded(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """(highest equivalent value, count) of every non-empty bucket, in value order: what hdrh's
    recorded iterator yields as ``value_iterated_to`` and ``count_at_value_iterated_to``."""
    counts = _counts(h)
    index = np.flatnonzero(counts)
    lowest = _index_values(h, index.astype(np.int64))
    return lowest + _range_sizes(h, lowest) - 1, counts[index].astype(np.int64)


def percentile_reader(h: HdrHistogram) -> Callable[[float], int]:
    """A function p → ``h.get_value_at_percentile(p)`` (0 for an empty histogram); the counts
    are read once, so many lookups cost one pass."""
    total = h.total_count
    counts = _counts(h)
    index = np.flatnonzero(counts)
    cumulative = np.cumsum(counts[index].astype(np.int64))

    def value(p: float) -> int:
        if not total:
            return 0
        target = max(int((min(p, 100.0) * total / 100) + 0.5), 1)
        at = int(np.searchsorted(cumulative, target, side="left"))
        if at >= index.size:  # more asked than recorded (out-of-range values): hdrh's 0
            return 0
        found = h.get_value_from_index(int(index[at]))
        return int(
            h.get_highest_equivalent_value(found) if p else h.get_lowest_equivalent_value(found)
        )

    return value


def values_at_percentiles(h: HdrHistogram, percentiles: Sequence[float]) -> list[int]:
    """``h.get_value_at_percentile(p)`` for each p."""
    read = percentile_reader(h)
    return [read(p) for p in percentiles]


def value_at_percentile(h: HdrHistogram, percentile: float) -> int:
    return values_at_percentiles(h, (percentile,))[0]


def mean_value(h: HdrHistogram) -> float:
    """``h.get_mean_value()``: each bucket's count at its median equivalent value."""
    total = h.total_count
    if not total:
        return 0.0
    counts = _counts(h)
    index = np.flatnonzero(counts)
    lowest = _index_values(h, index.astype(np.int64))
    medians = lowest + (_range_sizes(h, lowest) >> 1)
    c = counts[index].astype(np.int64)
    if float(np.dot(medians.astype(np.float64), c.astype(np.float64))) < 2**62:
        return float(int(np.dot(medians, c))) / total
    return float(sum(int(m) * int(n) for m, n in zip(medians, c, strict=True))) / total
