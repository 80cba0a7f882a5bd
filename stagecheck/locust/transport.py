"""What can go wrong on the wire, named once: the failure causes of a request, the whole-request
deadline, and a bounded reader of server-sent-event lines.

Every failure's error text starts with its cause (``"timeout: …"``, ``"HTTP 503"``, ``"cut: …"``)
so that the aggregate can count failures by cause without a second field per request.
"""

from __future__ import annotations

import gevent

import fcntl
import re
import socket as _socket
import struct
import sys
import termios
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
    "EventReader",
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
    request's start: the kernel's clock and the counter are two clocks).

    Each byte is scanned once (geventhttpclient's ``readline`` rescans the buffer after every
    read: quadratic on long lines); a line or a body past its cap raises
    :class:`AnswerTooLarge`. A body that ends without a line end yields its rest; a connection
    that closes before the body's end raises :class:`AnswerCut`."""
    buf: bytearray = raw._body_buffer  # parsed body bytes not yet consumed
    scanned = 0  # bytes of buf known to hold no line end
    total = 0  # body bytes consumed (the lines yielded)
    sock = raw._sock
    if isinstance(sock, EventReader):  # the head was read through it: its last piece's time
        reader: EventReader | _PlainReader = sock
        arrived, bounded = max(sock.last, not_before), sock.last_bounded
    else:
        reader = EventReader(sock) if _stamping(sock) else _PlainReader(sock)
        arrived, bounded = time.perf_counter_ns(), False  # of the lines read with the headers
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
            for line in block.split(b"\n"):
                at += len(line) + 1  # this line's end
                while marks and marks[0][0] <= at:
                    del marks[0]
                if marks:
                    _, arrived, bounded = marks[0]
                floor = arrived
                yield (line[:-1] if line.endswith(b"\r") else line), arrived, bounded
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


