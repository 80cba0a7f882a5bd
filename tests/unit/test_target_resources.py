"""The target's resource usage from its Prometheus process metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from stagecheck.endpoint.resources import (
    ResourceSampler,
    read_process_metrics,
    resolve_metrics_url,
)

pytestmark = pytest.mark.unit


def test_reads_the_real_process_collector_output():
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    cpu, rss = read_process_metrics(generate_latest(registry).decode())
    assert cpu is not None and cpu > 0
    assert rss is not None and rss > 1_000_000


def test_sums_series_and_tolerates_absence():
    text = (
        "# TYPE process_cpu_seconds_total counter\n"
        'process_cpu_seconds_total{pid="1"} 2.5\nprocess_cpu_seconds_total{pid="2"} 1.5\n'
    )
    assert read_process_metrics(text) == (4.0, None)
    assert read_process_metrics("# nothing here\n") == (None, None)


def test_relative_and_absolute_urls():
    assert resolve_metrics_url("http://h:8000", "/metrics") == "http://h:8000/metrics"
    assert resolve_metrics_url("http://h:8000/api", "/metrics") == "http://h:8000/metrics"
    assert resolve_metrics_url("http://h:8000", "http://m:9/x") == "http://m:9/x"


def test_summary_math():
    s = ResourceSampler("http://unused")
    # (monotonic s, cpu s, rss bytes): 1 CPU-second over 2 s, then 0.2 over 2 s
    s.samples = [(10.0, 5.0, 100.0), (12.0, 6.0, 300.0), (14.0, 6.2, 200.0)]
    out = s.summary()
    assert out["cpu_percent_mean"] == pytest.approx(100 * 1.2 / 4)
    assert out["cpu_percent_max"] == pytest.approx(50.0)
    assert out["memory_bytes_max"] == 300.0
    assert out["memory_bytes_mean"] == pytest.approx(200.0)


def test_unreachable_endpoint_is_counted_not_fatal():
    s = ResourceSampler("http://127.0.0.1:9/metrics", timeout=0.5)
    s.sample()
    out = s.summary()
    assert (out["samples"], out["errors"]) == (0, 1)
    assert out["cpu_percent_mean"] is None and "Connection refused" in out["last_error"]


def test_the_peak_is_read_over_a_second_at_least():
    s = ResourceSampler("http://unused")
    # a last reading 0.05 s after the one before, the counter having ticked 0.02 s meanwhile:
    # over that sliver it would read 40 %; over 1 s windows the peak is the real 50 %
    s.samples = [(10.0, 5.0, 1.0), (11.0, 5.5, 1.0), (12.0, 5.9, 1.0), (12.05, 5.92, 1.0)]
    s.samples += [(12.1, 5.99, 1.0)]  # 0.07 CPU-s in 0.05 s: 140 % if read alone
    out = s.summary()
    assert out["cpu_percent_max"] == pytest.approx(50.0)
