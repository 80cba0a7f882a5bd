"""A worker's watch on its master: notice a master that has died within about a second.

Locust's worker waits 60 s without a heartbeat before it gives up, loading the endpoint all that
time with requests nobody counts. Two signals, the first one wins:

- the TCP connection to the master closes (ZMQ's socket monitor): what the master's machine
  does as soon as the master process dies, however it dies (SIGKILL, a crash, OOM). A master
  that is alive reconnects within ZMQ's reconnect interval (0.1 s), so a connection that stays
  closed for :data:`DISCONNECT_GRACE_S` while this worker sends load means the master is gone;
- no heartbeat for :data:`MASTER_SILENCE_S` (the master's machine or the network is gone, and
  no connection close ever arrives). Locust answers the worker's heartbeat every second; a busy
  master holds its loop for tens of ms at most, far below this.
"""

from __future__ import annotations

import gevent
from locust.runners import STATE_RUNNING, STATE_SPAWNING

import time
from collections.abc import Callable
from typing import Any

import zmq.green as zmq
from zmq.utils.monitor import recv_monitor_message

__all__ = ["DISCONNECT_GRACE_S", "MASTER_SILENCE_S", "wait_for_lost_master"]

DISCONNECT_GRACE_S = 0.5  # a connection closed this long, no heartbeat since: the master is gone
MASTER_SILENCE_S = 5.0  # no heartbeat for this long: the master is gone (Locust: 60 s)
_POLL_MS = 100
_HELD_S = 2.0  # a turn of the watch this much later than its poll: this worker's loop was held
_SENDING = (STATE_SPAWNING, STATE_RUNNING)


def wait_for_lost_master(runner: Any, last_heartbeat: Callable[[], float | None]) -> str:
    """Block (cooperatively) until the master of the worker ``runner`` is judged lost; return
    the line that says why. ``last_heartbeat`` is the ``time.monotonic()`` of the master's last
    heartbeat (None before the first). A closed connection counts only while this worker sends
    load: a master that ends a run normally closes it after telling its workers to stop, and
    they must end as they were told."""
    socket: Any = None
    monitor: Any = None
    closed_at: float | None = None
    listening_since = last_turn = time.monotonic()
    try:
        while True:
            client_socket = runner.client.socket
            if client_socket is not socket:  # Locust replaced its connection (a reset)
                _close(monitor)
                socket, closed_at = client_socket, None
                monitor = socket.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            try:
                ready = monitor.poll(_POLL_MS)
            except zmq.ZMQError:  # the connection's socket was closed meanwhile
                ready = 0
                gevent.sleep(_POLL_MS / 1000)
            if ready:
                event = recv_monitor_message(monitor)["event"]
                if event == zmq.EVENT_DISCONNECTED and closed_at is None:
                    closed_at = time.monotonic()
                elif event == zmq.EVENT_CONNECTED:
                    closed_at = None
            now = time.monotonic()
            if now - last_turn > _HELD_S:
                # This worker's own loop was held (a busy machine): it could neither send a
                # heartbeat nor hear the answer meanwhile. The master's silence counts from now.
                listening_since = now
            last_turn = now
            heard = last_heartbeat()
            if closed_at is not None and heard is not None and heard > closed_at:
                closed_at = None  # a heartbeat came through: connected again
            if closed_at is not None and runner.state in _SENDING:
                closed_for = now - closed_at
                if closed_for >= DISCONNECT_GRACE_S:
                    return f"the connection to the master closed {closed_for:.1f}s ago"
            if heard is not None and now - max(heard, listening_since) > MASTER_SILENCE_S:
                return f"no heartbeat from the master for {MASTER_SILENCE_S:g}s"
    finally:
        _close(monitor)


def _close(monitor: Any) -> None:
    if monitor is not None and not monitor.closed:
        monitor.close(linger=0)
