"""The process's reader of open streams: takes each stream's bytes off its socket as soon as the
event loop learns they are there, ahead of the greenlets that parse them.

A stream's packets keep their own kernel stamps only while they are read one by one: a packet
that waits in the socket's queue until the next one arrives is merged with it, and its time is
lost (the later stamp). A greenlet that reads its own socket reads it only after every greenlet
woken before it has parsed, scored and recorded what it read; at a thousand streams whose
tokens arrive within the same few milliseconds, that is tens of milliseconds, longer than the
gap between two tokens. So the reads are taken out of the greenlets: every open stream's socket
is in one ``epoll``, watched by the event loop at its highest priority; when it is readable,
:meth:`Arrivals._ready` reads every readable stream (a system call or two each, stamped:
:meth:`~stagecheck.locust.stamps.EventReader.take`) and schedules the greenlets waiting on them
as callbacks. gevent runs callbacks for at most its switch interval before it polls again, so a
generator with a backlog of parsing still reads each packet within a few milliseconds of its
arrival: the figures stay true while the parsing catches up (a generator that cannot keep up
at all is judged by the run's validity rules).
"""

from __future__ import annotations

import gevent
from gevent.monkey import get_original

import contextlib
import os
import select
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gevent.hub import Waiter

    from collections.abc import Callable

__all__ = ["Arrivals", "arrivals", "Stream"]

_epoll: Any = get_original("select", "epoll") if hasattr(select, "EPOLLIN") else None
_EPOLLIN = getattr(select, "EPOLLIN", 1)
_MAX_PRIORITY = 2  # libev's EV_MAXPRI: run before other watchers that became ready together
# How long the parsing greenlets run at most before the loop polls (and reads) again
_SLICE_NS = 1_000_000


class Stream(Protocol):
    """What :class:`Arrivals` reads for: a socket's reader."""

    def fileno(self) -> int: ...

    def take(self, wake: Callable[[Waiter], None]) -> bool:
        """Read what is queued now (never waits); wake its greenlet through ``wake``. False:
        stop watching the socket (its end, an error, or enough held unread)."""
        ...


class Arrivals:
    """One per process (and event loop): the open streams' sockets in one ``epoll``."""

    __slots__ = ("_epoll", "_streams", "_watcher", "_woken", "_turn", "pid")

    def __init__(self) -> None:
        loop = gevent.get_hub().loop
        self.pid = os.getpid()
        self._epoll = _epoll()
        self._streams: dict[int, Stream] = {}
        watcher = loop.io(self._epoll.fileno(), 1)  # 1: readable
        watcher.priority = _MAX_PRIORITY
        watcher.ref = False  # it keeps the loop running only while a stream is open
        watcher.start(self._ready)
        self._watcher = watcher
        # The greenlets whose stream has new pieces, woken in turns of _SLICE_NS by a timer
        # that fires after each poll (and after the reads of that poll, of higher priority).
        self._woken: deque[Waiter] = deque()
        self._turn = loop.timer(0.0)

    def add(self, stream: Stream) -> None:
        """Watch ``stream``'s socket (until :meth:`remove`, or its :meth:`Stream.take` says
        to stop)."""
        fd = stream.fileno()
        self._streams[fd] = stream
        self._watcher.ref = True
        try:
            self._epoll.register(fd, _EPOLLIN)
        except FileExistsError:
            self._epoll.modify(fd, _EPOLLIN)

    def remove(self, stream: Stream) -> None:
        fd = stream.fileno()
        if self._streams.get(fd) is stream:
            del self._streams[fd]
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)
            if not self._streams:
                self._watcher.ref = False

    def wake(self, waiter: Waiter) -> None:
        """Switch to ``waiter``'s greenlet in a coming turn (after the reads of this poll)."""
        self._woken.append(waiter)
        if not self._turn.active:
            self._turn.start(self._run)

    def _run(self) -> None:
        """A turn: the woken greenlets parse, each until it waits again, for _SLICE_NS at most;
        the rest in the next turn, after the loop polled and read what arrived meanwhile."""
        woken = self._woken
        until = time.perf_counter_ns() + _SLICE_NS
        while woken:
            woken.popleft().switch(None)
            if time.perf_counter_ns() > until:
                break
        if woken and not self._turn.active:
            self._turn.start(self._run)

    def _ready(self) -> None:
        """The loop's callback: read every readable stream now, parse later."""
        streams, wake = self._streams, self.wake
        for fd, _ in self._epoll.poll(0):
            stream = streams.get(fd)
            if stream is None or not stream.take(wake):
                streams.pop(fd, None)
                with contextlib.suppress(OSError, ValueError):
                    self._epoll.unregister(fd)
        if not streams:
            self._watcher.ref = False


_ARRIVALS: Arrivals | None = None


def arrivals() -> Arrivals | None:
    """This process's :class:`Arrivals` (made on first use; again in a forked child, whose
    parent's epoll and loop are not its own); None where ``epoll`` is missing."""
    global _ARRIVALS
    if _epoll is None:
        return None
    if _ARRIVALS is None or _ARRIVALS.pid != os.getpid():
        _ARRIVALS = Arrivals()
    return _ARRIVALS
