"""What stamping each SSE event with its own packet's arrival costs the generator, per event.

    .venv/bin/python benchmarks/sse_stamp_cost.py [--events 20000] [--rounds 3]

A writer process sends chunked SSE events over loopback, one event per write (TCP_NODELAY),
``--pace-us`` apart; the reader (this process, gevent) reads them with
``stagecheck.locust.transport.sse_events`` in three ways, alternated (ABC CBA …):

* ``plain``: no kernel stamps (``recv`` and the counter after it: the floor);
* ``per read``: the kernel's stamp of each read (``recvmsg``), shared by the lines of a read:
  what stagecheck did before issue 19;
* ``per event``: peek, ``TCP_INFO``, reads cut at event ends (issue 19).

Two cases: ``prompt`` (the reader is waiting when each event comes: one event per read) and
``behind`` (the writer sends ``--batch`` events while the reader is held: one wake-up finds them
all queued). Prints CPU µs per event (process time of the reader / events) per way and case.
"""

from __future__ import annotations

import gevent
import gevent.socket

import argparse
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from geventhttpclient.response import HTTPSocketResponse

from stagecheck.locust import transport

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
    data, ancillary, _, _ = sock.recvmsg(size, transport._ANCILLARY)
    now = time.perf_counter_ns()
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == transport._SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = transport._TIMESPEC.unpack_from(value)
            return data, min(max(sec * 1_000_000_000 + nsec - offset, floor_ns), now)
    return data, now


class _PerReadReader:
    def __init__(self, sock: Any) -> None:
        self.sock, self.offset = sock, transport._wall_offset()

    def read(self, size: int, floor: int) -> list[tuple[bytes, int, bool]]:
        data, at = _per_read(self.sock, size, floor, self.offset)
        return [(data, at, False)]


def one(way: str, case: str, events: int, pace_us: int, batch: int) -> float:
    """CPU µs per event of the reader."""
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
        sock.setsockopt(socket.SOL_SOCKET, transport._SO_TIMESTAMPNS, 1)
    original_reader, original_stamping = transport._EventReader, transport._stamping
    if way == "plain":
        transport._stamping = lambda s: False  # type: ignore[assignment]
    elif way == "per read":
        transport._EventReader = _PerReadReader  # type: ignore[assignment,misc]
    seen = 0
    try:
        resp = HTTPSocketResponse(sock, block_size=16 * 1024, method="GET")
        sock.send(b"g")
        cpu = time.process_time()
        for line, _, _ in transport.sse_events(resp):
            if line:
                seen += 1
                if case == "behind" and seen % batch == 0 and seen < events:
                    sock.send(b"g")
                    time.sleep(0.002)  # held (not gevent's sleep): the batch queues up
        cpu = time.process_time() - cpu
        sock.send(b"g")
    finally:
        transport._EventReader, transport._stamping = original_reader, original_stamping
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
    args = ap.parse_args()
    ways = ["plain", "per read", "per event"]
    results: dict[tuple[str, str], list[float]] = {}
    for case in ("prompt", "behind"):
        for r in range(args.rounds):
            for way in ways if r % 2 == 0 else ways[::-1]:
                us = one(way, case, args.events, args.pace_us, args.batch)
                results.setdefault((case, way), []).append(us)
    print("| case | way | CPU µs per event (median of rounds) | rounds |")
    print("|---|---|---|---|")
    for (case, way), values in results.items():
        print(f"| {case} | {way} | {statistics.median(values):.2f} | "
              f"{', '.join(f'{v:.2f}' for v in values)} |")  # fmt: skip


if __name__ == "__main__":
    main()
