"""One user's HTTP/1.1 connection to the endpoint: the lean request path.

Locust's ``FastHttpSession`` merges headers, validates and builds the request head, goes through
a connection pool (a ``select`` per request to check the socket) and wraps the answer, for every
request. A run sends every request to one host with the same headers, and each body was encoded
at load time; so each user keeps one persistent connection, the request head is built once per
path, and a request is one ``sendall`` of head + body and the reads of its answer, parsed by
geventhttpclient's llhttp parser. The user fires Locust's ``request`` event itself, once per
request (:mod:`stagecheck.locust.user`).

An answer ends when its last byte reached this host: on Linux (plain HTTP) the kernel's receive
stamp of the packet that completed it (``SO_TIMESTAMPNS``), not the moment the user's greenlet
got to run again, which on a busy generator or a VM waking an idle vCPU is tens to hundreds of
µs later (benchmarks/wire_truth.py measures both against a packet capture).

No ``Accept-Encoding`` is sent (the generator should not pay for decompression); an answer that
is compressed anyway (``gzip``/``deflate``) is decompressed.
"""

from __future__ import annotations

import gevent
import gevent.socket
from gevent.monkey import get_original

import contextlib
import errno
import os
import select as _stdselect
import socket as _stdsocket
import struct
import sys
import time
import zlib
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPResponse

from stagecheck.locust.answer import whole_answer
from stagecheck.locust.stamps import EventReader
from stagecheck.locust.target import Target, tls_context
from stagecheck.locust.transport import MAX_BODY_BYTES, AnswerCut, AnswerTooLarge, RequestTimeout

__all__ = ["Connection", "decoded", "BLOCK_SIZE"]

BLOCK_SIZE = 16 * 1024  # bytes asked of each recv
# A connection idle for longer than this is checked before it is used (the server may have
# closed it); a busy one is not (the check is a syscall).
_IDLE_CHECK_NS = 10_000_000
# Linux: the kernel stamps each received packet (CLOCK_REALTIME) and hands the stamp of the
# last one read to recvmsg. Taking the answer's end from it keeps the generator's own wake-up
# and greenlet scheduling (tens to hundreds of µs on a VM whose idle vCPU must be woken) out of
# the latency: the end is when the answer's last byte reached this host, as on the wire.
_SO_TIMESTAMPNS = 35 if sys.platform == "linux" else None  # = SCM_TIMESTAMPNS
_STAMP = struct.Struct("@qq")  # struct timespec
_ANC_SIZE = _stdsocket.CMSG_SPACE(_STAMP.size) if hasattr(_stdsocket, "CMSG_SPACE") else 0
_real_poll = get_original("select", "poll")  # not select(): it fails past fd 1023


