"""An answer that came whole in one read, parsed without llhttp's per-header callbacks.

geventhttpclient's parser (llhttp) calls back into Python for every piece of the head (the
status, each header's name and value, the body) and builds a ``Headers`` index: ~16 µs of a
~70 µs request on the lean path. Most answers to a run's requests arrive in one read, as a
plain HTTP/1.1 head with a ``Content-Length`` and exactly that many bytes of body; such an
answer is read here: its head with one regular expression, once (an endpoint's heads repeat
but for their Date), its headers indexed only if someone asks for them (~1.5 µs an answer).
Anything else (a 1xx, 204 or 304 status, HTTP/1.0, chunked or close-delimited bodies, an
``Upgrade``, a ``Connection`` header other than ``keep-alive`` or ``close``, a byte outside
printable ASCII in the head, an incomplete or over-long body, a HEAD request) is left to
llhttp, which then reads the same bytes as before. What this accepts, llhttp accepts too and
reads the same way (tests/unit/test_whole_answer.py checks every attribute against it).
"""

from __future__ import annotations

import re
from typing import Any

from geventhttpclient._parser import HTTPParseError, HTTPResponseParser
from geventhttpclient.header import Headers
from geventhttpclient.response import HTTPResponse

__all__ = ["WholeAnswer", "whole_answer"]

# status line, header lines (token ":" printable ASCII or tab: what llhttp takes without doubt),
# blank line. A value cannot hold a CR, so the match is linear.
_HEAD = re.compile(
    rb"HTTP/1\.1 ([2-5][0-9][0-9]) ([ -~]*)"
    rb"((?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t -~]*)*)\r\n\r\n"
)
_NO_BODY = frozenset((204, 304))  # no body whatever their head says: llhttp's to judge
# headers whose meaning llhttp acts on beyond Content-Length and Connection: left to it
_LEFT_TO_LLHTTP = frozenset(("transfer-encoding", "upgrade", "proxy-connection"))


class WholeAnswer(HTTPResponse):
    """A complete answer read by :func:`whole_answer`: a geventhttpclient ``HTTPResponse`` to
    whoever reads it (status, reason, headers, body, keep-alive), never fed."""

    # what llhttp's callbacks leave on a complete answer
    headers_complete = True
    message_begun = True
    message_complete = True
    _message_ended_in_skip_body = False
    _trailing_data_dropped = False
    _header_state = 3  # HEADER_STATE_DONE
    _current_header_field = None
    _current_header_value = None

    def __init__(self, method: str, code: int, reason: str,
                 fields: tuple[tuple[str, str], ...], keys: tuple[str, ...], body: bytes,
                 keep_alive: bool) -> None:  # fmt: skip
        HTTPResponseParser.__init__(self)  # a valid (unused) parser under the C methods
        self.method = method
        self.status_message = reason
        self._body_buffer = body  # type: ignore[assignment]  # bytes: it is never fed
        self._code = code
        self._fields = fields  # (name, value) as llhttp gives them, in order
        self._keys = keys  # their names in lower case
        self._keep_alive = keep_alive
        self._index: Headers | None = None

    @property
    def _headers_index(self) -> Headers:  # type: ignore[override]
        """The ``Headers`` llhttp's callbacks would have built, built when first asked for."""
        index = self._index
        if index is None:
            index = self._index = Headers()
            for name, value in self._fields:
                index.add(name, value)
        return index

    @property
    def _header_position(self) -> int:  # type: ignore[override]
        return len(self._fields) + 1

    def get(self, key: str, default: str | None = None) -> str | list[str] | None:
        if self._index is None and key.lower() not in self._keys:  # the common question
            return default
        return super().get(key, default)

    def feed(self, data: str | bytes) -> None:
        raise HTTPParseError("the answer was already complete", 0)

    def get_code(self) -> int:
        return self._code

    def get_http_version(self) -> str:
        return "HTTP/1.1"

    def should_keep_alive(self) -> bool:
        return self._keep_alive

    def should_close(self) -> bool:
        return not self._keep_alive

    def parser_failed(self) -> bool:
        return False

    def get_remaining_content_length(self) -> int:
        return 0


def whole_answer(data: bytes, method: str) -> WholeAnswer | None:
    """``data`` read as one whole HTTP/1.1 answer to a ``method`` request, or None when llhttp
    must read it (see the module's docstring)."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or method == "HEAD":
        return None
    start = end + 4
    head = data[:start]
    # An endpoint's heads differ by their Date at most, once a second: each is read once.
    read = _HEADS.get(head, _UNREAD)
    if read is _UNREAD:
        if len(_HEADS) >= _HEADS_KEPT:
            _HEADS.clear()
        read = _HEADS[head] = _read_head(head)
    if read is None or len(data) - start != read[4]:  # a body short of its length, or beyond
        return None
    code, reason, fields, keys, _, keep_alive = read
    return WholeAnswer(method, code, reason, fields, keys, data[start:], keep_alive)


_Head = tuple[int, str, tuple[tuple[str, str], ...], tuple[str, ...], int, bool]
_UNREAD: Any = object()
_HEADS: dict[bytes, _Head | None] = {}  # a head's bytes → what it says (None: llhttp's)
_HEADS_KEPT = 256


def _read_head(head: bytes) -> _Head | None:
    """(status, reason, fields, their names in lower case, body length, keep-alive) of a head
    (its blank line included), or None when llhttp must read it."""
    m = _HEAD.fullmatch(head)
    if m is None:
        return None
    code = int(m.group(1))
    if code in _NO_BODY:
        return None
    length = -1
    keep_alive = True
    fields: list[tuple[str, str]] = []
    keys: list[str] = []
    for line in m.group(3).decode("ascii").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        value = value.lstrip(" \t")  # llhttp drops the value's leading blanks, not its trailing
        key = name.lower()
        if key == "content-length":
            if length >= 0 or not value.isdigit():  # twice, or "2 ", "+2": llhttp's to judge
                return None
            length = int(value)
        elif key == "connection":
            token = value.lower()
            if token == "close":
                keep_alive = False
            elif token != "keep-alive":
                return None
        elif key in _LEFT_TO_LLHTTP:
            return None
        fields.append((name, value))
        keys.append(key)
    if length < 0:  # a body that ends with the connection
        return None
    return code, m.group(2).decode("ascii"), tuple(fields), tuple(keys), length, keep_alive
