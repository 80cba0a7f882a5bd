"""The target's resource usage during a run, read from its Prometheus endpoint.

Most model servers (vLLM, KServe/Triton, TorchServe, anything instrumented with a Prometheus
client) expose the standard process metrics ``process_cpu_seconds_total`` and
``process_resident_memory_bytes``. Sampling them every few seconds during the run gives the
target's CPU use and memory without touching the request path. No Locust import.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ResourceSampler", "resolve_metrics_url", "read_process_metrics", "SAMPLE_INTERVAL_S"]

SAMPLE_INTERVAL_S = 2.0
_CPU = "process_cpu_seconds_total"
_RSS = "process_resident_memory_bytes"


def resolve_metrics_url(endpoint_url: str, metrics_url: str) -> str:
    """``/metrics`` is taken relative to the endpoint's host; a full URL is used as it is."""
    return urljoin(endpoint_url + "/", metrics_url) if metrics_url.startswith("/") else metrics_url


def read_process_metrics(text: str) -> tuple[float | None, float | None]:
    """(CPU seconds, resident memory bytes) from a Prometheus text exposition; summed over
    series when several processes report (e.g. a server with worker processes)."""
    cpu = rss = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == _CPU:
                cpu = (cpu or 0.0) + sample.value
            elif sample.name == _RSS:
                rss = (rss or 0.0) + sample.value
    return cpu, rss


@dataclass
class ResourceSampler:
    """Samples the target's process metrics; :meth:`summary` is the ``target`` block of
    summary.json."""

    url: str
    timeout: float = 2.0
    samples: list[tuple[float, float | None, float | None]] = field(default_factory=list)
    errors: int = 0
    last_error: str | None = None

    def sample(self) -> None:
        """One reading (never raises: an unreachable endpoint is counted, not fatal)."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", "replace")
            cpu, rss = read_process_metrics(text)
        except Exception as exc:  # network, HTTP or format: count it and go on
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            return
        self.samples.append((time.monotonic(), cpu, rss))

    def latest(self) -> tuple[float | None, float | None]:
        """CPU between the last two readings (percent of one core) and the last memory reading
        (bytes): the live figures."""
        cpu_points = [(t, c) for t, c, _ in self.samples[-2:] if c is not None]
        cpu = None
        if len(cpu_points) == 2:
            (t0, c0), (t1, c1) = cpu_points
            if t1 > t0 and c1 >= c0:
                cpu = 100.0 * (c1 - c0) / (t1 - t0)
        rss = self.samples[-1][2] if self.samples else None
        return cpu, rss

    def summary(self) -> dict[str, Any]:
        cpu_points = [(t, c) for t, c, _ in self.samples if c is not None]
        rates = _windowed_rates(cpu_points)
        span = cpu_points[-1][0] - cpu_points[0][0] if len(cpu_points) > 1 else 0.0
        rss = [r for _, _, r in self.samples if r is not None]
        return {
            "metrics_url": self.url,
            "samples": len(self.samples),
            "errors": self.errors,
            "last_error": self.last_error,
            # mean over the whole span: total CPU seconds used / wall seconds (100 = one core)
            "cpu_percent_mean": (
                100.0 * (cpu_points[-1][1] - cpu_points[0][1]) / span if span > 0 else None
            ),
            "cpu_percent_max": max(rates) if rates else None,
            "memory_bytes_mean": sum(rss) / len(rss) if rss else None,
            "memory_bytes_max": max(rss) if rss else None,
        }


MIN_WINDOW_S = 1.0  # the target's CPU counter ticks coarsely: a rate over less reads noise


def _windowed_rates(points: list[tuple[float, float]]) -> list[float]:
    """CPU % between readings at least MIN_WINDOW_S apart (a last reading taken a moment after
    the one before, at the end of a run, once read as 731 % on a 2-core machine)."""
    rates = []
    anchor = points[0] if points else None
    for t, c in points[1:]:
        assert anchor is not None
        t0, c0 = anchor
        if t - t0 >= MIN_WINDOW_S:
            if c >= c0:
                rates.append(100.0 * (c - c0) / (t - t0))
            anchor = (t, c)
    return rates
