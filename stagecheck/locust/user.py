"""The Locust user that replays the validation dataset: the per-request hot path.

Per request: take a row (its request bytes were built at load time), send, time in integer
microseconds, parse, score, one HDR record and a few counter increments. Locust's own ``request``
event still fires (through FastHttpUser), so Locust's UI and CSV stay meaningful: transport
errors and unparseable answers are Locust failures; a wrong answer is not (it is a model error,
counted by stagecheck).
"""

from __future__ import annotations

import gevent
from gevent import GreenletExit
from locust import FastHttpUser, task
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

import time
from collections.abc import Callable
from http.client import HTTPException
from typing import Any

from stagecheck.datasets import PreparedRow
from stagecheck.locust.transport import (
    MAX_BODY_BYTES,
    AnswerCut,
    AnswerTooLarge,
    RequestTimeout,
    deadline,
    failure_of,
    sse_lines,
)
from stagecheck.protocols import STREAM_DONE, ResponseParseError, StreamUsage
from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, UNPARSEABLE
from stagecheck.redact import looks_secret, redact_text
from stagecheck.run import RunSession, Sent
from stagecheck.scoring import UNPARSEABLE_LABEL

__all__ = ["ValidationUser"]

_GOT_LIMIT = 300  # characters of an answer kept for error analysis

_ERROR_EXCERPT = 160  # characters of an error answer's body kept in its error text

# (outcome, predicted label or None, answer text or None, error or None, per-row score or None,
#  LLM judge µs or 0)
Verdict = tuple[int, "str | None", "str | None", "str | None", "float | None", int]

# Raised while the answer is read: the transport failed (not the model). Anything else raised
# while reading a complete answer makes it unparseable.
_TRANSPORT_ERRORS = (OSError, HTTPException, AnswerTooLarge, gevent.Timeout)


def _judge(session: RunSession, row: PreparedRow, resp: Any, read: Callable[[], Any]) -> Verdict:
    """Outcome of one response; ``read()`` returns the prediction from its body. Marks the
    response as a Locust success or failure."""
    status = resp.status_code
    body_error = resp.request_meta.get("exception") if status else None
    if not status:
        outcome, error = failure_of(resp.error or ConnectionError("no response"))
        verdict: Verdict = (outcome, None, None, error, None, 0)
    elif body_error is not None and 200 <= status < 300:
        # headers arrived, the body did not: the transport failed, not the model
        outcome, error = failure_of(body_error, during_body=True)
        verdict = (outcome, None, None, error, None, 0)
    elif status < 200 or status >= 300:
        verdict = (HTTP_ERROR, None, None, http_error_text(session, row, resp), None, 0)
    else:
        try:
            prediction = read()
            correct, label, value, judge_us = session.grade(prediction, row.expected)
        except _TRANSPORT_ERRORS as exc:  # a stream broke, stalled or overflowed mid-answer
            outcome, error = failure_of(exc, during_body=True)
            verdict = (outcome, None, None, error, None, 0)
        except Exception as exc:  # an odd answer must never crash a run
            reason = (
                str(exc)
                if isinstance(exc, ResponseParseError)
                else (f"cannot read the answer ({type(exc).__name__}: {exc})")
            )
            label = UNPARSEABLE_LABEL if session.scorer.classification else None
            # an LLM judge that failed is the judge's cause ("judge: …"), not the target's
            error = reason if getattr(exc, "cause", None) else f"unparseable: {reason}"
            verdict = (UNPARSEABLE, label, None, error[:200], None, 0)
        else:
            resp.success()
            got = label if label is not None else str(prediction)[:_GOT_LIMIT]
            return (CORRECT if correct else INCORRECT), label, got, None, value, judge_us
    # Locust groups failures by their text: without the error body's excerpt (it may hold request
    # ids), its failures table stays one row per cause and route.
    resp.failure(verdict[3].partition(" → ")[0])  # type: ignore[union-attr]
    return verdict


def http_error_text(session: RunSession, row: PreparedRow, resp: Any) -> str:
    """``HTTP 404: POST /v1/chat/completions → {"detail":"Not Found"}``: the status (the cause,
    before the colon), the route and the start of the server's error body, with URL credentials,
    secret query values and the values of the request's secret headers masked."""
    req = row.request
    text = f"HTTP {resp.status_code}: {req.method} {redact_text(req.path)}"
    excerpt = _error_excerpt(resp, row.request.stream)
    if excerpt:
        for name, value in session.headers.items():
            if value and len(value) >= 6 and looks_secret(name):
                excerpt = excerpt.replace(value, "***")
                for part in value.split():  # "Bearer sk-…": the key alone, too
                    if len(part) >= 6:
                        excerpt = excerpt.replace(part, "***")
        text += " → " + redact_text(excerpt)
    return text


def _error_excerpt(resp: Any, stream: bool) -> str:
    """The first bytes of an error answer, on one line; "" when there are none or they cannot
    be read (an error body never fails a request twice)."""
    try:
        raw = resp._response.read(_ERROR_EXCERPT) if stream else (resp.content or b"")
    except Exception:  # noqa: BLE001 - the status is what matters; the body is a bonus
        return ""
    text = bytes(raw[:_ERROR_EXCERPT]).decode("utf-8", "replace")
    return " ".join(text.split())[:_ERROR_EXCERPT]


