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

import base64
import sys
import zlib
from collections.abc import Callable, Sequence
from ctypes import addressof, c_uint64

import numpy as np
from hdrh.codec import (
    V2_COMPRESSION_COOKIE_BASE,
    V2_ENCODING_COOKIE_BASE,
    ExternalHeader,
    PayloadHeader,
    ext_header_size,
    get_cookie_base,
    payload_header_size,
)
from hdrh.histogram import HdrHistogram
from pyhdrh import decode as _decode_varints

__all__ = ["LOWEST_US", "HIGHEST_US", "SIGNIFICANT_FIGURES", "new_histogram", "record_values",
           "value_at_percentile", "values_at_percentiles", "percentile_reader", "mean_value",
           "recorded", "EncodedAdder"]  # fmt: skip

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


class EncodedAdder:
    """Adds HDR encodings (a worker's histograms) to histograms of the run's layout without
    making a histogram of each: ``HdrHistogram.decode`` allocates a fresh 188 KB counts array
    per encoding (page faults on every report a master receives), then ``add`` walks all
    ~23,500 buckets. Here the varints are decoded (hdrh's own C decoder) into one reused
    counts array and only the decoded bucket range is added: the targets end exactly as
    ``target.add(HdrHistogram.decode(encoded))`` leaves them (counts, total, min, max)."""

    def __init__(self) -> None:
        self._layout = new_histogram()
        self._scratch = (c_uint64 * self._layout.counts_len)()
        self._scratch_np = np.ctypeslib.as_array(self._scratch)

    def add(self, encoded: bytes, targets: Sequence[HdrHistogram]) -> tuple[int, int]:
        """Add ``encoded`` to each of ``targets``; returns the decoded histogram's (total
        count, ``get_max_value()``)."""
        layout = self._layout
        data = self._payload(encoded)
        if data is None:  # another layout (not one of ours): hdrh's own way
            other = HdrHistogram.decode(encoded)
            for target in targets:
                target.add(other)
            return other.get_total_count(), other.get_max_value()
        try:
            found = _decode_varints(data, payload_header_size, addressof(self._scratch),
                                    layout.counts_len, 8)  # fmt: skip
        except Exception:
            self._scratch_np[:] = 0  # a partial decode left counts behind
            raise
        total, lo, hi = found["total"], found["min_nonzero_index"], found["max_nonzero_index"]
        if hi >= 0:
            part = self._scratch_np[lo : hi + 1]
            for target in targets:
                np.frombuffer(target.counts, dtype=np.uint64)[lo : hi + 1] += part
            part[:] = 0
        # the decoded histogram's min and max as HdrHistogram.decode sets them, read as its
        # get_max_value() / get_min_value() do, then added as HdrHistogram.add adds them
        max_value = 0
        if hi >= 0:
            max_value = layout.get_highest_equivalent_value(layout.get_value_from_index(hi))
        other_max = layout.get_highest_equivalent_value(max_value) if max_value else 0
        if lo == 0 or total == 0:
            other_min = 0
        elif lo < 0:
            other_min = sys.maxsize
        else:
            other_min = layout.get_lowest_equivalent_value(layout.get_value_from_index(lo))
        for target in targets:
            target.total_count += total
            target.max_value = max(target.max_value, other_max)
            target.min_value = min(target.get_min_value(), other_min)
        return total, other_max

    def _payload(self, encoded: bytes) -> bytes | None:
        """The decompressed payload (header, then varints) of an encoding of the run's layout;
        None for another layout. Raises what hdrh's decoder raises on a broken encoding."""
        raw = base64.b64decode(encoded)
        header = ExternalHeader.from_buffer_copy(raw)
        if get_cookie_base(header.cookie) != V2_COMPRESSION_COOKIE_BASE:
            return None
        data = zlib.decompress(raw[ext_header_size:])
        p = PayloadHeader.from_buffer_copy(data)
        layout = self._layout
        same = (get_cookie_base(p.cookie) == V2_ENCODING_COOKIE_BASE
                and p.normalizing_index_offset == 0
                and p.lowest_trackable_value == layout.lowest_trackable_value
                and p.highest_trackable_value == layout.highest_trackable_value
                and p.significant_figures == layout.significant_figures)  # fmt: skip
        return data if same else None
