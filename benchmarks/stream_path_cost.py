"""CPU per streamed answer of stagecheck's stream path, at many concurrent streams, against a
revision's in the same invocation.

    .venv/bin/python benchmarks/stream_path_cost.py [--streams 1000] [--answers 10000]
        [--rounds 2] [--burst 4] [--gap-ms 20] [--tokens 20] [--delay-ms 300] [--rev REV]

The path alone, without Locust or recording: ``--streams`` greenlets, each with its own
:class:`~stagecheck.locust.connection.Connection`, send answers' requests (``start_stream``),
read them with ``sse_events`` and parse each line with the openai-chat adapter, until
``--answers`` answers are read, against benchmarks/stream_server.py on CPU 1 (the reader on
CPU 0). Each variant runs in its own process: the working tree, and with ``--rev`` that
revision (``git archive``), alternated (ABBA). The figure is the reader's CPU (user + system,
``time.process_time``) from the first request to the last answer, per answer, with the
greenlets' wait for the first token left out by nothing: a reader that is saturated shows it
as its CPU share of the wall time (``busy``, 1.0 = its core was never idle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from stream_timing import (  # noqa: E402
    GENERATOR_CORE,
    Mode,
    pin,
    snapshot,
    start_server,
    stop_server,
)

CLIENT = r"""
import inspect, json, sys, time
import gevent
from gevent import monkey
monkey.patch_all()
from stagecheck.locust.connection import Connection
from stagecheck.locust.target import Target
from stagecheck.locust.transport import deadline, sse_events
from stagecheck.protocols import STREAM_DONE, build_adapter

port, streams, answers = map(int, sys.argv[1:4])
adapter = build_adapter("openai-chat", model="bench", inputs=["text"],
                        options={"stream": True, "max_tokens": 32})
body = json.dumps({"model": "bench", "stream": True, "max_tokens": 32,
                   "messages": [{"role": "user", "content": "row 1: where is my parcel"}]}).encode()
reuse = "reuse" in inspect.signature(deadline).parameters  # as the user does, where it can
left = [answers]
tokens = [0]


def user():
    target = Target(f"http://127.0.0.1:{port}", {"Content-Type": "application/json"},
                    connect_timeout=10, verify_tls=False)
    conn = Connection(target)
    data = target.request_bytes("POST", "/v1/chat/completions", body)
    timer = None
    while left[0] > 0:
        left[0] -= 1
        t0 = time.perf_counter_ns()
        timer = deadline(30, timer) if reuse else deadline(30)
        resp = None
        try:
            resp = conn.start_stream(data, "POST", t0 + 30 * 10**9, 30.0)
            for line, arrived, late in sse_events(resp, not_before=t0):
                piece = adapter.parse_stream_line(line)
                if piece is STREAM_DONE:
                    break
                if piece.__class__ is str and piece:
                    tokens[0] += 1
        finally:
            timer.cancel()
            conn.finish(resp)


cpu, wall = time.process_time(), time.perf_counter()
gevent.joinall([gevent.spawn(user) for _ in range(streams)], raise_error=True)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "answers": answers, "tokens": tokens[0]}))
"""


def one(tmp: Path, args: argparse.Namespace, source: Path | None) -> dict[str, float]:
    mode = Mode("bursts" if args.burst > 1 else "tokens", args.burst, args.gap_ms)
    server, port, _ = start_server(tmp, args.delay_ms, args.tokens, mode)
    env = {**os.environ, "PYTHONPATH": str(source)} if source else None
    try:
        out = subprocess.run([*pin(GENERATOR_CORE), sys.executable, "-c", CLIENT, str(port),
                              str(args.streams), str(args.answers)], capture_output=True,
                             text=True, env=env, cwd=source or BENCH.parent,
                             timeout=600)  # fmt: skip
    finally:
        stop_server(server)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["us_per_answer"] = result["cpu_s"] / result["answers"] * 1e6
    result["busy"] = result["cpu_s"] / result["wall_s"]
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--answers", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--burst", type=int, default=4)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--delay-ms", type=float, default=300.0)
    ap.add_argument("--rev", help="also run this revision's stream path (git archive)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="stream-path-") as name:
        tmp = Path(name)
        variants: dict[str, Path | None] = {"tree": None}
        if args.rev:
            variants[f"@{args.rev}"] = snapshot(args.rev, tmp)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
        for r in range(args.rounds):
            order = list(variants) if r % 2 == 0 else list(variants)[::-1]
            for key in order:
                res = one(tmp, args, variants[key])
                runs[key].append(res)
                print(f"round {r} {key}: {res['us_per_answer']:.0f} CPU-µs/answer, busy "
                      f"{res['busy']:.2f}, wall {res['wall_s']:.1f} s, load {res['load']:.1f}",
                      flush=True)  # fmt: skip
    print(f"\n{args.streams} streams, {args.answers} answers, burst {args.burst}, "
          f"gap {args.gap_ms} ms, {args.tokens} tokens")  # fmt: skip
    print("| variant | CPU-µs per answer (median) | rounds | busy (median) |")
    print("|---|---|---|---|")
    for key, results in runs.items():
        values = [x["us_per_answer"] for x in results]
        print(f"| {key} | {statistics.median(values):.0f} | "
              f"{', '.join(f'{v:.0f}' for v in values)} | "
              f"{statistics.median(x['busy'] for x in results):.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
