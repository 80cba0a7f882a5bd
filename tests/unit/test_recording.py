"""Recorder and aggregate: exact merge, golden percentiles, out-of-range values counted,
worker payloads that survive Locust's real message serializer."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from stagecheck.recording import (
    CORRECT,
    HIGHEST_US,
    HTTP_ERROR,
    INCORRECT,
    Aggregate,
    Delta,
    Recorder,
)

pytestmark = pytest.mark.unit


class FakeRow:
    """Only the fields the aggregate reads."""

    def __init__(self, index: int, label: str, slices: tuple[str, ...]):
        self.index = index
        self.row_id = f"r{index}"
        self.expected_text = label
        self.slices = slices
        self.input_text = f"input {index}"


ROWS = [FakeRow(i, ["a", "b", "c"][i % 3], (["simple", "complex"][i % 2],)) for i in range(30)]


def record_some(rec: Recorder, rng: random.Random, n: int) -> list[int]:
    latencies = []
    for _ in range(n):
        row = ROWS[rng.randrange(len(ROWS))]
        us = rng.randrange(100, 200_000)
        latencies.append(us)
        outcome = rng.choice([CORRECT, CORRECT, INCORRECT, HTTP_ERROR])
        predicted = (
            None if outcome == HTTP_ERROR else (row.expected_text if outcome == CORRECT else "zzz")
        )
        rec.record(
            row_index=row.index,
            slices=row.slices,
            outcome=outcome,
            latency_us=us,
            started=1000.0,
            expected=row.expected_text if predicted else None,
            predicted=predicted,
            got=predicted,
        )
    return latencies


def test_golden_percentiles_microsecond_values():
    rec = Recorder(slice_count=0)
    for us in range(1, 10_001):  # 1 µs .. 10 ms, uniform
        rec.record(row_index=0, slices=(), outcome=CORRECT, latency_us=us, started=0.0)
    h = rec.drain().histograms[(0, "e2e")]
    assert h.get_total_count() == 10_000
    # HDR at 3 significant digits: each value is exact to within 0.1 %.
    for pct, exact in [(50, 5000), (90, 9000), (99, 9900), (99.9, 9990), (100, 10_000)]:
        assert h.get_value_at_percentile(pct) == pytest.approx(exact, rel=1e-3)
    assert h.get_min_value() == 1


def test_out_of_range_values_are_clamped_and_counted():
    rec = Recorder(slice_count=0)
    rec.record(row_index=0, slices=(), outcome=CORRECT, latency_us=HIGHEST_US * 2, started=0.0)
    rec.record(row_index=0, slices=(), outcome=CORRECT, latency_us=-5, started=0.0)
    delta = rec.drain()
    assert delta.out_of_range[(0, "e2e")] == 2
    assert delta.histograms[(0, "e2e")].get_total_count() == 2  # none silently dropped


def test_drained_deltas_merge_exactly_into_the_aggregate(tmp_path: Path):
    rng = random.Random(1)
    rec = Recorder(slice_count=1)
    agg = Aggregate(ROWS, ["complexity"], tmp_path, started=1000.0)  # type: ignore[arg-type]
    reference = HdrHistogram(1, HIGHEST_US, 3)
    all_latencies = []
    for stage in range(3):
        rec.stage = stage
        lat = record_some(rec, rng, 400)
        all_latencies += lat
        agg.merge(rec.drain())
    for us in all_latencies:
        reference.record_value(us)
    agg.close()
    total = agg.histogram("e2e")
    assert total is not None and total.equals(reference)
    counts = agg.outcome_counts()
    assert sum(counts.values()) == 1200
    simple = agg.outcome_counts(slice_index=0, value="simple")
    complex_ = agg.outcome_counts(slice_index=0, value="complex")
    assert {k: simple[k] + complex_[k] for k in counts} == counts
    assert sum(agg.outcome_counts(stage=1).values()) == 400
    # results.jsonl holds every request, so every figure can be recomputed from it
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 1200
    assert Counter(x["outcome"] for x in lines) == {k: v for k, v in counts.items() if v}
    # latency.hlog is readable by HdrHistogram's own log reader and adds up to the total
    reader = HistogramLogReader(str(tmp_path / "latency.hlog"), HdrHistogram(1, HIGHEST_US, 3))
    summed = HdrHistogram(1, HIGHEST_US, 3)
    intervals = 0
    while (h := reader.get_next_interval_histogram()) is not None:
        summed.add(h)
        intervals += 1
    assert intervals == 3
    assert summed.get_total_count() == 1200
    assert summed.get_value_at_percentile(99) == reference.get_value_at_percentile(99)


def test_samples_are_bounded_and_diverse(tmp_path: Path):
    rec = Recorder(slice_count=1)
    agg = Aggregate(ROWS, ["complexity"], None, started=0.0)  # type: ignore[arg-type]
    for _ in range(50):
        for row in ROWS:
            rec.record(
                row_index=row.index,
                slices=row.slices,
                outcome=INCORRECT,
                latency_us=10,
                started=0.0,
                expected=row.expected_text,
                predicted="zzz",
                got="zzz",
            )
    agg.merge(rec.drain())
    labels = [s.expected for s in agg.samples]
    assert len(labels) == 15  # 5 per (outcome, expected label), 3 labels
    assert set(labels) == {"a", "b", "c"}


def test_payload_round_trips_through_locusts_message_serializer():
    from locust.rpc.protocol import Message

    rng = random.Random(2)
    rec = Recorder(slice_count=1)
    record_some(rec, rng, 300)
    rec.record_stream(1234, [10, 20, 30])
    delta = rec.drain()
    wire = Message("stats", {"stagecheck": delta.to_payload()}, "worker-1").serialize()
    back = Delta.from_payload(Message.unserialize(wire).data["stagecheck"])
    assert back.outcomes == delta.outcomes
    assert back.confusion == delta.confusion
    assert back.results == delta.results
    for key, h in delta.histograms.items():
        assert back.histograms[key].equals(h)
