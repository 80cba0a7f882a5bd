"""``DemoServer`` inside the test process, talked to with a gevent-aware client.

The server runs in greenlets, so the client must yield to gevent: geventhttpclient does, plain
urllib would block the only thread (and monkey-patching in tests is not allowed).
"""

from __future__ import annotations

import gevent

import json

import pytest
from geventhttpclient import HTTPClient

from stagecheck.demo.config import DemoConfig
from stagecheck.demo.server import DemoServer

pytestmark = pytest.mark.integration


def test_in_process_server_serves_concurrent_requests() -> None:
    config = DemoConfig(latency_ms=50, jitter_ms=0, slowdown_ms_per_request=0, complex_extra_ms=0)
    with DemoServer(config, port=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        client = HTTPClient.from_url(server.url, concurrency=10)
        try:

            def predict(text: str) -> str:
                response = client.post("/predict", body=json.dumps({"query": text}))
                assert response.status_code == 200
                return str(json.loads(response.read())["result"]["intent"])

            texts = ["where is my parcel", "refund please", "reset my password"] * 3
            jobs = [gevent.spawn(predict, t) for t in texts]
            gevent.joinall(jobs, timeout=10, raise_error=True)
            stats = server.stats()
        finally:
            client.close()
    assert [j.value for j in jobs[:3]] == ["shipping", "refund", "account_access"]
    assert stats["by_route"]["predict"] == 9 and stats["in_flight"] == 0
    assert stats["max_in_flight"] >= 5  # the 50 ms latencies overlapped: greenlets, not a queue


def test_port_is_known_only_once_started() -> None:
    server = DemoServer(port=0)
    with pytest.raises(RuntimeError, match="start"):
        _ = server.port
    server.start()
    try:
        assert server.port > 0
    finally:
        server.stop()
    server.stop()  # idempotent
