"""Streaming timings against a server whose timing is known: TTFT error and ITL as on the wire.

    .venv/bin/python benchmarks/stream_timing.py [--users 1,64] [--requests 200] [--rounds 1]
        [--delay-ms 50] [--tokens 16] [--gap-ms 10] [--burst 4] [--burst-gap-ms 20]
        [--modes tokens,bursts] [--pcap] [--rev REV] [--profile] [--isolate]

The server (benchmarks/stream_server.py) runs in its own process, pinned to CPU 1; a real
``stagecheck run`` (a scenario like scenarios/llm-chat-stream.yaml pointed at it, an exact pass
over max(``--requests``, 10 × users) rows, closed loop, all users spawned at once) runs pinned
to CPU 0. Two modes: ``tokens``, one token per write, ``--gap-ms`` apart; ``bursts``,
``--burst`` tokens per write, writes ``--burst-gap-ms`` apart (as servers that batch their
decoding send them).

The truth is the server's log, per request: the kernel's receive time of the request's last
byte and the time just before each write. Each results.jsonl line is matched to its request by
the row id the server read in the prompt ("row N: …"), so that

* TTFT error = stagecheck's ``ttft_us`` − (first write − request arrival), per request: p50,
  p99, max, min; for all requests, for warm ones (on an open connection) and cold ones (the
  first of each user: its connect is in its TTFT, not in the server's delay), split into the
  send side (results ``t`` → the request's arrival at the server) and the receive side.
  Target: ≤ 2 ms, at 1 and at 64 concurrent streams.
* ITL: summary.json's HDR percentiles of ``itl`` against those of the server's gaps (0 within a
  write, the time between writes across them). In burst mode, the within-burst gaps must show
  as ~0 and the between-burst gaps as ~``--burst-gap-ms``, in the right proportion; and the
  number of ITL samples must be tokens − 1 per answer.

Beside each stagecheck run, in the same invocation: a *floor* run (a plain gevent client that
connects before its clock starts, no parsing, no recording: what the machine itself adds) and,
with ``--rev REV``, that revision's stagecheck (``git archive``; the working tree is left alone).
``--rounds`` alternates their order (ABBA). ``--isolate`` (root) moves every other thread of the
machine off the generator's core for the runs, and back after: on a shared machine, other
work then slows the server (whose log stays the truth) rather than the generator. ``--pcap``
captures stagecheck's runs with tcpdump on loopback: the wire as a second truth per request
(request packet → first text-delta packet on that connection), and how far the server's log
is from it.

Prints a table; writes benchmarks/results/stream_timing-<UTC time>.json (``--profile``: a py-spy
profile of the 64-stream burst run next to it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
PY = sys.executable
TARGET_MS = 2.0
SERVER_CORE, GENERATOR_CORE = 1, 0

SCENARIO = """\
name: stream-timing
endpoint:
  url: {url}
  protocol: openai-chat
  model: bench
  timeout: 30s
  options:
    stream: true
    max_tokens: 32
    user_template: "row {{id}}: {{text}}"
dataset:
  path: {data}
  input: text
  expected: label
  id: id
  order: sequential
  passes: 1
scoring:
  kind: label
  extract: contains-label
  labels: [shipping, billing]
