"""A loopback LLM judge for tests: an OpenAI-compatible chat route that grades by a fixed rule.

The score is the share of the reference's distinct words of 4+ letters found in the answer
(:func:`rule`, rounded to 2 places), replied as ``{"score": S, "reason": "…"}`` in the message
content. ``mode`` makes it misbehave: ``prose`` (no JSON), ``http-500``, ``out-of-range``;
``delay_s`` holds every answer back.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PROMPT = re.compile(
    r"Reference answer:\n(?P<ref>.*?)\n\nAnswer to grade:\n(?P<ans>.*?)\n\nReply with JSON",
    re.DOTALL,
)


def rule(reference: str, answer: str) -> float:
    words = {w for w in re.findall(r"[a-z]+", reference.lower()) if len(w) >= 4}
    found = set(re.findall(r"[a-z]+", answer.lower()))
    return round(len(words & found) / len(words), 2) if words else 0.0


@dataclass
class Judge:
    url: str
    mode: str = "ok"
    delay_s: float = 0.0
    scale: str = "0-1"
    calls: int = 0
    bodies: list[Any] = field(default_factory=list)
    rule = staticmethod(rule)


@contextmanager
def running_judge(mode: str = "ok", delay_s: float = 0.0, scale: str = "0-1") -> Iterator[Judge]:
    judge = Judge("", mode, delay_s, scale)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                judge.calls += 1
                judge.bodies.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                     "body": body})  # fmt: skip
            time.sleep(judge.delay_s)
            m = _PROMPT.search(body["messages"][-1]["content"])
            score = rule(m["ref"], m["ans"]) if m else 0.0
            if judge.scale == "1-5":
                score = 1 + 4 * score
            content = json.dumps({"score": score, "reason": "word overlap with the reference"})
            status = 200
            if judge.mode == "prose":
                content = "The answer looks fine to me."
            elif judge.mode == "out-of-range":
                content = json.dumps({"score": 7, "reason": "x"})
            elif judge.mode == "http-500":
                status = 500
            reply = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant",
                                "content": content}}]}).encode()  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    judge.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield judge
    finally:
        server.shutdown()
        server.server_close()
