"""Streamed timings as the wire delivered them, end to end: a real ``stagecheck run`` against a
real streaming server in its own process (benchmarks/stream_server.py) whose first token comes a
known delay after the request and whose tokens come in bursts, as servers that batch their
decoding send them. A burst's tokens arrive together: their gaps must be recorded as such (about
nothing), apart from the gaps between bursts, never averaged into one gap per token; one gap per
token after the first; and no first token before the server could have sent it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.integration

SERVER = REPO / "benchmarks" / "stream_server.py"
ROWS = 12
DELAY_MS = 100.0  # the server's first token, after the request's last byte


@contextmanager
def _server(tmp: Path, tokens: int, burst: int, gap_ms: float) -> Iterator[tuple[str, Path]]:
    log = tmp / "server.jsonl"
    cmd = [sys.executable, str(SERVER), "--delay-ms", str(DELAY_MS), "--tokens", str(tokens),
           "--burst", str(burst), "--gap-ms", str(gap_ms), "--log", str(log)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("port "), line
        yield f"http://127.0.0.1:{line.split()[1]}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _run(url: str, out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "llm-chat-stream.yaml"),
           "--set", f"endpoint.url={url}", "--set", "dataset.passes=1",
           "--set", f"dataset.limit={ROWS}", "--set", "load.users=2", "--set", "thresholds=[]",
           "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = out.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    return summary, lines


def _wire_gaps_ms(log: Path) -> list[float]:
    """The gaps between the server's writes (one burst each), from its own clock."""
    gaps = []
    for answer in map(json.loads, log.read_text().splitlines()):
        writes = answer["writes"]
        gaps += [(b - a) / 1e6 for a, b in zip(writes, writes[1:], strict=False)]
    return gaps


