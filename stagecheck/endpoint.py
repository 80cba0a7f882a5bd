"""Pre-flight check of the staging endpoint, before any load is sent."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from stagecheck.errors import RunError

__all__ = ["check_reachable"]


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise :class:`RunError` (exit code 3) with one line when nothing accepts a TCP
    connection at the endpoint's host and port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g}s"
        raise RunError(f"endpoint {url} is unreachable: {reason}") from None
