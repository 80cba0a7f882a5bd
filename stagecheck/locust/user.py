"""The Locust user that replays the validation dataset: the per-request hot path.

Per request: take a row (its request bytes were built at load time), send them on the user's
own connection, time in integer microseconds (from right before the send to right after the
last byte of the answer), parse, score, one HDR record, a few counter increments, and Locust's
``request`` event fired once, so that Locust's UI and CSV stay meaningful: transport errors,
HTTP errors and unparseable answers are Locust failures; a wrong answer is not (it is a model
error, counted by stagecheck).
"""

from __future__ import annotations

import gevent
from gevent import GreenletExit
from locust import FastHttpUser, task
from locust.exception import CatchResponseError, StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

import contextlib
import time
from collections.abc import Callable
from http.client import HTTPException
from typing import Any, Final

from stagecheck.datasets import PreparedRow
from stagecheck.load.arrivals import ArrivalSchedule
from stagecheck.locust.binding import session_of
from stagecheck.locust.connection import Connection, decoded
from stagecheck.locust.conversation import play_conversation
from stagecheck.locust.target import Target
from stagecheck.locust.transport import (
    MAX_BODY_BYTES,
    AnswerCut,
    AnswerTooLarge,
    RequestTimeout,
    deadline,
    failure_of,
    sse_events,
)
from stagecheck.protocols import STREAM_DONE, ProtocolAdapter, ResponseParseError, StreamUsage
from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, UNPARSEABLE
from stagecheck.redact import looks_secret, redact_text
from stagecheck.run import RunSession, Sent
from stagecheck.scoring import UNPARSEABLE_LABEL

__all__ = ["ValidationUser"]

_GOT_LIMIT = 300  # characters of an answer kept for error analysis

_ERROR_EXCERPT = 160  # characters of an error answer's body kept in its error text

# One answer scored, as the recorder takes it: (outcome, predicted label or None, answer text or
# None, error or None, per-row score or None, LLM judge µs or 0). A plain tuple, as a Result is
# (a NamedTuple costs ~0.5 µs a request more to build); readers unpack it, or index it by name.
Scored = tuple[int, "str | None", "str | None", "str | None", "float | None", int]
SCORED_JUDGE_US: Final = 5

# Raised while the answer is read: the transport failed (not the model). Anything else raised
# while reading a complete answer makes it unparseable.
_TRANSPORT_ERRORS = (OSError, HTTPException, AnswerTooLarge, gevent.Timeout)


def _score_answer(session: RunSession, row: PreparedRow, read: Callable[[], Any]) -> Scored:
    """Outcome of one answer with a 2xx status; ``read()`` returns the prediction from its
    body."""
    try:
        prediction = read()
        correct, label, value, judge_us = session.grade(prediction, row.expected)
    except _TRANSPORT_ERRORS as exc:  # a stream broke, stalled or overflowed mid-answer
        return _failed(exc, during_body=True)
    except Exception as exc:  # an odd answer must never crash a run
        reason = (
            str(exc)
            if isinstance(exc, ResponseParseError)
            else (f"cannot read the answer ({type(exc).__name__}: {exc})")
        )
        label = UNPARSEABLE_LABEL if session.scorer.classification else None
        # an LLM judge that failed is the judge's cause ("judge: …"), not the target's
        error = reason if getattr(exc, "cause", None) else f"unparseable: {reason}"
        return (UNPARSEABLE, label, None, error[:200], None, 0)
    # a tool-call answer's label is why it is wrong: the call itself is what it got
    got = str(prediction)[:_GOT_LIMIT] if label is None or type(prediction) is ChatAnswer else label
    return (CORRECT if correct else INCORRECT), label, got, None, value, judge_us


def _failed(exc: BaseException, during_body: bool) -> Scored:
    outcome, error = failure_of(exc, during_body=during_body)
    return (outcome, None, None, error, None, 0)


def _http_error(session: RunSession, row: PreparedRow, status: int, body: bytes) -> Scored:
    return (HTTP_ERROR, None, None, http_error_text(session, row, status, body), None, 0)


