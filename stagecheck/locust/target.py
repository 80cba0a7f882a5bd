"""Where a user's requests go: the endpoint's host, port and TLS, its addresses (looked up once
per process), and the bytes that precede each request's body (built once per path)."""

from __future__ import annotations

import gevent.socket
from gevent import ssl as gssl
from gevent.monkey import get_original

import re
import socket as _stdsocket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from stagecheck.redact import split_credentials
from stagecheck.version import __version__

__all__ = ["Target", "tls_context"]

_real_getaddrinfo = get_original("socket", "getaddrinfo")
# (host, port) → its addresses, for every user of the process: a thousand users spawned at once
# would otherwise each make a lookup.
_ADDRESSES: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FIELD_VALUE = re.compile(r"^[^\r\n\x00]*$")
_TLS: dict[bool, gssl.SSLContext] = {}  # verify? → context (loading the CA store takes ms)



def tls_context(verify: bool) -> gssl.SSLContext:
    ctx = _TLS.get(verify)
    if ctx is None:
        ctx = gssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = gssl.CERT_NONE
        _TLS[verify] = ctx
    return ctx


class Target:
    """Where a user's requests go and the bytes that precede each body: built once per user
    from Locust's host (credentials in it become the Basic ``Authorization`` header, as Locust
    does) and the run's headers."""

    def __init__(self, host: str, headers: Mapping[str, str], *, connect_timeout: float,
                 verify_tls: bool) -> None:  # fmt: skip
        plain, auth = split_credentials(host)
        parts = urlsplit(plain)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {plain}")
        self.base_url = plain.rstrip("/")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.verify_tls = verify_tls
        host_field = f"[{self.host}]" if ":" in self.host else self.host
        if parts.port is not None and self.port != (443 if self.tls else 80):
            host_field += f":{self.port}"
        fields: dict[str, tuple[str, str]] = {}  # lower name → (name, value)
        fields["host"] = ("Host", host_field)
        fields["user-agent"] = ("User-Agent", f"stagecheck/{__version__}")
        for name, value in headers.items():
            fields[name.lower()] = (name, value)
        if auth:  # Locust's rule: the URL's credentials win
            fields["authorization"] = ("Authorization", auth)
        fields.pop("content-length", None)
        fields.pop("transfer-encoding", None)
        for name, value in fields.values():
            if not _FIELD_NAME.match(name) or not _FIELD_VALUE.match(str(value)):
                raise ValueError(f"invalid HTTP header {name!r}")
        self._fields = "".join(f"{n}: {v}\r\n" for n, v in fields.values())
        self._heads: dict[tuple[str, str], bytes] = {}
        self._urls: dict[str, str] = {}
        self._addresses: list[tuple[Any, ...]] | None = None

    def head(self, method: str, path: str) -> bytes:
        """Request line and headers up to ``Content-Length: `` (the body's length follows)."""
        key = (method, path)
        head = self._heads.get(key)
        if head is None:
            head = (f"{method} {self.base_path}{path} HTTP/1.1\r\n{self._fields}"
                    "Content-Length: ").encode("latin-1")  # fmt: skip
            self._heads[key] = head
        return head

    def addresses(self) -> list[tuple[Any, ...]]:
        """The host's addresses, resolved once per process (gevent's resolver runs each lookup
        in a thread: ~10 ms for even ``127.0.0.1`` when 64 users connect at once, all of it in
        their first request's latency; an IP address is not looked up at all). Looked up again
        after a connect to them failed."""
        key = (self.host, self.port)
        found = _ADDRESSES.get(key)
        if found is None:
            if _numeric(self.host):
                found = _real_getaddrinfo(self.host, self.port, 0, _stdsocket.SOCK_STREAM, 0,
                                          _stdsocket.AI_NUMERICHOST)  # fmt: skip
            else:
                found = gevent.socket.getaddrinfo(self.host, self.port, 0, _stdsocket.SOCK_STREAM)
            _ADDRESSES[key] = found
        return found

    def forget_addresses(self) -> None:
        _ADDRESSES.pop((self.host, self.port), None)

    def url(self, path: str) -> str:
        """The request's URL, as Locust reports it (``url`` of the request event)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self.base_url + path
        return url

    def request_bytes(self, method: str, path: str, body: bytes) -> bytes:
        return self.head(method, path) + b"%d\r\n\r\n" % len(body) + body


def _numeric(host: str) -> bool:
    """Whether ``host`` is an IP address (no lookup needed)."""
    for family in (_stdsocket.AF_INET, _stdsocket.AF_INET6):
        try:
            _stdsocket.inet_pton(family, host)
            return True
        except OSError:
            pass
    return False
