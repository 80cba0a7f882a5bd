"""Bulk recording and numpy queries of HDR histograms give exactly what hdrh itself gives:
the same buckets (and the same compressed encoding), percentiles, mean and recorded values."""

from __future__ import annotations

import random

import pytest

from stagecheck.recording.hdr import (
    HIGHEST_US,
    mean_value,
    new_histogram,
    record_values,
    recorded,
    values_at_percentiles,
)

pytestmark = pytest.mark.unit

PERCENTILES = [0, 0.1, 1, 25, 50, 90, 95, 99, 99.9, 99.99, 100, 120]


def sample(seed: int) -> list[int]:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 7, 300, 5000])
    mu, sigma = rng.uniform(1, 15), rng.uniform(0.05, 2.5)
    values = [min(int(rng.lognormvariate(mu, sigma)), HIGHEST_US) for _ in range(n)]
    return values + [0, 1, 2047, 2048, 4095, 4096, HIGHEST_US][: seed % 8]


@pytest.mark.parametrize("seed", range(25))
def test_bulk_recording_fills_the_same_buckets_as_record_value(seed):
    values = sample(seed)
    one_by_one = new_histogram()
    for v in values:
        one_by_one.record_value(v)
    bulk = new_histogram()
    half = len(values) // 2
    record_values(bulk, values[:half])
    record_values(bulk, values[half:])
    assert bulk.get_total_count() == one_by_one.get_total_count() == len(values)
    assert (bulk.get_min_value(), bulk.get_max_value()) == (
        one_by_one.get_min_value(), one_by_one.get_max_value())  # fmt: skip
    assert bulk.encode() == one_by_one.encode()


@pytest.mark.parametrize("seed", range(25))
def test_queries_equal_hdrhs_own(seed):
    h = new_histogram()
    for v in sample(seed):
        h.record_value(v)
    assert values_at_percentiles(h, PERCENTILES) == [
        h.get_value_at_percentile(p) for p in PERCENTILES]  # fmt: skip
    assert mean_value(h) == h.get_mean_value()
    values, counts = recorded(h)
    assert list(zip(values.tolist(), counts.tolist(), strict=True)) == [
        (i.value_iterated_to, i.count_at_value_iterated_to) for i in h.get_recorded_iterator()
    ]


def test_an_empty_histogram_reads_zero():
    h = new_histogram()
    assert values_at_percentiles(h, [50, 99]) == [0, 0]
    assert mean_value(h) == 0.0
    record_values(h, [])
    assert h.get_total_count() == 0
