"""The lean request path's connection (stagecheck.locust.connection) against a real loopback
HTTP/1.1 server: a request arrives whole whatever its size, one connection carries a user's
requests, a connection the server closed while idle is reopened, URL credentials become the
Basic Authorization header, and an answer's end is never before its send."""

from __future__ import annotations

import gevent
from gevent.monkey import get_original

import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from stagecheck.locust.connection import Connection
from stagecheck.locust.target import Target

ANSWER = b'{"ok":true}'


@dataclass
class Server:
    port: int
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)  # (head, body)
    close_after: int = 0  # close each connection after this many requests (0: never)
    arrived: list[int] = field(default_factory=list)  # perf_counter_ns each request was in


def _serve(sock: socket.socket, server: Server) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        server.connections += 1
        threading.Thread(target=_handle, args=(conn, server), daemon=True).start()


def _handle(conn: socket.socket, server: Server) -> None:
    buf = b""
    served = 0
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                more = conn.recv(65536)
                if not more:
                    return
                buf += more
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                more = conn.recv(1 << 20)
                if not more:
                    return
                buf += more
            body, buf = buf[:length], buf[length:]
            server.arrived.append(time.perf_counter_ns())
            server.requests.append((head, body))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER))  # fmt: skip
            served += 1
            if server.close_after and served >= server.close_after:
                return


@pytest.fixture
def server() -> Iterator[Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    srv = Server(sock.getsockname()[1])
    threading.Thread(target=_serve, args=(sock, srv), daemon=True).start()
    try:
        yield srv
    finally:
        sock.close()


def _conn(url: str, headers: dict[str, str] | None = None) -> tuple[Target, Connection]:
    target = Target(
        url, headers or {"Content-Type": "application/json"}, connect_timeout=2, verify_tls=True
    )
    return target, Connection(target)


def _post(target: Target, conn: Connection, body: bytes) -> tuple[int, bytes, int, int]:
    data = target.request_bytes("POST", "/v1/x", body)
    raw, answer, begin, end = conn.exchange(data, "POST", time.perf_counter_ns() + 10**10, 10)
    return raw.status_code, answer, begin, end


def test_a_request_larger_than_the_socket_buffer_arrives_whole(server):
    target, conn = _conn(f"http://127.0.0.1:{server.port}")
    body = bytes(range(256)) * (64 * 1024)  # 16 MiB
    status, answer, _, _ = _post(target, conn, body)
    assert (status, answer) == (200, ANSWER)
    assert server.requests[-1][1] == body


def test_one_connection_carries_the_users_requests_and_the_base_path(server):
    target, conn = _conn(f"http://127.0.0.1:{server.port}/api/")
    for i in range(3):
        status, _, begin, end = _post(target, conn, b'{"n":%d}' % i)
        assert status == 200 and begin < end  # the end is never before the send
    assert server.connections == 1
    heads = [h.decode() for h, _ in server.requests]
    assert all(h.startswith("POST /api/v1/x HTTP/1.1\r\n") for h in heads)
    assert f"Host: 127.0.0.1:{server.port}" in heads[0]
    assert [b for _, b in server.requests] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def _os_thread_server(arrived: list[int], answer_after_s: float = 0.0) -> socket.socket:
    """A listening socket served by an OS thread (not a greenlet: it runs while the event loop
    is held) that answers one request ``answer_after_s`` after it had read it, and notes when
    that was."""
    real_socket = get_original("socket", "socket")
    listener = real_socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        peer, _ = listener.accept()
        with peer:
            request = b""
            while b"\r\n\r\n" not in request:
                request += peer.recv(65536)
            arrived.append(time.perf_counter_ns())
            get_original("time", "sleep")(answer_after_s)
            peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(ANSWER), ANSWER))  # fmt: skip
            peer.recv(1)  # until the client closes

    get_original("_thread", "start_new_thread")(serve, ())
    return listener


def test_a_first_request_goes_out_as_soon_as_its_connect_is_done():
    """A connect to a near host is done when connect() returns: the request is sent at once,
    not after the rest of the generator's work (here a greenlet that holds the event loop for
    0.5 s, as a thousand users spawning do), which would count in its latency as if the
    endpoint were slow. The connect itself stays in it: the request starts before it."""
    arrived: list[int] = []
    # answered a moment after: the client waits for it, and the holding greenlet runs then
    listener = _os_thread_server(arrived, answer_after_s=0.05)
    target, conn = _conn(f"http://127.0.0.1:{listener.getsockname()[1]}")
    hold = get_original("time", "sleep")  # holds the event loop
    held: list[int] = []
    gevent.spawn(lambda: (hold(0.5), held.append(time.perf_counter_ns())))
    try:
        status, _, begin, _ = _post(target, conn, b"{}")
    finally:
        conn.close()
        listener.close()
    assert status == 200 and held  # the loop was held before the answer was read
    assert arrived[0] - begin < 250_000_000  # not 0.5 s: sent before the hold


