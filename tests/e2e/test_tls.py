"""An HTTPS endpoint whose certificate cannot be verified is caught before the first request
(exit 3, the reason and the option that turns verification off), by ``stagecheck run`` and
``stagecheck validate --probe`` alike; with ``endpoint.verify_tls: false`` the run goes on.

The endpoint is a real loopback HTTPS server with a self-signed certificate made here by the
``openssl`` command line tool (the test is skipped without it)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool"),
]

ANSWER = json.dumps({"choices": [{"message": {"role": "assistant", "content": "shipping"}}]})


@dataclass
class TlsServer:
    url: str
    requests: list[str] = field(default_factory=list)


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[TlsServer]:
    """A chat endpoint on loopback HTTPS with a self-signed certificate; it answers every POST
    with the label ``shipping`` and counts the HTTP requests it received."""
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = ANSWER.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsServer(f"https://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


def stagecheck(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stagecheck.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)  # fmt: skip


def scenario(tmp_path: Path, small_dataset: Path, url: str) -> Path:
    path = tmp_path / "tls.yaml"
    path.write_text(f"""\
name: tls
endpoint: {{url: "{url}", protocol: openai-chat, model: m, timeout: 5s}}
dataset: {{path: {small_dataset}, input: text, expected: label}}
load: {{users: 2, duration: 30s}}
thresholds: ["error_rate < 1%"]
""")
    return path


def test_a_run_against_an_unverifiable_certificate_stops_before_any_request(
    tls_server, tmp_path, small_dataset
):
    tls_server.requests.clear()
    path = scenario(tmp_path, small_dataset, tls_server.url)
    r = stagecheck("run", str(path), "--out", str(tmp_path / "runs"), "--quiet")
    assert r.returncode == 3, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"stagecheck: endpoint {tls_server.url}: its TLS certificate cannot "
                           "be verified (self-signed certificate)")  # fmt: skip
    assert "endpoint.verify_tls: false" in line
    assert tls_server.requests == []  # not one request sent
    assert "Traceback" not in r.stdout + r.stderr


def test_validate_probe_names_the_certificate_problem(tls_server, tmp_path, small_dataset):
    path = scenario(tmp_path, small_dataset, tls_server.url)
    r = stagecheck("validate", str(path), "--probe")
    assert r.returncode == 3, r.stderr
    assert "self-signed certificate" in r.stderr and "endpoint.verify_tls: false" in r.stderr
    assert "SSLError" not in r.stdout + r.stderr


def test_with_verification_off_the_probe_and_the_run_go_on(tls_server, tmp_path, small_dataset):
    path = scenario(tmp_path, small_dataset, tls_server.url)
    tls_server.requests.clear()
    r = stagecheck("validate", str(path), "--probe", "--set", "endpoint.verify_tls=false")
    assert r.returncode == 0, r.stderr
    assert "score      correct" in r.stdout
    assert len(tls_server.requests) == 1
    r = stagecheck("run", str(path), "--set", "endpoint.verify_tls=false", "--duration", "2s",
                   "--out", str(tmp_path / "runs"), "--quiet")  # fmt: skip
    summary = json.loads(next((tmp_path / "runs").glob("*/summary.json")).read_text())
    assert summary["requests"]["total"] == len(tls_server.requests) - 1 > 0
    assert summary["requests"]["by_outcome"]["connection_error"] == 0
