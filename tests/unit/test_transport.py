"""Failure causes and the bounded SSE line reader (plain Python over geventhttpclient's
response object, exercised here on a small stand-in with the same attributes)."""

from __future__ import annotations

import gevent

import pytest
from geventhttpclient.response import HTTPConnectionClosed
from geventhttpclient.useragent import RetriesExceeded

from stagecheck.locust.transport import (
    AnswerCut,
    AnswerTooLarge,
    RequestTimeout,
    failure_of,
    sse_lines,
)
from stagecheck.recording import CONNECTION_ERROR, TIMEOUT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("exc", "during_body", "outcome", "cause"),
    [
        (RequestTimeout("no complete answer within 1s"), False, TIMEOUT, "timeout"),
        (TimeoutError("timed out"), True, TIMEOUT, "timeout"),
        (gevent.Timeout(1), False, TIMEOUT, "timeout"),
        (ConnectionRefusedError(111, "refused"), False, CONNECTION_ERROR, "refused"),
        (ConnectionResetError(104, "reset"), False, CONNECTION_ERROR, "reset"),
        (HTTPConnectionClosed("connection closed."), False, CONNECTION_ERROR, "reset"),
        (ConnectionResetError(104, "reset"), True, CONNECTION_ERROR, "cut"),
        (AnswerCut("the stream ended before [DONE]"), False, CONNECTION_ERROR, "cut"),
        (AnswerTooLarge("a stream line exceeded 8 bytes"), True, CONNECTION_ERROR, "oversize"),
        (OSError("no route"), False, CONNECTION_ERROR, "connection"),
    ],
)
def test_every_failure_has_an_outcome_and_a_cause(exc, during_body, outcome, cause):
    got_outcome, text = failure_of(exc, during_body=during_body)
    assert got_outcome == outcome
    assert text.partition(":")[0] == cause


def test_a_wrapped_error_is_classified_by_what_it_wraps_without_its_url():
    exc = RetriesExceeded("http://user:s3cret@host/v1", 0, original=RequestTimeout("slow"))
    outcome, text = failure_of(exc)
    assert outcome == TIMEOUT and "s3cret" not in text and "host" not in text


class _Raw:
    """What sse_lines reads of a geventhttpclient response."""

    block_size = 4

    def __init__(self, chunks: list[bytes], complete_at_end: bool = True) -> None:
        self._body_buffer = bytearray()
        self._chunks = list(chunks)
        self._complete_at_end = complete_at_end
        self.message_complete = False
        self._sock = self
        self.released = False

    def recv(self, _size: int) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""

    def feed(self, data: bytes) -> None:
        self._body_buffer += data
        if not self._chunks and self._complete_at_end:
            self.message_complete = True

    def release(self) -> None:
        self.released = True


def test_lines_arrive_whole_whatever_the_chunking():
    raw = _Raw([b"data: a\r", b"\n\nda", b"ta: b\n", b"tail"])
    assert list(sse_lines(raw)) == [b"data: a", b"", b"data: b", b"tail"]


def test_a_line_over_its_cap_is_oversize():
    raw = _Raw([b"x" * 6] * 5)
    with pytest.raises(AnswerTooLarge):
        list(sse_lines(raw, max_line=16))


def test_a_stream_over_its_cap_is_oversize():
    raw = _Raw([b"ab\n"] * 10)
    with pytest.raises(AnswerTooLarge):
        list(sse_lines(raw, max_total=12))


def test_a_connection_closed_before_the_end_is_a_cut():
    raw = _Raw([b"data: a\n", b"data: b"], complete_at_end=False)
    with pytest.raises(AnswerCut):
        list(sse_lines(raw))
    assert raw.released


def test_an_http_error_names_the_route_and_the_servers_words_without_secrets():
    from types import SimpleNamespace

    from stagecheck.locust.user import http_error_text

    key = "sk-live-0123456789abcdef"
    session = SimpleNamespace(
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
    )
    request = SimpleNamespace(
        method="POST", path="/v1/chat/completions?api_key=hunter22", stream=False
    )
    row = SimpleNamespace(request=request)
    body = f'{{"error": "invalid key {key}",\n "hint": "check Bearer {key}"}}' + "x" * 500
    text = http_error_text(session, row, 401, body.encode())  # type: ignore[arg-type]
    assert text.startswith("HTTP 401: POST /v1/chat/completions?api_key=")
    assert text.partition(":")[0] == "HTTP 401"  # the cause stays the status alone
    assert key not in text and "hunter22" not in text
    assert '→ {"error": "invalid key ***", "hint": "check ***"}' in text
    assert "\n" not in text and len(text) < 260
    assert http_error_text(session, row, 404, b"") == (  # type: ignore[arg-type]
        "HTTP 404: POST /v1/chat/completions?api_key=<redacted>"
    )


def test_a_deadline_started_again_still_ends_the_request():
    """The stream's deadline timer is started again for the next request when it was closed
    without expiring; one that expired is not reused (its error was raised)."""
    import gevent

    from stagecheck.locust.transport import RequestTimeout, deadline

    timer = deadline(0.05)
    timer.cancel()
    again = deadline(0.05, timer)
    assert again is timer
    with pytest.raises(RequestTimeout):
        gevent.sleep(5)
    again.cancel()
    fresh = deadline(0.05, again)
    assert fresh is not again
    with pytest.raises(RequestTimeout):
        gevent.sleep(5)
    fresh.close()