class Connection:
    """One persistent connection (opened on first use, reopened after the server closes it or a
    request fails on it)."""

    __slots__ = ("target", "sock", "last_ns", "response", "stamped", "reader", "loop", "late")

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sock: Any = None
        self.last_ns = 0
        self.stamped = False  # the kernel stamps what this socket receives (SO_TIMESTAMPNS)
        self.response: HTTPResponse | None = None  # of the last exchange, even a failed one
        # reads streams off a stamped socket; only while every read of the socket is its own
        self.reader: EventReader | None = None
        self.loop = gevent.get_hub().loop  # the event loop of the user's thread (its timers)
        self.late = (0.0, "")  # (timeout, what its RequestTimeout says): formatted once

    def close(self) -> None:
        self.drop_reader()
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def drop_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.unwatch()

    def socket(self, end_ns: int) -> Any:
        """The open socket, or a new one (connect timeout: ``connect_timeout``, within the
        request's deadline ``end_ns``)."""
        sock = self.sock
        if sock is not None:
            if time.perf_counter_ns() - self.last_ns < _IDLE_CHECK_NS:
                return sock
            try:  # idle: a readable idle socket was closed by the server (or is dirty)
                if not _ready(sock, _stdselect.POLLIN):
                    return sock
            except (OSError, ValueError):
                pass
            self.close()
        t = self.target
        timeout = min(t.connect_timeout, max((end_ns - time.perf_counter_ns()) / 1e9, 1e-3))
        try:
            sock = _connect(t.addresses(), timeout)
        except OSError:
            t.forget_addresses()  # a name that moved is looked up again next time
            raise
        try:
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
            if t.tls:
                sock = tls_context(t.verify_tls).wrap_socket(sock, server_hostname=t.host)
            sock.settimeout(None)  # an exchange's waits are bounded by its own deadline timer
        except BaseException:
            sock.close()
            raise
        self.stamped = False
        if _SO_TIMESTAMPNS is not None and _ANC_SIZE and not t.tls:
            try:
                sock.setsockopt(_stdsocket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self.stamped = True
            except OSError:
                pass
        self.sock = sock
        return sock

    def exchange(self, data: bytes, method: str, end_ns: int, timeout_s: float
                 ) -> tuple[HTTPResponse, bytes, int, int]:  # fmt: skip
        """Send ``data`` (a whole request) and read the whole answer: (parsed response, body,
        its start, its end). The start (perf_counter_ns) is right before the send, or before
        the connect when the request had to open the connection; the end is when its last byte
        arrived (the kernel's stamp, else right after the read). Raises what failed:
        :class:`RequestTimeout` past ``end_ns``, :class:`AnswerTooLarge`, :class:`AnswerCut`
        (the connection closed inside the body), ``HTTPConnectionClosed`` (closed before a
        byte of answer), ``HTTPParseError``, ``OSError``. The response's ``headers_complete``
        tells whether the failure came while reading the body; it is :attr:`response` (also
        after a failure)."""
        self.response = None
        self.drop_reader()  # this answer is read without it: its counts would go wrong
        before = time.perf_counter_ns()
        reused = self.sock
        sock = self.socket(end_ns)
        timer = None
        try:
            remaining = (end_ns - time.perf_counter_ns()) / 1e9
            if remaining <= 0:
                raise RequestTimeout(f"no complete answer within {timeout_s:g}s")
            # One timer bounds the whole exchange (its send and every wait for the answer): a
            # socket timeout would start a gevent Timeout per wait (~2.5 µs a request).
            late = self.late
            if late[0] != timeout_s:
                late = self.late = (timeout_s, f"no complete answer within {timeout_s:g}s")
            timer = self.loop.timer(remaining, priority=-1)
            timer.start(gevent.getcurrent().throw, RequestTimeout, late[1], update=True)
            begin = before if sock is not reused else time.perf_counter_ns()
            # One send() takes a request whole (it fits the socket's buffer): gevent's sendall
            # would first ask the kernel for that buffer's size, a syscall per request.
            sent = sock.send(data)
            if sent < len(data):
                sock.sendall(memoryview(data)[sent:])
            parser, anc = _receive(self, sock, method, end_ns, timeout_s)
            end = time.perf_counter_ns()
            if anc:
                end = _arrival(anc, begin, end)
        except TimeoutError as exc:
            self.close()
            if isinstance(exc, RequestTimeout):
                raise
            raise RequestTimeout(f"no complete answer within {timeout_s:g}s") from exc
        except BaseException:
            self.close()
            raise
        finally:
            if timer is not None:
                timer.close()
        self.last_ns = end
        if parser.should_close():
            self.close()
        body = bytes(parser._body_buffer)  # a whole answer's is bytes already: not copied
        if len(body) > MAX_BODY_BYTES:
            raise AnswerTooLarge(f"the answer exceeded {MAX_BODY_BYTES:,} bytes")
        return parser, body, begin, end

    def start_stream(self, data: bytes, method: str, end_ns: int, timeout_s: float) -> Any:
        """Send ``data`` and read the answer's headers: the geventhttpclient response that
        :func:`~stagecheck.locust.transport.sse_events` reads the rest from. Its reads are not
        timed one by one (a timer per wait costs): the caller's deadline bounds them. Call
        :meth:`finish` after."""
        from geventhttpclient.response import HTTPSocketResponse

        sock = self.socket(end_ns)
        try:
            _time_left(sock, end_ns, timeout_s)
            reader = None
            if self.stamped:
                # The head read alone through the reader: the events stay queued for it to
                # read and stamp one by one (a generator that got to this answer late finds
                # its first tokens there too). Made before the send: nothing is queued yet.
                reader = self.reader
                if reader is None or reader.sock is not sock:
                    self.drop_reader()
                    reader = self.reader = EventReader(sock)
                    reader.watch()
                else:
                    reader.begin()
            sent = sock.send(data)  # whole, as a rule (see exchange)
            if sent < len(data):
                sock.sendall(memoryview(data)[sent:])
            sock.settimeout(None)
            if reader is None:
                return HTTPSocketResponse(sock, block_size=BLOCK_SIZE, method=method)
            return HTTPSocketResponse(reader, block_size=BLOCK_SIZE, method=method)
        except BaseException:
            self.close()
            raise

    def finish(self, raw: Any) -> None:
        """After a stream: keep the connection only if its answer was read to its end."""
        self.last_ns = time.perf_counter_ns()
        if self.reader is not None:
            self.reader.unwatch()  # read no more until the next answer
        if raw is None or not raw.message_complete or raw.should_close():
            if raw is not None:
                raw._sock = None
            self.close()


def _ready(sock: Any, events: int) -> bool:
    """Whether ``sock`` is ready for ``events`` now (a poll that does not wait)."""
    poller = _real_poll()
    poller.register(sock.fileno(), events)
    return bool(poller.poll(0))


def _connect(addresses: list[tuple[Any, ...]], timeout: float) -> Any:
    """A gevent socket connected to the first of ``addresses`` that accepts (as
    ``socket.create_connection`` does, without its name lookup).

    A connect to a near host (loopback) is complete when ``connect()`` returns (EINPROGRESS
    notwithstanding): the socket is then used at once. Waiting for the event loop to say so,
    as gevent does, would put the rest of the generator's work (a thousand users spawning and
    connecting) into this request's time; a connect that is still under way is waited for."""
    error: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = gevent.socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            raw = getattr(sock, "_sock", sock)  # the system socket (non-blocking)
            code = raw.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK) and _ready(raw, _stdselect.POLLOUT):
                code = raw.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_ERROR)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                sock.connect(address)  # under way: gevent waits for it (timeout applies)
            elif code not in (0, errno.EISCONN):
                raise OSError(code, os.strerror(code))
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error if error is not None else OSError("the host has no address")


