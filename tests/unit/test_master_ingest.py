"""A master absorbing many workers' reports (issue 19 §3): the totals are exact (nothing lost or
counted twice), and what the master keeps per report does not grow with the number of workers."""

from __future__ import annotations

from locust.rpc.protocol import Message

import gc
import random
import tracemalloc
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
    DeltaFold,
    IntervalReport,
    Recorder,
)
from stagecheck.recording.hdr import EncodedAdder, new_histogram, record_values

pytestmark = pytest.mark.unit

HISTOGRAM_BYTES = new_histogram().counts_len * 8  # one histogram's counts (~188 KB)


class Row:
    """The fields the fold and the aggregate read."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.row_id = f"r{index}"
        self.input_text = f"input {index}"
        self.expected_text = "abcdef"[index % 6]
        self.slices = ("short" if index % 2 else "long", ["web", "app", "mail"][index % 3])


ROWS = [Row(i) for i in range(60)]
FIELDS = ["length", "channel"]


def worker_deltas(workers: int, reports: int, per_report: int, streams: bool):
    """Each worker's reports (a Recorder drained every 3 s, on a clock of its own), with a stage
    that begins in the middle of the second report: [(worker, delta)], in arrival order."""
    rng = random.Random(workers)
    now = [0.0]
    recorders = {}
    for w in range(workers):
        now[0] = 1000.0
        recorders[w] = Recorder(clock=lambda: now[0])
    out = []
    for report in range(reports):
        for w in range(workers):
            rec = recorders[w]
            start = 1000.0 + 3 * report + w * 3 / workers  # workers report at their own times
            for n in range(per_report):
                if report == 1 and n == per_report // 2:
                    rec.stage = 1
                row = ROWS[rng.randrange(len(ROWS))]
                outcome = rng.choice([CORRECT] * 6 + [INCORRECT, HTTP_ERROR])
                predicted = {CORRECT: row.expected_text, INCORRECT: rng.choice("abcdefz"),
                             HTTP_ERROR: None}[outcome]  # fmt: skip
                error = "HTTP 503: busy" if predicted is None else None
                rec.record(row_index=row.index, outcome=outcome,
                           latency_us=int(rng.lognormvariate(9.0, 1.0)) % HIGHEST_US,
                           started=start + 3 * n / per_report, predicted=predicted,
                           got=predicted, error=error)  # fmt: skip
                if streams and outcome != HTTP_ERROR:
                    rec.record_stream(rng.randrange(1, 9000), [rng.randrange(1, 900)] * 3,
                                      linked=True)  # fmt: skip
            now[0] = start + 3
            out.append((f"w{w}", rec.drain()))
    return out


def absorbed(deltas, run_dir: Path) -> Aggregate:
    """The master's aggregate of the workers' reports, through Locust's real serializer."""
    master = Aggregate(ROWS, FIELDS, run_dir, started=1000.0)  # type: ignore[arg-type]
    folds: dict[str, DeltaFold] = {}
    for worker, delta in deltas:
        fold = folds.setdefault(worker, DeltaFold(ROWS))  # type: ignore[arg-type]
        wire = Message("stats", {"stagecheck": fold.fold(delta).to_payload()}, worker).serialize()
        master.absorb(IntervalReport.from_payload(Message.unserialize(wire).data["stagecheck"]),
                      worker)  # fmt: skip
    return master


def test_many_workers_add_up_to_what_they_sent(tmp_path):
    deltas = worker_deltas(workers=24, reports=5, per_report=80, streams=True)
    sent = sum(len(d.results) for _, d in deltas)
    local = Aggregate(ROWS, FIELDS, tmp_path / "local", started=1000.0)  # type: ignore[arg-type]
    expected_e2e = new_histogram()
    for _, d in deltas:
        record_values(expected_e2e, [r[5] for r in d.results])
    master = absorbed(deltas, tmp_path / "master")
    for _, d in deltas:
        local.merge(d)
    master.close()
    local.close()
    assert master.requests == local.requests == sent == 24 * 5 * 80
    assert master.outcomes == local.outcomes and master.confusion == local.confusion
    assert master.causes == local.causes and master.row_mislabelled == local.row_mislabelled
    assert master.per_second == local.per_second
    for s in (0, 1):
        assert (master.row_counts[s] == local.row_counts[s]).all()
    assert set(master.histograms) == {(s, t) for s in (0, 1) for t in ("e2e", "ttft", "itl")}
    for key, h in local.histograms.items():
        m = master.histograms[key]
        assert m.encode() == h.encode(), key
        assert (m.total_count, m.get_min_value(), m.get_max_value()) == (
            h.total_count, h.get_min_value(), h.get_max_value()), key  # fmt: skip
    e2e = master.histogram("e2e")
    assert e2e is not None and e2e.encode() == expected_e2e.encode()
    assert e2e.get_total_count() == sent
    assert master.tokens.encode() == local.tokens.encode()
    assert master.tokens_per_s_milli.encode() == local.tokens_per_s_milli.encode()
    # latency.hlog: a line per report (the reports over two stages too), every request once
    reader = HistogramLogReader(str(tmp_path / "master" / "latency.hlog"), new_histogram())
    lines, counted = 0, 0
    while (h := reader.get_next_interval_histogram()) is not None:
        lines += 1
        counted += h.get_total_count()
    assert (lines, counted) == (len(deltas), sent)
    # the live view's last 10 s: the requests of the reports that ended in those whole seconds
    last = int(master.ended)
    in_window = sum(len(d.results) for _, d in deltas if int(d.ended) > last - 10)
    window = master.recent_histogram("e2e", 10.0)
    assert window is not None and window.get_total_count() == in_window
    assert in_window < sent  # the window leaves the oldest reports out


