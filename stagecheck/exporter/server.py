"""Where the metrics go: a ``/metrics`` endpoint of our own (``--metrics-port``), the Locust web
UI's app (``/metrics``, behind its auth), and a Pushgateway at the end of a run
(``--pushgateway``) for runs too short to be scraped. One injected registry per exporter,
never prometheus_client's global default."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stagecheck.errors import InputError
from stagecheck.exporter.collector import StagecheckCollector
from stagecheck.run.live import LiveView, endpoint_host

__all__ = ["MetricsExporter", "CONTENT_TYPE_LATEST", "is_loopback"]

log = logging.getLogger("stagecheck")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MetricsExporter:
    """Exports whatever run ``source()`` returns at each scrape."""

    def __init__(self, source: Callable[[], LiveView | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StagecheckCollector(source))
        self._server: Any = None

    def render(self) -> bytes:
        """The exposition text of one scrape."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (0: a free port); return the port. A port that is
        taken or not allowed is bad input (exit 2)."""
        if not 0 <= port <= 65535:
            raise InputError(f"--metrics-port must be 0 to 65535, got {port}")
        if not is_loopback(host):
            log.warning("serving metrics on %s: reachable from other machines", host)
        try:
            self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise InputError(f"--metrics-port {port}: cannot listen on {host}:{port} "
                             f"({exc.strerror or exc})") from None  # fmt: skip
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def push(self, gateway: str, grouping_key: dict[str, str]) -> str | None:
        """Push the current figures to a Pushgateway; return a problem, or None."""
        try:
            push_to_gateway(gateway, job="stagecheck", registry=self.registry,
                            grouping_key=grouping_key, timeout=10)  # fmt: skip
        except Exception as exc:  # the run's verdict stands; the push is reported
            where = endpoint_host(gateway) or "the pushgateway"  # no credentials in logs
            return f"could not push metrics to {where}: {type(exc).__name__}"
        return None
