"""The demo endpoint's WSGI plumbing: its request counters (``/stats``), a route's reply, a
JSON body read within its cap, and a server-sent-event stream that tells the counters its end."""

from __future__ import annotations

import gevent

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

from stagecheck.demo.payloads import BadRequest

__all__ = ["INFERENCE_ROUTES", "StatsSnapshot", "DemoStats", "Reply", "TrackedStream",
           "read_json", "sse", "Environ"]  # fmt: skip

Environ = dict[str, Any]

INFERENCE_ROUTES: tuple[str, ...] = (
    "chat",
    "chat_stream",
    "completions",
    "completions_stream",
    "kserve_infer",
    "mlflow",
    "predict",
)
_MAX_BODY_BYTES = 1 << 20


class StatsSnapshot(TypedDict):
    requests_total: int
    by_route: dict[str, int]
    errors_injected: int
    in_flight: int
    max_in_flight: int


class DemoStats:
    """Counts of inference requests, taken on arrival (before latency and error injection)."""

    def __init__(self) -> None:
        self.by_route = dict.fromkeys(INFERENCE_ROUTES, 0)
        self.errors_injected = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def arrive(self, route: str) -> None:
        self.by_route[route] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1

    def reset(self) -> None:
        """Zero the counters; ``in_flight`` is a gauge of live requests and is kept."""
        self.by_route = dict.fromkeys(INFERENCE_ROUTES, 0)
        self.errors_injected = 0
        self.max_in_flight = self.in_flight

    def snapshot(self) -> StatsSnapshot:
        return StatsSnapshot(
            requests_total=sum(self.by_route.values()),
            by_route=dict(self.by_route),
            errors_injected=self.errors_injected,
            in_flight=self.in_flight,
            max_in_flight=self.max_in_flight,
        )


@dataclass
class Reply:
    status: int
    body: Any = None
    """A JSON value, sent with Content-Length."""
    stream: Iterable[bytes] | None = None
    """Server-sent events, sent chunked as they are produced."""
    headers: list[tuple[str, str]] = field(default_factory=list)


class TrackedStream:
    """A streamed body that tells the stats it is over exactly once, however it ends.

    A bare generator is not enough: closing a generator that never started skips its
    ``finally``, and the server closes bodies of clients that went away.
    """

    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            getattr(self._chunks, "close", lambda: None)()
            on_close()


def read_json(environ: Environ) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _MAX_BODY_BYTES:
        raise BadRequest(f"request body over {_MAX_BODY_BYTES} bytes")
    raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"request body is not valid JSON: {e}") from None


def sse(chunks: list[dict[str, Any]], token_chunks: int, token_delay_s: float) -> Iterator[bytes]:
    for i, chunk in enumerate(chunks):
        if 0 < i < token_chunks:
            gevent.sleep(token_delay_s)
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