def _read_more(raw: Any, reader: EventReader | _PlainReader, floor: int,
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


class _PlainReader:
    """A socket without kernel stamps (TLS, or not Linux): a read's arrival is when it
    returned."""

    __slots__ = ("sock",)

    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def read(self, size: int, floor: int) -> list[tuple[bytes, int, bool]]:
        data = self.sock.recv(size)
        return [(data, time.perf_counter_ns(), False)]


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


# struct tcp_info (linux/tcp.h): tcpi_bytes_received (u64) at 128, tcpi_data_segs_in (u32) at 152
_TCP_INFO = getattr(_socket, "TCP_INFO", 11)
_TCP_INFO_SIZE = 156
_COUNTS = struct.Struct("@Q16xI")  # both, read at 128
# where an SSE event ends in the raw bytes: its blank line ("\n\n" or "\r\n\r\n"), and the
# chunk's own line end when the body is chunked (the rest of the server's write)
_EVENT_END = re.compile(rb"\n\r?\n(?:\r\n)?")
_DISCARD = bytearray(64 * 1024)  # where bytes already peeked are read to (nothing yields)


class EventReader:
    """Reads a stamped socket so that each event gets the arrival time of its own bytes.

    The kernel stamps each packet, merges consecutive packets waiting in a socket's queue
    (keeping the later stamp), and hands a read the stamp of the last packet it took. So the
    reader asks the kernel (``TCP_INFO``) how many bytes and packets came since its last read:
    one packet (the usual case: one event, or a burst written at once) is read whole, exactly
    its bytes; bytes from several packets are peeked at and read one event at a time, each read
    ending at an event's end (:meth:`_read_cut`). Events of one read that shared a stamp with
    the next one, where the packets were more than the distinct stamps seen, were merged by the
    kernel: their time is an upper bound, and is flagged. A wake-up costs a ``getsockopt`` and
    one read; the socket is waited on without a timer (the request's deadline bounds it).

    It also reads an answer's head (:meth:`recv`, as geventhttpclient's response reads its
    socket), so that events queued behind the head keep their own time. It lives as long as its
    socket, if every read of the socket goes through it (its counts would be wrong otherwise:
    :class:`~stagecheck.locust.connection.Connection` drops it when it reads another way)."""

    __slots__ = ("sock", "raw", "offset", "pos", "segs", "wait", "drained", "pending", "last",
                 "last_bounded")  # fmt: skip

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.raw = getattr(sock, "_sock", sock)  # gevent's socket: the system one inside
        self.offset = _wall_offset()
        # The stream's next unread byte in tcpi_bytes_received's count, and the data packets
        # received when that byte was the next to arrive (None: not known, e.g. bytes were
        # queued already; every batch is then judged merged where stamps are shared).
        self.pos: int | None = None
        self.segs: int | None = None
        # waits until the socket is readable, without reading (gevent's socket)
        read_event = getattr(sock, "_read_event", None)
        wait = getattr(sock, "_wait", None)
        self.wait: Any = None if read_event is None or wait is None else (wait, read_event)
        self.drained = False  # the last read took every byte known to be queued
        self.pending: list[tuple[bytes, int, bool]] = []  # pieces read, not yet handed out
        self.last = 0  # the arrival of the last piece handed out by recv
        self.last_bounded = False
        info = self._info()
        if info is not None:
            queued = 0 if info[0] == 0 else _queued(sock)  # nothing received yet: none queued
            if queued is not None:
                self.pos = info[0] - queued
                self.segs = info[1] if queued == 0 else None

    def begin(self) -> None:
        """A new answer on the socket: the clocks' offset taken again (a long-lived connection
        would otherwise keep one across a wall clock step)."""
        self.offset = _wall_offset()
        self.last, self.last_bounded = 0, False
        if self.pending:  # bytes of no answer (the last one was complete): not this one's
            self.pending = []
            self.pos = self.segs = None

    def recv(self, size: int) -> bytes:
        """One piece of what arrived next (geventhttpclient's response reads the head so);
        :attr:`last` is its arrival."""
        if not self.pending:
            self.pending = self.read(size, 0)
        data, self.last, self.last_bounded = self.pending.pop(0)
        return data

    def close(self) -> None:
        self.sock.close()

    def _info(self) -> tuple[int, int] | None:
        try:
            raw = self.raw.getsockopt(_socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
        except OSError:
            return None
        if len(raw) < 156:
            return None
        return _COUNTS.unpack_from(raw, 128)  # type: ignore[return-value]

    def _stamp(self, ancillary: list[tuple[int, int, bytes]], now: int) -> int:
        """The kernel's stamp on the performance counter (``now`` when there is none)."""
        for level, kind, value in ancillary:
            if level == _socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                sec, nsec = _TIMESPEC.unpack_from(value)
                return min(sec * 1_000_000_000 + nsec - self.offset, now)
        return now

    def read(self, size: int, floor: int) -> list[tuple[bytes, int, bool]]:
        """The queued bytes (at most ``size``; waits for some) as ``(bytes, arrival, bounded)``
        pieces, each ending at an event's end when they came in several packets; ``b""`` at
        the end of the connection. Arrivals are kept between ``floor`` and now."""
        if self.pending:
            pieces, self.pending = self.pending, []
            return pieces
        counted = None
        if self.segs is not None and self.wait is not None:
            whole = self._read_packet(size, floor)
            if isinstance(whole, list):
                return whole
            counted = whole
        return self._read_cut(size, floor, counted)

    def _read_packet(self, size: int, floor: int
                     ) -> list[tuple[bytes, int, bool]] | tuple[int, int] | None:  # fmt: skip
        """The bytes of the one packet that came since the last read, read exactly (a later
        packet is left queued, its stamp with it); else the kernel's counts (bytes received,
        data packets), or None (no counts, or none new after a wake-up: the end of the
        connection, an error)."""
        pos, segs = self.pos, self.segs
        assert pos is not None and segs is not None
        waited = False
        while True:
            if self.drained and not waited:  # nothing was left: wait before asking
                wait, event = self.wait
                wait(event)
                waited = True
            before = time.perf_counter_ns()
            info = self._info()
            if info is None:
                self.pos = self.segs = None
                return None
            queued = info[0] - pos
            if queued > 0:
                break
            if waited:
                return None  # readable with nothing new: let a read say why
            self.drained = True
        if info[1] - segs != 1 or queued > size:
            self.drained = False
            return info
        data, ancillary, _, _ = self.raw.recvmsg(queued, _ANCILLARY)
        now = time.perf_counter_ns()
        self.pos = pos + len(data)
        self.segs = info[1]
        self.drained = len(data) == queued
        if not self.drained:
            self.segs = None  # the socket did not give what the kernel counted: start over
        if len(ancillary) == 1 and ancillary[0][1] == _SO_TIMESTAMPNS:  # _stamp, inline
            sec, nsec = _TIMESPEC.unpack_from(ancillary[0][2])
            stamp = min(sec * 1_000_000_000 + nsec - self.offset, now)
        else:
            stamp = self._stamp(ancillary, now)
        if stamp > before:
            # A packet that came after the count was merged into this one (its stamp is the
            # later one's): these bytes were in by then, how much earlier is not known.
            return [(data, max(before, floor), True)]
        return [(data, max(stamp, floor), False)]

    def _read_cut(self, size: int, floor: int, counted: tuple[int, int] | None = None
                  ) -> list[tuple[bytes, int, bool]]:  # fmt: skip
        """:meth:`read` when the bytes may have come in several packets: a peek, then reads
        cut at event ends (until the read that reaches the last packet, after which the rest
        is read at once). ``counted``: the kernel's counts taken just before, if any."""
        self.drained = False  # behind: the next read asks before it waits
        data, ancillary, _, _ = self.sock.recvmsg(size, _ANCILLARY, _socket.MSG_PEEK)
        now = time.perf_counter_ns()
        sock = self.raw  # the bytes are queued: nothing below waits
        if not data:
            return [(sock.recv(size), now, False)]
        last = self._stamp(ancillary, now)  # every queued byte arrived by then
        packets = None
        pos = self.pos
        if pos is not None:
            info = counted if counted is not None else self._info()
            if info is None:
                self.pos = None
            else:
                if self.segs is not None and info[0] - pos == len(data):
                    packets = info[1] - self.segs
                self.pos = pos = pos + len(data)
                self.segs = info[1] if info[0] == pos else None
        if packets is not None and packets <= 1 and len(data) <= len(_DISCARD):
            sock.recv_into(_DISCARD, len(data))  # the peeked bytes, without a second copy
            return [(data, max(last, floor), False)]
        cuts = [m.end() for m in _EVENT_END.finditer(data)]
        if not cuts or len(cuts) == 1 and cuts[0] == len(data):
            if len(data) <= len(_DISCARD):
                sock.recv_into(_DISCARD, len(data))
            else:
                sock.recv(len(data))
            return [(data, max(last, floor), False)]
        if not cuts or cuts[-1] != len(data):
            cuts.append(len(data))
        pieces: list[tuple[bytes, int, bool]] = []
        stamps: list[int] = []
        done = 0
        for i, cut in enumerate(cuts):
            got, ancillary, _, _ = sock.recvmsg(cut - done, _ANCILLARY)
            # a packet that came after the peek may have been merged into the last one read
            stamp = min(self._stamp(ancillary, now), last)
            stamps.append(stamp)
            pieces.append((got, max(stamp, floor), False))
            if stamp == last and i + 1 < len(cuts):
                # this read reached the last packet: so do the rest's bytes (one read, the
                # same stamp, still one piece per event)
                rest, start = sock.recv(len(data) - cut), cut
                for end in cuts[i + 1:]:
                    stamps.append(stamp)
                    pieces.append((rest[start - cut:end - cut], max(stamp, floor), False))
                    start = end
                break
            done = cut
        distinct = len(set(stamps))
        if distinct < len(stamps) and (packets is None or packets > distinct):
            for i in range(len(stamps) - 1):
                if stamps[i] == stamps[i + 1]:
                    got, at, _ = pieces[i]
                    pieces[i] = (got, at, True)
        return pieces


def _queued(sock: Any) -> int | None:
    """Bytes waiting in the socket's receive queue (``FIONREAD``)."""
    try:
        return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"),
                              sys.byteorder)  # fmt: skip
    except (OSError, ValueError):
        return None
