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
    from stagecheck.recording.interval import CHUNK

    # a merge yields at least once every CHUNK requests (each of 400 in 4 chunks)
    assert len(pauses) >= 3 * -(-400 // CHUNK)
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
    # format 2: what the row does not hold; rows.jsonl has its id, expected label and slices
    assert all({"row", "t", "outcome", "latency_us", "stage"} <= set(x) for x in lines)
    assert not any({"id", "expected", "slices", "users"} & set(x) for x in lines)
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rows] == list(range(len(ROWS)))
    assert all(r["input"] == ROWS[r["row"]].input_text for r in rows)
    assert all(r["slices"] == {"complexity": ROWS[r["row"]].slices[0]} for r in rows)
    confusion = agg.confusion_counts()
    assert sum(confusion.values()) == counts["correct"] + counts["incorrect"]
    # a line without "predicted" predicted its row's expected label (if it was scored)
    pairs = Counter(
        (rows[x["row"]]["expected"], x.get("predicted", rows[x["row"]]["expected"]))
        for x in lines if x["outcome"] in ("correct", "incorrect")
    )  # fmt: skip
    assert pairs == confusion
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


def test_failures_are_counted_by_cause_after_every_sample_is_kept():
    """Once MAX_SAMPLES samples are kept, later drains no longer offer samples (the fold skips
    the rows) but still count every failure by its cause."""
    rows = [FakeRow(i, f"label{i % 40}", ()) for i in range(400)]
    rec = Recorder()
    agg = Aggregate(rows, (), None, started=0.0)  # type: ignore[arg-type]
    for drain in range(3):
        for row in rows:
            rec.record(row_index=row.index, outcome=INCORRECT if row.index % 2 else HTTP_ERROR,
                       latency_us=10, started=0.0, predicted="zzz", got="zzz",
                       error=None if row.index % 2 else f"HTTP 50{drain}: …")  # fmt: skip
        agg.merge(rec.drain())
    assert len(agg.samples) == 100
    assert sum(agg.causes.values()) == 3 * 200
    assert {cause for (_, cause) in agg.causes} == {"HTTP 500", "HTTP 501", "HTTP 502"}


def test_worker_intervals_through_locusts_serializer_add_up_to_the_single_process(tmp_path):
    """Workers fold their own deltas; the master only adds the shipped intervals: its totals,
    histograms, samples, results lines and counts equal those of one process merging the same
    requests itself."""
    from locust.rpc.protocol import Message

    from stagecheck.recording import DeltaFold, IntervalReport

    rng = random.Random(2)
    deltas = []
    for _ in range(6):
        rec = Recorder()
        record_some(rec, rng, 300)
        rec.record_stream(1234, [10, 20, 30], linked=True)
        rec.record_dropped(2)
        deltas.append(rec.drain())
    local = Aggregate(ROWS, ["complexity"], tmp_path / "local", started=0.0)  # type: ignore[arg-type]
    for d in deltas:
        local.merge(d)
    master = Aggregate(ROWS, ["complexity"], tmp_path / "master", started=0.0)  # type: ignore[arg-type]
    workers = {"w1": DeltaFold(ROWS), "w2": DeltaFold(ROWS)}  # type: ignore[arg-type]
    for n, d in enumerate(deltas):
        name = "w1" if n % 2 else "w2"
        payload = workers[name].fold(d).to_payload()
        wire = Message("stats", {"stagecheck": payload}, name).serialize()
        data = Message.unserialize(wire).data["stagecheck"]
        master.absorb(IntervalReport.from_payload(data), name)
    local.close()
    master.close()
    assert master.requests == local.requests == 6 * 300
    assert master.outcomes == local.outcomes and master.confusion == local.confusion
    assert master.causes == local.causes and master.dropped == local.dropped == 12
    for key, h in local.histograms.items():
        assert master.histograms[key].encode() == h.encode(), key
    assert master.tokens.encode() == local.tokens.encode()
    assert master.output_tokens == local.output_tokens == 24
    assert master.per_second == local.per_second
    lines = sorted((tmp_path / "master" / "results.jsonl").read_bytes().splitlines())
    assert lines == sorted((tmp_path / "local" / "results.jsonl").read_bytes().splitlines())
    assert len(lines) == 6 * 300
    # per dataset row (the statistics' unit): scored and correct answers, as the lines say
    scored: Counter[int] = Counter()
    right: Counter[int] = Counter()
    for line in map(json.loads, lines):
        if line["outcome"] in ("correct", "incorrect", "unparseable"):
            scored[line["row"]] += 1
            right[line["row"]] += line["outcome"] == "correct"
    for agg in (master, local):
        table = sum(agg.row_counts.values())
        assert {i: int(n) for i, n in enumerate(table[0]) if n} == dict(scored)
        assert {i: int(n) for i, n in enumerate(table[1]) if n} == +right
    assert master.row_mislabelled == local.row_mislabelled
    # latency.hlog: the master reuses each worker's HDR encoding, byte for byte
    hlog = (tmp_path / "master" / "latency.hlog").read_text().splitlines()
    assert [x for x in hlog if not x.startswith("#")] == [
        x for x in (tmp_path / "local" / "latency.hlog").read_text().splitlines()
        if not x.startswith("#")]  # fmt: skip
    # samples: the same rules; which ones come first depends on the order they arrive in
    assert len(master.samples) == len(local.samples)
    assert {(s.row, s.outcome) for s in master.samples} <= {
        (i, o) for i in range(len(ROWS)) for o in ("incorrect", "http_error")}  # fmt: skip


