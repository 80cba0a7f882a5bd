"""Fixtures for the grafana/ tests: Debian's promtool, a real Prometheus and Pushgateway on
loopback (see promserver.py), and the demo endpoint as a subprocess.

Without the Prometheus binaries the tests that need them are skipped, with the apt command in
the reason; in CI (``CI`` set) ``.ci/run`` installs them, so their absence is a failure there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.grafana import promserver
from tests.grafana.promserver import Prometheus, Pushgateway
from tests.support import FAST, Demo, running_demo


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        reason = f"{binary} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"grafana tests cannot run in CI: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return require("promtool", "prometheus")


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Prometheus]]:
    """``prometheus_factory(config)`` starts a Prometheus on a free loopback port with ``config``
    (a dict, e.g. from ``promserver.example_config``); all are stopped after the test."""
    require("prometheus", "prometheus")
    with ExitStack() as stack:
        started: list[Prometheus] = []

        def start(config: dict[str, Any]) -> Prometheus:
            workdir = tmp_path / f"prometheus{len(started)}"
            prom = stack.enter_context(promserver.start_prometheus(config, workdir))
            started.append(prom)
            return prom

        yield start


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    require("prometheus-pushgateway", "prometheus-pushgateway")
    with promserver.start_pushgateway(tmp_path / "pushgateway") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    # Tokens 20 ms apart, as an LLM streams them: 1 ms apart (FAST), a generator sharing two
    # busy cores falls behind its streams, and the run is rightly invalid (its first tokens'
    # times only bounds), which is not what these runs are here to show.
    with running_demo(*FAST[:-1], "20") as demo:
        yield demo
