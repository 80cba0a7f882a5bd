"""When stream lines arrived: sse_events over a real loopback TCP connection read by
geventhttpclient, as a streamed answer is read. The time is when the bytes reached the socket,
not when the reader got to them, and the lines of one write share it."""

from __future__ import annotations

import gevent.socket

import socket
import sys
import time
from collections.abc import Iterator

import pytest
from geventhttpclient.response import HTTPSocketResponse

from stagecheck.locust.transport import sse_events

pytestmark = pytest.mark.unit

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, gevent.socket.socket]]:
    """(server side, client side) of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = gevent.socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


def test_a_burst_shares_its_arrival_and_later_bytes_arrive_later(pair):
    server, client = pair
    t0 = time.perf_counter_ns()
    server.sendall(HEAD)
    resp = HTTPSocketResponse(client, block_size=16 * 1024, method="POST")
    events = sse_events(resp, not_before=t0)
    server.sendall(_chunk(b"data: a\n\ndata: b\n\n"))  # one write, two events
    sent = time.perf_counter_ns()
    lines = [next(events) for _ in range(4)]
    assert [x[0] for x in lines] == [b"data: a", b"", b"data: b", b""]
    arrivals = {x[1] for x in lines}
    assert len(arrivals) == 1  # the burst's gaps are 0, as on the wire
    (first,) = arrivals
    assert t0 <= first
    if sys.platform.startswith("linux"):
        # the kernel's receive time: the bytes were in before the reader asked for them
        assert first <= sent
    server.sendall(_chunk(b"data: c\n\n") + b"0\r\n\r\n")
    rest = list(events)
    assert [x[0] for x in rest] == [b"data: c", b""]
    assert all(x[1] > first for x in rest)
