"""Pre-flight check of the staging endpoint, before any load is sent."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from stagecheck.errors import InputError, RunError
from stagecheck.redact import redact_url

__all__ = ["check_reachable", "host_and_port"]


def host_and_port(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; :class:`InputError` (exit code 2) with one line, the
    URL redacted, when it has none or a malformed one (port out of range, not a number,
    broken IPv6 host)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InputError(f"endpoint {redact_url(url)}: not a usable URL ({exc})") from None
    if not host:
        raise InputError(f"endpoint {redact_url(url)}: the URL names no host")
    return host, port


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise :class:`RunError` (exit code 3) with one line when nothing accepts a TCP
    connection at the endpoint's host and port. Credentials and secret query values of the
    URL never appear in the message."""
    host, port = host_and_port(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:  # ValueError/UnicodeError: a host IDNA refuses
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g}s"
        raise RunError(f"endpoint {redact_url(url)} is unreachable: {reason}") from None
