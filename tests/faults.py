"""A fault-injecting OpenAI-compatible server for the reliability tests: a real HTTP/1.1 server
on loopback, written on raw sockets so that it can break the protocol on purpose.

The fault is chosen by the request path, ``/fault/<name>/v1/chat/completions``, so that one
server serves every test (point ``endpoint.options.path`` at it; ``/fault/delay_<ms>/…``: a
healthy answer after that many ms). ``GET /stats`` returns how
many requests each fault received (the truth that conservation is checked against).

    python -m tests.faults            # prints "port N" once listening on 127.0.0.1
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

ANSWER = b'{"choices":[{"message":{"role":"assistant","content":"refund"}}]}'
Fault = Callable[[socket.socket], None]
FAULTS: dict[str, Fault] = {}  # name → what the server does


def fault(name: str) -> Callable[[Fault], Fault]:
    def register(fn: Fault) -> Fault:
        FAULTS[name] = fn
        return fn

    return register


def _headers(status: str, extra: str = "", length: int | None = None) -> bytes:
    head = f"HTTP/1.1 {status}\r\nConnection: close\r\n{extra}"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return (head + "\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _event(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


SSE = "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"


@fault("ok")
def _ok(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", "Content-Type: application/json\r\n", len(ANSWER)) + ANSWER)


@fault("ok_stream")
def _ok_stream(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", SSE) + _chunk(_event("ref")) + _chunk(_event("und")))
    s.sendall(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


@fault("http_503")
def _http_503(s: socket.socket) -> None:
    body = b'{"error":{"message":"overloaded"}}'
    s.sendall(_headers("503 Service Unavailable", "", len(body)) + body)


@fault("http_429")
def _http_429(s: socket.socket) -> None:
    s.sendall(_headers("429 Too Many Requests", "Retry-After: 1\r\n", 0))


@fault("garbage")
def _garbage(s: socket.socket) -> None:
    body = b"<html>not json</html>"
    s.sendall(_headers("200 OK", "", len(body)) + body)


@fault("cut_body")
def _cut_body(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", "Content-Type: application/json\r\n", len(ANSWER)) + ANSWER[:20])


@fault("reset_body")
def _reset_body(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", "Content-Type: application/json\r\n", len(ANSWER)) + ANSWER[:20])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close


@fault("drop")
def _drop(s: socket.socket) -> None:
    pass  # close without a byte of answer


@fault("sse_cut")
def _sse_cut(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", SSE) + _chunk(_event("ref")))  # closed mid-stream


@fault("sse_no_done")
def _sse_no_done(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", SSE) + _chunk(_event("refund")) + b"0\r\n\r\n")


@fault("trickle")
def _trickle(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", "Content-Type: application/json\r\n", len(ANSWER)))
    for i in range(len(ANSWER)):  # ~6 s in all: each read is quick, the whole is not
        s.sendall(ANSWER[i : i + 1])
        time.sleep(0.1)


@fault("sse_long_line")
def _sse_long_line(s: socket.socket) -> None:
    s.sendall(_headers("200 OK", SSE))
    block = b"x" * (1 << 20)
    for _ in range(12):  # a 12 MiB line without a line end
        s.sendall(_chunk(block))
    s.sendall(_chunk(b"\n\n") + b"0\r\n\r\n")


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        s: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            more = s.recv(65536)
            if not more:
                return
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(body) < length:
            more = s.recv(65536)
            if not more:
                return
            body += more
        if path == "/stats":
            with self.server.lock:
                payload = json.dumps(dict(self.server.received)).encode()
            s.sendall(_headers("200 OK", "", len(payload)) + payload)
            return
        parts = path.split("/")
        name = parts[2] if len(parts) > 2 and parts[1] == "fault" else "ok"
        with self.server.lock:
            self.server.received[name] += 1
        if name.startswith("delay_"):  # /fault/delay_200/…: a healthy answer after 200 ms
            time.sleep(int(name.removeprefix("delay_")) / 1000)
        with contextlib.suppress(OSError):  # the client went away: its side is what is checked
            FAULTS.get(name, _ok)(s)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()


def main() -> None:
    server = _Server()
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