def _body(resp: Any) -> bytes:
    body = resp.content or b""
    if len(body) > MAX_BODY_BYTES:
        raise AnswerTooLarge(f"the answer exceeded {MAX_BODY_BYTES:,} bytes")
    return body


class ValidationUser(FastHttpUser):
    """Replays rows of the scenario's dataset. Subclass it (non-abstract) in a locustfile."""

    abstract = True
    session: RunSession

    def on_start(self) -> None:
        self.session = self.environment.stagecheck  # type: ignore[attr-defined]

    @task
    def replay(self) -> None:
        session = self.session
        due_stage = session.stage_index
        if session.arrivals is not None:  # open loop: wait for the next due time
            due = session.arrivals.next_due()
            due_stage = session.arrivals.stage  # read now: other users take the next ones
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
                    session.arrivals.give_back(due, due_stage)
                    raise
                if self._state == LOCUST_STATE_STOPPING:
                    session.arrivals.give_back(due, due_stage)
                    raise StopUser()
                self._state = LOCUST_STATE_RUNNING
        row = session.feeder.next_row()  # type: ignore[union-attr]
        if row is None:  # exact pass: every row handed out
            raise StopUser()
        if session.arrivals is not None:
            # Latency counts from the due time: waiting for a free user is part of it
            # (no coordinated omission).
            now_ns = time.perf_counter_ns()
            t0, started, lag_us = due, time.time() - (now_ns - due) / 1e9, (now_ns - due) // 1000
        else:
            t0, started, lag_us = time.perf_counter_ns(), time.time(), 0
        # A request belongs to the stage it was sent in. It stays pending until recorded: if
        # this greenlet is killed mid-request, the run still accounts for it (RunSession).
        # Open loop, staged: the stage its due time falls in (the schedule knows its stages).
        stage = due_stage if session.plan.rate_stages else session.stage_index
        sent: Sent = (row, stage, started, t0, lag_us)
        session.pending[id(self)] = sent
        timer = deadline(session.loaded.scenario.endpoint.timeout)
        try:
            if row.request.stream:
                self._send_stream(session, sent, timer)
            else:
                self._send(session, sent, timer)
        except RequestTimeout as exc:
            # The deadline struck outside the client's own error handling (between its steps):
            # still one request, with its outcome.
            latency_us = (time.perf_counter_ns() - t0) // 1000
            outcome, error = failure_of(exc)
            self._record(session, row, sent[1], started, latency_us, lag_us,
                         (outcome, None, None, error, None, 0))  # fmt: skip
        finally:
            timer.close()
        del session.pending[id(self)]

    def _send(self, session: RunSession, sent: Sent, timer: gevent.Timeout) -> None:
        row, stage, started, t0, lag_us = sent
        req = row.request
        with self.client.request(
            req.method,
            req.path,
            data=req.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=session.headers,
            name=session.request_name,
            catch_response=True,
        ) as resp:
            timer.close()  # the whole answer is in (or failed): the deadline no longer applies
            latency_us = (time.perf_counter_ns() - t0) // 1000
            verdict = _judge(session, row, resp, lambda: session.adapter.parse(_body(resp)))
        self._record(session, row, stage, started, latency_us, lag_us, verdict)

    def _send_stream(self, session: RunSession, sent: Sent, timer: gevent.Timeout) -> None:
        row, stage, started, t0, lag_us = sent
        req = row.request
        adapter = session.adapter
        token_times: list[int] = []  # perf_counter_ns of each text delta
        usage: list[int] = []  # the server's output token count, when the stream reports it

        def read() -> Any:
            pieces: list[str] = []
            # each event as it arrives (geventhttpclient response), size-capped
            for line in sse_lines(resp._response):
                piece = adapter.parse_stream_line(line)
                if piece is STREAM_DONE:
                    timer.close()
                    return adapter.finish_stream("".join(pieces))
                if piece.__class__ is StreamUsage:
                    usage.append(piece.output_tokens)  # type: ignore[union-attr]
                elif piece:
                    token_times.append(time.perf_counter_ns())
                    pieces.append(piece)  # type: ignore[arg-type]
            raise AnswerCut("the stream ended before its end marker ([DONE])")

        with self.client.request(
            req.method,
            req.path,
            data=req.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=session.headers,
            name=session.request_name,
            catch_response=True,
            stream=True,
        ) as resp:
            verdict = _judge(session, row, resp, read)
            timer.close()
            # an LLM judge grades after the last token: its time is not the target's
            latency_us = (time.perf_counter_ns() - t0) // 1000 - verdict[5]
            # FastHttpUser reports time to headers for streams: report the whole answer.
            resp.request_meta["response_time"] = latency_us / 1000.0
        self._record(session, row, stage, started, latency_us, lag_us, verdict)
        if token_times:
            gaps = [(b - a) // 1000 for a, b in zip(token_times, token_times[1:], strict=False)]
            session.recorder.record_stream(  # type: ignore[union-attr]
                (token_times[0] - t0) // 1000,
                gaps,
                stage,
                output_tokens=usage[-1] if usage else None,
                linked=True,
            )

    @staticmethod
    def _record(
        session: RunSession,
        row: PreparedRow,
        stage: int,
        started: float,
        latency_us: int,
        lag_us: int,
        verdict: Verdict,
    ) -> None:
        outcome, predicted, got, error, score, judge_us = verdict
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
