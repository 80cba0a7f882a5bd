"""A user playing one whole conversation: its turns in order, on the user's own connection,
with ``load.think_time`` between them.

Each turn is sent, timed, scored and recorded by the user's own request path
(:meth:`~stagecheck.locust.user.ValidationUser.send_row`), as a single row is. Open loop: a due
time starts a conversation; the first turn's latency counts from it, later turns' from their
send (the user paces them, not the schedule). A run that stops between two turns sends no
more: the turns never sent are not requests, so not failures.
"""

from __future__ import annotations

import gevent
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

import time
from typing import Any, Protocol

from stagecheck.datasets import PreparedRow
from stagecheck.datasets.conversations import assistant_side
from stagecheck.load.arrivals import ArrivalSchedule
from stagecheck.locust.target import Target
from stagecheck.run import RunSession

__all__ = ["play_conversation", "Player"]


class Player(Protocol):
    """What playing a conversation needs of its user (:class:`~.user.ValidationUser`): its
    request path, its open-loop wait, its connection's target and Locust's task state."""

    _timeout_ns: int
    _target: Target
    _state: str | None

    def send_row(self, session: RunSession, row: PreparedRow, data: bytes, due: int | None,
                 due_stage: int = 0) -> Any: ...  # fmt: skip

    def _await_due(self, session: RunSession, arrivals: ArrivalSchedule) -> tuple[int, int]: ...


def play_conversation(user: Player, session: RunSession) -> None:
    """Play the next conversation of this process's share (raise StopUser when an exact pass
    has handed every one out)."""
    arrivals = session.arrivals
    due: int | None = None
    due_stage = 0
    if arrivals is not None:  # open loop: a due time starts a conversation
        due, due_stage = user._await_due(session, arrivals)
        if time.perf_counter_ns() - due >= user._timeout_ns:
            session.recorder.record_dropped(1)  # type: ignore[union-attr]
            return
    # the feeder hands out conversation indexes here (it feeds range(conversations))
    index: Any = session.conversations.next_row()  # type: ignore[union-attr]
    if index is None:  # exact pass: every conversation handed out
        raise StopUser()
    table = session.dataset.conversations
    assert table is not None  # a conversation feeder feeds a conversation dataset
    rows = session.dataset.rows
    live = table.history == "live"
    history: list[dict[str, Any]] = list(table.prefixes[index])
    target = user._target
    for position, i in enumerate(table.rows_of(index)):
        if position and not _think(user, session):
            return  # the run is stopping: the turns left are never sent
        row = rows[i]
        req = row.request
        if live:  # the model's own earlier answers, as a real user sees them
            body = session.adapter.prepare_messages(  # type: ignore[attr-defined]
                [*history, table.user_messages[i]]
            ).body
        else:
            body = req.body
        data = target.request_bytes(req.method, req.path, body)
        answer = user.send_row(session, row, data, due if position == 0 else None, due_stage)
        if live:
            # no answer at all (an error): the dataset's, so the conversation can go on
            said = table.answers[i] if answer is None else answer
            history += [table.user_messages[i], *assistant_side(said, table.tool_results[i])]


def _think(user: Player, session: RunSession) -> bool:
    """Pause between two turns (``load.think_time``); False when the run is stopping."""
    if session.stopping:
        return False
    seconds = session.think_time()
    if seconds > 0:
        # Wait as Locust's own wait() does, as WAITING: stopping the run ends this user here
        # at once (nothing is in flight).
        user._state = LOCUST_STATE_WAITING
        gevent.sleep(seconds)
        if user._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        user._state = LOCUST_STATE_RUNNING
    return not session.stopping
