"""A streaming OpenAI chat-completions server with a known timing, for stream_timing.py and tests.

    .venv/bin/python benchmarks/stream_server.py [--port 0] [--delay-ms 50] [--tokens 16]
        [--burst 1] [--gap-ms 10] [--log FILE]

Every ``POST …/chat/completions`` with ``"stream": true`` gets its headers at once, then, in
``--delay-ms`` after the request's last byte arrived, the first write of ``--burst`` tokens; then a
write of ``--burst`` more every ``--gap-ms``, ``--tokens`` tokens in all (``--burst 1``: one token
per write; more: bursts, as servers that batch their decoding send them); then a usage chunk and
``[DONE]``. Anything else gets a small non-streamed answer (a health check, a plain request).

The truth is the server's own clock, not its plan: per request it logs (``--log``, one JSON line
per answer, written when the answer ends and flushed on SIGTERM/SIGINT):

* ``recv_ns``: the monotonic time the request's last byte arrived: the kernel's receive time of
  the read that completed it (``SO_TIMESTAMPNS``, Linux), else the time the read returned;
  ``recv_wall_ns``, the same on the wall clock; ``read_ns``, when the event loop read it;
* ``writes``: the monotonic time just before each write of tokens; ``counts``, the tokens each
  write held;
* ``opened_ns``: when the connection was accepted, for its first answer (None after);
  ``opened_wall_ns``, the same on the wall clock;
* ``id``: the number after ``row `` in the request, when there is one.

time.monotonic_ns is CLOCK_MONOTONIC, the clock time.perf_counter_ns reads in the client's
process too. Plain asyncio on raw non-blocking sockets, one process, no dependency: it prints
``port N`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

_ROW = re.compile(rb"row (\d+)")
LABEL = "shipping"  # the first token: a label of the bench and test datasets


@dataclass(frozen=True)
class Timing:
    delay_ms: float = 50.0
    tokens: int = 16
    burst: int = 1
    gap_ms: float = 10.0


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _delta(text: str) -> bytes:
    return _event({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
                   "model": "bench", "choices": [{"index": 0, "delta": {"content": text},
                                                  "finish_reason": None}]})  # fmt: skip


_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
_PLAIN = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
                     "model": "bench", "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": LABEL}}]}).encode()  # fmt: skip


# Linux's SO_TIMESTAMPNS (the socket module does not name it): each read's ancillary data holds
# the kernel's receive time of its last byte, so that the server's own wake-up is not in it.
_SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None
_ANCILLARY = socket.CMSG_SPACE(16)


def wall_offset() -> int:
    """``time.time_ns() − time.monotonic_ns()`` from the closest of three sandwiched reads (a
    preemption between two clock reads would shift it)."""
    best_span, offset = 1 << 62, 0
    for _ in range(3):
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        if after - before < best_span:
            best_span, offset = after - before, wall - (before + after) // 2
    return offset


class _Conn:
    """One client connection on raw non-blocking sockets (the event loop's reader and writer
    callbacks), read with ``recvmsg`` for the kernel's receive time."""

    def __init__(self, server: StreamServer, sock: socket.socket) -> None:
        self.server = server
        self.sock: socket.socket | None = sock
        self.buf = b""
        self.out = bytearray()  # bytes the socket did not take yet
        self.busy = False  # an answer is streaming: the next request waits (HTTP/1.1 order)
        self.opened_ns = time.monotonic_ns()  # when the connection was accepted
        self.answers = 0  # streams answered on this connection
        self.wall_ns = 0  # the kernel's receive time of the last read (wall clock)
        self.read_ns = 0  # when the loop read it (monotonic): the server's wake-up is after
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if _SO_TIMESTAMPNS is not None:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        server.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        if self.sock is None:
            return
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, _ANCILLARY)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        now = time.monotonic_ns()  # before any parsing
        if not data:
            self.close()
            return
        offset = wall_offset()
        kernel = now + offset
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                sec, nsec = struct.unpack_from("qq", value)
                kernel = min(sec * 1_000_000_000 + nsec, kernel)
        self.wall_ns, self.read_ns = kernel, now
        self.buf += data
        self._next(kernel - offset)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            self.server.loop.remove_reader(sock.fileno())
            if self.out:
                self.server.loop.remove_writer(sock.fileno())
            sock.close()

    def _next(self, now: int) -> None:
        if self.busy:
            return
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buf[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buf) < end:
            return
        body, self.buf = self.buf[head_end + 4 : end], self.buf[end:]
        method, path = head.split(" ", 2)[:2]
        if (
            method == "POST"
            and path.endswith("/chat/completions")
            and b'"stream":true' in (body.replace(b" ", b""))
        ):
            self.busy = True
            found = _ROW.search(body)
            self.server.stream(self, now, int(found.group(1)) if found else None)
        else:
            answer = _PLAIN if method == "POST" else b"{}"
            self._write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))  # fmt: skip
            self._next(now)

    def _write(self, data: bytes) -> bool:
        if self.sock is None:
            return False
        if self.out:
            self.out += data
            return True
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return False
        if sent < len(data):
            self.out += data[sent:]
            self.server.loop.add_writer(self.sock.fileno(), self._flush)
        return True

    def _flush(self) -> None:
        if self.sock is None:
            return
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        del self.out[:sent]
        if not self.out:
            self.server.loop.remove_writer(self.sock.fileno())

    def done(self) -> None:
        self.busy = False
        self._next(time.monotonic_ns())


