"""Wire truth: stagecheck's per-request latency against the wire's, on a loopback target.

    .venv/bin/python benchmarks/wire_truth.py [--runs 3] [--seconds 10] [--users 4]
        [--wait 0.005] [--target nginx|demo] [--rev REV]

Needs tcpdump (run as root) and dpkt (``pip install -e .[bench]``). One loopback target (nginx
answering every request with the same chat completion, as in generator_cost.py; or the demo
endpoint with every delay at zero) pinned to CPU 1, the generator to CPU 0. Each run:

1. ``tcpdump -i lo`` captures the target's port (nanosecond timestamps, whole packets);
2. ``stagecheck run`` of scenarios/smoke.yaml at ``--users`` users, closed loop (each user
   waits ``--wait`` s between requests), ``--seconds`` s;
3. the capture is reassembled per TCP connection (HTTP/1.1, one request at a time): a
   request's wire time runs from the first packet of the request to the packet that completes
   its answer (Content-Length or chunked end);
4. stagecheck's latency (results.jsonl ``latency_us``) is compared with the wire's, as
   distributions (p50, p99) and request by request (matched by row and order of sending:
   stagecheck's latency − the wire's must never be negative);
5. for context, a plain Python client (``http.client``, one thread per user, same requests, same
   wait) runs under its own capture, matched by connection and order.

Target: p50 ≤ wire + 0.1 ms, p99 ≤ wire + 0.3 ms, never below. Prints a table; writes
benchmarks/results/wire_truth-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generator_cost as gc_bench  # noqa: E402  # the targets, pinning and --rev export

REPO = gc_bench.REPO
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
P50_MARGIN_MS, P99_MARGIN_MS = 0.1, 0.3


# --------------------------------------------------------------------------------------------
# capture and reassembly


@contextlib.contextmanager
def capture(port: int, path: Path) -> Iterator[None]:
    """tcpdump on lo for ``port`` while the block runs."""
    proc = subprocess.Popen(
        [
            TCPDUMP,
            "-i",
            "lo",
            "-n",
            "-s",
            "0",
            "-B",
            "65536",
            "--time-stamp-precision=nano",
            "-w",
            str(path),
            f"tcp port {port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "listening on lo, …" once it captures
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"tcpdump did not start: {line.strip()}")
    try:
        yield
    finally:
        time.sleep(0.3)  # the last packets
        proc.send_signal(signal.SIGINT)
        tail = proc.communicate(timeout=10)[1]
        dropped = re.search(r"(\d+) packets? dropped by kernel", tail)
        if dropped is None or int(dropped.group(1)):
            print(f"WARNING: tcpdump: {tail.strip()}")


@dataclass
class WireRequest:
    conn: tuple[int, int]  # (client port, server port)
    start_ns: int  # first packet of the request
    end_ns: int = 0  # packet that completed the answer
    head: bytes = b""
    body: bytes = b""

    @property
    def wire_us(self) -> float:
        return (self.end_ns - self.start_ns) / 1000


@dataclass
class _Conn:
    client_next: int | None = None  # next expected sequence numbers (drop retransmissions)
    server_next: int | None = None
    requests: list[WireRequest] = field(default_factory=list)
    req_buf: bytearray = field(default_factory=bytearray)
    resp_buf: bytearray = field(default_factory=bytearray)
    open_request: WireRequest | None = None  # sent, answer not complete
    req_need: int | None = None  # bytes of the request still to come (head known)


def _answer_complete(buf: bytearray) -> bool:
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = bytes(buf[:end]).decode("latin-1").lower()
    if head.startswith("http/1.1 1"):  # interim answer: the final one follows
        del buf[: end + 4]
        return _answer_complete(buf)
    body = len(buf) - end - 4
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length":
            return body >= int(value)
        if name.strip() == "transfer-encoding" and "chunked" in value:
            return buf.endswith(b"0\r\n\r\n")
    return False  # until the close: not used by these targets


def reassemble(pcap: Path, server_port: int) -> list[WireRequest]:
    """Every HTTP/1.1 exchange on the capture's connections to ``server_port``."""
    import dpkt

    conns: dict[tuple[int, int], _Conn] = defaultdict(_Conn)
    with pcap.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        for ts, frame in reader:  # a Decimal of seconds for a nanosecond capture: exact
            ts_ns = int(ts * 1_000_000_000)
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                continue
            tcp = ip.data
            if not isinstance(tcp, dpkt.tcp.TCP) or not tcp.data:
                continue
            to_server = tcp.dport == server_port
            key = (tcp.sport, tcp.dport) if to_server else (tcp.dport, tcp.sport)
            c = conns[key]
            seq, data = tcp.seq, bytes(tcp.data)
            nxt = c.client_next if to_server else c.server_next
            if nxt is not None and seq != nxt and (seq - nxt) % (1 << 32) > (1 << 31):
                continue  # before nxt: a retransmission
            if to_server:
                c.client_next = (seq + len(data)) % (1 << 32)
                idle = c.open_request is None or c.open_request.end_ns
                if idle and not c.req_buf:  # first packet of a new request
                    c.open_request = WireRequest(key, ts_ns)
                    c.requests.append(c.open_request)
                c.req_buf += data
                req = c.open_request
                assert req is not None
                end = c.req_buf.find(b"\r\n\r\n")
                if end >= 0 and not req.head:
                    req.head = bytes(c.req_buf[:end])
                    length = 0
                    for line in req.head.decode("latin-1").split("\r\n")[1:]:
                        name, _, value = line.partition(":")
                        if name.strip().lower() == "content-length":
                            length = int(value)
                    c.req_need = end + 4 + length
                if c.req_need is not None and len(c.req_buf) >= c.req_need:
                    req.body = bytes(c.req_buf[end + 4 : c.req_need])
                    del c.req_buf[: c.req_need]
                    c.req_need = None
            else:
                c.server_next = (seq + len(data)) % (1 << 32)
                c.resp_buf += data
                req = c.open_request
                if req is not None and not req.end_ns and _answer_complete(c.resp_buf):
                    req.end_ns = ts_ns
                    c.resp_buf.clear()
    return [r for c in conns.values() for r in c.requests if r.end_ns]


