"""The Locust user that replays the validation dataset: the per-request hot path.

Per request: take a row (its request bytes were built at load time), send, time in integer
microseconds, parse, score, one HDR record and a few counter increments. Locust's own ``request``
event still fires (through FastHttpUser), so Locust's UI and CSV stay meaningful: transport
errors and unparseable answers are Locust failures; a wrong answer is not (it is a model error,
counted by stagecheck).
"""

from __future__ import annotations

from locust import FastHttpUser, task
from locust.exception import StopUser

import time
from typing import Any

from stagecheck.datasets import PreparedRow
from stagecheck.locust.session import RunSession
from stagecheck.protocols import STREAM_DONE, ResponseParseError
from stagecheck.recording import (
    CONNECTION_ERROR,
    CORRECT,
    HTTP_ERROR,
    INCORRECT,
    TIMEOUT,
    UNPARSEABLE,
)
from stagecheck.scoring import UNPARSEABLE_LABEL

__all__ = ["ValidationUser", "classify_error"]

_GOT_LIMIT = 300  # characters of an answer kept for error analysis


def classify_error(exc: BaseException) -> int:
    """Transport failure → outcome code (timeout or connection error)."""
    if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
        return TIMEOUT
    return CONNECTION_ERROR


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:200]


def _unparseable_text(exc: Exception) -> str:
    if isinstance(exc, ResponseParseError):
        return f"unparseable: {exc}"[:200]
    return f"unparseable: cannot read the answer ({_error_text(exc)})"[:200]


class ValidationUser(FastHttpUser):
    """Replays rows of the scenario's dataset. Subclass it (non-abstract) in a locustfile."""

    abstract = True
    session: RunSession

    def on_start(self) -> None:
        self.session = self.environment.stagecheck  # type: ignore[attr-defined]

    @task
    def replay(self) -> None:
        session = self.session
        row = session.feeder.next_row()  # type: ignore[union-attr]
        if row is None:  # exact pass: every row handed out
            raise StopUser()
        # A request belongs to the stage it was sent in. It stays pending until recorded: if
        # this greenlet is killed mid-request, the run still accounts for it (RunSession).
        sent = (row, session.stage_index, time.time(), time.perf_counter_ns())
        session.pending[id(self)] = sent
        if row.request.stream:
            self._send_stream(session, *sent)
        else:
            self._send(session, *sent)
        del session.pending[id(self)]

    def _score(
        self, session: RunSession, row: PreparedRow, prediction: Any
    ) -> tuple[int, str | None, str | None]:
        """(outcome, predicted label or None, answer text)."""
        correct, label = session.scorer.score(prediction, row.expected)
        got = label if label is not None else str(prediction)[:_GOT_LIMIT]
        return (CORRECT if correct else INCORRECT), label, got

    def _send(
        self, session: RunSession, row: PreparedRow, stage: int, started: float, t0: int
    ) -> None:
        req = row.request
        predicted: str | None = None
        got: str | None = None
        error: str | None = None
        with self.client.request(
            req.method,
            req.path,
            data=req.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=session.headers,
            name=session.request_name,
            catch_response=True,
        ) as resp:
            latency_us = (time.perf_counter_ns() - t0) // 1000
            status = resp.status_code
            if not status:
                exc = resp.error or ConnectionError("no response")
                outcome, error = classify_error(exc), _error_text(exc)
                resp.failure(error)
            elif status < 200 or status >= 300:
                outcome, error = HTTP_ERROR, f"HTTP {status}"
                resp.failure(error)
            else:
                try:
                    outcome, predicted, got = self._score(
                        session, row, session.adapter.parse(resp.content or b"")
                    )
                    resp.success()
                except Exception as exc:  # an odd answer must never crash a run
                    outcome, error = UNPARSEABLE, _unparseable_text(exc)
                    predicted = UNPARSEABLE_LABEL if session.scorer.classification else None
                    resp.failure(error)
        session.recorder.record(  # type: ignore[union-attr]
            row_index=row.index,
            slices=row.slices,
            outcome=outcome,
            latency_us=latency_us,
            started=started,
            stage=stage,
            expected=row.expected_text if predicted is not None else None,
            predicted=predicted,
            got=got,
            error=error,
        )

    def _send_stream(
        self, session: RunSession, row: PreparedRow, stage: int, started: float, t0: int
    ) -> None:
        req = row.request
        adapter = session.adapter
        predicted: str | None = None
        got: str | None = None
        error: str | None = None
        ttft_us: int | None = None
        gaps: list[int] = []
        with self.client.request(
            req.method,
            req.path,
            data=req.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=session.headers,
            name=session.request_name,
            catch_response=True,
            stream=True,
        ) as resp:
            status = resp.status_code
            if not status:
                exc = resp.error or ConnectionError("no response")
                outcome, error = classify_error(exc), _error_text(exc)
                resp.failure(error)
            elif status < 200 or status >= 300:
                outcome, error = HTTP_ERROR, f"HTTP {status}"
                resp.failure(error)
            else:
                pieces: list[str] = []
                last = 0
                try:
                    raw = resp._response  # geventhttpclient response: readline sees each event
                    while True:
                        line = raw.readline(b"\n")  # SSE lines end in \n, not \r\n
                        if not line:
                            break
                        piece = adapter.parse_stream_line(line.rstrip(b"\r\n"))
                        if piece is STREAM_DONE:
                            break
                        if piece:
                            now = time.perf_counter_ns()
                            if ttft_us is None:
                                ttft_us = (now - t0) // 1000
                            else:
                                gaps.append((now - last) // 1000)
                            last = now
                            pieces.append(piece)  # type: ignore[arg-type]
                    outcome, predicted, got = self._score(
                        session, row, adapter.finish_stream("".join(pieces))
                    )
                    resp.success()
                except OSError as exc:  # the stream broke or timed out mid-answer
                    outcome, error = classify_error(exc), _error_text(exc)
                    resp.failure(error)
                except Exception as exc:  # an odd answer must never crash a run
                    outcome, error = UNPARSEABLE, _unparseable_text(exc)
                    predicted = UNPARSEABLE_LABEL if session.scorer.classification else None
                    resp.failure(error)
            latency_us = (time.perf_counter_ns() - t0) // 1000
            # FastHttpUser reports time to headers for streams: report the whole answer.
            resp.request_meta["response_time"] = latency_us / 1000.0
        recorder = session.recorder
        recorder.record(  # type: ignore[union-attr]
            row_index=row.index,
            slices=row.slices,
            outcome=outcome,
            latency_us=latency_us,
            started=started,
            stage=stage,
            expected=row.expected_text if predicted is not None else None,
            predicted=predicted,
            got=got,
            error=error,
        )
        if ttft_us is not None:
            recorder.record_stream(ttft_us, gaps, stage)  # type: ignore[union-attr]
