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


SO_TIMESTAMPNS = 35  # Linux; the socket module does not name it


def _kernel_stamps_on() -> bool:
    """Whether the kernel stamps received packets now: it starts doing so a moment after the
    first socket asks (a deferred switch), so poll a probe connection, with a deadline."""
    if not sys.platform.startswith("linux"):
        return False
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()) as probe,
    ):
        probe.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        peer, _ = listener.accept()
        with peer:
            end = time.monotonic() + 5
            while time.monotonic() < end:
                peer.sendall(b"x")
                _, ancillary, _, _ = probe.recvmsg(16, socket.CMSG_SPACE(16))
                if ancillary:
                    return True
                time.sleep(0.001)
    return False


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, gevent.socket.socket]]:
    """(server side, client side) of one loopback TCP connection, stamped from its connect as
    stagecheck's connections are."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = gevent.socket.create_connection(listener.getsockname())
        if sys.platform.startswith("linux"):
            client.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


def test_a_burst_shares_its_arrival_and_later_bytes_arrive_later(pair):
    server, client = pair
    stamped = _kernel_stamps_on()
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
    if stamped:
        # the kernel's receive time: the bytes were in before the reader asked for them
        assert first <= sent
    server.sendall(_chunk(b"data: c\n\n") + b"0\r\n\r\n")
    rest = list(events)
    assert [x[0] for x in rest] == [b"data: c", b""]
    assert all(x[1] > first for x in rest)
