"""``stagecheck validate SCENARIO --probe``: one real request, shown whole — the first thing
anyone does with a new endpoint.

The request is the dataset's first row exactly as a run sends it (the prepared request bytes,
the run's headers), bounded by ``endpoint.timeout``; the answer is parsed by the protocol
adapter and scored by the scenario's scorer. No Locust: a plain urllib3 request.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from stagecheck.endpoint.check import status_hint, tls_problem
from stagecheck.load.plan import LoadPlan
from stagecheck.protocols import STREAM_DONE, ResponseParseError
from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.redact import looks_secret, redact_text, redact_url
from stagecheck.run.preparation import PreparedScenario
from stagecheck.run.session import RunSession

__all__ = ["ProbeResult", "probe_endpoint", "EXCERPT_CHARS"]

EXCERPT_CHARS = 500  # characters of the raw answer shown
_READ_LIMIT = 1 << 20  # bytes of the answer read at most


@dataclass(frozen=True)
class ProbeResult:
    """What the probe printed, and why it failed (None: the answer parsed and was scored)."""

    lines: list[str]
    failure: str | None


def _mask(text: str, headers: Mapping[str, str]) -> str:
    """The text with the values of secret headers masked, the key alone too ("Bearer sk-…"),
    as a run masks them in its error texts; URL credentials and secret query values too."""
    for name, value in headers.items():
        if value and len(value) >= 6 and looks_secret(name):
            text = text.replace(value, "***")
            for part in value.split():
                if len(part) >= 6:
                    text = text.replace(part, "***")
    return redact_text(text)


def _shown_header(name: str, value: str) -> str:
    """A header as the probe shows it: a secret's value masked, its scheme word kept
    (``Bearer ***``), so that a raw key and a bearer token can be told apart."""
    if not looks_secret(name):
        return redact_text(value)[:120]
    scheme, _, rest = value.partition(" ")
    if rest and scheme.isalpha() and len(scheme) <= 10:
        return f"{scheme} ***"
    return "*** (raw value, no scheme word)"


def _excerpt(raw: bytes, headers: Mapping[str, str]) -> str:
    text = " ".join(raw[: EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    text = _mask(text, headers)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _read(resp: Any, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.stream(4096):
        chunks.append(chunk)
        size += len(chunk)
        if size >= _READ_LIMIT or time.monotonic() > deadline:
            break
    return b"".join(chunks)


def probe_endpoint(prepared: PreparedScenario) -> ProbeResult:
    """Send the first row's request once; describe the request, the answer and its score."""
    sc = prepared.loaded.scenario
    ep = sc.endpoint
    row = prepared.dataset.rows[0]
    req = row.request
    session = RunSession.from_prepared(prepared, LoadPlan.from_scenario(prepared.loaded))
    headers = session.headers  # exactly the run's headers
    url = ep.url + req.path
    lines = [
        f"probe      {req.method} {redact_url(url)}  (row {row.row_id}, line {row.line})",
        "headers    " + ", ".join(f"{k}: {_shown_header(k, v)}" for k, v in headers.items()),
    ]
    pool = urllib3.PoolManager(
        cert_reqs=ssl.CERT_REQUIRED if ep.verify_tls else ssl.CERT_NONE,
        retries=False,
        timeout=urllib3.Timeout(connect=ep.connect_timeout, read=ep.timeout),
    )
    t0 = time.perf_counter()
    deadline = time.monotonic() + ep.timeout
    try:
        resp = pool.request(
            req.method, url, body=req.body or None, headers=headers, preload_content=False
        )
        head_ms = (time.perf_counter() - t0) * 1000
        raw = _read(resp, deadline)
        resp.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        ms = (time.perf_counter() - t0) * 1000
        lines.append(f"status     no answer after {ms:.1f} ms")
        reason = _no_answer_reason(exc, ep.timeout)
        return ProbeResult(lines, f"probe: {req.method} {redact_url(url)}: {reason}")
    finally:
        pool.clear()
    total_ms = (time.perf_counter() - t0) * 1000
    lines.append(
        f"status     HTTP {resp.status} {resp.reason or ''}".rstrip()
        + f"  headers in {head_ms:.1f} ms, whole answer in {total_ms:.1f} ms"
    )
    lines.append(f"answer     {_excerpt(raw, headers) or '(empty)'}")
    if not 200 <= resp.status < 300:
        hint = status_hint(resp.status)
        route = f" for {req.method} {redact_text(req.path)}" if resp.status == 404 else ""
        return ProbeResult(
            lines, f"probe: HTTP {resp.status}{route}" + (f" ({hint})" if hint else "")
        )
    return _score_probe(prepared, raw, headers, lines)


def _no_answer_reason(exc: urllib3.exceptions.HTTPError, timeout: float) -> str:
    """Why no answer came, in the words of the endpoint's settings."""
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {timeout:g}s (endpoint.timeout)"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection refused or host unreachable"
    if isinstance(exc, urllib3.exceptions.SSLError):
        causes = [exc.__context__, *exc.args]
        found = [tls_problem(c) for c in causes if isinstance(c, BaseException)]
        return next((f for f in found if f), f"TLS: {exc}")
    return type(exc).__name__


def _score_probe(
    prepared: PreparedScenario, raw: bytes, headers: Mapping[str, str], lines: list[str]
) -> ProbeResult:
    """Parse and score the answer as a run would, adding the prediction and the score."""
    sc = prepared.loaded.scenario
    row = prepared.dataset.rows[0]
    try:
        prediction = _parse(prepared, raw, row.request.stream)
        correct, label = prepared.scorer.score(prediction, row.expected)
    except Exception as exc:  # an odd answer is reported, never a traceback
        reason = str(exc) if isinstance(exc, ResponseParseError) else type(exc).__name__
        lines.append(f"prediction (unreadable: {_mask(reason, headers)[:200]})")
        return ProbeResult(lines, f"probe: the answer could not be read: {reason[:200]}")
    shown = label if label is not None else str(prediction)
    if label is not None and isinstance(prediction, ChatAnswer):  # the call, then why it is wrong
        shown = f"{prediction} ({label})"
    lines.append(f"prediction {_mask(shown, headers)[:EXCERPT_CHARS]!r}")
    lines.append(
        f"score      {'correct' if correct else 'incorrect'} ({sc.scoring['kind']} scorer, "
        f"expected {row.expected_text[:200]!r})"
    )
    return ProbeResult(lines, None)


def _parse(prepared: PreparedScenario, raw: bytes, stream: bool) -> Any:
    adapter = prepared.adapter
    if not stream:
        return adapter.parse(raw)
    parts: list[str] = []
    for line in raw.split(b"\n"):
        delta = adapter.parse_stream_line(line.rstrip(b"\r"))
        if delta is STREAM_DONE:
            break
        if isinstance(delta, str):  # not a usage chunk's token count
            parts.append(delta)
    return adapter.finish_stream("".join(parts))
