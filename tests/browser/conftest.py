"""Browser fixtures: one headless Debian Chromium for this package, driven by Playwright, and a
fresh context per test whose network is cut off at the machine's edge.

Playwright's own browser download does not work everywhere (it fetches a build from outside the
package registries), so these tests use the system's ``/usr/bin/chromium``; ``.ci/run`` installs
it on a bare machine. Every request a page makes is recorded; any that would leave the machine
(not ``file:``, not loopback) is aborted before it is sent, so a test can prove that a report
opens offline.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Request,
        Route,
        WebSocketRoute,
    )

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
_LOCAL_SCHEMES = {"file", "data", "blob", "about"}


def stays_on_machine(url: str) -> bool:
    """True for URLs that cannot leave this machine: local schemes and loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _why_no_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


# Package scope, not session: Playwright's driver thread and greenlets must be gone before later
# tests import locust in this process, or gevent's monkey-patching hangs on the import lock.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the browser tests (launching costs ~1 s; contexts are cheap)."""
    reason = _why_no_browser()
    if reason is not None:
        # .ci/run installs both: in CI a missing browser is a broken setup, not a reason to skip.
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    """A page opened by :func:`open_page`, with what it did while it was open."""

    page: Page
    #: Every request other than ``file:``/``data:`` ones, loopback included, in order.
    requests: list[str] = field(default_factory=list)
    #: Requests (and WebSocket connections) aborted because they would have left the machine.
    blocked: list[str] = field(default_factory=list)
    #: ``console.error`` messages, CSP violations and failed loads among them.
    console_errors: list[str] = field(default_factory=list)
    #: Uncaught exceptions in the page.
    page_errors: list[str] = field(default_factory=list)


def _offline_context(browser: Browser, visit_log: list[str], blocked: list[str]) -> BrowserContext:
    context = browser.new_context(service_workers="block")

    def guard(route: Route) -> None:
        url = route.request.url
        if stays_on_machine(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    def guard_ws(ws: WebSocketRoute) -> None:
        if stays_on_machine(ws.url):
            ws.connect_to_server()
        else:
            blocked.append(ws.url)
            ws.close()

    def record(request: Request) -> None:
        if urlsplit(request.url).scheme not in _LOCAL_SCHEMES:
            visit_log.append(request.url)

    context.route("**/*", guard)
    context.route_web_socket("**/*", guard_ws)
    context.on("request", record)
    return context


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[Path], Visit]]:
    """``open_page(path)`` opens a local file in a fresh, offline context and waits for load."""
    contexts: list[BrowserContext] = []

    def open_(path: Path) -> Visit:
        requests: list[str] = []
        blocked: list[str] = []
        context = _offline_context(browser, requests, blocked)
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, requests, blocked)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                visit.console_errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
        page.goto(path.resolve().as_uri(), wait_until="load")
        return visit

    yield open_
    for context in contexts:
        context.close()
