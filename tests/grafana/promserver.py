"""A real Prometheus (and Pushgateway) on loopback for the tests, and its HTTP API.

    with start_prometheus(config, tmp_path) as prom:
        prom.wait_up(job="stagecheck", instance="127.0.0.1:9646")
        prom.query('sum(rate(stagecheck_requests_total[10s]))')   # -> list of samples

The servers are Debian's ``prometheus`` and ``prometheus-pushgateway`` binaries, each on a free
127.0.0.1 port with its data in a temp folder; they are stopped (SIGTERM, then SIGKILL) when the
context exits. ``config`` is the Prometheus configuration as a dict: :func:`example_config`
derives it from ``grafana/prometheus.yml`` with the targets replaced, so the tests run the
example users copy.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO

__all__ = ["PROMETHEUS", "PUSHGATEWAY", "EXAMPLE_CONFIG", "RULES", "PromError", "Prometheus",
           "Pushgateway", "free_port", "example_config", "start_prometheus",
           "start_pushgateway"]  # fmt: skip

PROMETHEUS = shutil.which("prometheus")
PUSHGATEWAY = shutil.which("prometheus-pushgateway")
EXAMPLE_CONFIG = REPO / "grafana" / "prometheus.yml"
RULES = REPO / "grafana" / "rules" / "stagecheck.rules.yml"


class PromError(RuntimeError):
    """Prometheus answered with an error, or did not come up in time."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:  # 4xx/5xx: Prometheus explains why in the body
        return e.code, e.read()


@dataclass
class Prometheus:
    """A running Prometheus: its base URL and where it logs."""

    url: str
    log: Path

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>``; the ``data`` of a success, else :class:`PromError`."""
        query = urllib.parse.urlencode(params)
        status, body = _get(f"{self.url}/api/v1/{path}?{query}")
        try:
            payload = json.loads(body)
        except ValueError:
            raise PromError(f"{path} {params}: HTTP {status}, not JSON: {body[:200]!r}") from None
        if payload.get("status") != "success":
            raise PromError(f"{path} {params}: {payload.get('errorType')}: {payload.get('error')}")
        return payload["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; the result as a list of ``{"metric": {...}, "value": [t, "v"]}``
        (a scalar result becomes one sample without labels)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's ``label_values(match, label)`` variable query lists."""
        return list(self.api(f"label/{label}/values", **{"match[]": match}))

    def wait_up(self, job: str, instance: str, timeout: float = 20.0) -> None:
        """Return once the target has been scraped successfully (``up == 1``)."""
        expr = f'up{{job="{job}",instance="{instance}"}} == 1'
        deadline = time.monotonic() + timeout
        while not self.query(expr):
            if time.monotonic() >= deadline:
                targets = self.api("targets", state="active")["activeTargets"]
                seen = [(t["labels"], t["health"], t.get("lastError")) for t in targets]
                raise PromError(f"{job}/{instance} not up after {timeout} s; targets: {seen}")
            time.sleep(0.2)


@dataclass
class Pushgateway:
    url: str
    address: str  # host:port, for scrape configs and push_to_gateway


def example_config(targets: dict[str, list[str]], *, interval: str = "1s") -> dict[str, Any]:
    """``grafana/prometheus.yml`` with each job's targets replaced (``{job: ["host:port"]}``),
    jobs not named dropped, the rules file given by absolute path and rules evaluated every
    ``interval`` so that recorded series appear within the test."""
    config = copy.deepcopy(yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8")))
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(RULES)]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
            job["scrape_interval"] = interval
            job["scrape_timeout"] = interval
            jobs.append(job)
    missing = set(targets) - {j["job_name"] for j in jobs}
    assert not missing, f"no job {missing} in {EXAMPLE_CONFIG}"
    config["scrape_configs"] = jobs
    return config


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise PromError(f"exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            if _get(url, timeout=1.0)[0] == 200:
                return
        if time.monotonic() >= deadline:
            text = log.read_text(errors="replace")
            raise PromError(f"{url} not ready after {timeout} s:\n{text}")
        time.sleep(0.1)


@contextlib.contextmanager
def start_prometheus(config: dict[str, Any], workdir: Path,
                     timeout: float = 20.0) -> Iterator[Prometheus]:  # fmt: skip
    """Run ``prometheus`` with ``config`` on a free loopback port, its TSDB under ``workdir``."""
    if PROMETHEUS is None:
        raise PromError("prometheus is not installed (apt-get install prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    log = workdir / "prometheus.log"
    port = free_port()
    cmd = [PROMETHEUS, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
           f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
           "--log.level=warn"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, log, timeout)
        yield Prometheus(url, log)
    finally:
        _stop(proc)


@contextlib.contextmanager
def start_pushgateway(workdir: Path, timeout: float = 10.0) -> Iterator[Pushgateway]:
    """Run ``prometheus-pushgateway`` on a free loopback port (no persistence)."""
    if PUSHGATEWAY is None:
        raise PromError("prometheus-pushgateway is not installed (apt-get install "
                        "prometheus-pushgateway)")  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "pushgateway.log"
    port = free_port()
    cmd = [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, log, timeout)
        yield Pushgateway(url, f"127.0.0.1:{port}")
    finally:
        _stop(proc)
