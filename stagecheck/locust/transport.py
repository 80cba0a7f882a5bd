"""What can go wrong on the wire, named once: the failure causes of a request, the whole-request
deadline, and a bounded reader of server-sent-event lines.

Every failure's error text starts with its cause (``"timeout: …"``, ``"HTTP 503"``, ``"cut: …"``)
so that the aggregate can count failures by cause without a second field per request.
"""

from __future__ import annotations

import gevent

import time
from collections.abc import Iterator
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed

from stagecheck.locust.stamps import EventReader, PlainReader, stamping
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


def deadline(seconds: float, reuse: gevent.Timeout | None = None) -> gevent.Timeout:
    """A started timer that raises :class:`RequestTimeout` in this greenlet when it expires
    (cancel it when the request is done). Per-read timeouts alone let a trickled body run on.
    ``reuse``: a timer this returned before, started again if it was cancelled (not closed)
    without expiring (making one costs a stream more than the rest of its waiting)."""
    if (reuse is not None and not reuse.pending and reuse.seconds == seconds
            and reuse.exception.__traceback__ is None):  # fmt: skip
        try:
            reuse.start()
            return reuse
        except AssertionError:  # closed: it cannot be started again
            pass
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
    for line, _, _ in sse_events(raw, max_line, max_total):
        yield line


def sse_events(raw: Any, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_BODY_BYTES,
               not_before: int = 0) -> Iterator[tuple[bytes, int, bool]]:  # fmt: skip
    """``(line, arrived, bounded)`` for each line of a streamed body as it arrives (without its
    line end), from a geventhttpclient response. ``arrived``: the ``perf_counter_ns`` at which
    the bytes that completed the line arrived, before any parsing; on Linux over plain TCP the
    kernel's receive stamp (``SO_TIMESTAMPNS``, one read per event when more is queued:
    :class:`EventReader`), so nothing holding the event loop delays it; elsewhere when the read
    returned. Lines written at once (a burst) share one time (gaps of 0, as on the wire); lines
    whose packets the kernel merged (a reader late by more than the gap between them) get the
    last one's time with ``bounded`` True (an upper bound, not a measurement); lines read with
    the headers get the stream's start. Arrivals never go back, nor before ``not_before`` (the
    request's start: the kernel's clock and the counter are two clocks). Each byte is scanned
    once; a line or a body past its cap raises :class:`AnswerTooLarge`, a connection that
    closes before the body's end :class:`AnswerCut`; a body ending without a line end yields
    its rest."""
    reader, arrived, bounded = _reader_of(raw._sock, not_before)
    if reader is raw._sock or not isinstance(reader, EventReader):
        return _events(raw, reader, arrived, bounded, max_line, max_total, not_before)
    return _own_reader_events(raw, reader, arrived, bounded, max_line, max_total, not_before)


def _own_reader_events(raw: Any, reader: EventReader, arrived: int, bounded: bool,
                       max_line: int, max_total: int, not_before: int
                       ) -> Iterator[tuple[bytes, int, bool]]:  # fmt: skip
    """:func:`_events` through a reader made for this stream alone: it stops watching the
    socket when the stream ends (or is dropped)."""
    try:
        yield from _events(raw, reader, arrived, bounded, max_line, max_total, not_before)
    finally:
        reader.unwatch()


def _events(raw: Any, reader: EventReader | PlainReader, arrived: int, bounded: bool,
            max_line: int, max_total: int, not_before: int
            ) -> Iterator[tuple[bytes, int, bool]]:  # fmt: skip
    """:func:`sse_events`' lines, read through ``reader`` (``arrived``, ``bounded``: of the
    lines read with the head)."""
    buf: bytearray = raw._body_buffer  # parsed body bytes not yet consumed
    scanned = 0  # bytes of buf known to hold no line end
    total = 0  # body bytes consumed (the lines yielded)
    floor = not_before  # the last arrival yielded
    # (body offset its bytes end at, arrival, bounded) of reads not yet yielded from
    marks: list[tuple[int, int, bool]] = []
    while True:
        end = buf.rfind(b"\n", scanned)
        if end >= 0:  # every complete line, split at once
            block = bytes(buf[:end])
            del buf[: end + 1]
            scanned = 0
            at = total - 1  # the offset in the body of the last line end yielded
            total += end + 1
            if total > max_total:
                raise AnswerTooLarge(f"the stream exceeded {max_total:,} bytes")
            while marks and marks[0][0] <= at + 1:  # pieces of lines yielded before
                del marks[0]
            if len(marks) <= 1:  # the lines' ends came in one piece (or with the head)
                if marks:
                    _, arrived, bounded = marks[0]
                floor = arrived
                for line in block.split(b"\n"):
                    yield (line[:-1] if line.endswith(b"\r") else line), arrived, bounded
                continue
            for event in _stamped_lines(block, at, marks, arrived, bounded):
                _, arrived, bounded = event
                floor = arrived
                yield event
            continue
        scanned = len(buf)
        if scanned > max_line:
            raise AnswerTooLarge(f"a stream line exceeded {max_line:,} bytes")
        if raw.message_complete:
            if buf:
                rest = bytes(buf)
                del buf[:]
                if marks:
                    _, arrived, bounded = marks[-1]
                yield rest, arrived, bounded
            return
        _read_more(raw, reader, floor, marks, total)
        if marks:
            _, arrived, bounded = marks[-1]


def _reader_of(sock: Any, not_before: int) -> tuple[EventReader | PlainReader, int, bool]:
    """The reader of a stream's body, and the arrival (and whether it is a bound) of the lines
    read with its head."""
    if isinstance(sock, EventReader):  # the head was read through it: its last piece's time
        return sock, max(sock.last, not_before), sock.last_bounded
    reader = EventReader(sock) if stamping(sock) else PlainReader(sock)
    return reader, time.perf_counter_ns(), False


def _stamped_lines(block: bytes, at: int, marks: list[tuple[int, int, bool]], arrived: int,
                   bounded: bool) -> Iterator[tuple[bytes, int, bool]]:  # fmt: skip
    """The lines of ``block`` (its first line starts after body offset ``at``), each with the
    arrival of the piece that brought its end (``marks``, dropped as they are passed; else the
    arrival before)."""
    for line in block.split(b"\n"):
        at += len(line) + 1  # this line's end
        while marks and marks[0][0] <= at:
            del marks[0]
        if marks:
            _, arrived, bounded = marks[0]
        yield (line[:-1] if line.endswith(b"\r") else line), arrived, bounded


def _read_more(raw: Any, reader: EventReader | PlainReader, floor: int,
               marks: list[tuple[int, int, bool]], consumed: int) -> None:  # fmt: skip
    """Read what arrived next into ``raw``'s parser, ``(body offset its bytes end at, arrival,
    bounded)`` of each piece appended to ``marks`` (``consumed``: body bytes before the
    parser's buffer). Raises :class:`AnswerCut` when the connection closed before the body's
    end; an error releases the response."""
    if raw._sock is None:
        raise AnswerCut("the connection closed before the end of the stream")
    buf = raw._body_buffer
    data = b""
    try:
        for data, stamp, late in reader.read(raw.block_size, floor):
            raw.feed(data)
            marks.append((consumed + len(buf), stamp, late))
    except BaseException:
        raw.release()
        raise
    if not data and not raw.message_complete:
        raw.release()
        raise AnswerCut("the connection closed before the end of the stream")