def http_error_text(session: RunSession, row: PreparedRow, status: int, body: bytes) -> str:
    """``HTTP 404: POST /v1/chat/completions → {"detail":"Not Found"}``: the status (the cause,
    before the colon), the route and the start of the server's error body (``body``: its first
    bytes, or all of it), with URL credentials, secret query values and the values of the
    request's secret headers masked."""
    req = row.request
    text = f"HTTP {status}: {req.method} {redact_text(req.path)}"
    excerpt = " ".join(bytes(body[:_ERROR_EXCERPT]).decode("utf-8", "replace").split())
    excerpt = excerpt[:_ERROR_EXCERPT]
    if excerpt:
        for name, value in session.headers.items():
            if value and len(value) >= 6 and looks_secret(name):
                excerpt = excerpt.replace(value, "***")
                for part in value.split():  # "Bearer sk-…": the key alone, too
                    if len(part) >= 6:
                        excerpt = excerpt.replace(part, "***")
        text += " → " + redact_text(excerpt)
    return text


class ValidationUser(FastHttpUser):
    """Replays rows of the scenario's dataset. Subclass it (non-abstract) in a locustfile.

    Its requests go through its own persistent connection (:mod:`stagecheck.locust.connection`),
    not through ``self.client``, which stays a Locust ``FastHttpSession`` for tasks of one's own.
    Each request fires Locust's ``request`` event once, with the fields ``FastHttpSession``
    gives it (``response`` is geventhttpclient's parsed response, or None when none came):
    Locust's statistics, failures, web UI, CSV and master/worker totals count every request;
    transport errors, HTTP errors and unparseable answers are Locust failures (the error is the
    cause, ``CatchResponseError``, as ``response.failure()`` makes it); a wrong answer is not
    (it is a model error, counted by stagecheck). Locust's response time is stagecheck's
    latency. HTTP redirects are not followed (a 3xx is an HTTP error naming its status)."""

    abstract = True
    session: RunSession
    _answer: Any = None  # the prediction of the last answer read (send_row)

    def on_start(self) -> None:
        session = session_of(self.environment)
        assert session is not None, "no run bound to this environment (stagecheck's attach)"
        self.session = session
        ep = session.loaded.scenario.endpoint
        self._target = Target(
            self.host or ep.url,
            session.headers,
            connect_timeout=ep.connect_timeout,
            verify_tls=ep.verify_tls,
        )
        with contextlib.suppress(OSError):  # before the clock; a failure is the request's
            self._target.addresses()
        self._conn = Connection(self._target)
        self._timeout_s = ep.timeout
        self._timeout_ns = int(ep.timeout * 1e9)
        self._fire = self.environment.events.request.fire
        self._timer: gevent.Timeout | None = None  # the streams' deadline, started again each

    def on_stop(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    @task
    def replay(self) -> None:
        session = self.session
        if session.stopping:
            # Locust may have asked to kill this user as one between tasks, a kill that lands
            # at its next wait: a request sent now would be cut off mid-flight.
            raise StopUser()
        if session.conversations is not None:  # a conversation dataset: one whole at a time
            play_conversation(self, session)
            return
        arrivals = session.arrivals
        due = due_stage = 0
        if arrivals is not None:  # open loop: wait for the next due time
            due, due_stage = self._await_due(session, arrivals)
            if time.perf_counter_ns() - due >= self._timeout_ns:
                # No user was free until past the request's whole timeout: it is never sent,
                # so it is a dropped arrival (raise load.users), not a request of the endpoint.
                session.recorder.record_dropped(1)  # type: ignore[union-attr]
                return
        row = session.feeder.next_row()  # type: ignore[union-attr]
        if row is None:  # exact pass: every row handed out
            raise StopUser()
        req = row.request
        data = self._target.request_bytes(req.method, req.path, req.body)
        self.send_row(session, row, data, due if arrivals is not None else None, due_stage)

    def send_row(self, session: RunSession, row: PreparedRow, data: bytes, due: int | None,
                 due_stage: int = 0) -> Any:  # fmt: skip
        """Send ``data`` (``row``'s request), then time, score and record its answer; the
        answer's prediction, or None when none came. ``due``: the open loop's due time
        (latency counts from it), None to count from the send."""
        if due is not None:
            # Latency counts from the due time: waiting for a free user is part of it
            # (no coordinated omission).
            now_ns = time.perf_counter_ns()
            t0, started, lag_us = due, time.time() - (now_ns - due) / 1e9, (now_ns - due) // 1000
            # open loop, staged: the stage its due time falls in (the schedule knows its stages)
            stage = due_stage if session.plan.rate_stages else session.stage_index
        else:  # closed loop: the connection restarts the clock right before the send
            t0, started, lag_us = time.perf_counter_ns(), time.time(), 0
            stage = session.stage_index
        # A request belongs to the stage it was sent in. It stays pending until recorded: if
        # this greenlet is killed mid-request, the run still accounts for it (RunSession).
        sent: Sent = (row, stage, started, t0, lag_us)
        session.pending[id(self)] = sent
        self._answer = None
        if row.request.stream:
            self._send_stream(session, sent, data)
        else:
            self._send(session, sent, data)
        del session.pending[id(self)]
        return self._answer

    def _kept(self, prediction: Any) -> Any:
        """The prediction read, kept for :meth:`send_row` (a conversation's live history)."""
        self._answer = prediction
        return prediction

    def _await_due(self, session: RunSession, arrivals: ArrivalSchedule) -> tuple[int, int]:
        """Open loop: wait for this user's next due time; (due perf_counter_ns, its stage).
        Raises StopUser when the run stops meanwhile (the due time is given back)."""
        due = arrivals.next_due()
        due_stage = arrivals.stage  # read now: other users take the next ones
        wait_ns = due - time.perf_counter_ns()
        if wait_ns > 0:
            # Wait as Locust's own wait() does, as WAITING: stopping the run then ends this
            # user here at once (nothing is in flight yet) instead of letting it sleep out
            # its turn (the pool holds due times up to users/rate ahead) and send a request
            # after the end of the plan.
            # A user stopped here gives its due time back (a stage's pool may shrink).
            self._state = LOCUST_STATE_WAITING
            try:
                gevent.sleep(wait_ns / 1e9)
            except GreenletExit:
                arrivals.give_back(due, due_stage)
                raise
            if self._state == LOCUST_STATE_STOPPING:
                arrivals.give_back(due, due_stage)
                raise StopUser()
            self._state = LOCUST_STATE_RUNNING
        if session.stopping:
            # The run began stopping while this user waited (Locust may already have asked to
            # kill it, as a waiting user): send nothing, which would only be cut off. A due
            # time before the stop is then a dropped arrival (missed_until).
            arrivals.give_back(due, due_stage)
            raise StopUser()
        return due, due_stage

    def _send(self, session: RunSession, sent: Sent, data: bytes) -> None:
        row, _, _, t0, _ = sent
        conn = self._conn
        raw: Any
        try:
            raw, body, begin, end = conn.exchange(data, row.request.method, t0 + self._timeout_ns,
                                                  self._timeout_s)  # fmt: skip
            if session.arrivals is None:  # closed loop: from the send itself (or the connect)
                t0 = begin
        except Exception as exc:  # the transport failed: no (whole) answer
            end = time.perf_counter_ns()
            raw = conn.response
            if raw is None or not raw.headers_complete:
                raw, body = None, b""
                scored = _failed(exc, during_body=False)
            else:
                body = bytes(raw._body_buffer[:MAX_BODY_BYTES])
                status = raw.status_code
                if 200 <= status < 300:  # headers arrived, the body did not: the transport
                    scored = _failed(exc, during_body=True)
                else:
                    scored = _http_error(session, row, status, body)
        else:
            status = raw.status_code
            if 200 <= status < 300:
                adapter = session.adapter
                scored = _score_answer(session, row,
                                       lambda: self._kept(adapter.parse(decoded(raw, body))))
            else:
                scored = _http_error(session, row, status, body)
        self._finish(session, sent, (end - t0) // 1000, len(body), raw, scored)

    def _send_stream(self, session: RunSession, sent: Sent, data: bytes) -> None:
        row, stage, _, t0, _ = sent
        times: list[int] = []  # perf_counter_ns at which each text delta arrived
        bounded: list[int] = []  # indices of times that are upper bounds (merged packets)
        usage: list[int] = []  # the server's output token count, when the stream reports it
        # the stream's reads are not timed one by one
        timer = self._timer = deadline(self._timeout_s, self._timer)
        resp: Any = None
        length = 0
        try:
            try:
                resp = self._conn.start_stream(data, row.request.method, t0 + self._timeout_ns,
                                               self._timeout_s)  # fmt: skip
            except Exception as exc:  # no answer: nothing was streamed
                scored = _failed(exc, during_body=False)
            else:
                status = resp.status_code
                length = resp.content_length or 0
                if 200 <= status < 300:
                    adapter = session.adapter
                    scored = _score_answer(session, row, lambda: self._kept(_read_stream(
                        adapter, resp, t0, timer, times, bounded, usage)))  # fmt: skip
                else:
                    try:
                        excerpt = resp.read(_ERROR_EXCERPT)
                    except Exception:  # noqa: BLE001 - the status is what matters
                        excerpt = b""
                    scored = _http_error(session, row, status, excerpt)
        except RequestTimeout as exc:
            # The deadline struck outside the reads' own error handling (between its steps):
            # still one request, with its outcome.
            scored = _failed(exc, during_body=False)
        finally:
            timer.cancel()  # started again for the next stream
            self._conn.finish(resp)
        # an LLM judge grades after the last token: its time is not the target's
        latency_us = (time.perf_counter_ns() - t0) // 1000 - scored[SCORED_JUDGE_US]
        self._finish(session, sent, latency_us, length, resp, scored)  # the whole answer
        if times:
            _record_tokens(session, stage, t0, times, bounded, usage)

    def _finish(self, session: RunSession, sent: Sent, latency_us: int, length: int,
                response: Any, scored: Scored) -> None:  # fmt: skip
        """Locust's ``request`` event, once, as ``FastHttpSession`` fires it; then the request
        recorded."""
        row, stage, started, _, lag_us = sent
        outcome, predicted, got, error, score, judge_us = scored
        req = row.request
        self._fire(
            request_type=req.method,
            name=session.request_name,
            response_time=latency_us / 1000.0,
            response_length=length,
            response=response,
            context=self.context(),
            # Locust groups failures by their text: without the error body's excerpt (it may
            # hold request ids), its failures table stays one row per cause and route.
            exception=None if error is None else CatchResponseError(error.partition(" → ")[0]),
            start_time=started,
            url=self._target.url(req.path),
        )
        session.recorder.record(  # type: ignore[union-attr]
            row_index=row.index,
            outcome=outcome,
            latency_us=latency_us,
            started=started,
            stage=stage,
            predicted=predicted,
            got=got,
            error=error,
            lag_us=lag_us,
            score=score,
            judge_us=judge_us,
        )


def _read_stream(adapter: ProtocolAdapter, resp: Any, t0: int, timer: gevent.Timeout,
                 times: list[int], bounded: list[int], usage: list[int]) -> Any:  # fmt: skip
    """The prediction of a streamed answer, read event by event (geventhttpclient response),
    size-capped, each text delta's arrival (the time its bytes came off the socket: parsing it
    is not the server's time) appended to ``times`` (its index to ``bounded`` when it is an
    upper bound), the server's output token counts to ``usage``."""
    pieces: list[str] = []
    for line, arrived, late in sse_events(resp, not_before=t0):
        piece = adapter.parse_stream_line(line)
        if piece is STREAM_DONE:
            timer.cancel()  # started again for the next stream
            return adapter.finish_stream("".join(pieces))
        if piece.__class__ is StreamUsage:
            usage.append(piece.output_tokens)  # type: ignore[union-attr]
        elif piece:
            if late:
                bounded.append(len(times))
            times.append(arrived)
            pieces.append(piece)  # type: ignore[arg-type]
    raise AnswerCut("the stream ended before its end marker ([DONE])")


def _record_tokens(session: RunSession, stage: int, t0: int, times: list[int],
                   bounded: list[int], usage: list[int]) -> None:  # fmt: skip
    """A streamed answer's TTFT, inter-token gaps and output tokens (linked to the request
    recorded just before)."""
    gaps = [(b - a) // 1000 for a, b in zip(times, times[1:], strict=False)]
    # a bounded token's gaps on either side may be merged: counted (they stay in the ITL
    # figures, which then say how many of their gaps are not measurements)
    merged = len({g for i in bounded for g in (i - 1, i) if 0 <= g < len(gaps)})
    session.recorder.record_stream(  # type: ignore[union-attr]
        (times[0] - t0) // 1000,
        gaps,
        stage,
        output_tokens=usage[-1] if usage else None,
        linked=True,
        ttft_bounded=bool(bounded) and bounded[0] == 0,
        merged_gaps=merged,
    )
