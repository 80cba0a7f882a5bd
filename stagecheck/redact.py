"""Redaction of secrets in everything stagecheck writes: run folder, console, error texts.

One place decides what looks secret, so that a URL, a ``--set`` override and a scenario copy
are redacted the same way:

- credentials in a URL (``http://user:key@host``) are dropped;
- values of query parameters whose name looks secret (``?api_key=…``, ``&sig=…``) are masked;
- values of keys whose name looks secret (``Authorization``, ``api_key``, ``password``) are
  masked, unless they are only ``${VAR}`` references (written unexpanded, so nothing leaks);
- ``--set endpoint.headers.X=…`` overrides are masked whatever the header's name.

Every function here is total: it never raises, whatever text it is given (a broken URL is
redacted by pattern instead of being parsed).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "looks_secret",
    "redact_url",
    "split_credentials",
    "redact_text",
    "redact_override",
    "redact_mapping",
]

MASK = "<redacted>"

# Name parts that mark a secret; "key" alone too (?key=, X-Api-Key), but see _NOT_SECRET.
_SECRET_PARTS = frozenset(
    {
        "key", "apikey", "token", "secret", "password", "passwd", "pwd", "pass", "auth",
        "authorization", "signature", "sig", "credential", "credentials", "cookie",
        "session", "sessionid", "bearer", "jwt", "private", "accesskey", "clientsecret",
    }
)  # fmt: skip
# Scenario keys that end in "key" but hold no secret.
_NOT_SECRET = frozenset({"prediction_key"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "apikey", "key"})

# scheme://userinfo@ — userinfo has no '/', '?', '#' or whitespace.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#@\s]*@")
# name=value after '?', '&' or ';' (a query string, in a URL or in running text).
_PARAM = re.compile(r"([?&;])([^=&;#?\s]+)=([^&;#\s'\"<>]*)")


def looks_secret(name: object) -> bool:
    """Whether a key, header or query-parameter name looks like it holds a secret."""
    text = str(name)
    if text.lower() in _NOT_SECRET:
        return False
    compact = _SPLIT.sub("", text).lower()
    if compact in _SECRET_PARTS or compact.endswith(("apikey", "token", "secret", "password")):
        return True
    parts = _SPLIT.split(_CAMEL.sub("_", text))
    return any(p.lower() in _SECRET_PARTS for p in parts if p)


def _mask_param(m: re.Match[str]) -> str:
    sep, name, value = m.group(1), m.group(2), m.group(3)
    if value and looks_secret(name) and not _only_env_refs(value):
        return f"{sep}{name}={MASK}"
    return m.group(0)


def redact_text(text: str) -> str:
    """A text with URL credentials dropped and secret query values masked, wherever they
    appear in it (error messages, paths, whole URLs)."""
    if not isinstance(text, str):
        return text
    if "@" in text:
        text = _USERINFO.sub(r"\1", text)
    if "=" in text:
        text = _PARAM.sub(_mask_param, text)
    return text


def redact_url(url: str | None) -> str | None:
    """A URL (or a path with a query) safe to show: no userinfo, secret query values masked."""
    return None if url is None else redact_text(url)


def _only_env_refs(value: str) -> bool:
    """``${VAR}``, ``Bearer ${VAR}``: written unexpanded, so nothing secret is in the text."""
    parts = value.split()
    if not parts or not _ENV_REF.search(value):
        return False
    return all(_ENV_REF.fullmatch(p) or p.lower() in _AUTH_SCHEMES for p in parts)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str) and _only_env_refs(value):
        return value
    if value is None or value == "" or isinstance(value, bool):
        return value
    return MASK


def redact_override(item: str) -> str:
    """A ``--set key.path=value`` item safe to show: the value of a header, of a key whose name
    looks secret, or of anything under such a key, is masked; URLs in values are redacted."""
    if not isinstance(item, str):
        return MASK
    key, sep, value = item.partition("=")
    if not sep:
        return redact_text(item)
    parts = [p.strip() for p in key.split(".")]
    headers = len(parts) >= 3 and parts[0] == "endpoint" and parts[1] == "headers"
    if headers or any(looks_secret(p) for p in parts):
        return f"{key}={_mask_value(value)}"
    return f"{key}={redact_text(value)}"


def redact_mapping(data: Any, *, _depth: int = 0) -> Any:
    """A copy of a (scenario-like) structure with secret-looking keys' values masked and
    every string passed through :func:`redact_text`. Bounded depth; never raises."""
    if _depth > 200:
        return MASK
    if isinstance(data, Mapping):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            if looks_secret(key) and not isinstance(value, (Mapping, list)):
                out[key] = _mask_value(value)
            elif looks_secret(key):
                out[key] = _mask_all(value, _depth + 1)
            else:
                out[key] = redact_mapping(value, _depth=_depth + 1)
        return out
    if isinstance(data, list):
        return [redact_mapping(v, _depth=_depth + 1) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


def _mask_all(data: Any, depth: int) -> Any:
    """Everything under a secret-looking key: every leaf masked."""
    if depth > 200:
        return MASK
    if isinstance(data, Mapping):
        return {k: _mask_all(v, depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_all(v, depth + 1) for v in data]
    return _mask_value(data)


def split_credentials(url: str) -> tuple[str, str | None]:
    """``http://user:key@host/x`` → (``http://host/x``, the Basic auth header value), so that a
    URL that is shown (Locust's host) never carries them."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    plain = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return plain, "Basic " + base64.b64encode(secret).decode("ascii")
