"""The offline guard of conftest.py itself: without it, "the report requested nothing" could
pass because nothing was being recorded."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import stays_on_machine

if TYPE_CHECKING:
    from .conftest import Visit

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("file:///tmp/report.html", True),
        ("data:image/png;base64,AAAA", True),
        ("http://127.0.0.1:8000/x", True),
        ("http://127.8.9.10/x", True),
        ("http://[::1]:8000/x", True),
        ("http://localhost/x", True),
        ("ws://localhost:9/socket", True),
        ("https://cdn.example.com/lib.js", False),
        ("http://10.1.2.3/x", False),
        ("http://192.168.0.1/x", False),
        ("http://localhost.example.com/x", False),
        ("wss://example.com/socket", False),
    ],
)
def test_stays_on_machine(url: str, local: bool) -> None:
    assert stays_on_machine(url) is local


def test_guard_records_and_blocks(open_page: Callable[[Path], Visit], tmp_path: Path) -> None:
    # A loopback port that refuses connections: bound, never listening.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        local = f"http://127.0.0.1:{port}/local.png"
        # .invalid never resolves (RFC 2606), and the guard aborts it before any lookup anyway.
        remote = "http://stagecheck.invalid/remote.png"
        page = tmp_path / "page.html"
        page.write_text(f'<img src="{local}"><img src="{remote}">', encoding="utf-8")
        visit = open_page(page)
    assert sorted(visit.requests) == sorted([local, remote])
    assert visit.blocked == [remote]
    assert len(visit.console_errors) == 2  # both images failed to load
