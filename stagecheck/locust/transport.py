"""What can go wrong on the wire, named once: the failure causes of a request, the whole-request
deadline, and a bounded reader of server-sent-event lines.

Every failure's error text starts with its cause (``"timeout: …"``, ``"HTTP 503"``, ``"cut: …"``)
so that the aggregate can count failures by cause without a second field per request.
"""

from __future__ import annotations

import gevent

import socket as _socket
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed

from stagecheck.recording import CONNECTION_ERROR, TIMEOUT

__all__ = [
    "RequestTimeout",
    "AnswerCut",
    "AnswerTooLarge",
    "failure_of",
    "deadline",
    "sse_lines",
    "sse_events",
    "MAX_LINE_BYTES",
    "MAX_BODY_BYTES",
]

MAX_BODY_BYTES = 64 * 1024 * 1024  # a whole answer (non-streamed body, or a stream in all)
MAX_LINE_BYTES = 8 * 1024 * 1024  # one SSE line
_TEXT_LIMIT = 200


class RequestTimeout(TimeoutError):
    """The whole request (connect to last byte) took longer than ``endpoint.timeout``."""


class AnswerCut(ConnectionError):
    """The connection closed, or the stream ended, before the answer was complete."""


class AnswerTooLarge(Exception):
    """An answer or a stream line exceeded its size cap."""


def deadline(seconds: float) -> gevent.Timeout:
    """A started timer that raises :class:`RequestTimeout` in this greenlet when it expires
    (cancel it when the request is done). Per-read timeouts alone let a trickled body run on."""
    timer = gevent.Timeout(seconds, RequestTimeout(f"no complete answer within {seconds:g}s"))
    timer.start()
    return timer


