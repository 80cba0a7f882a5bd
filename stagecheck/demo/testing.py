"""Run the demo endpoint as a subprocess, for tests and benchmarks.

    proc, url = start_demo_subprocess("--latency-ms", "5")
    try:
        ...  # talk to url with any client (urllib is fine: this process is not patched)
    finally:
        stop_demo_subprocess(proc)

or ``with demo_subprocess("--error-rate", "0.1") as url: ...``.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

__all__ = ["start_demo_subprocess", "stop_demo_subprocess", "demo_subprocess", "DemoStartError"]

_LISTENING = re.compile(r"listening on (http://\S+)")


class DemoStartError(RuntimeError):
    """The demo server did not come up in time (its stderr is inherited: see the test output)."""


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise DemoStartError("demo server printed nothing before the deadline")
    # The server prints its one line whole and flushes, so this does not block for long.
    return proc.stdout.readline()


def _wait_healthy(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise DemoStartError(f"{url}/health did not answer 200 before the deadline")
        time.sleep(0.05)


def start_demo_subprocess(*args: str, timeout: float = 10.0) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m stagecheck.demo --port 0 *args``; return the process and its base URL.

    Returns once the server has printed its URL and answers ``/health``. Later flags win, so
    ``args`` may override ``--port``.
    """
    cmd = [sys.executable, "-m", "stagecheck.demo", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        line = _read_line(proc, deadline)
        match = _LISTENING.search(line)
        if match is None:
            code = proc.poll()
            raise DemoStartError(f"unexpected first line {line!r} from {cmd} (exit code {code})")
        url = match.group(1)
        _wait_healthy(url, deadline)
    except BaseException:
        stop_demo_subprocess(proc)
        raise
    return proc, url


def stop_demo_subprocess(
    proc: subprocess.Popen[str], timeout: float = 5.0, sig: int = signal.SIGTERM
) -> int:
    """Ask the server to stop with ``sig`` (killing it after ``timeout``); return its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


@contextlib.contextmanager
def demo_subprocess(*args: str, timeout: float = 10.0) -> Iterator[str]:
    """Context manager around start/stop; yields the base URL."""
    proc, url = start_demo_subprocess(*args, timeout=timeout)
    try:
        yield url
    finally:
        stop_demo_subprocess(proc)