def test_results_lines_are_format_2(tmp_path):
    """A line holds what the row does not: the row's id, expected label and slices are in
    rows.jsonl; a right label, a zero lag and a null error are not written."""
    rec = Recorder()
    a, b = ROWS[0], ROWS[1]
    rec.record(row_index=a.index, outcome=CORRECT, latency_us=1200, started=1000.25,
               predicted=a.expected_text, got=a.expected_text)  # fmt: skip
    rec.record(row_index=b.index, outcome=INCORRECT, latency_us=900, started=1000.5,
               predicted="a", got="a", lag_us=70)  # fmt: skip
    rec.record(row_index=b.index, outcome=HTTP_ERROR, latency_us=50, started=1001.0,
               error='HTTP 503: POST /x → "busy"', stage=1)  # fmt: skip
    rec.record(row_index=a.index, outcome=CORRECT, latency_us=1500, started=1001.5,
               got="Shipping: the parcel is late", score=0.75)  # fmt: skip
    rec.record_stream(300, [10, 20], linked=True)
    agg = Aggregate(ROWS, ["complexity"], tmp_path, started=1000.0)  # type: ignore[arg-type]
    agg.merge(rec.drain())
    agg.close()
    raw = (tmp_path / "results.jsonl").read_bytes().splitlines()
    lines = [json.loads(x) for x in raw]
    assert lines == [
        {"row": 0, "t": 1000.25, "outcome": "correct", "latency_us": 1200, "stage": 0},
        {"row": 1, "t": 1000.5, "outcome": "incorrect", "latency_us": 900, "stage": 0,
         "predicted": "a", "lag_us": 70},
        {"row": 1, "t": 1001.0, "outcome": "http_error", "latency_us": 50, "stage": 1,
         "error": 'HTTP 503: POST /x → "busy"'},
        {"row": 0, "t": 1001.5, "outcome": "correct", "latency_us": 1500, "stage": 0,
         "got": "Shipping: the parcel is late", "ttft_us": 300, "tokens": 3, "score": 0.75},
    ]  # fmt: skip
    assert len(raw[0]) < 100
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_bytes().splitlines()]
    assert rows[1] == {"row": 1, "id": "r1", "input": "input 1", "expected": "b",
                       "slices": {"complexity": "complex"}}  # fmt: skip


def test_a_right_label_with_its_own_text_keeps_both(tmp_path):
    """An answer whose text is not its label ("Billing." → billing): the line carries both, so
    that a reader does not take the text for a free-text answer."""
    rec = Recorder()
    row = ROWS[1]
    rec.record(row_index=row.index, outcome=CORRECT, latency_us=10, started=5.0,
               predicted=row.expected_text, got="B.")  # fmt: skip
    agg = Aggregate(ROWS, ["complexity"], tmp_path, started=0.0)  # type: ignore[arg-type]
    agg.merge(rec.drain())
    agg.close()
    line = json.loads((tmp_path / "results.jsonl").read_text())
    assert (line["predicted"], line["got"]) == ("b", "B.")
