"""When stream lines arrived: sse_events over a real loopback TCP connection read by
geventhttpclient, as a streamed answer is read. The time is when the bytes reached the socket,
not when the reader got to them, and the lines of one write share it."""

from __future__ import annotations

import gevent
import gevent.socket
from gevent.monkey import get_original

import socket
import sys
import time
from collections.abc import Iterator

import pytest
from geventhttpclient.response import HTTPSocketResponse

from stagecheck.locust.connection import Connection
from stagecheck.locust.target import Target
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


def _event(i: int) -> bytes:
    return _chunk(b'data: {"choices":[{"delta":{"content":"t%d"}}]}\n\n' % i)


def test_events_read_late_keep_their_own_arrival(pair):
    """Events written in separate packets while the reader was busy elsewhere (so that one
    read would take them all): each gets its own packet's time, distinct and in order, each
    within the moments around its write, unless the kernel merged the packets, which is then
    flagged rather than passed off as a gap."""
    server, client = pair
    if not _kernel_stamps_on():
        pytest.skip("the kernel does not stamp received packets here")
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter_ns()
    server.sendall(HEAD)
    resp = HTTPSocketResponse(client, block_size=16 * 1024, method="POST")
    events = sse_events(resp, not_before=t0)
    server.sendall(_event(0))
    first = next(events)  # read at once: the reader now knows the socket's queue is empty
    assert first[0].endswith(b'"t0"}}]}') and not first[2]
    windows = []  # (before the write, after it) of each event
    for i in range(1, 6):  # the reader is paused: all five wait in the socket's queue
        before = time.perf_counter_ns()
        server.sendall(_event(i))
        windows.append((before, time.perf_counter_ns()))
        time.sleep(0.01)
    server.sendall(b"0\r\n\r\n")
    lines = [x for x in events if x[0]]
    assert [x[0][-8:] for x in lines] == [b'"t%d"}}]}' % i for i in range(1, 6)]
    for (_, at, bounded), (before, after) in zip(lines, windows, strict=True):
        if bounded:  # the kernel merged its packet with a later one: an upper bound
            assert at >= before
        else:  # its own packet's time, not the last one's (a generous margin for a busy
            # machine, which may hold the writer between its clock and its write)
            assert before - 1_000_000 <= at <= after + 1_000_000
    arrivals = [x[1] for x in lines]
    assert arrivals == sorted(arrivals)
    # none passed off as arriving with the last one: distinct from it, or flagged
    assert all(x[1] < lines[-1][1] or x[2] for x in lines[:-1])


def test_events_queued_behind_the_head_keep_their_own_arrival():
    """A generator that gets to an answer late finds its head and its first events queued
    together: the head is read alone, so the events still get their own packets' times (not
    the moment the reader got there, which is TTFT grown by the generator's own delay)."""
    if not _kernel_stamps_on():
        pytest.skip("the kernel does not stamp received packets here")
    hold = get_original("time", "sleep")  # holds the event loop: the reader is late
    windows: list[tuple[int, int]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> socket.socket:
            peer, _ = listener.accept()
            peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b""
            while b"\r\n\r\n" not in request:
                request += peer.recv(65536)
            peer.sendall(HEAD)
            hold(0.01)
            for i in range(3):
                before = time.perf_counter_ns()
                peer.sendall(_event(i))
                windows.append((before, time.perf_counter_ns()))
                hold(0.01)
            peer.sendall(b"0\r\n\r\n")
            return peer

        server = gevent.spawn(serve)
        conn = Connection(Target(f"http://127.0.0.1:{port}", {}, connect_timeout=5.0,
                                 verify_tls=False))  # fmt: skip
        t0 = time.perf_counter_ns()
        resp = conn.start_stream(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", t0 + 10**10, 10.0)
        lines = [x for x in sse_events(resp, not_before=t0) if x[0]]
        peer = server.get(timeout=10)
        peer.close()
        conn.close()
    assert len(lines) == len(windows) == 3
    for (_, at, bounded), (before, after) in zip(lines, windows, strict=True):
        if bounded:
            assert at >= before
        else:
            assert before - 1_000_000 <= at <= after + 1_000_000


def test_a_stream_that_stalls_ends_at_the_requests_deadline():
    """The stream's reads wait without a timer of their own: the request's deadline (the timer
    the user starts) ends a stream that stalls after its head or mid-answer."""
    from stagecheck.locust.transport import RequestTimeout, deadline

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        peers: list[socket.socket] = []

        def serve() -> None:
            for _ in range(2):
                peer, _ = listener.accept()
                peers.append(peer)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += peer.recv(65536)
                peer.sendall(HEAD + (_event(0) if len(peers) == 2 else b""))  # then nothing

        server = gevent.spawn(serve)
        for stall_mid_answer in (False, True):
            conn = Connection(Target(f"http://127.0.0.1:{port}", {}, connect_timeout=5.0,
                                     verify_tls=False))  # fmt: skip
            t0 = time.perf_counter_ns()
            timer = deadline(0.3)
            lines: list[bytes] = []
            with pytest.raises(RequestTimeout):
                resp = conn.start_stream(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET",
                                         t0 + 10**10, 10.0)  # fmt: skip
                for line, _, _ in sse_events(resp, not_before=t0):
                    lines.append(line)
            timer.close()
            waited = (time.perf_counter_ns() - t0) / 1e9
            assert 0.25 <= waited < 5.0
            assert bool(lines) == stall_mid_answer
            conn.close()
        server.get(timeout=10)
        for peer in peers:
            peer.close()


def test_a_stream_read_ahead_of_a_slow_parser_holds_a_bounded_amount_and_loses_nothing(pair):
    """The bytes of a stream are read off its socket as they arrive, ahead of the greenlet that
    parses them; one whose parser lags far behind a fast server is left in the kernel's queue
    (TCP's own flow control) once about a MiB is held unread, and read again as the parser
    catches up: memory stays bounded, and every line arrives, in order."""
    from stagecheck.locust import stamps

    server, client = pair
    lines = 4000
    payload = b"x" * 1000
    writer = gevent.spawn(lambda: server.sendall(
        HEAD + b"".join(_chunk(b"data: %d %s\n\n" % (i, payload)) for i in range(lines))
        + b"0\r\n\r\n"))  # fmt: skip
    resp = HTTPSocketResponse(client, block_size=16 * 1024, method="POST")
    seen, held = [], []
    reader = None
    for line, _, _ in sse_events(resp):
        if line:
            seen.append(int(line.split(b" ", 2)[1]))
        if reader is None:
            reader = next((r for r in _readers(stamps) if r.sock is client), None)
        if len(seen) % 200 == 0:
            gevent.sleep(0.005)  # the parser lags: the reads go on meanwhile
            if reader is not None:
                held.append(reader.held)
    writer.get(timeout=10)
    assert seen == list(range(lines))  # every line, in order, none twice
    if reader is not None:  # stamped (Linux): read ahead, up to a bound
        assert max(held) > 64 * 1024  # read ahead of the parser
        assert max(held) <= 1.5 * 1024 * 1024  # of the 4 MB the server sent at once


def _readers(stamps):  # the EventReaders alive (the stream made its own)
    import gc

    return [o for o in gc.get_objects() if isinstance(o, stamps.EventReader)]
