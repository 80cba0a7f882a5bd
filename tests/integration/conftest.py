"""Integration fixtures: the real demo endpoint as a subprocess on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Demo, running_demo


@pytest.fixture(scope="module")
def fast_demo() -> Iterator[Demo]:
    with running_demo() as demo:
        yield demo
