"""Integration fixtures: the real demo endpoint as a subprocess on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
from tests.support import FAST, Demo


@pytest.fixture(scope="module")
def fast_demo() -> Iterator[Demo]:
    proc, url = start_demo_subprocess(*FAST)
    try:
        yield Demo(url)
    finally:
        stop_demo_subprocess(proc)