class StreamServer:
    """Streams every answer on the event loop's timers, at absolute times from the request's
    arrival (a late timer does not shift the following writes)."""

    def __init__(self, timing: Timing, log: IO[str] | None) -> None:
        self.timing = timing
        self.log = log
        self.loop = asyncio.get_running_loop()
        t = timing
        self.bursts: list[bytes] = []
        sent = 0
        while sent < t.tokens:
            k = min(t.burst, t.tokens - sent)
            pieces = [LABEL if sent + i == 0 else f" w{sent + i}" for i in range(k)]
            self.bursts.append(_chunk(b"".join(_delta(p) for p in pieces)))
            sent += k
        usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
                 "model": "bench", "choices": [],
                 "usage": {"prompt_tokens": 1, "completion_tokens": t.tokens,
                           "total_tokens": t.tokens + 1}}  # fmt: skip
        self.tail = _chunk(_event(usage) + b"data: [DONE]\n\n") + b"0\r\n\r\n"

    def stream(self, conn: _Conn, recv_ns: int, row: int | None) -> None:
        conn._write(_HEAD)
        t = self.timing
        start = recv_ns / 1e9  # loop.time() is time.monotonic()
        record: dict[str, Any] = {"id": row, "recv_ns": recv_ns, "recv_wall_ns": conn.wall_ns,
                                  "read_ns": conn.read_ns,
                                  "opened_ns": conn.opened_ns if not conn.answers else None,
                                  "opened_wall_ns": conn.opened_ns + wall_offset(),
                                  "writes": [], "counts": []}  # fmt: skip
        conn.answers += 1
        counts = [min(t.burst, t.tokens - i * t.burst) for i in range(len(self.bursts))]

        def write(i: int) -> None:
            record["writes"].append(time.monotonic_ns())
            record["counts"].append(counts[i])
            if not conn._write(self.bursts[i]):
                return  # the client left
            if i + 1 < len(self.bursts):
                self.loop.call_at(start + (t.delay_ms + (i + 1) * t.gap_ms) / 1e3, write, i + 1)
            else:
                conn._write(self.tail)
                if self.log is not None:
                    self.log.write(json.dumps(record) + "\n")
                conn.done()

        self.loop.call_at(start + t.delay_ms / 1e3, write, 0)


async def serve(port: int, timing: Timing, log_path: str | None) -> None:
    log = open(log_path, "a", buffering=1 << 16) if log_path else None  # noqa: SIM115
    server = StreamServer(timing, log)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    conns: list[_Conn] = []

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            conns.append(_Conn(server, sock))

    loop.add_reader(listener.fileno(), accept)
    print(f"port {listener.getsockname()[1]}", flush=True)
    await stop
    loop.remove_reader(listener.fileno())
    listener.close()
    for conn in conns:
        conn.close()
    if log is not None:
        log.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--burst", type=int, default=1)
    ap.add_argument("--gap-ms", type=float, default=10.0)
    ap.add_argument("--log")
    a = ap.parse_args(argv)
    timing = Timing(a.delay_ms, a.tokens, a.burst, a.gap_ms)
    asyncio.run(serve(a.port, timing, a.log))
    sys.exit(0)


if __name__ == "__main__":
    main()
