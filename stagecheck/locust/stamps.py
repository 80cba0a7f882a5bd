"""Reads of a streamed answer that time each event by its arrival: the kernel's receive stamp of
the packet that brought it (``SO_TIMESTAMPNS`` on Linux over plain TCP), one event per read when
several are queued (:class:`EventReader`); else when a read returned (:class:`PlainReader`)."""

from __future__ import annotations

from gevent.hub import Waiter

import fcntl
import re
import socket as _socket
import struct
import sys
import termios
import time
from typing import Any

from stagecheck.locust.arrivals import arrivals

__all__ = ["EventReader", "PlainReader", "stamping"]


class PlainReader:
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


def stamping(sock: Any) -> bool:
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
_READ_SIZE = 64 * 1024  # bytes read at most per wake-up (more stay queued: readable again)
_HOLD = 1024 * 1024  # bytes read ahead of a stream's parser before its socket is left alone


class EventReader:
    """Reads a stamped socket so that each event gets the arrival time of its own bytes.

    The kernel stamps each packet, merges consecutive packets waiting in a socket's queue
    (keeping the later stamp), and hands a read the stamp of the last packet it took. So the
    reader asks the kernel (``TCP_INFO``) how many bytes and packets came since its last read:
    one packet (the usual case: one event, or a burst written at once) is read whole, exactly
    its bytes; bytes from several packets are peeked at and read one event at a time, each read
    ending at an event's end (:meth:`_read_cut`). Events of one read that shared a stamp with
    the next one, where the packets were more than the distinct stamps seen, were merged by the
    kernel: their time is an upper bound, and is flagged.

    The reads are not the parsing greenlet's: while it is watched, the process's
    :class:`~stagecheck.locust.arrivals.Arrivals` reads the socket the moment the event loop
    sees it readable (:meth:`take`, a ``getsockopt`` and one read), and :meth:`read` hands out
    what was read, waiting (without a timer: the request's deadline bounds it) when nothing
    was. So a greenlet that gets to its stream late still finds each packet read on its own.

    It also reads an answer's head (:meth:`recv`, as geventhttpclient's response reads its
    socket), so that events queued behind the head keep their own time. It lives as long as its
    socket, if every read of the socket goes through it (its counts would be wrong otherwise:
    :class:`~stagecheck.locust.connection.Connection` drops it when it reads another way)."""

    __slots__ = ("sock", "raw", "fd", "offset", "pos", "segs", "pending", "held", "error",
                 "waiter", "watched", "last", "last_bounded")  # fmt: skip

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.raw = getattr(sock, "_sock", sock)  # gevent's socket: the system one inside
        self.fd = self.raw.fileno()
        self.offset = _wall_offset()
        # The stream's next unread byte in tcpi_bytes_received's count, and the data packets
        # received when that byte was the next to arrive (None: not known, e.g. bytes were
        # queued already; every batch is then judged merged where stamps are shared).
        self.pos: int | None = None
        self.segs: int | None = None
        self.pending: list[tuple[bytes, int, bool]] = []  # pieces read, not yet handed out
        self.held = 0  # their bytes
        self.error: BaseException | None = None  # what the last read raised, not yet handed out
        self.waiter: Waiter | None = None  # of the greenlet waiting for pieces
        self.watched: Any = None  # the Arrivals reading the socket, while it does
        self.last = 0  # the arrival of the last piece handed out by recv
        self.last_bounded = False
        info = self._info()
        if info is not None:
            queued = 0 if info[0] == 0 else _queued(sock)  # nothing received yet: none queued
            if queued is not None:
                self.pos = info[0] - queued
                self.segs = info[1] if queued == 0 else None

    def fileno(self) -> int:
        return self.fd

    def watch(self) -> None:
        """Have the process's :class:`~stagecheck.locust.arrivals.Arrivals` read the socket
        as its bytes arrive (until :meth:`unwatch`, the end of the connection or an error)."""
        if self.watched is None:
            self.watched = arrivals()
            if self.watched is not None:
                self.watched.add(self)

    def unwatch(self) -> None:
        watched, self.watched = self.watched, None
        if watched is not None:
            watched.remove(self)

    def begin(self) -> None:
        """A new answer on the socket: the clocks' offset taken again (a long-lived connection
        would otherwise keep one across a wall clock step); the socket watched."""
        self.offset = _wall_offset()
        self.last, self.last_bounded = 0, False
        if self.pending:  # bytes of no answer (the last one was complete): not this one's
            self.pending, self.held = [], 0
            self.pos = self.segs = None
        self.error = None
        self.watch()

    def recv(self, size: int) -> bytes:
        """One piece of what arrived next (geventhttpclient's response reads the head so);
        :attr:`last` is its arrival."""
        if not self.pending:
            self.pending = self.read(size, 0)
        data, self.last, self.last_bounded = self.pending.pop(0)
        return data

    def close(self) -> None:
        self.unwatch()
        self.sock.close()

    def read(self, size: int, floor: int) -> list[tuple[bytes, int, bool]]:
        """What arrived since the last call (waits for some) as ``(bytes, arrival, bounded)``
        pieces, each ending at an event's end when they came in several packets; ``b""`` at
        the end of the connection. Arrivals are kept at ``floor`` or after. Raises what a read
        of the socket raised."""
        if not self.pending:
            self._wait()
        pieces, self.pending, self.held = self.pending, [], 0
        if self.watched is None and self.error is None and pieces[-1][0]:
            self.watch()  # it stopped watching to hold no more: it may again
        if pieces[0][1] < floor:
            pieces = [(data, max(at, floor), late) for data, at, late in pieces]
        return pieces

    def _wait(self) -> None:
        """Until a piece was read (or a read failed: raised here)."""
        while not self.pending:
            if self.error is not None:
                error, self.error = self.error, None
                raise error
            self.watch()
            if self.watched is None:  # no epoll here: the greenlet reads its socket itself
                self.sock._wait(self.sock._read_event)
                self.take(None)
                continue
            waiter = self.waiter = Waiter()
            try:
                waiter.get()
            finally:
                self.waiter = None

    def take(self, wake: Any) -> bool:
        """Read what is queued now (never waits; the event loop said the socket is readable)
        into the pieces :meth:`read` hands out, and wake the greenlet waiting for them
        (through ``wake(callback, arg)``, the loop's ``run_callback``: it parses after the
        other readable streams are read). False once it should no longer be watched: the end
        of the connection, an error, or enough held unread."""
        try:
            pieces = self._read_now()
        except BlockingIOError:  # readable no more (another reader, or a spurious wake-up)
            pieces = []
        except OSError as exc:
            pieces, self.error = [], exc
        if pieces:
            self.pending += pieces
            for piece in pieces:
                self.held += len(piece[0])
        waiter = self.waiter
        if waiter is not None and (self.pending or self.error is not None):
            self.waiter = None
            if wake is not None:
                wake(waiter)
        keep = self.error is None and not (pieces and not pieces[-1][0])
        if not keep or self.held > _HOLD:
            self.watched = None  # the caller stops watching the socket
            return False
        return True

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

    def _read_now(self) -> list[tuple[bytes, int, bool]]:
        """The queued bytes (at most :data:`_READ_SIZE`) as pieces; raises BlockingIOError
        when none are."""
        counted = None
        if self.segs is not None:
            packet = self._read_packet()
            if isinstance(packet, list):
                return packet
            counted = packet
        return self._read_cut(counted)

    def _read_packet(self) -> list[tuple[bytes, int, bool]] | tuple[int, int] | None:
        """The bytes of the one packet that came since the last read, read exactly (a later
        packet is left queued, its stamp with it); else the kernel's counts (bytes received,
        data packets), or None (no counts, or none new: the end of the connection, an
        error)."""
        pos, segs = self.pos, self.segs
        assert pos is not None and segs is not None
        before = time.perf_counter_ns()
        info = self._info()
        if info is None:
            self.pos = self.segs = None
            return None
        queued = info[0] - pos
        if queued <= 0:
            return None  # readable with nothing new: let a read say why
        if info[1] - segs != 1 or queued > _READ_SIZE:
            return info
        data, ancillary, _, _ = self.raw.recvmsg(queued, _ANCILLARY)
        now = time.perf_counter_ns()
        self.pos = pos + len(data)
        self.segs = info[1]
        if len(data) != queued:
            self.segs = None  # the socket did not give what the kernel counted: start over
        if len(ancillary) == 1 and ancillary[0][1] == _SO_TIMESTAMPNS:  # _stamp, inline
            sec, nsec = _TIMESPEC.unpack_from(ancillary[0][2])
            stamp = min(sec * 1_000_000_000 + nsec - self.offset, now)
        else:
            stamp = self._stamp(ancillary, now)
        if stamp > before:
            # A packet that came after the count was merged into this one (its stamp is the
            # later one's): these bytes were in by then, how much earlier is not known.
            return [(data, before, True)]
        return [(data, stamp, False)]

    def _packets(self, queued: int, counted: tuple[int, int] | None) -> int | None:
        """How many packets brought the ``queued`` bytes, when the kernel's counts say
        (``counted``: taken just before, else asked now); keeps the counts for the next read."""
        pos = self.pos
        if pos is None:
            return None
        info = counted if counted is not None else self._info()
        if info is None:
            self.pos = None
            return None
        packets = None
        if self.segs is not None and info[0] - pos == queued:
            packets = info[1] - self.segs
        self.pos = pos = pos + queued
        self.segs = info[1] if info[0] == pos else None
        return packets

    def _read_cut(self, counted: tuple[int, int] | None = None
                  ) -> list[tuple[bytes, int, bool]]:  # fmt: skip
        """:meth:`_read_now` when the bytes may have come in several packets: a peek, then
        reads cut at event ends (until the read that reaches the last packet, after which the
        rest is read at once). ``counted``: the kernel's counts taken just before, if any."""
        sock = self.raw
        data, ancillary, _, _ = sock.recvmsg(_READ_SIZE, _ANCILLARY, _socket.MSG_PEEK)
        now = time.perf_counter_ns()
        if not data:
            return [(sock.recv(_READ_SIZE), now, False)]  # the end (or an error, raised)
        last = self._stamp(ancillary, now)  # every queued byte arrived by then
        packets = self._packets(len(data), counted)
        if packets is not None and packets <= 1 and len(data) <= len(_DISCARD):
            sock.recv_into(_DISCARD, len(data))  # the peeked bytes, without a second copy
            return [(data, last, False)]
        cuts = [m.end() for m in _EVENT_END.finditer(data)]
        if not cuts or len(cuts) == 1 and cuts[0] == len(data):
            if len(data) <= len(_DISCARD):
                sock.recv_into(_DISCARD, len(data))
            else:
                sock.recv(len(data))
            return [(data, last, False)]
        if cuts[-1] != len(data):
            cuts.append(len(data))
        pieces: list[tuple[bytes, int, bool]] = []
        stamps: list[int] = []
        done = 0
        for i, cut in enumerate(cuts):
            got, ancillary, _, _ = sock.recvmsg(cut - done, _ANCILLARY)
            # a packet that came after the peek may have been merged into the last one read
            stamp = min(self._stamp(ancillary, now), last)
            stamps.append(stamp)
            pieces.append((got, stamp, False))
            if stamp == last and i + 1 < len(cuts):
                # this read reached the last packet: so do the rest's bytes (one read, the
                # same stamp, still one piece per event)
                rest, start = sock.recv(len(data) - cut), cut
                for end in cuts[i + 1:]:
                    stamps.append(stamp)
                    pieces.append((rest[start - cut:end - cut], stamp, False))
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
