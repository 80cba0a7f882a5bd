"""A SeekrFlow-like hosted platform on loopback, for the preset and probe tests: a real HTTP
server that enforces the rules such a platform has, not the real service.

- the OpenAI-compatible routes are mounted under ``/v1/inference`` (chat completions at
  ``/v1/inference/chat/completions``); any other path is HTTP 404;
- ``Authorization`` must hold the raw API key, exactly (no ``Bearer``), else HTTP 401;
- ``max_completion_tokens`` in the body is refused with HTTP 400 and an error body;
- ``GET /v1/inference/health`` answers 200 (or 503 when started unhealthy);
- the answer is the label the demo's intent classifier predicts for the user message.

``GET /_stats`` (no auth) returns the requests received by status and the headers last seen.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTE = "/v1/inference/chat/completions"
HEALTH = "/v1/inference/health"


@dataclass
class Hosted:
    url: str
    key: str
    healthy: bool = True
    statuses: Counter[int] = field(default_factory=Counter)
    last_headers: dict[str, str] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _handler(state: Hosted, classify: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, obj: Any) -> None:
            state.statuses[status] += 1
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/_stats":
                data = {"statuses": dict(state.statuses), "headers": state.last_headers}
                self._send(200, data)
            elif self.path == HEALTH:
                self._send(200 if state.healthy else 503, {"status": "ok" if state.healthy
                                                           else "unavailable"})  # fmt: skip
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.last_headers = dict(self.headers.items())
            if self.path != ROUTE:
                self._send(404, {"detail": "Not Found"})
                return
            if self.headers.get("Authorization") != state.key:
                self._send(401, {"error": {"message": "Invalid API key", "code": 401}})
                return
            try:
                req = json.loads(body)
            except ValueError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            state.bodies.append(req)
            if "max_completion_tokens" in req:
                self._send(400, {"error": {"message": "Unrecognized request argument "
                                           "supplied: max_completion_tokens"}})  # fmt: skip
                return
            user = [m["content"] for m in req.get("messages", []) if m.get("role") == "user"]
            label = classify(user[-1] if user else "")
            message = {"role": "assistant", "content": label}
            choice = {"index": 0, "finish_reason": "stop", "message": message}
            self._send(200, {"id": "chatcmpl-1", "object": "chat.completion",
                             "choices": [choice]})  # fmt: skip

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the pre-flight's bare TCP connect, closed unanswered: not an error here


@contextmanager
def running_hosted(key: str, *, healthy: bool = True) -> Iterator[Hosted]:
    """The stand-in on a free loopback port, in a thread of this process; stopped on exit."""
    from stagecheck.demo.model import load_default

    model = load_default()
    state = Hosted(url="", key=key, healthy=healthy)
    server = _Server(("127.0.0.1", 0), _handler(state, lambda t: model.predict(t)[0]))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
