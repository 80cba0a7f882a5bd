"""What stamping each SSE event with its own packet's arrival costs the generator, per event.

    .venv/bin/python benchmarks/sse_stamp_cost.py [--events 20000] [--rounds 3] [--rev REV]

A writer process sends chunked SSE events over loopback, one event per write (TCP_NODELAY),
``--pace-us`` apart; the reader (this process, gevent) reads them with
``stagecheck.locust.transport.sse_events`` in three ways, alternated (ABC CBA …):

* ``plain``: no kernel stamps (``recv`` and the counter after it: the floor);
* ``per read``: the kernel's stamp of each read (``recvmsg``), shared by the lines of a read:
  what stagecheck did before issue 19;
* ``per event``: the working tree's reader (issue 19: a packet's bytes read exactly, reads cut
  at event ends when several packets are queued);
* ``per event @REV`` (``--rev``): the same reader of that revision
  (``stagecheck/locust/transport.py`` of ``git show REV``), as a before/after in one invocation.

Two cases: ``prompt`` (the reader is waiting when each event comes: one event per read) and
``behind`` (the writer sends ``--batch`` events while the reader is held: one wake-up finds them
all queued). Prints CPU µs per event (process time of the reader / events) per way and case.
"""

from __future__ import annotations

import gevent
import gevent.socket

import argparse
import importlib.util
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from geventhttpclient.response import HTTPSocketResponse

from stagecheck.locust import stamps, transport

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENT = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":" token"}}]}\n\n'
CHUNK = b"%x\r\n%s\r\n" % (len(EVENT), EVENT)

WRITER = r"""
import socket, sys, time
port, events, pace_us, batch = map(int, sys.argv[1:5])
head, chunk = sys.stdin.buffer.read().split(b"|", 1)
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(head)
s.recv(1)  # the reader is ready
for i in range(events):
    s.sendall(chunk)
    if batch <= 1:
        time.sleep(pace_us / 1e6)
    elif (i + 1) % batch == 0 and i + 1 < events:
        s.recv(1)  # the reader took the batch: the next one
s.sendall(b"0\r\n\r\n")
s.recv(1)
"""


def _per_read(sock: Any, size: int, floor_ns: int, offset: int) -> tuple[bytes, int]:
    """Before issue 19: one read, the kernel's stamp of its last packet."""
    data, ancillary, _, _ = sock.recvmsg(size, stamps._ANCILLARY)
    now = time.perf_counter_ns()
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == stamps._SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = stamps._TIMESPEC.unpack_from(value)
            return data, min(max(sec * 1_000_000_000 + nsec - offset, floor_ns), now)
    return data, now


class _PerReadReader:
    def __init__(self, sock: Any) -> None:
        self.sock, self.offset = sock, stamps._wall_offset()

    def read(self, size: int, floor: int) -> list[tuple[bytes, int, bool]]:
        data, at = _per_read(self.sock, size, floor, self.offset)
        return [(data, at, False)]

    def unwatch(self) -> None:  # it reads its socket itself
        pass


def transport_of(rev: str) -> ModuleType:
    """``stagecheck/locust/transport.py`` as it was at ``rev``, as a module of its own."""
    repo = Path(__file__).resolve().parent.parent
    text = subprocess.run(["git", "show", f"{rev}:stagecheck/locust/transport.py"], cwd=repo,
                          capture_output=True, check=True).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="sse-cost-")) / f"transport_{rev}.py"
    path.write_bytes(text)
    spec = importlib.util.spec_from_file_location(f"transport_{rev}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one(way: str, case: str, events: int, pace_us: int, batch: int,
        module: ModuleType = transport) -> float:  # fmt: skip
    """CPU µs per event of the reader (``module``: the transport module that reads)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(port), str(events),
                               str(pace_us), str(batch if case == "behind" else 1)],
                              stdin=subprocess.PIPE)  # fmt: skip
    assert writer.stdin is not None
    writer.stdin.write(HEAD + b"|" + CHUNK)
    writer.stdin.close()
    raw_sock, _ = listener.accept()
    listener.close()
    sock = gevent.socket.socket(fileno=raw_sock.detach())
    if way != "plain":
        sock.setsockopt(socket.SOL_SOCKET, stamps._SO_TIMESTAMPNS, 1)
    name = "EventReader" if hasattr(module, "EventReader") else "_EventReader"
    switch = "stamping" if hasattr(module, "stamping") else "_stamping"  # (before ce0e473)
    original_reader, original_stamping = getattr(module, name), getattr(module, switch)
    if way == "plain":
        setattr(module, switch, lambda s: False)
    elif way == "per read":
        setattr(module, name, _PerReadReader)
    seen = 0
    try:
        resp = HTTPSocketResponse(sock, block_size=16 * 1024, method="GET")
        sock.send(b"g")
        cpu = time.process_time()
        for line, _, _ in module.sse_events(resp):
            if line:
                seen += 1
                if case == "behind" and seen % batch == 0 and seen < events:
                    sock.send(b"g")
                    time.sleep(0.002)  # held (not gevent's sleep): the batch queues up
        cpu = time.process_time() - cpu
        sock.send(b"g")
    finally:
        setattr(module, name, original_reader)
        setattr(module, switch, original_stamping)
    writer.wait(timeout=120)
    sock.close()
    assert seen == events, (seen, events)
    return cpu / events * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pace-us", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--rev", help="also time the reader of this revision (git show)")
    args = ap.parse_args()
    ways = ["plain", "per read", "per event"]
    modules = {way: transport for way in ways}
    if args.rev:
        ways.append(f"per event @{args.rev}")
        modules[ways[-1]] = transport_of(args.rev)
    results: dict[tuple[str, str], list[float]] = {}
    for case in ("prompt", "behind"):
        for r in range(args.rounds):
            for way in ways if r % 2 == 0 else ways[::-1]:
                us = one(way.split(" @")[0], case, args.events, args.pace_us, args.batch,
                         modules[way])  # fmt: skip
                results.setdefault((case, way), []).append(us)
    print("| case | way | CPU µs per event (median of rounds) | rounds |")
    print("|---|---|---|---|")
    for (case, way), values in results.items():
        print(f"| {case} | {way} | {statistics.median(values):.2f} | "
              f"{', '.join(f'{v:.2f}' for v in values)} |")  # fmt: skip


if __name__ == "__main__":
    main()
