"""Pre-flight check of the staging endpoint, before any load is sent."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from stagecheck.errors import InputError, RunError
from stagecheck.protocols import ADAPTERS
from stagecheck.redact import redact_url

if TYPE_CHECKING:
    from stagecheck.scenario import EndpointConfig

__all__ = [
    "check_reachable",
    "check_tls",
    "tls_problem",
    "check_endpoint",
    "check_health",
    "host_and_port",
    "status_hint",
    "url_path_warning",
]

_HINTS = {
    401: "authentication failed: check the API key header",
    403: "permission denied: the key is not allowed this model or route",
    404: "route not found: check endpoint.url and endpoint.options.path",
}


def status_hint(status: int) -> str | None:
    """What an HTTP 401, 403 or 404 usually means for a staging endpoint (None for others)."""
    return _HINTS.get(status)


def url_path_warning(endpoint: EndpointConfig) -> str | None:
    """A warning when ``url`` holds a path (``https://host/v1/inference``): the protocol
    appends its own route (``endpoint.options.path``) to it, so the path is sent twice or
    lands on the wrong route — the usual cause of an all-404 run."""
    try:
        path = urlsplit(endpoint.url).path
    except ValueError:
        return None
    adapter = ADAPTERS.get(endpoint.protocol)
    if path in ("", "/") or adapter is None or not adapter.appends_path:
        return None
    route = str(endpoint.options.get("path", "")) or "its own route"
    return (
        f"endpoint.url holds a path ({redact_url(path)}): requests go to {redact_url(path)}"
        f"{route if route.startswith('/') else ''}; put the whole route in "
        "endpoint.options.path and keep only scheme://host:port in endpoint.url"
    )


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


_TLS_OFF = "set endpoint.verify_tls: false (--set endpoint.verify_tls=false) to skip the check"


def tls_problem(exc: BaseException) -> str | None:
    """What a TLS failure means, with what to do about it (None: not a TLS failure)."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"its TLS certificate cannot be verified ({exc.verify_message or exc.reason}): "
                f"trust its CA (SSL_CERT_FILE=ca.pem), or {_TLS_OFF}")  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc}): does it serve HTTPS there?"
    return None


def check_tls(endpoint: EndpointConfig) -> None:
    """An ``https`` endpoint completes a TLS handshake, its certificate verified as the run
    verifies it (unless ``endpoint.verify_tls: false``): :class:`RunError` (exit code 3) with
    one line and the way out otherwise. Without it a run with an unverifiable certificate sends
    its whole plan and fails every request."""
    import ssl

    if urlsplit(endpoint.url).scheme != "https":
        return
    host, port = host_and_port(endpoint.url)
    context = ssl.create_default_context()  # as the run's connections (locust/connection.py)
    if not endpoint.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    shown = redact_url(endpoint.url)
    try:
        with socket.create_connection((host, port), timeout=endpoint.connect_timeout) as sock:
            sock.settimeout(endpoint.timeout)
            with context.wrap_socket(sock, server_hostname=host):
                pass
    except (OSError, ValueError) as exc:
        reason = tls_problem(exc) or getattr(exc, "strerror", None) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no TLS handshake within {endpoint.timeout:g}s"
        raise RunError(f"endpoint {shown}: {reason}") from None


def check_health(endpoint: EndpointConfig) -> None:
    """The preset's health route (``GET /v1/inference/health``) must answer 2xx within the
    timeout; :class:`RunError` (exit code 3) with one line otherwise. Nothing to do without a
    preset or when it has no health route."""
    from stagecheck.protocols.presets import get_preset

    if endpoint.preset is None:
        return
    preset = get_preset(endpoint.preset)
    if preset.health_path is None:
        return
    # http.client, not urllib3: this runs before Locust's gevent patching, which urllib3's
    # ssl imports break (a RecursionError when Locust builds its SSL context).
    import http.client

    url = endpoint.url + preset.health_path
    shown = f"GET {redact_url(url)}"
    parts = urlsplit(url)
    host, port = host_and_port(endpoint.url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        import ssl

        context = ssl.create_default_context()
        if not endpoint.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=endpoint.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=endpoint.timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", path, headers=dict(endpoint.headers))
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        reason = tls_problem(exc) or getattr(exc, "strerror", None) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {endpoint.timeout:g}s"
        raise RunError(f"health check {shown} failed ({preset.name}): {reason}") from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        hint = status_hint(status)
        raise RunError(
            f"health check {shown} answered HTTP {status} ({preset.name})"
            + (f": {hint}" if hint else ": the platform is not ready")
        )


def check_endpoint(endpoint: EndpointConfig) -> None:
    """The pre-flight of a run: the endpoint accepts connections, an ``https`` one completes a
    TLS handshake (its certificate verified) and, with a preset, its health route answers.
    :class:`RunError` (exit code 3) with one line otherwise."""
    check_reachable(endpoint.url, endpoint.connect_timeout)
    check_tls(endpoint)
    check_health(endpoint)