load: {{users: {users}, spawn_rate: {users}, duration: {duration}s}}
validity: {{min_requests: 1}}
thresholds: []
"""


@contextmanager
def isolated(core: int) -> Iterator[int]:
    """The generator's core to itself while the body runs: every other thread on the machine
    (other engineers' tests, this script, the server) is moved off ``core`` and put back as it
    was after (root; threads that refuse are left). Yields how many threads were moved."""
    others = set(range(os.cpu_count() or 1)) - {core}
    saved: dict[int, set[int]] = {}
    for task in Path("/proc").glob("[0-9]*/task/[0-9]*"):
        tid = int(task.name)
        try:
            mask = os.sched_getaffinity(tid)
            if core in mask and mask - {core}:
                os.sched_setaffinity(tid, mask & others)
                saved[tid] = mask
        except OSError:  # gone, or a kernel thread bound to its core
            pass
    try:
        yield len(saved)
    finally:
        for tid, mask in saved.items():
            with suppress(OSError):
                os.sched_setaffinity(tid, mask)


def pin(core: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core)] if taskset and (os.cpu_count() or 1) >= 2 else []


@dataclass(frozen=True)
class Mode:
    name: str
    burst: int
    gap_ms: float


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def start_server(tmp: Path, delay_ms: float, tokens: int, mode: Mode) -> tuple[Any, int, Path]:
    log = tmp / f"server-{mode.name}-{time.monotonic_ns()}.jsonl"
    cmd = [*pin(SERVER_CORE), PY, str(BENCH / "stream_server.py"), "--delay-ms", str(delay_ms),
           "--tokens", str(tokens), "--burst", str(mode.burst), "--gap-ms", str(mode.gap_ms),
           "--log", str(log)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("port "):
        proc.kill()
        raise SystemExit(f"the stream server did not start: {line!r}")
    return proc, int(line.split()[1]), log


def stop_server(proc: Any) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def snapshot(rev: str, tmp: Path) -> Path:
    """The tree of ``rev`` (git archive: the working tree is left alone), for a run of that
    revision's stagecheck."""
    where = tmp / f"rev-{rev}"
    where.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where


def run_once(tmp: Path, args: argparse.Namespace, mode: Mode, users: int,
             profile: Path | None = None, source: Path = REPO) -> dict[str, Any]:  # fmt: skip
    requests = max(args.requests, users * 10)
    data = tmp / f"rows-{requests}.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": "where is my parcel", "label":
                                        "shipping"}) + "\n" for i in range(requests)))  # fmt: skip
    server, port, log = start_server(tmp, args.delay_ms, args.tokens, mode)
    per_answer_s = (args.delay_ms + mode.gap_ms * -(-args.tokens // mode.burst)) / 1e3
    duration = int(per_answer_s * requests / users * 3 + 30)  # a bound, not the plan (exact pass)
    scenario = tmp / f"scenario-{mode.name}-{users}.yaml"
    scenario.write_text(SCENARIO.format(url=f"http://127.0.0.1:{port}", data=data,
                                        users=users, duration=duration))  # fmt: skip
    out = tmp / f"runs-{mode.name}-{users}-{time.monotonic_ns()}"
    capture = start_capture(tmp / f"{out.name}.pcap", port) if args.pcap else None
    cmd = [*pin(GENERATOR_CORE), PY, "-m", "stagecheck.cli", "run", str(scenario), "--out",
           str(out), "--quiet"]  # fmt: skip
    if args.processes > 1:  # the workers share the generator's core (the server keeps its own)
        cmd += ["--processes", str(args.processes)]
    if profile is not None:
        pyspy = shutil.which("py-spy", path=str(Path(PY).parent)) or "py-spy"
        cmd = [*pin(GENERATOR_CORE), pyspy, "record", "--format", "raw", "--rate", "250",
               "--output", str(profile), "--", *cmd[len(pin(0)):]]  # fmt: skip
    try:
        env = {**os.environ, "PYTHONPATH": str(source)} if source != REPO else None
        cpu = _children_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=source, env=env,
                              timeout=duration + 120)  # fmt: skip
        cpu = _children_cpu() - cpu
    finally:
        stop_server(server)
        if capture is not None:
            stop_server(capture)
    if "Traceback" in proc.stderr or not out.is_dir():
        raise SystemExit(proc.stderr[-3000:])
    (run_dir,) = out.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    results = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    truth = {r["id"]: r for r in map(json.loads, log.read_text().splitlines())}
    row = measure(summary, results, truth, args.tokens, users, mode)
    row["valid"] = summary.get("valid", summary.get("validity", {}).get("valid"))
    row["cpu_s"] = cpu
    row["load"] = os.getloadavg()[0]
    row["validity_reasons"] = _find_key(summary, "reasons")
    tokens = summary.get("tokens") or {}
    row["ttft_bounded"] = tokens.get("ttft_bounded")
    row["itl_merged"] = tokens.get("itl_merged")
    exact = [x for x in results if not x.get("ttft_bound")]
    row["ttft_error_exact_ms"] = measure({}, exact, truth, args.tokens, users, mode)[
        "ttft_error_ms"]
    if capture is not None:
        row["wire"] = wire_check(tmp / f"{out.name}.pcap", port, results, truth)
    return row


def start_capture(path: Path, port: int) -> Any:
    """tcpdump on loopback, nanosecond timestamps, the first 2000 bytes of each packet (a
    request's ``row N`` and a token event fit)."""
    cmd = ["tcpdump", "-i", "lo", "-n", "-s", "2000", "-B", "16384", "-U",
           "--time-stamp-precision=nano", "-w", str(path), f"tcp port {port}"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline() if proc.stderr else ""  # "listening on lo, …"
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"tcpdump did not start: {line!r}")
    return proc


def wire_check(pcap: Path, port: int, results: list[dict[str, Any]], truth: dict[int, Any]
               ) -> dict[str, Any]:  # fmt: skip
    """The packet capture as a second truth, per request: the request's packet (the one that
    holds ``row N:``) to the first packet of a text delta on the same connection after it.
    Returns stagecheck's TTFT − the wire's, and the server log's first-token delay − the
    wire's (how far the server's own clock is from the wire)."""
    import re

    import dpkt

    row_of = re.compile(rb"row (\d+):")
    sent: dict[int, tuple[int, int]] = {}  # row → (client port, request packet time ns)
    firsts: dict[int, list[int]] = {}  # client port → times of packets with a text delta
    with pcap.open("rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            tcp = getattr(ip, "data", None)
            if not isinstance(tcp, dpkt.tcp.TCP) or not tcp.data:
                continue
            ns = int(ts * 1_000_000_000)  # a Decimal for a nanosecond capture
            if tcp.dport == port:
                found = row_of.search(tcp.data)
                if found:
                    sent[int(found.group(1))] = (tcp.sport, ns)
            elif tcp.sport == port and b'"content"' in tcp.data:
                firsts.setdefault(tcp.dport, []).append(ns)
    errors, server_errors = [], []
    for line in results:
        row = _row_id(line)
        if row not in sent or "ttft_us" not in line:
            continue
        client, at = sent[row]
        later = [t for t in firsts.get(client, []) if t > at]
        if not later:
            continue
        wire_us = (min(later) - at) / 1e3
        errors.append((line["ttft_us"] - wire_us) / 1e3)
        server = truth.get(row)
        if server is not None:
            server_us = (server["writes"][0] - server["recv_ns"]) / 1e3
            server_errors.append((server_us - wire_us) / 1e3)
    return {"matched": len(errors), "ttft_error_ms": _summary(errors),
            "server_log_minus_wire_ms": _summary(server_errors)}  # fmt: skip


def baseline_client(port: int, users: int, requests: int, out: str) -> None:
    """The floor: a plain gevent client (one persistent connection per greenlet, no parsing, no
    recording) that takes its first-token time right after the read that brought the first
    ``"content"``; one results-like line per request (``row``, ``t``, ``ttft_us``)."""
    import gevent
    import gevent.socket

    rows = iter(range(requests))
    lines: list[str] = []

    def user() -> None:
        sock = gevent.socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for row in rows:
            body = json.dumps(
                {
                    "model": "bench",
                    "stream": True,
                    "max_tokens": 32,
                    "messages": [{"role": "user", "content": f"row {row}: where is my parcel"}],
                }
            ).encode()
            data = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body))  # fmt: skip
            started, t0 = time.time(), time.perf_counter_ns()
            sock.sendall(data)
            got, first = b"", 0
            while not got.endswith(b"0\r\n\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit("the stream server closed a connection")
                if not first and b'"content"' in chunk:
                    first = time.perf_counter_ns()
                got += chunk
            lines.append(json.dumps({"row": row, "t": started, "ttft_us": (first - t0) // 1000}))

    gevent.joinall([gevent.spawn(user) for _ in range(users)], raise_error=True)
    Path(out).write_text("".join(x + "\n" for x in lines))


def run_baseline(tmp: Path, args: argparse.Namespace, mode: Mode, users: int) -> dict[str, Any]:
    requests = max(args.requests, users * 10)
    server, port, log = start_server(tmp, args.delay_ms, args.tokens, mode)
    out = tmp / f"baseline-{mode.name}-{users}-{time.monotonic_ns()}.jsonl"
    cmd = [*pin(GENERATOR_CORE), PY, str(Path(__file__).resolve()), "--baseline-client",
           f"{port},{users},{requests},{out}"]  # fmt: skip
    try:
        cpu = _children_cpu()
        subprocess.run(cmd, check=True, timeout=600)
        cpu = _children_cpu() - cpu
    finally:
        stop_server(server)
    results = [json.loads(x) for x in out.read_text().splitlines()]
    truth = {r["id"]: r for r in map(json.loads, log.read_text().splitlines())}
    row = measure({}, results, truth, args.tokens, users, mode)
    row["mode"] += " (floor)"
    row["cpu_s"] = cpu
    row["load"] = os.getloadavg()[0]
    return row


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for children so far (the generator's process,
    start-up and end of run included, is the one waited for between two calls)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _row_id(line: dict[str, Any]) -> int:
    return int(line["id"]) if "id" in line else int(line["row"])


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values), "min": min(values), "mean": statistics.fmean(values)}  # fmt: skip


def measure(summary: dict[str, Any], results: list[dict[str, Any]], truth: dict[int, Any],
            tokens: int, users: int, mode: Mode) -> dict[str, Any]:  # fmt: skip
    """TTFT error per request (all; warm: on an open connection; cold: the first on its
    connection), split into its send side (the request's start, results.jsonl ``t``, to the
    arrival of its last byte at the server, on the wall clock) and its receive side (the rest),
    and for cold ones the time from the request's start to the server's accept of its
    connection; ITL percentiles of stagecheck's HDR against the server's gaps."""
    errors: dict[str, list[float]] = {"all": [], "warm": [], "cold": []}
    sides: dict[str, list[float]] = {"send": [], "receive": [], "connect": []}
    by_row: list[tuple[int, float]] = []  # (row id, TTFT error ms): rows are sent in order
    for line in results:
        server = truth.get(_row_id(line))
        if server is None or "ttft_us" not in line:
            continue
        first_token_us = (server["writes"][0] - server["recv_ns"]) / 1e3
        error = (line["ttft_us"] - first_token_us) / 1e3
        errors["all"].append(error)
        errors["cold" if server.get("opened_ns") else "warm"].append(error)
        by_row.append((_row_id(line), round(error, 3)))
        if "t" in line and server.get("recv_wall_ns"):
            send = (server["recv_wall_ns"] / 1e9 - line["t"]) * 1e3
            sides["send"].append(send)
            sides["receive"].append(error - send)
            if server.get("opened_ns"):  # cold: from the request's start to the accept
                sides["connect"].append((server["opened_wall_ns"] / 1e9 - line["t"]) * 1e3)
    truth_gaps_us: list[float] = []
    for server in truth.values():
        writes, counts = server["writes"], server["counts"]
        truth_gaps_us += [0.0] * (counts[0] - 1)
        for a, b, k in zip(writes, writes[1:], counts[1:], strict=False):
            truth_gaps_us += [(b - a) / 1e3] + [0.0] * (k - 1)
    itl = _find(summary, "itl")
    quantiles = ("p50", "p90", "p95", "p99", "max")
    truth_itl = {q: percentile(truth_gaps_us, float(q[1:]) if q != "max" else 100) / 1e3
                 for q in quantiles} if truth_gaps_us else {}  # fmt: skip
    # the share of gaps that are 0 on the wire (within a write): stagecheck's HDR must show
    # that share of ~0 gaps, and the rest at the gap between writes
    within = sum(1 for g in truth_gaps_us if g == 0) / len(truth_gaps_us) if truth_gaps_us else 0
    return {
        "mode": mode.name, "burst": mode.burst, "gap_ms": mode.gap_ms, "users": users,
        "requests": len(results), "matched": len(errors["all"]),
        "ttft_error_ms": _summary(errors["all"]),
        "ttft_error_warm_ms": _summary(errors["warm"]),
        "ttft_error_cold_ms": _summary(errors["cold"]),
        "send_side_ms": _summary(sides["send"]),
        "receive_side_ms": _summary(sides["receive"]),
        "cold_connect_ms": _summary(sides["connect"]),
        "ttft": _find(summary, "ttft"),
        "itl": itl,
        "itl_truth_ms": truth_itl,
        "itl_count": (itl or {}).get("count"),
        "itl_count_expected": sum(tokens - 1 for x in results if "ttft_us" in x),
        "within_write_share": within,
        "ttft_error_by_row_ms": sorted(by_row),
    }  # fmt: skip


def _find_key(summary: dict[str, Any], key: str) -> Any:
    """The first value of ``key`` anywhere in summary.json (None: absent)."""
    stack: list[Any] = [summary]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                return node[key]
            stack.extend(node.values())
    return None


def _find(summary: dict[str, Any], key: str) -> dict[str, Any] | None:
    """summary.json's percentiles of one timing (``ttft``/``itl``), in ms, wherever they sit."""
    stack: list[Any] = [summary]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get(key), dict) and "p50_us" in node[key]:
                return node[key]  # type: ignore[no-any-return]
            stack.extend(node.values())
    return None


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| mode | streams | answers | TTFT err p50 | p99 | max | min | warm p99 | warm max "
           "| send p99 | receive p99 | ITL p50 | p90 | p99 | wire p50 | p90 | p99 "
           "| ITL n / expected |", "|" + "---|" * 18]  # fmt: skip
    for r in rows:
        e, w, i, t = (r["ttft_error_ms"] or {}, r["ttft_error_warm_ms"] or {}, r["itl"] or {},
                      r["itl_truth_ms"])  # fmt: skip
        s, v = r["send_side_ms"] or {}, r["receive_side_ms"] or {}
        out.append(
            f"| {r['mode']} | {r['users']} | {r['matched']} | {e.get('p50', 0):+.3f} | "
            f"{e.get('p99', 0):+.3f} | {e.get('max', 0):+.3f} | {e.get('min', 0):+.3f} | "
            f"{w.get('p99', 0):+.3f} | {w.get('max', 0):+.3f} | "
            f"{s.get('p99', 0):+.3f} | {v.get('p99', 0):+.3f} | "
            f"{i.get('p50_us', 0) / 1e3:.3f} | {i.get('p90_us', 0) / 1e3:.3f} | "
            f"{i.get('p99_us', 0) / 1e3:.3f} | "
            f"{t.get('p50', 0):.3f} | {t.get('p90', 0):.3f} | {t.get('p99', 0):.3f} | "
            f"{r['itl_count']} / {r['itl_count_expected']} |"
        )
    return "\n".join(out)