@pytest.mark.parametrize(
    ("tokens", "burst", "gap_ms"),
    [(8, 4, 250.0), (4, 1, 150.0)],
    ids=["bursts of 4", "a token per write"],
)
def test_gaps_are_recorded_as_they_arrived_and_ttft_is_never_early(tmp_path, tokens, burst,
                                                                    gap_ms):  # fmt: skip
    with _server(tmp_path, tokens, burst, gap_ms) as (url, log):
        summary, lines = _run(url, tmp_path / "runs")
    assert len(lines) == ROWS and all(x["tokens"] == tokens for x in lines)
    # no first token before the server could send it: its delay counts from the request
    assert all(x["ttft_us"] >= DELAY_MS * 1000 for x in lines)
    assert summary["latency"]["ttft"]["min_us"] >= DELAY_MS * 1000
    itl = summary["latency"]["itl"]
    assert itl["count"] == ROWS * (tokens - 1)  # one gap per token after the first
    wire = _wire_gaps_ms(log)
    assert len(wire) == ROWS * (tokens // burst - 1)
    half_wire_ms = min(wire) / 2
    distribution = dict(map(tuple, itl["distribution"]))  # percentile → µs
    within = ROWS * (burst - 1) * (tokens // burst)  # gaps inside a burst: 0 on the wire
    if within:
        # 6 of the 7 gaps of an answer are within a burst: the median and the 75th percentile
        # are such gaps, recorded as (next to) nothing; the 7th, between bursts, is the
        # server's gap, so the 90th percentile is one of those. Averaged over the tokens, every
        # gap would be a seventh of it.
        assert within / itl["count"] > 0.75
        assert distribution[75.0] / 1e3 < half_wire_ms <= distribution[90.0] / 1e3
        assert itl["min_us"] / 1e3 < half_wire_ms
    else:  # one token per write: every gap is a gap between writes
        assert itl["min_us"] / 1e3 >= half_wire_ms


def test_a_generator_behind_its_streams_makes_the_run_invalid(tmp_path):
    # 200 streams, a token per write 1 ms apart: ~200,000 events/s, far more than one
    # generator process reads; its tokens queue in the kernel, which merges their packets, so
    # first tokens are read late with a later one's time. A 2-3 s run: too short for the loop
    # probe's rule (3 s of checks), so before the stream rule such a run was called valid.
    answers = 400
    with _server(tmp_path, 20, 1, 1.0) as (url, _):
        cmd = [sys.executable, "-m", "stagecheck.cli", "run",
               str(SCENARIOS / "llm-chat-stream.yaml"), "--set", f"endpoint.url={url}",
               "--set", "dataset.passes=1", "--set", f"dataset.limit={answers}",
               "--set", "load.users=200", "--set", "load.spawn_rate=1000",
               "--set", "thresholds=[]", "--out", str(tmp_path / "runs"), "--quiet"]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    tokens = summary["tokens"]
    assert tokens["answers"] == answers
    assert tokens["ttft_bounded"] > 0.01 * answers
    assert proc.returncode == 3 and summary["validity"]["valid"] is False
    (reason,) = [r for r in summary["validity"]["reasons"] if "behind its streams" in r]
    assert f"{tokens['ttft_bounded']:,} of {answers:,} streamed answers" in reason


def test_a_generator_with_a_backlog_of_parsing_still_reads_each_packet_on_its_own(tmp_path):
    """300 streams, a token per write 40 ms apart, whose reader spends 0.3 ms on each token
    (standing for parsing, scoring and recording): 90 ms of work for every 40 ms round, so
    the generator falls ever further behind its parsing. Its reads must not fall behind with
    it: each packet read before the next one of its stream arrives keeps its own kernel stamp,
    where a packet left queued is merged with the next (its time an upper bound, flagged). The
    reads are taken ahead of the parsing (stagecheck.locust.arrivals); read by the parsing
    greenlets themselves, most tokens of this run were merged."""
    import gevent

    import gc
    import time

    from stagecheck.locust.connection import Connection
    from stagecheck.locust.target import Target
    from stagecheck.locust.transport import deadline, sse_events

    streams, tokens, work_ns = 300, 6, 300_000
    events: list[tuple[int, bool]] = []  # (token index, bounded) of every text delta
    with _server(tmp_path, tokens, 1, 40.0) as (url, _):
        target = Target(url, {}, connect_timeout=10.0, verify_tls=False)

        def stream(i: int) -> None:
            body = b'{"stream":true,"messages":[{"role":"user","content":"row %d"}]}' % i
            request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            conn = Connection(target)
            t0 = time.perf_counter_ns()
            timer = deadline(60.0)
            try:
                resp = conn.start_stream(request, "POST", t0 + 60 * 10**9, 60.0)
                n = 0
                for line, _, bounded in sse_events(resp, not_before=t0):
                    if b'"content"' in line:
                        events.append((n, bounded))
                        n += 1
                        until = time.perf_counter_ns() + work_ns
                        while time.perf_counter_ns() < until:  # the parsing's CPU
                            pass
                conn.finish(resp)
            finally:
                timer.close()
                conn.close()

        # the test process's own garbage collections (a pytest heap, default thresholds) would
        # hold the loop tens of ms now and then; a run raises its thresholds for the load
        # (run/lifecycle.freeze_heap): measured here is the reading, not pytest's heap
        gc.disable()
        try:
            gevent.joinall([gevent.spawn(stream, i) for i in range(streams)], raise_error=True,
                           timeout=120)  # fmt: skip
        finally:
            gc.enable()
    assert len(events) == streams * tokens
    # (the last token's packet is followed within microseconds by the server's usage and
    # [DONE] write: the kernel merges those two before any reader could wake, whatever it does)
    merged = sum(bounded for n, bounded in events if n < tokens - 1)
    first_merged = sum(bounded for n, bounded in events if n == 0)
    # a busy machine may preempt the whole process for a moment: a few, never a share
    assert merged <= 0.01 * len(events), f"{merged} of {len(events)} tokens read merged"
    assert first_merged <= 0.01 * streams
