"""The demo endpoint as a real subprocess on loopback, driven with urllib.

Each server is started with ``stagecheck.demo.testing`` on port 0; timing tests use knobs large
enough to stand out from scheduling noise on a small, busy machine.
"""

from __future__ import annotations

import http.client
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from stagecheck.demo.testing import demo_subprocess, start_demo_subprocess, stop_demo_subprocess

pytestmark = pytest.mark.integration

MODEL = "intent-classifier"
LABELS = {
    "account_access", "billing", "cancel_order", "complaint", "order_change", "product_info",
    "refund", "return_exchange", "shipping", "technical_issue",
}  # fmt: skip


def request(url: str, path: str, body: object = None, timeout: float = 10) -> tuple[int, Any]:
    """GET (no body) or POST JSON; returns status and decoded JSON, for errors too."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.load(e)


def connect(url: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with demo_subprocess("--latency-ms", "5", "--jitter-ms", "2") as url:
        yield url


def test_openai_chat_completion(demo_url: str) -> None:
    status, body = request(demo_url, "/v1/chat/completions", chat("I want my money back"))
    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == MODEL
    assert body["id"] and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "refund"}
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_openai_legacy_completion_and_model_list(demo_url: str) -> None:
    status, body = request(demo_url, "/v1/completions", {"model": MODEL, "prompt": "cancel order"})
    assert status == 200 and body["choices"][0]["text"] in LABELS
    assert request(demo_url, "/v1/models")[1]["data"][0]["id"] == MODEL


def test_kserve_v2(demo_url: str) -> None:
    assert request(demo_url, "/v2/health/live")[0] == 200
    assert request(demo_url, "/v2/health/ready")[0] == 200
    assert request(demo_url, f"/v2/models/{MODEL}/ready") == (200, {"name": MODEL, "ready": True})
    status, meta = request(demo_url, f"/v2/models/{MODEL}")
    assert status == 200 and meta["name"] == MODEL and meta["inputs"][0]["datatype"] == "BYTES"

    for shape, data in (([1], ["my account is locked"]), ([1, 1], [["my account is locked"]])):
        infer = {"id": "req-1", "inputs": [{"name": "query", "datatype": "BYTES", "shape": shape,
                                            "data": data}]}  # fmt: skip
        status, body = request(demo_url, f"/v2/models/{MODEL}/infer", infer)
        assert status == 200
        assert body["model_name"] == MODEL and body["model_version"] == "1"
        assert body["id"] == "req-1"
        label, confidence = body["outputs"]
        assert label == {"name": "label", "datatype": "BYTES", "shape": [1],
                         "data": ["account_access"]}  # fmt: skip
        assert confidence["name"] == "confidence" and confidence["datatype"] == "FP32"
        assert confidence["shape"] == [1] and 0 < confidence["data"][0] <= 1


def test_kserve_unknown_model_is_404_and_bad_body_400(demo_url: str) -> None:
    infer = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
    status, body = request(demo_url, "/v2/models/not-a-model/infer", infer)
    assert status == 404 and "not-a-model" in body["error"]
    assert request(demo_url, "/v2/models/not-a-model")[0] == 404
    status, body = request(demo_url, f"/v2/models/{MODEL}/infer", {"inputs": [{"data": [1]}]})
    assert status == 400 and body["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["text"], "data": [["where is my parcel"], ["refund me"]]}},
        {"dataframe_records": [{"text": "where is my parcel"}, {"text": "refund me"}]},
        {"inputs": ["where is my parcel", "refund me"]},
    ],
)
def test_mlflow_invocations(demo_url: str, body: dict[str, Any]) -> None:
    assert request(demo_url, "/invocations", body) == (200, {"predictions": ["shipping", "refund"]})


def test_plain_json_predict_and_health(demo_url: str) -> None:
    status, body = request(demo_url, "/predict", {"query": "the app keeps crashing"})
    assert status == 200 and body["result"]["intent"] == "technical_issue"
    assert 0 < body["result"]["confidence"] <= 1
    assert request(demo_url, "/predict", {"q": 1})[0] == 400
    assert request(demo_url, "/health") == (200, {"status": "ok"})


def test_stats_count_exactly_the_requests_sent(demo_url: str) -> None:
    request(demo_url, "/stats/reset", {})
    for _ in range(3):
        request(demo_url, "/v1/chat/completions", chat("hello"))
    with urllib.request.urlopen(
        urllib.request.Request(demo_url + "/v1/chat/completions",
                               data=json.dumps(chat("hello", stream=True)).encode()), timeout=10
    ) as response:  # fmt: skip
        response.read()
    request(demo_url, "/invocations", {"inputs": ["a", "b", "c"]})

    # 40 concurrent requests from 8 threads: none may go missing.
    def worker() -> None:
        for _ in range(5):
            assert request(demo_url, "/predict", {"query": "refund"})[0] == 200

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stats = request(demo_url, "/stats")[1]
    assert stats["by_route"] == {"chat": 3, "chat_stream": 1, "completions": 0,
                                 "completions_stream": 0, "kserve_infer": 0, "mlflow": 1,
                                 "predict": 40}  # fmt: skip
    assert stats["requests_total"] == 45 and stats["errors_injected"] == 0
    assert stats["in_flight"] == 0 and stats["max_in_flight"] >= 2


def _read_stream(url: str, body: dict[str, Any]) -> tuple[list[float], list[bytes]]:
    """POST a streamed chat request; arrival time (from send) and payload of each SSE event."""
    conn = connect(url)
    try:
        started = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        times, events = [], []
        while line := response.readline():
            if line.startswith(b"data: "):
                times.append(time.perf_counter() - started)
                events.append(line[len(b"data: ") :].strip())
            else:
                assert line == b"\n"
        return times, events
    finally:
        conn.close()


def test_openai_stream_timing_and_shape() -> None:
    knobs = (
        "--latency-ms",
        "150",
        "--jitter-ms",
        "0",
        "--slowdown-ms-per-request",
        "0",
        "--complex-extra-ms",
        "0",
        "--token-delay-ms",
        "30",
        "--chat-style",
        "sentence",
    )
    with demo_subprocess(*knobs) as url:
        times, events = _read_stream(url, chat("I can't log in to my account", stream=True))
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    assert len([p for p in pieces if p]) >= 5
    assert "".join(pieces) == "The customer's intent is account_access."

    ttft, last_token = times[0], times[len(pieces) - 2]
    assert 0.14 <= ttft < 0.6, ttft  # the base latency, plus slack for a busy machine
    n_gaps = len([p for p in pieces if p]) - 1
    assert last_token - ttft >= 0.9 * n_gaps * 0.030, (times, n_gaps)


def test_error_rate_gives_about_that_fraction_of_503s() -> None:
    knobs = ("--error-rate", "0.2", "--latency-ms", "0", "--jitter-ms", "0", "--seed", "3")
    with demo_subprocess(*knobs) as url:
        statuses = [request(url, "/predict", {"query": "refund"}) for _ in range(200)]
        stats = request(url, "/stats")[1]
    failed = [body for status, body in statuses if status == 503]
    assert {status for status, _ in statuses} == {200, 503}
    assert 24 <= len(failed) <= 56  # 40 expected; a binomial 99.9 % band is ~22..60
    assert all("injected" in body["error"] for body in failed)
    assert stats["errors_injected"] == len(failed) and stats["requests_total"] == 200


def test_latency_grows_with_concurrent_load() -> None:
    knobs = (
        "--latency-ms",
        "10",
        "--jitter-ms",
        "0",
        "--slowdown-ms-per-request",
        "10",
        "--complex-extra-ms",
        "0",
    )
    with demo_subprocess(*knobs) as url:

        def timed() -> float:
            started = time.perf_counter()
            assert request(url, "/predict", {"query": "refund"})[0] == 200
            return time.perf_counter() - started

        alone = statistics.median(timed() for _ in range(5))
        barrier = threading.Barrier(20)
        loaded: list[float] = []

        def worker() -> None:
            barrier.wait(timeout=10)
            loaded.append(timed())

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        stats = request(url, "/stats")[1]
    assert len(loaded) == 20
    assert stats["max_in_flight"] >= 8
    # Alone ~10 ms; with up to 19 others in flight each request waits 10 ms more per other one.
    assert statistics.median(loaded) > alone + 0.04, (alone, sorted(loaded))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_signals(sig: signal.Signals) -> None:
    proc, url = start_demo_subprocess()
    assert request(url, "/health")[0] == 200
    assert stop_demo_subprocess(proc, sig=sig) == 0


def test_port_in_use_exits_3() -> None:
    with demo_subprocess() as url:
        port = urllib.parse.urlsplit(url).port
        result = subprocess.run(
            [sys.executable, "-m", "stagecheck.demo", "--port", str(port)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    assert result.returncode == 3
    assert "cannot listen" in result.stderr and result.stdout == ""


def test_client_leaving_mid_stream_releases_the_in_flight_slot() -> None:
    with demo_subprocess("--latency-ms", "0", "--token-delay-ms", "200") as url:
        conn = connect(url)
        conn.request("POST", "/v1/chat/completions", json.dumps(chat("refund", stream=True)))
        response = conn.getresponse()
        assert response.readline().startswith(b"data: ")
        assert request(url, "/stats")[1]["in_flight"] == 1
        conn.close()  # gone after the first token
        deadline = time.monotonic() + 5
        while (in_flight := request(url, "/stats")[1]["in_flight"]) != 0:
            assert time.monotonic() < deadline, f"in_flight stuck at {in_flight}"
            time.sleep(0.05)