def _detail(exc: BaseException) -> str:
    # geventhttpclient's errors carry the URL in their text (credentials too, if it has them):
    # keep only what they say about the failure.
    text = str(getattr(exc, "text", None) or exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name


def _root(exc: BaseException) -> BaseException:
    """The error geventhttpclient wrapped (``RetriesExceeded(original=…)``)."""
    for _ in range(5):
        original = getattr(exc, "original", None)
        if not isinstance(original, BaseException):
            break
        exc = original
    return exc


def failure_of(exc: BaseException, *, during_body: bool = False) -> tuple[int, str]:
    """Outcome code and error text (``"cause: detail"``) of a transport failure."""
    exc = _root(exc)
    if isinstance(exc, AnswerTooLarge):
        cause, outcome = "oversize", CONNECTION_ERROR
    elif isinstance(exc, TimeoutError | gevent.Timeout) or "timed out" in str(exc).lower():
        cause, outcome = "timeout", TIMEOUT
    elif isinstance(exc, ConnectionRefusedError):
        cause, outcome = "refused", CONNECTION_ERROR
    elif isinstance(exc, AnswerCut) or during_body:
        cause, outcome = "cut", CONNECTION_ERROR
    elif isinstance(exc, ConnectionResetError | BrokenPipeError | HTTPConnectionClosed):
        cause, outcome = "reset", CONNECTION_ERROR
    else:
        cause, outcome = "connection", CONNECTION_ERROR
    where = "while reading the answer, " if during_body and cause != "oversize" else ""
    return outcome, f"{cause}: {where}{_detail(exc)}"[:_TEXT_LIMIT]


def sse_lines(raw: Any, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_BODY_BYTES
              ) -> Iterator[bytes]:  # fmt: skip
    """The lines of a streamed body as they arrive (without their line end), from a
    geventhttpclient response: :func:`sse_events` without the arrival times."""
    for line, _ in sse_events(raw, max_line, max_total):
        yield line


def sse_events(raw: Any, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_BODY_BYTES,
               not_before: int = 0) -> Iterator[tuple[bytes, int]]:  # fmt: skip
    """``(line, arrived)`` for each line of a streamed body as it arrives (without its line
    end), from a geventhttpclient response. ``arrived`` is the ``perf_counter_ns`` at which the
    read that completed the line returned, taken before any parsing; on Linux, over plain TCP,
    the kernel's receive time of that read's bytes instead (``SO_TIMESTAMPNS``), so that neither
    the greenlets served before this one (64 streams whose tokens arrive together) nor anything
    else holding the event loop delays it. The lines of one read (a burst of tokens the server
    wrote at once) share it, so the gaps between them are 0, as on the wire; lines already read
    with the headers get the time the stream started. Arrivals never go back, nor before
    ``not_before`` (the request's start: the kernel's clock and the counter are two clocks).

    Unlike geventhttpclient's ``readline`` (which rescans the whole buffer after every read:
    quadratic on long lines), each byte is scanned once, and a line or a body past its cap
    raises :class:`AnswerTooLarge`. A body that ends without a line end yields its rest; a
    connection that closes before the body's end raises :class:`AnswerCut`."""
    buf: bytearray = raw._body_buffer  # parsed body bytes not yet consumed
    scanned = 0  # bytes of buf known to hold no line end
    total = 0
    arrived = time.perf_counter_ns()  # of the lines read with the headers
    floor = not_before  # the last arrival yielded
    offset = _wall_offset() if _stamping(raw._sock) else None
    while True:
        end = buf.find(b"\n", scanned)
        if end >= 0:
            line = bytes(buf[:end])
            del buf[: end + 1]
            scanned = 0
            total += end + 1
            if total > max_total:
                raise AnswerTooLarge(f"the stream exceeded {max_total:,} bytes")
            floor = arrived
            yield (line[:-1] if line.endswith(b"\r") else line), arrived
            continue
        scanned = len(buf)
        if scanned > max_line:
            raise AnswerTooLarge(f"a stream line exceeded {max_line:,} bytes")
        if raw.message_complete:
            if buf:
                rest = bytes(buf)
                del buf[:]
                yield rest, arrived
            return
        sock = raw._sock
        if sock is None:
            raise AnswerCut("the connection closed before the end of the stream")
        try:
            if offset is not None:
                data, arrived = _recv_stamped(sock, raw.block_size, floor, offset)
            else:
                data = sock.recv(raw.block_size)
                arrived = time.perf_counter_ns()
            raw.feed(data)
        except BaseException:
            raw.release()
            raise
        if not data and not raw.message_complete:
            raw.release()
            raise AnswerCut("the connection closed before the end of the stream")


# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS; the socket module does not name it): each read's
# ancillary data then holds the kernel's receive time of its last byte (CLOCK_REALTIME).
_SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = _socket.CMSG_SPACE(_TIMESPEC.size) if _SO_TIMESTAMPNS else 0


def _stamping(sock: Any) -> bool:
    """Turn on kernel receive timestamps on a plain TCP socket (not TLS: its reads decrypt
    records, not the socket's bytes); whether they are on."""
    if _SO_TIMESTAMPNS is None or sock is None or hasattr(sock, "do_handshake"):
        return False
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except (OSError, AttributeError):
        return False
    return True


def _wall_offset() -> int:
    """``time.time_ns() − time.perf_counter_ns()``, the wall clock read between two reads of the
    performance counter: the closest pair of three (a preemption between the reads would shift
    it). Both clocks follow NTP's rate alike, so it holds for a stream."""
    best_span, offset = 1 << 62, 0
    for _ in range(3):
        before = time.perf_counter_ns()
        wall = time.time_ns()
        after = time.perf_counter_ns()
        if after - before < best_span:
            best_span, offset = after - before, wall - (before + after) // 2
        if best_span < 2_000:
            break
    return offset


def _recv_stamped(sock: Any, size: int, floor_ns: int, offset: int) -> tuple[bytes, int]:
    """One read and the ``perf_counter_ns`` its bytes arrived at: the kernel's receive time,
    moved from the wall clock to the performance counter by ``offset`` (:func:`_wall_offset`)
    and kept between ``floor_ns`` and now; now when the kernel gave none."""
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY)
    now = time.perf_counter_ns()
    for level, kind, value in ancillary:
        if level == _socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(value)
            return data, min(max(sec * 1_000_000_000 + nsec - offset, floor_ns), now)
    return data, now