def brief(rows: list[dict[str, Any]]) -> str:
    """The figures of merit, one line per run: TTFT error (ms) of warm and cold requests, the
    cold ones' time to the server's accept, against the packet capture when there is one, and
    ITL percentiles (ms) beside the server's."""

    def fig(x: dict[str, Any] | None, *keys: str) -> str:
        return " / ".join(f"{x[k]:+.3f}" for k in keys) if x else "–"

    out = ["| variant | streams | warm p50 / p99 / max | cold p50 / max | cold: to accept p50 "
           "| vs wire p50 / p99 | ITL p50 / p90 / p99 (server's) | ITL n / expected "
           "| exact TTFT p50 / p99 / max (n) | TTFT bounded / ITL merged "
           "| CPU s (µs/answer) | load | valid |",
           "|" + "---|" * 13]  # fmt: skip
    for r in rows:
        i, t = r["itl"] or {}, r["itl_truth_ms"]
        itl = (f"{i['p50_us'] / 1e3:.3f} / {i['p90_us'] / 1e3:.3f} / {i['p99_us'] / 1e3:.3f} "
               f"({t['p50']:.3f} / {t['p90']:.3f} / {t['p99']:.3f})" if i else "–")  # fmt: skip
        out.append(
            f"| {r['mode']} | {r['users']} | {fig(r['ttft_error_warm_ms'], 'p50', 'p99', 'max')} "
            f"| {fig(r['ttft_error_cold_ms'], 'p50', 'max')} "
            f"| {fig(r.get('cold_connect_ms'), 'p50')} "
            f"| {fig(r.get('wire', {}).get('ttft_error_ms'), 'p50', 'p99')} | {itl} "
            f"| {r['itl_count'] or '–'} / {r['itl_count_expected']} "
            f"| {fig(r.get('ttft_error_exact_ms'), 'p50', 'p99', 'max')} "
            f"({(r.get('ttft_error_exact_ms') or {}).get('n', '–')}) "
            f"| {r.get('ttft_bounded', '–')} / {r.get('itl_merged', '–')} "
            f"| {_cpu(r)} | {r.get('load', 0):.1f} | {_validity(r)} |"
        )
    return "\n".join(out)


