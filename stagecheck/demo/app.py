"""The demo endpoint as a WSGI application: routing, simulated latency, injected errors, stats.

Latency is spent with ``gevent.sleep``, so the app must run under a gevent server (``server``);
under any other server it would block its worker for the simulated time, which is still correct
but does not scale.
"""

from __future__ import annotations

import gevent

import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

from stagecheck.demo import payloads
from stagecheck.demo.agent import Agent
from stagecheck.demo.agent_payloads import (
    AgentRequest,
    agent_response,
    agent_stream_chunks,
    parse_agent_chat,
)
from stagecheck.demo.chatbot import SupportBot
from stagecheck.demo.config import DemoConfig
from stagecheck.demo.degrade import Degrader, load_rows, parse_rule
from stagecheck.demo.model import IntentClassifier, load_default
from stagecheck.demo.payloads import BadRequest, Prediction
from stagecheck.demo.wsgi import (
    INFERENCE_ROUTES,
    DemoStats,
    Environ,
    Reply,
    StatsSnapshot,
    TrackedStream,
    read_json,
    sse,
)

__all__ = ["DemoApp", "DemoStats", "StatsSnapshot", "INFERENCE_ROUTES", "create_app"]

_STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    503: "503 Service Unavailable",
}

T = TypeVar("T")
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class DemoApp:
    """WSGI callable serving the routes listed in ``_routes``; ``stats`` is live."""

    def __init__(self, config: DemoConfig, classifier: IntentClassifier) -> None:
        self.config = config
        self.classifier = classifier
        self.stats = DemoStats()
        self._jitter_rng = random.Random(f"{config.seed}/jitter")
        self._error_rng = random.Random(f"{config.seed}/errors")
        self._ids = itertools.count(1)
        rows = load_rows(config.degrade_rows) if config.degrade_rows else None
        self._degrader = Degrader([parse_rule(r) for r in config.degrade], rows, config.seed)
        self._fallback = _fallback_label(config, classifier.labels)
        self._bot = SupportBot(seed=config.seed) if config.chatbot else None
        self._agent = (
            Agent(config.forget_rate, config.wrong_tool_rate, config.seed) if config.agent else None
        )
        self._metrics = CollectorRegistry()
        ProcessCollector(registry=self._metrics)
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"/health"), self._health),
            ("GET", re.compile(r"/stats"), lambda environ: Reply(200, self.stats.snapshot())),
            ("POST", re.compile(r"/stats/reset"), self._reset_stats),
            ("POST", re.compile(r"/v1/chat/completions"), self._chat),
            ("POST", re.compile(r"/v1/completions"), self._completions),
            ("GET", re.compile(r"/v1/models"), self._openai_models),
            ("GET", re.compile(r"/v2"), self._kserve_server),
            ("GET", re.compile(r"/v2/health/(?:live|ready)"), self._kserve_health),
            ("GET", re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/1)?"), self._kserve_meta),
            (
                "GET",
                re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/1)?/ready"),
                self._kserve_ready,
            ),
            (
                "POST",
                re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/1)?/infer"),
                self._kserve_infer,
            ),
            ("POST", re.compile(r"/invocations"), self._mlflow),
            ("POST", re.compile(r"/predict"), self._predict),
        ]

    # --- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/metrics" and environ["REQUEST_METHOD"] == "GET":
            # Prometheus process metrics (CPU seconds, resident memory), as real model servers
            # expose them: what stagecheck samples for the target's resource usage.
            body = generate_latest(self._metrics)
            start_response(_STATUS[200], [("Content-Type", CONTENT_TYPE_LATEST),
                                          ("Content-Length", str(len(body)))])  # fmt: skip
            return [body]
        reply = self._dispatch(environ)
        if reply.stream is not None:
            headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
            start_response(_STATUS[reply.status], headers + reply.headers)
            return reply.stream
        body = json.dumps(reply.body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(_STATUS[reply.status], headers + reply.headers)
        return [body]

    def _dispatch(self, environ: Environ) -> Reply:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        allowed: list[str] = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler(environ, **match.groupdict())
            allowed.append(route_method)
        if allowed:
            return Reply(
                405,
                {"error": f"method {method} not allowed on {path}"},
                headers=[("Allow", ", ".join(allowed))],
            )
        return Reply(404, {"error": f"no route {path}"})

    # --- simulation -------------------------------------------------------------------------

    def _simulate(self, words: int) -> bool:
        """Spend the simulated service time; True when this request gets an injected error."""
        c = self.config
        others_in_flight = max(0, self.stats.in_flight - 1)
        delay_ms = (
            c.latency_ms
            + self._jitter_rng.uniform(0, c.jitter_ms)
            + c.slowdown_ms_per_request * others_in_flight
            + c.complex_extra_ms * words / 10
        )
        gevent.sleep(delay_ms / 1000)
        failed = self._error_rng.random() < c.error_rate
        if failed:
            self.stats.errors_injected += 1
        return failed

    def _answer(self, text: str) -> tuple[str, float]:
        limit = self.config.fallback_above
        if limit is not None and self.stats.in_flight > limit:
            return self._fallback, 1.0
        if not self._degrader:
            return self.classifier.predict(text)
        return self._degrader.answer(text, self.classifier.probabilities(text))

    def _predict_all(self, texts: list[str]) -> list[Prediction]:
        return [Prediction(*self._answer(t)) for t in texts]

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):012x}"

    # --- plain routes -----------------------------------------------------------------------

    def _health(self, environ: Environ) -> Reply:
        return Reply(200, {"status": "ok"})

    def _reset_stats(self, environ: Environ) -> Reply:
        self.stats.reset()
        return Reply(200, self.stats.snapshot())

    def _openai_models(self, environ: Environ) -> Reply:
        model = {
            "id": self.config.model_name,
            "object": "model",
            "created": 0,
            "owned_by": "stagecheck",
        }
        return Reply(200, {"object": "list", "data": [model]})

    def _kserve_server(self, environ: Environ) -> Reply:
        return Reply(200, {"name": "stagecheck-demo", "version": "1", "extensions": []})

    def _kserve_health(self, environ: Environ) -> Reply:
        return Reply(200, {"live": True, "ready": True})

    def _unknown_model(self, model: str) -> Reply | None:
        if model == self.config.model_name:
            return None
        return Reply(
            404,
            {"error": f"model '{model}' not found; this server serves '{self.config.model_name}'"},
        )

    def _kserve_meta(self, environ: Environ, model: str) -> Reply:
        return self._unknown_model(model) or Reply(
            200, payloads.kserve_metadata(model, self.classifier.labels)
        )

    def _kserve_ready(self, environ: Environ, model: str) -> Reply:
        return self._unknown_model(model) or Reply(200, {"name": model, "ready": True})

    # --- inference routes -------------------------------------------------------------------

    def _chat(self, environ: Environ) -> Reply:
        if self._agent is not None:  # the whole conversation and its tools are read
            return self._openai(environ, "chat", parse_agent_chat)
        return self._openai(environ, "chat", payloads.parse_chat)

    def _completions(self, environ: Environ) -> Reply:
        return self._openai(environ, "completions", payloads.parse_completion)

    def _openai(
        self, environ: Environ, kind: str, parse: Callable[[Any], payloads.OpenAIRequest]
    ) -> Reply:
        def error(status: int, message: str, err_type: str, code: str | None = None) -> Reply:
            return Reply(status, payloads.openai_error(message, err_type, code))

        body: Any = None
        problem: str | None = None
        try:
            body = read_json(environ)
        except BadRequest as e:
            problem = str(e)
        # The route (streamed or not) is known once the body is read; still before any delay.
        streamed = isinstance(body, dict) and body.get("stream") is True
        self.stats.arrive(f"{kind}_stream" if streamed else kind)
        handed_over = False
        try:
            if problem is not None:
                return error(400, problem, "invalid_request_error")
            request = parse(body)
            if request.model is not None and request.model != self.config.model_name:
                message = f"The model `{request.model}` does not exist."
                return error(404, message, "invalid_request_error", "model_not_found")
            if self._simulate(payloads.word_count(request.text)):
                return error(503, "injected error (--error-rate)", "server_error", "unavailable")
            if self._agent is not None and isinstance(request, AgentRequest):
                reply = self._agent_reply(request)
                handed_over = reply.stream is not None  # the stream tells the stats its end
                return reply
            if self._bot is not None:
                content = self._bot.answer(request.text)
            else:
                label = self._answer(request.text)[0]
                sentence = self.config.chat_style == "sentence"
                content = f"The customer's intent is {label}." if sentence else label
            args = (
                kind,
                request,
                content,
                self._next_id("chatcmpl" if kind == "chat" else "cmpl"),
                int(time.time()),
                self.config.model_name,
            )
            if not request.stream:
                return Reply(200, payloads.openai_response(*args))
            chunks, token_chunks = payloads.openai_stream_chunks(*args)
            stream = sse(chunks, token_chunks, self.config.token_delay_ms / 1000)
            handed_over = True
            return Reply(200, stream=TrackedStream(stream, self.stats.leave))
        except BadRequest as e:
            return error(400, str(e), "invalid_request_error")
        finally:
            if not handed_over:
                self.stats.leave()

    def _agent_reply(self, request: AgentRequest) -> Reply:
        """The assistant's answer (a text or a tool call), whole or streamed."""
        assert self._agent is not None
        turn = self._agent.reply(request.messages, request.tools)
        args = (request, turn, self._next_id("chatcmpl"), int(time.time()), self.config.model_name)
        if not request.stream:
            return Reply(200, agent_response(*args))
        chunks, token_chunks = agent_stream_chunks(*args)
        stream = sse(chunks, token_chunks, self.config.token_delay_ms / 1000)
        return Reply(200, stream=TrackedStream(stream, self.stats.leave))

    def _batch(
        self,
        environ: Environ,
        route: str,
        parse: Callable[[Any], T],
        texts_of: Callable[[T], list[str]],
        answer: Callable[[T, list[Prediction]], Any],
        error: Callable[[int, str], Any],
        precheck: Callable[[], Reply | None] = lambda: None,
    ) -> Reply:
        """Shared flow of the KServe, MLflow and plain JSON routes."""
        self.stats.arrive(route)
        try:
            rejected = precheck()
            if rejected is not None:
                return rejected
            request = parse(read_json(environ))
            texts = texts_of(request)
            if self._simulate(sum(payloads.word_count(t) for t in texts)):
                return Reply(503, error(503, "injected error (--error-rate)"))
            return Reply(200, answer(request, self._predict_all(texts)))
        except BadRequest as e:
            return Reply(400, error(400, str(e)))
        finally:
            self.stats.leave()

    def _kserve_infer(self, environ: Environ, model: str) -> Reply:
        return self._batch(
            environ,
            "kserve_infer",
            payloads.parse_kserve,
            lambda request: request.texts,
            lambda request, preds: payloads.kserve_response(model, request, preds),
            lambda status, message: {"error": message},
            precheck=lambda: self._unknown_model(model),
        )

    def _mlflow(self, environ: Environ) -> Reply:
        codes = {400: "BAD_REQUEST", 503: "TEMPORARILY_UNAVAILABLE"}
        return self._batch(
            environ,
            "mlflow",
            payloads.parse_mlflow,
            lambda texts: texts,
            lambda texts, preds: {"predictions": [p.label for p in preds]},
            lambda status, message: {"error_code": codes[status], "message": message},
        )

    def _predict(self, environ: Environ) -> Reply:
        return self._batch(
            environ,
            "predict",
            payloads.parse_predict,
            lambda query: [query],
            lambda query, preds: {
                "result": {"intent": preds[0].label, "confidence": round(preds[0].confidence, 4)}
            },
            lambda status, message: {"error": message},
        )


def _fallback_label(config: DemoConfig, labels: Sequence[str]) -> str:
    if config.fallback_label is None:
        return sorted(labels)[0]
    if config.fallback_label not in labels:
        raise ValueError(
            f"fallback_label {config.fallback_label!r} is not one of the model's labels "
            f"({', '.join(sorted(labels))})"
        )
    return config.fallback_label


def create_app(config: DemoConfig, classifier: IntentClassifier | None = None) -> DemoApp:
    """The WSGI app; trains the bundled classifier when none is given. ``app.stats`` is live."""
    return DemoApp(config, classifier if classifier is not None else load_default())
