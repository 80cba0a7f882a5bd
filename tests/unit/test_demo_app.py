"""The demo WSGI app called directly (no sockets): routing, stats, knobs, CLI flag checks."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from stagecheck.demo.app import create_app
from stagecheck.demo.config import DemoConfig
from stagecheck.demo.model import IntentClassifier, load_default
from stagecheck.demo.server import main
from tests.support import call_app

pytestmark = pytest.mark.unit

FAST = DemoConfig(latency_ms=0, jitter_ms=0, slowdown_ms_per_request=0, token_delay_ms=0,
                  complex_extra_ms=0)  # fmt: skip
CHAT = {"messages": [{"role": "user", "content": "where is my parcel, tracking is stuck"}]}


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return load_default()


call = call_app


def test_every_inference_request_is_counted_on_arrival(classifier: IntentClassifier) -> None:
    app = create_app(FAST, classifier)
    call(app, "POST", "/v1/chat/completions", CHAT)
    call(app, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
    call(app, "POST", "/v1/chat/completions", b"{not json")  # rejected, still received
    call(app, "POST", "/v2/models/other/infer", {})  # unknown model, still received
    call(app, "POST", "/invocations", {"inputs": ["a", "b"]})  # one request, two rows
    call(app, "POST", "/predict", {"query": "refund"})
    call(app, "GET", "/health")
    call(app, "GET", "/v2/models/intent-classifier")
    stats = app.stats.snapshot()
    assert stats["by_route"] == {"chat": 2, "chat_stream": 1, "completions": 0,
                                 "completions_stream": 0, "kserve_infer": 1, "mlflow": 1,
                                 "predict": 1}  # fmt: skip
    assert stats["requests_total"] == 6
    assert stats["in_flight"] == 0 and stats["max_in_flight"] == 1

    code, body, _ = call(app, "POST", "/stats/reset")
    assert code == 200 and body["requests_total"] == 0 and body["by_route"]["chat"] == 0


def test_unknown_routes_and_methods(classifier: IntentClassifier) -> None:
    app = create_app(FAST, classifier)
    assert call(app, "GET", "/nope")[0] == 404
    code, body, _ = call(app, "GET", "/v1/chat/completions")
    assert code == 405 and "not allowed" in body["error"]
    assert call(app, "GET", "/v2/models/nope/ready")[0] == 404
    assert call(app, "GET", "/v2/models/intent-classifier/ready")[1]["ready"] is True


def test_openai_errors_use_the_openai_shape(classifier: IntentClassifier) -> None:
    app = create_app(FAST, classifier)
    code, body, _ = call(app, "POST", "/v1/chat/completions", {**CHAT, "model": "gpt-x"})
    assert code == 404 and body["error"]["code"] == "model_not_found"
    code, body, _ = call(app, "POST", "/v1/chat/completions", {"messages": []})
    assert code == 400 and body["error"]["type"] == "invalid_request_error"


def test_sentence_style_wraps_the_label(classifier: IntentClassifier) -> None:
    app = create_app(DemoConfig(**{**FAST.__dict__, "chat_style": "sentence"}), classifier)
    _, body, _ = call(app, "POST", "/v1/chat/completions", CHAT)
    assert body["choices"][0]["message"]["content"] == "The customer's intent is shipping."


def test_stream_is_sse_ending_with_done(classifier: IntentClassifier) -> None:
    app = create_app(FAST, classifier)
    code, _, chunks = call(app, "POST", "/v1/completions", {"prompt": "refund me", "stream": True})
    assert code == 200 and chunks[-1] == b"data: [DONE]\n\n"
    events = [json.loads(c[len(b"data: ") :]) for c in chunks[:-1]]
    assert "".join(e["choices"][0]["text"] for e in events if e["choices"]) == "refund"
    assert app.stats.snapshot()["by_route"]["completions_stream"] == 1


def test_a_stream_closed_unread_still_leaves_the_in_flight_count(
    classifier: IntentClassifier,
) -> None:
    app = create_app(FAST, classifier)
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/chat/completions",
                               "wsgi.input": io.BytesIO(json.dumps({**CHAT, "stream": True})
                                                        .encode())}  # fmt: skip
    setup_testing_defaults(environ)
    environ["CONTENT_LENGTH"] = str(environ["wsgi.input"].getbuffer().nbytes)
    body = app(environ, lambda status, headers: None)
    assert app.stats.in_flight == 1
    body.close()  # type: ignore[attr-defined]  # the client went away before the first chunk
    body.close()  # type: ignore[attr-defined]  # idempotent
    assert app.stats.in_flight == 0


def test_error_injection_follows_the_seed(classifier: IntentClassifier) -> None:
    def statuses(seed: int) -> list[int]:
        app = create_app(DemoConfig(**{**FAST.__dict__, "error_rate": 0.3, "seed": seed}),
                         classifier)  # fmt: skip
        codes = [call(app, "POST", "/predict", {"query": "hi"})[0] for _ in range(100)]
        assert app.stats.errors_injected == codes.count(503)
        return codes

    first = statuses(7)
    assert first == statuses(7)
    assert first != statuses(8)
    assert set(first) == {200, 503} and 15 <= first.count(503) <= 45


@pytest.mark.parametrize(
    "knobs,message",
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"chat_style": "poem"}, "Available styles"),
        ({"model_name": "a/b"}, "model_name"),
        ({"jitter_ms": float("nan")}, "jitter_ms"),
    ],
)
def test_config_rejects_bad_knobs(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoConfig(**knobs)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--bogus"], "unrecognized arguments"),
        (["--latency-ms", "fast"], "invalid float"),
        (["--error-rate", "2"], "--error-rate must be between 0 and 1"),
        (["--chat-style", "poem"], "invalid choice"),
        (["--port", "70000"], "--port"),
    ],
)
def test_bad_flags_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
