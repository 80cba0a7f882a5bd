"""``stagecheck demo-server``: the embedded staging endpoint on a gevent WSGI server.

``DemoServer`` runs in the current process, in greenlets: it only serves while the caller
yields to gevent (``gevent.sleep``, a gevent-aware client). ``main`` runs it as a process and
is the only place that monkey-patches, so importing this module changes nothing.
"""

from __future__ import annotations

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

import argparse
import contextlib
import dataclasses
import signal
import socket
import sys
from types import TracebackType
from typing import Any

from stagecheck.demo.app import DemoApp, StatsSnapshot, create_app
from stagecheck.demo.config import CHAT_STYLES, DemoConfig
from stagecheck.demo.model import IntentClassifier

__all__ = ["DemoConfig", "DemoServer", "create_app", "build_parser", "main"]

_DEFAULTS = DemoConfig()


class _NoDelayWSGIServer(WSGIServer):
    """pywsgi leaves Nagle's algorithm on: small SSE chunks then wait for the client's delayed
    ACK (~40 ms) and arrive in bursts. Streaming servers (uvicorn, vLLM) set TCP_NODELAY."""

    def handle(self, sock: socket.socket, address: Any) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class DemoServer:
    """The demo endpoint served by ``gevent.pywsgi`` in this process; a context manager."""

    def __init__(
        self,
        config: DemoConfig = _DEFAULTS,
        host: str = "127.0.0.1",
        port: int = 0,
        classifier: IntentClassifier | None = None,
        access_log: bool = False,
    ) -> None:
        self.config = config
        self.app: DemoApp = create_app(config, classifier)
        self._server = _NoDelayWSGIServer(
            (host, port), self.app, log="default" if access_log else None
        )
        self._started = False

    def start(self) -> DemoServer:
        """Bind and accept in background greenlets; raises ``OSError`` if the port is taken."""
        self._server.start()
        self._started = True
        return self

    @property
    def port(self) -> int:
        if not self._started:
            raise RuntimeError("DemoServer.port is known once start() has bound the socket")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.server_host}:{self.port}"

    def stats(self) -> StatsSnapshot:
        return self.app.stats.snapshot()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, give requests in progress ``timeout`` seconds, then close."""
        if self._started:
            self._server.stop(timeout=timeout)
            self._started = False

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def build_parser(prog: str = "stagecheck demo-server") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the demo intent classifier on loopback (OpenAI chat, KServe V2, "
        "MLflow and plain JSON routes) with latency, error and slow-down knobs.",
    )
    d = _DEFAULTS
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)")
    add("--latency-ms", type=float, default=d.latency_ms, help="base latency (%(default)s)")
    add("--jitter-ms", type=float, default=d.jitter_ms, help="uniform extra 0..J (%(default)s)")
    add("--error-rate", type=float, default=d.error_rate, help="fraction answered 503")
    add(
        "--slowdown-ms-per-request",
        type=float,
        default=d.slowdown_ms_per_request,
        help="extra latency per other request in flight (%(default)s)",
    )
    add("--token-delay-ms", type=float, default=d.token_delay_ms, help="between stream chunks")
    add(
        "--complex-extra-ms",
        type=float,
        default=d.complex_extra_ms,
        help="extra latency per 10 words of input (%(default)s)",
    )
    add("--chat-style", choices=CHAT_STYLES, default=d.chat_style, help="OpenAI reply content")
    add("--seed", type=int, default=d.seed, help="seed of jitter and error injection")
    add("--model-name", default=d.model_name, help="model name served (%(default)s)")
    add("--degrade", action="append", default=[], metavar="RULE",
        help="a worse model: 'intent=LABEL:FRACTION' or 'slice:FIELD=VALUE:FRACTION' (with "
             "--degrade-rows); that fraction of matching rows, fixed by their text, gets the "
             "model's second choice (repeatable)")  # fmt: skip
    add("--degrade-rows", metavar="FILE",
        help="JSONL dataset (text + slice fields) that 'slice:' rules look rows up in")  # fmt: skip
    add("--fallback-above", type=int, metavar="N",
        help="a model falling back under pressure: while more than N requests are in "
             "flight, answer --fallback-label (in flight is about rate x latency)")  # fmt: skip
    add("--fallback-label", metavar="LABEL",
        help="the answer of --fallback-above (default: the model's first label)")  # fmt: skip
    add("--chatbot", action="store_true",
        help="OpenAI routes answer support questions in free text from a small knowledge base "
             "(wrong topic or a missing detail now and then, on purpose)")  # fmt: skip
    add("--agent", action="store_true",
        help="OpenAI chat answers whole conversations as a support assistant with tools "
             "(lookup_order, open_return) and refund policy answers")  # fmt: skip
    add("--forget-rate", type=float, default=d.forget_rate, metavar="SHARE",
        help="with --agent: that share of requests ignores the history (fixed by a hash)")
    add("--wrong-tool-rate", type=float, default=d.wrong_tool_rate, metavar="SHARE",
        help="with --agent: that share of tool calls calls the other tool (fixed by a hash)")
    add("--access-log", action="store_true", help="log every request to stderr")
    return parser


def _config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> DemoConfig:
    # Every DemoConfig field has a flag of the same name.
    names = [f.name for f in dataclasses.fields(DemoConfig)]
    try:
        return DemoConfig(**{name: getattr(args, name) for name in names})
    except ValueError as e:
        message = str(e)
        field = message.split(" ", 1)[0]
        if field in names:  # "latency_ms must be >= 0" -> "--latency-ms must be >= 0"
            message = "--" + field.replace("_", "-") + message[len(field) :]
        parser.error(message)


def _monkey_patch() -> None:
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; exit code 0 then, 2 for bad flags, 3 if it cannot bind."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = _config_from(args, parser)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    try:
        app = create_app(config)
    except ValueError as e:  # --degrade-rows unreadable or malformed, --fallback-label unknown
        message = str(e).replace("degrade_rows", "--degrade-rows", 1)
        parser.error(message.replace("fallback_label", "--fallback-label", 1))
    _monkey_patch()
    try:
        server = DemoServer(
            config, args.host, args.port, classifier=app.classifier, access_log=args.access_log
        ).start()
    except OSError as e:
        where = f"{args.host}:{args.port}"
        print(f"stagecheck demo-server: cannot listen on {where}: {e}", file=sys.stderr)
        return 3
    n_intents = len(server.app.classifier.labels)
    print(
        f"stagecheck demo-server listening on {server.url} "
        f"(model {config.model_name}, {n_intents} intents"
        + ("; chatbot: free-text answers on the OpenAI routes" if config.chatbot else "")
        + ("; agent: conversations with tools on the chat route" if config.agent else "")
        + (f"; degraded: {', '.join(config.degrade)}" if config.degrade else "")
        + (
            f"; falls back above {config.fallback_above} in flight"
            if config.fallback_above is not None
            else ""
        )  # fmt: skip
        + ")",
        flush=True,
    )
    stopping = gevent.event.Event()
    handlers = [gevent.signal_handler(sig, stopping.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        stopping.wait()
    finally:
        for handler in handlers:
            handler.cancel()
        server.stop(timeout=2.0)
    return 0