def _time_left(sock: Any, end_ns: int, timeout_s: float) -> None:
    """Time ``sock``'s next wait out at the request's deadline ``end_ns``; raises
    :class:`RequestTimeout` when it has passed."""
    remaining = (end_ns - time.perf_counter_ns()) / 1e9
    if remaining <= 0:
        raise RequestTimeout(f"no complete answer within {timeout_s:g}s")
    sock.settimeout(remaining)


def _receive(conn: Connection, sock: Any, method: str, end_ns: int, timeout_s: float
             ) -> tuple[HTTPResponse, list[tuple[int, int, bytes]]]:  # fmt: skip
    """Read the whole answer by ``end_ns``: its parsed response (made :attr:`Connection.response`
    as soon as it exists), and the ancillary data of the last read (its kernel stamp) when the
    socket is stamped. An answer that came whole in its first read is read by
    :func:`~stagecheck.locust.answer.whole_answer`, any other by llhttp. Raises what
    :meth:`Connection.exchange` says."""
    stamped = conn.stamped
    anc: list[tuple[int, int, bytes]] = []
    parser: HTTPResponse | None = None
    got = 0
    while True:
        # the deadline timer strikes only while this greenlet waits: an answer that keeps
        # coming without a wait is stopped here
        if time.perf_counter_ns() >= end_ns:
            raise RequestTimeout(f"no complete answer within {timeout_s:g}s")
        if stamped:
            chunk, anc, _, _ = sock.recvmsg(BLOCK_SIZE, _ANC_SIZE)
        else:
            chunk = sock.recv(BLOCK_SIZE)
        if parser is None:
            whole = whole_answer(chunk, method)
            if whole is not None:
                conn.response = whole
                return whole, anc
            conn.response = parser = HTTPResponse(method)
        if not chunk:
            _closed(parser, got)
            return parser, anc  # a body that ends with the connection
        got += len(chunk)
        parser.feed(chunk)
        if parser.message_complete:
            if parser.get_code() >= 200:
                return parser, anc
        elif len(parser._body_buffer) > MAX_BODY_BYTES:
            raise AnswerTooLarge(f"the answer exceeded {MAX_BODY_BYTES:,} bytes")


def _closed(parser: HTTPResponse, got: int) -> None:
    """The connection closed after ``got`` bytes of answer: returns when that ended a complete
    answer, else raises what the answer lacks."""
    with_eof(parser)
    if parser.message_complete and parser.get_code() >= 200:
        return
    if not got:
        raise HTTPConnectionClosed("connection closed.")
    if not parser.headers_complete:
        raise HTTPParseError("connection closed before end of the headers")
    length = parser.content_length
    of = f" of {length:,}" if length is not None else ""
    raise AnswerCut(f"the connection closed after {len(parser._body_buffer):,}"
                    f"{of} bytes of the answer")  # fmt: skip

def _arrival(anc: list[tuple[int, int, bytes]], begin: int, end: int) -> int:
    """The kernel's stamp of the last packet read, on the perf_counter clock (``end`` when
    there is none, or it does not fall between the send and now)."""
    for level, kind, data in anc:
        if level == _stdsocket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = _STAMP.unpack_from(data)
            at = sec * 1_000_000_000 + nsec - (time.time_ns() - time.perf_counter_ns())
            if begin < at <= end:
                return at
    return end


def with_eof(parser: HTTPResponse) -> None:
    """Tell the parser the connection closed (ends a body delimited by the close)."""
    with contextlib.suppress(HTTPParseError):
        parser.feed(b"")


def decoded(parser: HTTPResponse, body: bytes) -> bytes:
    """The body without its ``Content-Encoding`` (gzip, deflate); raises if it cannot be."""
    encoding = parser.get("content-encoding")
    if not encoding:
        return body
    enc = (encoding if isinstance(encoding, str) else ",".join(encoding)).strip().lower()
    if enc in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if enc in ("identity", ""):
        return body
    raise ValueError(f"cannot decode a {enc} answer")