# --------------------------------------------------------------------------------------------
# the runs


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def figures(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) / 1000, 4),
        "p99_ms": round(percentile(values, 99) / 1000, 4),
        "mean_ms": round(statistics.fmean(values) / 1000, 4) if values else float("nan"),
    }


def diff_figures(diffs_us: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(diffs_us),
        "min_ms": round(min(diffs_us) / 1000, 4),
        "p50_ms": round(percentile(diffs_us, 50) / 1000, 4),
        "p99_ms": round(percentile(diffs_us, 99) / 1000, 4),
        "max_ms": round(max(diffs_us) / 1000, 4),
        "below_wire": sum(1 for d in diffs_us if d < 0),
        "over_0.3ms": sum(1 for d in diffs_us if d > 300),
        "over_1ms": sum(1 for d in diffs_us if d > 1000),
    }


def stagecheck_run(tmp: Path, target: gc_bench.Target, args: argparse.Namespace, rnd: int) -> Path:
    out = tmp / f"runs-{rnd}"
    sets = [
        f"endpoint.url={target.url}",
        f"load.users={args.users}",
        f"load.spawn_rate={args.users}",
        f"load.duration={args.seconds}s",
        f"load.wait={args.wait}",
        "thresholds=[]",
    ]
    cmd = [
        *gc_bench.pin_prefix(gc_bench.GENERATOR_CORE),
        sys.executable,
        "-m",
        "stagecheck.cli",
        "run",
        gc_bench.SCENARIO,
        "--out",
        str(out),
        "--quiet",
    ]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, **gc_bench.SOURCE_ENV}
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=gc_bench.SOURCE_DIR,
        env=env,
        timeout=args.seconds + 180,
    )
    dirs = list(out.iterdir()) if out.exists() else []
    # 1: the fixed answer fails the accuracy gates; 3: invalid (e.g. a saturated generator)
    if proc.returncode not in (0, 1, 3) or len(dirs) != 1:
        raise SystemExit(f"stagecheck run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dirs[0]


def reference_run(
    target: gc_bench.Target,
    bodies: list[bytes],
    path: str,
    headers: dict[str, str],
    args: argparse.Namespace,
) -> list[tuple[int, int, float]]:
    """(client port, request number on the connection, latency µs) of each request."""
    host, port = target.url.split("//")[1].split(":")
    out: list[tuple[int, int, float]] = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def user(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.connect()
        local = conn.sock.getsockname()[1]
        mine: list[tuple[int, int, float]] = []
        n = 0
        while time.monotonic() < stop:
            body = bodies[(k + n * args.users) % len(bodies)]
            t0 = time.perf_counter_ns()
            conn.request("POST", path, body=body, headers=headers)
            conn.getresponse().read()
            t1 = time.perf_counter_ns()
            mine.append((local, n, (t1 - t0) / 1000))
            n += 1
            if args.wait:
                time.sleep(args.wait)
        conn.close()
        with lock:
            out.extend(mine)

    os.sched_setaffinity(0, {gc_bench.GENERATOR_CORE}) if gc_bench._can_pin() else None
    threads = [threading.Thread(target=user, args=(k,)) for k in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def compare_stagecheck(
    run_dir: Path, wire: list[WireRequest], row_of: dict[bytes, int]
) -> dict[str, Any]:
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines() if x]
    sc = [x for x in lines if x.get("latency_us") is not None]
    chat = [w for w in wire if w.body in row_of]  # the run's requests (not probes, /metrics)
    by_row_sc: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for x in sorted(sc, key=lambda x: x["t"]):
        by_row_sc[x["row"]].append(x)
    by_row_wire: dict[int, list[WireRequest]] = defaultdict(list)
    for w in sorted(chat, key=lambda w: w.start_ns):
        by_row_wire[row_of[w.body]].append(w)
    diffs = []
    for row, xs in by_row_sc.items():
        ws = by_row_wire.get(row, [])
        if len(ws) == len(xs):  # same sends of that row: matched in order
            diffs += [x["latency_us"] - w.wire_us for x, w in zip(xs, ws, strict=True)]
    return {
        "stagecheck": figures([x["latency_us"] for x in sc]),
        "wire": figures([w.wire_us for w in chat]),
        "per_request": diff_figures(diffs) if diffs else {},
        "results_lines": len(sc),
        "wire_requests": len(chat),
    }


def compare_reference(ref: list[tuple[int, int, float]], wire: list[WireRequest]) -> dict[str, Any]:
    by_conn: dict[int, list[WireRequest]] = defaultdict(list)
    for w in sorted(wire, key=lambda w: w.start_ns):
        by_conn[w.conn[0]].append(w)
    diffs = []
    for local, n, lat in ref:
        ws = by_conn.get(local, [])
        if n < len(ws):
            diffs.append(lat - ws[n].wire_us)
    return {
        "reference": figures([x[2] for x in ref]),
        "wire": figures([w.wire_us for w in wire]),
        "per_request": diff_figures(diffs) if diffs else {},
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--wait", type=float, default=0.005, help="each user's pause (s)")
    ap.add_argument("--target", choices=("auto", "nginx", "demo"), default="auto")
    ap.add_argument("--rev", help="stagecheck at this git revision (as generator_cost.py)")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--out-dir", default=str(gc_bench.BENCH / "results"))
    args = ap.parse_args(argv)
    try:
        import dpkt  # noqa: F401
    except ImportError:
        raise SystemExit("dpkt is needed: .venv/bin/pip install -e '.[bench]'") from None
    if os.geteuid() != 0:
        print("WARNING: not root: tcpdump may not capture")

    from stagecheck.run.preparation import prepare_scenario

    stamp = datetime.now(timezone.utc)
    result: dict[str, Any] = {
        "benchmark": "wire_truth",
        "utc": stamp.isoformat(timespec="seconds"),
        "command": " ".join(
            [".venv/bin/python", "benchmarks/wire_truth.py", *(argv or sys.argv[1:])]
        ),
        "settings": vars(args),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="wire_truth-") as tmp_s:
        tmp = Path(tmp_s)
        source = "working tree"
        if args.rev:
            source = f"git {args.rev} = {gc_bench.export_revision(args.rev, tmp / 'src')}"
        with gc_bench.loopback_target(args.target, tmp) as target:
            port = int(target.url.rsplit(":", 1)[1])
            prepared = prepare_scenario(gc_bench.SCENARIO, [f"endpoint.url={target.url}"])
            rows = prepared.dataset.rows
            row_of = {r.request.body: r.index for r in rows}
            first = rows[0].request
            headers = {"Content-Type": first.content_type, "Accept": "application/json"}
            print(
                f"stagecheck from the {source}; target {target.kind} at {target.url}; "
                f"{args.runs} runs × {args.seconds}s at {args.users} users, wait {args.wait}s"
            )
            for rnd in range(args.runs):
                pcap = tmp / f"stagecheck-{rnd}.pcap"
                with capture(port, pcap):
                    run_dir = stagecheck_run(tmp, target, args, rnd)
                sc = compare_stagecheck(run_dir, reassemble(pcap, port), row_of)
                entry: dict[str, Any] = {"stagecheck": sc}
                if not args.no_reference:
                    pcap_ref = tmp / f"reference-{rnd}.pcap"
                    with capture(port, pcap_ref):
                        ref = reference_run(
                            target, [r.request.body for r in rows], first.path, headers, args
                        )
                    entry["reference"] = compare_reference(ref, reassemble(pcap_ref, port))
                result["runs"].append(entry)
                print_run(rnd, entry)
    meets = all(
        e["stagecheck"]["stagecheck"]["p50_ms"] - e["stagecheck"]["wire"]["p50_ms"] <= P50_MARGIN_MS
        and e["stagecheck"]["stagecheck"]["p99_ms"] - e["stagecheck"]["wire"]["p99_ms"]
        <= P99_MARGIN_MS
        and e["stagecheck"]["per_request"].get("below_wire", 1) == 0
        for e in result["runs"]
    )
    result["meets_target"] = meets
    print(
        f"target (p50 ≤ wire + {P50_MARGIN_MS} ms, p99 ≤ wire + {P99_MARGIN_MS} ms, never "
        f"below the wire) {'met' if meets else 'NOT met'} in every run"
    )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"wire_truth-{stamp.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


def print_run(rnd: int, entry: dict[str, Any]) -> None:
    sc = entry["stagecheck"]
    s, w, d = sc["stagecheck"], sc["wire"], sc["per_request"]
    print(f"run {rnd}: stagecheck {s['n']} requests (wire {w['n']}, matched {d.get('n', 0)})")
    print(f"  {'':<12} {'p50 ms':>8} {'p99 ms':>8}   − wire: {'p50':>7} {'p99':>7}")
    print(f"  {'wire':<12} {w['p50_ms']:>8.3f} {w['p99_ms']:>8.3f}")
    print(
        f"  {'stagecheck':<12} {s['p50_ms']:>8.3f} {s['p99_ms']:>8.3f}   "
        f"{'':>8}{s['p50_ms'] - w['p50_ms']:>+7.3f} {s['p99_ms'] - w['p99_ms']:>+7.3f}"
    )
    if d:
        print(
            f"  per request (stagecheck − wire): min {d['min_ms']:+.3f} p50 {d['p50_ms']:+.3f} "
            f"p99 {d['p99_ms']:+.3f} max {d['max_ms']:+.3f} ms; below the wire: "
            f"{d['below_wire']}; over +0.3 ms: {d['over_0.3ms']}, over +1 ms: {d['over_1ms']}"
        )
    ref = entry.get("reference")
    if ref:
        r, rw, rd = ref["reference"], ref["wire"], ref["per_request"]
        print(
            f"  {'python ref.':<12} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}   "
            f"{'':>8}{r['p50_ms'] - rw['p50_ms']:>+7.3f} {r['p99_ms'] - rw['p99_ms']:>+7.3f}"
            f"  (its own wire: p50 {rw['p50_ms']:.3f}, p99 {rw['p99_ms']:.3f}; per request "
            f"p50 {rd.get('p50_ms', float('nan')):+.3f}, min {rd.get('min_ms', float('nan')):+.3f})"
        )


if __name__ == "__main__":
    sys.exit(main())
