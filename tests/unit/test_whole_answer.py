"""An answer that came whole in one read (stagecheck.locust.answer) reads as llhttp reads it:
status, reason, headers (names, values, duplicates, order), body, keep-alive; and whatever it
does not take for certain (a 1xx/204/304 status, HTTP/1.0, chunked or close-delimited bodies,
odd bytes in the head, a body short or long of its length, a HEAD request) is left to llhttp."""

from __future__ import annotations

import pytest
from geventhttpclient.response import HTTPResponse

from stagecheck.locust.answer import WholeAnswer, whole_answer

BODY = b'{"choices":[{"message":{"role":"assistant","content":"billing"}}]}'


def _answer(head: bytes, body: bytes = BODY) -> bytes:
    return head.replace(b"LEN", b"%d" % len(body)) + b"\r\n\r\n" + body


TAKEN = [
    _answer(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 08 Dec 2026 01:41:43 GMT\r\n"
            b"Content-Type: application/json\r\nContent-Length: LEN\r\nConnection: keep-alive"),
    _answer(b"HTTP/1.1 200 OK\r\ncontent-length: LEN\r\nCONNECTION: Close"),
    _answer(b"HTTP/1.1 200 \r\nContent-Length: LEN"),  # an empty reason
    _answer(b"HTTP/1.1 201 Created fine\r\nX-A: 1\r\nx-a:  2 \r\nX-E:\r\nX-T: a\tb\r\n"
            b"Content-Length: LEN"),  # duplicates, blanks around values, an empty one, a tab
    _answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: LEN", b'{"detail":"Not Found"}'),
    _answer(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0", b""),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: LEN", b"\x1f\x8b"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 02", b"{}"),  # a leading zero
]

LEFT = [
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN")[:-1],  # a body still to come
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN") + b"HTTP/1.1",  # bytes beyond it
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3"),  # (same, told shorter)
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN")[:40],  # the head still to come
    _answer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"),  # ends with the connection
    _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", b"2\r\n{}\r\n0\r\n\r\n"),
    _answer(b"HTTP/1.1 100 Continue", b"") + _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN"),
    _answer(b"HTTP/1.1 204 No Content\r\nContent-Length: 0", b""),
    _answer(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0", b""),
    _answer(b"HTTP/1.0 200 OK\r\nContent-Length: LEN"),
    _answer(b"HTTP/1.1 200\r\nContent-Length: LEN"),  # no space after the status
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nContent-Length: LEN"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN \r\n"),  # a trailing blank
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: +67"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nConnection: keep-alive, Upgrade"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nProxy-Connection: close"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nX-L: caf\xc3\xa9"),  # not ASCII
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nX: a\x7fb"),
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\nX : ab"),  # llhttp refuses it
    _answer(b"HTTP/1.1 200 OK\r\nContent-Length: LEN\r\n folded"),
    _answer(b"HTTP/1.1 200 OK\nContent-Length: LEN"),  # bare LF
    b"",
]


def _llhttp(data: bytes, method: str = "POST") -> HTTPResponse:
    parser = HTTPResponse(method)
    parser.feed(data)
    return parser


def _reading(r: HTTPResponse) -> dict[str, object]:
    """What a reader of the response can see."""
    return {
        "status": (r.status_code, r.get_code(), r.status_message, r.version),
        "state": (r.headers_complete, r.message_begun, r.message_complete, r.parser_failed()),
        "headers": list(r.items()),
        "lookups": [(k, r.get(k), r.get(k, "-"), k in r) for k in
                    ("content-length", "Content-Type", "x-a", "CONTENT-ENCODING", "nope")],
        "length": (r.content_length, r.length, r.get_remaining_content_length()),
        "body": bytes(r._body_buffer),
        "close": (r.should_keep_alive(), r.should_close()),
        "index": (r._header_position, dict(r.info())),
        "repr": repr(r).split(" ", 1)[1],
    }


@pytest.mark.parametrize("data", TAKEN)
def test_a_whole_answer_reads_as_llhttp_reads_it(data):
    for _ in range(2):  # its head read, then known
        answer = whole_answer(data, "POST")
        assert isinstance(answer, WholeAnswer) and isinstance(answer, HTTPResponse)
        assert _reading(answer) == _reading(_llhttp(data))


def test_a_known_head_with_a_body_short_or_beyond_its_length_is_left_to_llhttp():
    data = TAKEN[0]
    assert whole_answer(data, "POST") is not None
    assert whole_answer(data[:-1], "POST") is None
    assert whole_answer(data + b"H", "POST") is None
    assert whole_answer(data, "POST") is not None


def test_its_headers_are_indexed_only_when_asked_for_and_the_same_after():
    answer = whole_answer(TAKEN[0], "POST")
    assert answer is not None
    assert answer.get("content-encoding") is None and answer._index is None
    assert answer.get("Server") == "nginx/1.22.1" and answer._index is not None
    assert answer.get("content-encoding", "none") == "none"
    assert answer["content-length"] == str(len(BODY))


@pytest.mark.parametrize("data", LEFT)
def test_what_it_does_not_take_for_certain_is_left_to_llhttp(data):
    assert whole_answer(data, "POST") is None


def test_an_answer_to_a_head_request_is_left_to_llhttp():
    assert whole_answer(TAKEN[0], "HEAD") is None