def test_a_connection_the_server_closed_while_idle_is_reopened(server):
    server.close_after = 1
    target, conn = _conn(f"http://127.0.0.1:{server.port}")
    for _ in range(3):
        assert _post(target, conn, b"{}")[0] == 200
        time.sleep(0.05)  # idle: the server has closed it meanwhile
    assert server.connections == 3 and len(server.requests) == 3


def test_url_credentials_become_the_basic_authorization_header(server):
    target, conn = _conn(
        f"http://al%40ce:s3cr%2Ft@127.0.0.1:{server.port}",
        {"Content-Type": "application/json", "authorization": "Bearer x"},
    )
    assert _post(target, conn, b"{}")[0] == 200
    head = server.requests[0][0].decode()
    expected = base64.b64encode(b"al@ce:s3cr/t").decode()
    assert f"Authorization: Basic {expected}\r\n" in head + "\r\n"
    assert "Bearer" not in head and "s3cr" not in target.base_url
    assert target.url("/v1/x") == f"http://127.0.0.1:{server.port}/v1/x"


def test_a_header_value_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="invalid HTTP header"):
        Target(
            "http://127.0.0.1:1", {"X-A": "1\r\nX-Injected: 2"}, connect_timeout=1, verify_tls=True
        )


def _scripted_server(pieces: list[bytes], pause_s: float) -> socket.socket:
    """A listening socket served by an OS thread: for each request on a connection, ``pieces``
    sent ``pause_s`` apart (no pieces: the request is never answered)."""
    real_socket = get_original("socket", "socket")
    listener = real_socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    real_sleep = get_original("time", "sleep")

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        more = peer.recv(65536)
                        if not more:
                            break
                        request += more
                    if not request or not pieces:
                        peer.recv(1)  # until the client closes
                        break
                    for i, piece in enumerate(pieces):
                        if i:
                            real_sleep(pause_s)
                        peer.sendall(piece)

    get_original("_thread", "start_new_thread")(serve, ())
    return listener


def test_an_answer_whole_in_one_read_or_in_pieces_reads_the_same():
    """The one-read parse (stagecheck.locust.answer) and llhttp, for an answer whose body comes
    after a pause: same status, headers and body; the connection kept for the next request."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    answer = head % len(ANSWER) + ANSWER
    seen = []
    for pieces in ([answer], [answer[:30], answer[30:]]):
        listener = _scripted_server(pieces, 0.05)
        target, conn = _conn(f"http://127.0.0.1:{listener.getsockname()[1]}")
        try:
            for _ in range(2):
                data = target.request_bytes("POST", "/v1/x", b"{}")
                raw, body, _, _ = conn.exchange(data, "POST", time.perf_counter_ns() + 10**10, 10)
                seen.append((type(raw).__name__, raw.status_code, list(raw.items()), body))
            assert conn.sock is not None  # kept alive
        finally:
            conn.close()
            listener.close()
    assert [s[0] for s in seen] == ["WholeAnswer"] * 2 + ["HTTPResponse"] * 2
    assert len({repr(s[1:]) for s in seen}) == 1


def test_an_unanswered_request_times_out_at_its_deadline_and_its_timer_ends_with_it():
    """One timer bounds an exchange: a request never answered fails with RequestTimeout at its
    deadline; after an exchange that succeeded, its timer never strikes the user later."""
    from stagecheck.locust.transport import RequestTimeout

    silent = _scripted_server([], 0)
    target, conn = _conn(f"http://127.0.0.1:{silent.getsockname()[1]}")
    data = target.request_bytes("POST", "/v1/x", b"{}")
    start = time.perf_counter()
    try:
        with pytest.raises(RequestTimeout, match=r"^no complete answer within 0.3s$"):
            conn.exchange(data, "POST", time.perf_counter_ns() + 300_000_000, 0.3)
    finally:
        silent.close()
    assert 0.25 < time.perf_counter() - start < 10
    assert conn.sock is None  # a connection that failed is not used again

    answering = _scripted_server([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], 0)
    target, conn = _conn(f"http://127.0.0.1:{answering.getsockname()[1]}")
    try:
        raw, body, _, _ = conn.exchange(target.request_bytes("POST", "/v1/x", b"{}"), "POST",
                                        time.perf_counter_ns() + 200_000_000, 0.2)  # fmt: skip
        assert (raw.status_code, body) == (200, b"{}")
        gevent.sleep(0.4)  # past the exchange's deadline: nothing strikes
    finally:
        conn.close()
        answering.close()
