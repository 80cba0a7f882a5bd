"""What several test packages share: repository paths and the real demo endpoint's fast knobs."""

from __future__ import annotations

import contextlib
import io
import json
import random
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
# Fast demo knobs: short latency so exact passes over 480 rows take a few seconds.
FAST = ("--latency-ms", "2", "--jitter-ms", "1", "--slowdown-ms-per-request", "0",
        "--complex-extra-ms", "0", "--token-delay-ms", "1")  # fmt: skip


@dataclass
class Demo:
    """A running demo endpoint: its URL and its own request counters."""

    url: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as r:
            return json.load(r)

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/stats/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=5).close()


def free_master_port() -> int:
    """A free port for a Locust master, below the kernel's ephemeral range: a port from that
    range can be taken meanwhile by a worker's own outgoing connection (a TCP self-connect),
    and then the master cannot bind it."""
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10_000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@contextmanager
def running_demo(*knobs: str) -> Iterator[Demo]:
    """The real demo endpoint as a subprocess on a free loopback port (fast knobs by default),
    stopped on exit."""
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    proc, url = start_demo_subprocess(*(knobs or FAST))
    try:
        yield Demo(url)
    finally:
        stop_demo_subprocess(proc)


def call_app(app: Any, method: str, path: str, body: object = None) -> tuple[int, Any, list[bytes]]:
    """Run one request through a WSGI app (the demo's, no sockets); returns the status, the
    decoded JSON (or None) and the raw chunks."""
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    setup_testing_defaults(environ)
    status: list[str] = []
    headers: dict[str, str] = {}

    def start_response(line: str, hdrs: list[tuple[str, str]]) -> None:
        status.append(line)
        headers.update(hdrs)

    result = app(environ, start_response)
    chunks = list(result)
    getattr(result, "close", lambda: None)()
    code = int(status[0].split()[0])
    is_json = headers["Content-Type"] == "application/json"
    return code, json.loads(b"".join(chunks)) if is_json else None, chunks


def demo_predict(app: Any, text: str) -> str:
    """The demo app's intent for ``text`` (its plain JSON route)."""
    return str(call_app(app, "POST", "/predict", {"query": text})[1]["result"]["intent"])


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """Every line of a run folder's results.jsonl as a user reads it, whichever format wrote it:
    the row's ``id``, ``expected`` and ``slices`` joined from rows.jsonl; ``predicted`` and
    ``got`` by line format 2's rule (a right label is not repeated; a label is its own answer);
    ``error`` None and ``lag_us`` 0 when absent; ``users`` of the line's stage from
    summary.json (when the run has written it)."""
    rows = {}
    rows_file = run_dir / "rows.jsonl"
    if rows_file.is_file():
        for text in rows_file.read_text(encoding="utf-8").splitlines():
            row = json.loads(text)
            rows[row["row"]] = row
    users: dict[int, int] = {}
    summary_file = run_dir / "summary.json"
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        users = {s["index"]: s["users"] for s in summary.get("stages") or []}
    out = []
    for text in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        row = rows.get(line["row"], {})
        line.setdefault("id", row.get("id"))
        line.setdefault("expected", row.get("expected"))
        line.setdefault("slices", row.get("slices"))
        if "predicted" in line:
            line.setdefault("got", line["predicted"])
        elif "got" in line:
            line["predicted"] = None
        elif line["outcome"] == "correct":
            line["predicted"] = line["got"] = line["expected"]
        else:
            line["predicted"] = line["got"] = None
        line.setdefault("error", None)
        line.setdefault("lag_us", 0)
        if line["stage"] in users:
            line.setdefault("users", users[line["stage"]])
        out.append(line)
    return out
