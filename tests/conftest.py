"""Shared fixtures: scenario files written into tmp_path, a small dataset, the fault server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import REPO  # also re-exported for the unit tests

SMALL_ROWS = [
    {"id": f"r{i}", "text": text, "label": label, "complexity": cx, "channel": ch}
    for i, (text, label, cx, ch) in enumerate(
        [
            ("where is my parcel", "shipping", "simple", "chat"),
            ("I want my money back", "refund", "simple", "email"),
            ("charged twice this month", "billing", "simple", "chat"),
            ("package late and also refund please", "refund", "complex", "email"),
            ("cannot log in to my account", "account_access", "simple", "chat"),
            (
                "the invoice shows a wrong amount and shipping was slow",
                "billing",
                "complex",
                "email",
            ),
        ]
    )
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI`` set, as ``.ci/run`` runs) a skip is a failure: CI installs everything the
    tests need (``.ci/test-deps``), so a skipped test there is a broken setup that would
    otherwise pass unseen."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {str(reason).removeprefix('Skipped: ')}"


# Under pytest-xdist a worker waits for its next test on a threading.Event that the worker's
# receiver thread sets. Once a test has imported locust, gevent's monkey-patching makes that
# wait a gevent one: with nothing else on the hub it ends in LoopExit ("would block forever")
# instead of waking when the other thread sets the event. A started async watcher holds the hub
# open (it never fires and costs nothing); gevent wakes the hub across threads.
_HUB_HELD: list[object] = []


def _hold_gevent_hub_open() -> None:
    if _HUB_HELD or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return
    import gevent

    watcher = gevent.get_hub().loop.async_()
    watcher.start(lambda: None)
    _HUB_HELD.append(watcher)


def pytest_collection_finish(session: pytest.Session) -> None:
    _hold_gevent_hub_open()  # a test module imported locust


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _hold_gevent_hub_open()  # the test imported locust


@pytest.fixture(scope="module")
def fault_server() -> Iterator[str]:
    """``tests/faults.py`` in a process of its own: a chat endpoint whose ``/fault/<name>/…``
    routes misbehave in one way each (its URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults"], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("port "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SMALL_ROWS), encoding="utf-8")
    return path


@pytest.fixture
def write_scenario(tmp_path: Path, small_dataset: Path) -> Callable[..., Path]:
    """Write a scenario YAML (dedented) into tmp_path; ``{dataset}`` is the small dataset."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(
            textwrap.dedent(text).replace("{dataset}", str(small_dataset)), encoding="utf-8"
        )
        return path

    return write


BASIC_SCENARIO = """\
name: basic
endpoint:
  url: http://127.0.0.1:9
  protocol: openai-chat
  model: m
dataset:
  path: {dataset}
  input: text
  expected: label
  slices: [complexity, channel]
load: {users: 2, duration: 5s}
thresholds:
  - accuracy >= 0.5
"""