def test_the_live_views_histograms_do_not_grow_with_the_number_of_workers(tmp_path):
    """The master keeps each second's latency for the live view: one histogram per second and
    timing, not one per worker's report (32 workers, each reporting every 3 s, kept 30 s, held
    ~100 histograms of 188 KB)."""
    deltas = worker_deltas(workers=32, reports=3, per_report=30, streams=False)
    seconds = len({int(d.ended) for _, d in deltas})
    tracemalloc.start()
    try:
        master = absorbed(deltas, None)  # type: ignore[arg-type]
        gc.collect()  # the workers' own histograms (folded here too) wait in reference cycles
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert master.requests == 32 * 3 * 30
    # a histogram per second the reports ended in (and the run's own few: its totals, tokens,
    # a decoder's counts), not per report: 96 reports
    assert kept < (seconds + 16) * HISTOGRAM_BYTES, (kept, seconds)


@pytest.mark.parametrize("values", [[], [0], [HIGHEST_US], [1, 2, 3, 900, 1_000_000]])
def test_an_encoding_adds_up_as_hdrh_decodes_and_adds_it(values):
    rng = random.Random(len(values))
    adder = EncodedAdder()
    for trial in range(40):
        before = [rng.randrange(0, 10 ** rng.randrange(1, 10)) for _ in range(trial % 5 * 7)]
        part = values + [rng.randrange(0, 10 ** rng.randrange(1, 10)) for _ in range(trial)]
        other = new_histogram()
        record_values(other, part)
        theirs, mine = new_histogram(), new_histogram()
        for h in (theirs, mine):
            record_values(h, before)
        theirs.add(HdrHistogram.decode(other.encode()))
        count, max_us = adder.add(other.encode(), [mine])
        assert (count, max_us) == (len(part), other.get_max_value())
        assert mine.encode() == theirs.encode()
        assert list(mine.counts) == list(theirs.counts)  # the reused counts were left clean
        assert (mine.total_count, mine.get_min_value(), mine.get_max_value()) == (
            theirs.total_count, theirs.get_min_value(), theirs.get_max_value())  # fmt: skip


def test_a_histogram_of_another_layout_is_added_as_hdrh_adds_it():
    other = HdrHistogram(1, 60_000_000, 2)
    for v in (5, 70, 12_345, 9_000_000):
        other.record_value(v)
    mine, theirs = new_histogram(), new_histogram()
    theirs.add(HdrHistogram.decode(other.encode()))
    assert EncodedAdder().add(other.encode(), [mine]) == (4, other.get_max_value())
    assert mine.encode() == theirs.encode()


def test_counts_cross_the_wire_unchanged():
    from stagecheck.recording.wire import StringTable, pack_counts, unpack_counts

    table = StringTable()
    confusion = Counter(
        {(0, -1, "", "a", "é b"): 3, (1, 0, "x", "a", ""): 1, (0, 1, "y", "b", "a"): 7}
    )
    mislabelled = Counter({(5, "zz"): 2, (2**40, "a"): 1})
    packed = pack_counts(confusion, (2, 3, 4), table), pack_counts(mislabelled, (1,), table)
    strings = Message.unserialize(Message("x", table.strings(), None).serialize()).data
    assert unpack_counts(packed[0], 5, (2, 3, 4), strings) == confusion
    assert unpack_counts(packed[1], 2, (1,), strings) == mislabelled
    assert unpack_counts(pack_counts(Counter(), (1,), table), 2, (1,), strings) == Counter()
