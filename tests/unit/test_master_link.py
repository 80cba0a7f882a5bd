"""A worker's watch on its master over a real ZMQ connection (Locust's own RPC client): a
master whose connection closes is judged lost within about a second, but only while the worker
sends load; one that stays connected is not."""

from __future__ import annotations

import gevent
import gevent.monkey
from locust.rpc.protocol import Message
from locust.rpc.zmqrpc import Client, Server
from locust.runners import STATE_RUNNING, STATE_STOPPED

import time
from dataclasses import dataclass

import pytest

from stagecheck.locust.master_link import DISCONNECT_GRACE_S, MASTER_SILENCE_S, wait_for_lost_master

pytestmark = pytest.mark.unit


@dataclass
class Worker:
    """What the watch reads of Locust's WorkerRunner: its connection and its state."""

    client: Client
    state: str


def connected(state: str) -> tuple[Server, Worker]:
    master = Server("127.0.0.1", 0)
    worker = Worker(Client("127.0.0.1", master.port, "w1"), state)
    worker.client.send(Message("client_ready", None, "w1"))
    with gevent.Timeout(10):
        master.recv_from_client()  # the connection is up
    return master, worker


def test_a_master_whose_connection_closes_is_lost_within_a_second():
    master, worker = connected(STATE_RUNNING)
    heard = time.monotonic()  # the master's last heartbeat
    watch = gevent.spawn(wait_for_lost_master, worker, lambda: heard)
    gevent.sleep(0.3)
    assert not watch.ready()  # connected: nothing to say
    closed = time.monotonic()
    master.close(linger=0)
    why = watch.get(timeout=10)
    assert "the connection to the master closed" in why
    assert DISCONNECT_GRACE_S <= time.monotonic() - closed < DISCONNECT_GRACE_S + 2
    worker.client.close(linger=0)


def test_a_closed_connection_is_not_acted_on_when_the_worker_sends_no_load():
    master, worker = connected(STATE_STOPPED)  # its run was ended by its master
    heard = time.monotonic()  # the master's last heartbeat
    watch = gevent.spawn(wait_for_lost_master, worker, lambda: heard)
    master.close(linger=0)
    gevent.sleep(DISCONNECT_GRACE_S + 1)
    assert not watch.ready()  # it ends as its master told it (the heartbeat rule still holds)
    watch.kill()
    worker.client.close(linger=0)


def test_a_worker_whose_own_loop_was_held_does_not_take_that_for_the_masters_silence():
    # A worker busy for longer than MASTER_SILENCE_S (a loaded machine) could neither send a
    # heartbeat nor hear the answer; the master answers the next one within a second.
    master, worker = connected(STATE_RUNNING)
    heard = [time.monotonic()]
    watch = gevent.spawn(wait_for_lost_master, worker, lambda: heard[0])
    gevent.sleep(0.3)
    gevent.monkey.get_original("time", "sleep")(MASTER_SILENCE_S + 1)  # the loop held
    gevent.sleep(1.0)  # the heartbeat round trip after the hold
    assert not watch.ready(), watch.value
    heard[0] = time.monotonic()
    gevent.sleep(0.3)
    assert not watch.ready(), watch.value
    watch.kill()
    master.close(linger=0)
    worker.client.close(linger=0)
