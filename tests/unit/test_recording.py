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
NO_SLICE_ROWS = [FakeRow(0, "a", ())]


def record_some(rec: Recorder, rng: random.Random, n: int) -> list[int]:
    latencies = []
    for _ in range(n):
        row = ROWS[rng.randrange(len(ROWS))]
        us = rng.randrange(100, 200_000)
        latencies.append(us)
        outcome = rng.choice([CORRECT, CORRECT, INCORRECT, HTTP_ERROR])
        predicted = None if outcome == HTTP_ERROR else (
            row.expected_text if outcome == CORRECT else "zzz")  # fmt: skip
        rec.record(row_index=row.index, outcome=outcome, latency_us=us, started=1000.0,
                   predicted=predicted, got=predicted)  # fmt: skip
    return latencies


def aggregate_of(rec: Recorder, rows=NO_SLICE_ROWS, fields=()) -> Aggregate:  # noqa: B006
    agg = Aggregate(rows, fields, None, started=0.0)  # type: ignore[arg-type]
    agg.merge(rec.drain())
    return agg


def test_recording_costs_one_append():
    rec = Recorder()
    rec.record(row_index=0, outcome=CORRECT, latency_us=5, started=0.0)
    delta = rec.drain()
    assert delta.results == [(0.0, 0, CORRECT, None, None, 5, None, 0, 0, None, 0)]
    assert rec.drain().results == []


def test_golden_percentiles_microsecond_values():
    rec = Recorder()
    for us in range(1, 10_001):  # 1 µs .. 10 ms, uniform
        rec.record(row_index=0, outcome=CORRECT, latency_us=us, started=0.0)
    h = aggregate_of(rec).histogram("e2e")
    assert h is not None and h.get_total_count() == 10_000
    # HDR at 3 significant digits: each value is exact to within 0.1 %.
    for pct, exact in [(50, 5000), (90, 9000), (99, 9900), (99.9, 9990), (100, 10_000)]:
        assert h.get_value_at_percentile(pct) == pytest.approx(exact, rel=1e-3)
    assert h.get_min_value() == 1


def test_out_of_range_values_are_clamped_and_counted():
    rec = Recorder()
    rec.record(row_index=0, outcome=CORRECT, latency_us=HIGHEST_US * 2, started=0.0)
    rec.record(row_index=0, outcome=CORRECT, latency_us=-5, started=0.0)
    agg = aggregate_of(rec)
    assert agg.out_of_range_count("e2e") == 2
    assert agg.histogram("e2e").get_total_count() == 2  # type: ignore[union-attr]


def test_drained_deltas_merge_exactly_into_the_aggregate(tmp_path: Path):
    rng = random.Random(1)
    rec = Recorder()
    agg = Aggregate(ROWS, ["complexity"], tmp_path, started=1000.0)  # type: ignore[arg-type]
    reference = HdrHistogram(1, HIGHEST_US, 3)
    all_latencies = []
    pauses = []
    for stage in range(3):
        rec.stage = stage
        lat = record_some(rec, rng, 400)
        all_latencies += lat
        agg.merge(rec.drain(), pause=lambda: pauses.append(1))
    assert len(pauses) == 3  # one pause every 256 requests merged
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
    first = lines[0]
    assert set(first) == {"row", "id", "expected", "slices", "t", "outcome", "got", "latency_us",
                          "predicted", "lag_us", "stage", "users", "error"}  # fmt: skip
    assert first["id"] == ROWS[first["row"]].row_id
    assert first["slices"] == {"complexity": ROWS[first["row"]].slices[0]}
    confusion = agg.confusion_counts()
    assert sum(confusion.values()) == counts["correct"] + counts["incorrect"]
    assert Counter((x["expected"], x["predicted"]) for x in lines if x["predicted"]) == confusion
    # rows.jsonl holds each dataset row once: the inputs the results lines join to
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rows] == list(range(len(ROWS)))
    assert rows[first["row"]]["input"] == ROWS[first["row"]].input_text
    assert rows[first["row"]]["expected"] == first["expected"]
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


def test_stream_timings_become_ttft_and_itl_histograms():
    rec = Recorder()
    rec.record(row_index=0, outcome=CORRECT, latency_us=900, started=0.0)
    rec.record_stream(300, [100, 200, 300])
    agg = aggregate_of(rec)
    assert agg.timings() == ["e2e", "ttft", "itl"]
    assert agg.histogram("itl").get_total_count() == 3  # type: ignore[union-attr]


def test_samples_are_bounded_and_diverse():
    rec = Recorder()
    for _ in range(50):
        for row in ROWS:
            rec.record(row_index=row.index, outcome=INCORRECT, latency_us=10, started=0.0,
                       predicted="zzz", got="zzz")  # fmt: skip
    agg = aggregate_of(rec, ROWS, ["complexity"])
    labels = [s.expected for s in agg.samples]
    assert len(labels) == 15  # 5 per (outcome, expected label), 3 labels
    assert set(labels) == {"a", "b", "c"}


def test_a_replayed_row_is_one_sample_per_outcome():
    rec = Recorder()
    for _ in range(50):
        for row in ROWS[:3]:
            rec.record(row_index=row.index, outcome=INCORRECT, latency_us=10, started=0.0,
                       predicted="zzz", got="zzz")  # fmt: skip
        rec.record(row_index=0, outcome=HTTP_ERROR, latency_us=10, started=0.0, error="HTTP 503")
    agg = aggregate_of(rec, ROWS, ["complexity"])
    # a row replayed 50 times is one sample per outcome; its ×N comes from the error analysis
    assert sorted((s.row, s.outcome) for s in agg.samples) == [
        (0, "http_error"), (0, "incorrect"), (1, "incorrect"), (2, "incorrect")]  # fmt: skip


def test_payload_round_trips_through_locusts_message_serializer():
    from locust.rpc.protocol import Message

    rng = random.Random(2)
    rec = Recorder()
    record_some(rec, rng, 300)
    rec.record_stream(1234, [10, 20, 30])
    delta = rec.drain()
    wire = Message("stats", {"stagecheck": delta.to_payload()}, "worker-1").serialize()
    back = Delta.from_payload(Message.unserialize(wire).data["stagecheck"])
    assert back.results == delta.results
    assert back.streams == [(0, 1234, [10, 20, 30], 4, False, -1)]
    assert (back.started, back.ended) == (delta.started, delta.ended)
