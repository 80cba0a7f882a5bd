"""A small OpenAI-compatible chat server on loopback whose answers depend on the history it is
sent, for the conversation tests (the demo's chatbot answers each question alone until the
tools helper's multi-turn mode is merged).

Its rule: the last user message holding "bad" gets ``WRONG``; otherwise, when an earlier
assistant message of the history lacks ``OK``, the answer is ``WRONG (derailed)``; else
``OK <n>`` (n: assistant messages seen). It keeps every request's messages, and, for each
client connection, the process that owns it (to tell workers apart).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil

__all__ = ["ChatServer", "running_chat_server", "answer_of"]


def answer_of(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    said = [str(m.get("content") or "") for m in messages if m.get("role") == "assistant"]
    if "bad" in str(users[-1].get("content")):
        return "WRONG"
    if any("OK" not in s for s in said):
        return "WRONG (derailed)"
    return f"OK {len(said)}"


@dataclass
class ChatServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"messages", "port", "pid"}
    lock: threading.Lock = field(default_factory=threading.Lock)
    owners: dict[int, int | None] = field(default_factory=dict)  # client port → its pid

    def owner(self, port: int) -> int | None:
        if port not in self.owners:
            pid = None
            for c in psutil.net_connections(kind="tcp"):
                if c.laddr and c.laddr.port == port and c.raddr and c.pid:
                    pid = c.pid
                    break
            self.owners[port] = pid
        return self.owners[port]


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = body["messages"]
            port = self.client_address[1]
            with server.lock:
                server.requests.append({"messages": messages, "port": port,
                                        "pid": server.owner(port)})  # fmt: skip
            content = answer_of(messages)
            out = json.dumps({
                "id": "x", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return Handler


@contextlib.contextmanager
def running_chat_server() -> Iterator[ChatServer]:
    server = ChatServer("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()