def _cpu(r: dict[str, Any]) -> str:
    """The generator process's CPU (start-up and end of run included), and per answer."""
    if r.get("cpu_s") is None:
        return "–"
    return f"{r['cpu_s']:.1f} ({r['cpu_s'] / max(r['requests'], 1) * 1e6:.0f})"


def _validity(r: dict[str, Any]) -> str:
    if "valid" not in r:
        return "–"
    reasons = r.get("validity_reasons") or []
    return "yes" if r["valid"] else "NO: " + "; ".join(str(x) for x in reasons)[:160]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", default="1,64")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--gap-ms", type=float, default=10.0)
    ap.add_argument("--burst", type=int, default=4)
    ap.add_argument("--burst-gap-ms", type=float, default=20.0)
    ap.add_argument("--modes", default="tokens,bursts")
    ap.add_argument("--processes", type=int, default=1, help="stagecheck run --processes N")
    ap.add_argument("--profile", action="store_true", help="py-spy the 64-stream burst run")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate floor and stagecheck runs this many times (ABBA)",
    )
    ap.add_argument(
        "--pcap",
        action="store_true",
        help="capture stagecheck's runs with tcpdump: the wire as a second truth",
    )
    ap.add_argument(
        "--rev",
        help="also run this revision's stagecheck (git archive), as a "
        "before/after in the same invocation",
    )
    ap.add_argument(
        "--isolate",
        action="store_true",
        help="move every other thread off the generator's core for the runs (root; put back "
        "after): a shared machine's other work then delays the server, not the generator",
    )
    ap.add_argument("--report", help="print the tables of a results JSON again, and exit")
    ap.add_argument("--baseline-client", help=argparse.SUPPRESS)  # port,users,requests,out
    args = ap.parse_args()
    if args.report:
        raw = Path(args.report).read_bytes()
        text = gzip.decompress(raw) if args.report.endswith(".gz") else raw
        print(brief(json.loads(text)["runs"]))
        return
    if args.baseline_client:
        port, users, requests, out = args.baseline_client.split(",", 3)
        baseline_client(int(port), int(users), int(requests), out)
        return
    modes = {"tokens": Mode("tokens", 1, args.gap_ms),
             "bursts": Mode("bursts", args.burst, args.burst_gap_ms)}  # fmt: skip
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    results_dir = BENCH / "results"
    rows: list[dict[str, Any]] = []
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=REPO).stdout.strip()  # fmt: skip
    with (tempfile.TemporaryDirectory(prefix="stream-timing-") as tmp_name,
          isolated(GENERATOR_CORE) if args.isolate else nullcontext(0) as moved):  # fmt: skip
        if args.isolate:
            print(f"isolated: {moved} threads moved off CPU {GENERATOR_CORE} for the runs")
        tmp = Path(tmp_name)
        source = snapshot(args.rev, tmp) if args.rev else None
        for name in args.modes.split(","):
            for users in (int(u) for u in args.users.split(",")):
                profile = None
                if (
                    args.profile
                    and name == "bursts"
                    and users == max(int(u) for u in args.users.split(","))
                ):
                    profile = results_dir / f"stream_timing-{stamp}-{name}-{users}.pyspy.txt"
                for i in range(args.rounds):
                    variants = ["floor", *(["rev"] if source else []), "tree"]
                    for variant in variants if i % 2 == 0 else variants[::-1]:
                        if variant == "floor":
                            rows.append(run_baseline(tmp, args, modes[name], users))
                        elif variant == "rev" and source is not None:
                            rows.append(run_once(tmp, args, modes[name], users, None, source))
                            rows[-1]["mode"] += f" @{args.rev}"
                        else:
                            rows.append(run_once(tmp, args, modes[name], users, profile))
                        rows[-1]["round"] = i
                        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(
        f"stream timing at {rev}: first token {args.delay_ms} ms after the request, "
        f"{args.tokens} tokens; TTFT error target <= {TARGET_MS} ms"
    )
    print(table(rows))
    print()
    print(brief(rows))
    worst = max(
        abs(r["ttft_error_ms"]["max"])
        for r in rows
        if r["ttft_error_ms"] and "floor" not in r["mode"] and "@" not in r["mode"]
    )
    print(f"\nworst TTFT error: {worst:.3f} ms ({'met' if worst <= TARGET_MS else 'MISSED'})")
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"stream_timing-{stamp}.json"
    path.write_text(json.dumps({"rev": rev, "args": vars(args), "runs": rows}, indent=1))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
