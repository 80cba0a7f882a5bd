"""``stagecheck run --metrics-port``: a real scrape during a real run passes ``promtool check
metrics`` and is consistent with itself and with the final summary; a port that cannot be
served is one line and exit 2, before any load."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support import REPO, SCENARIOS, free_master_port

pytestmark = pytest.mark.integration


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def value(text: str, series: str) -> float:
    """Sum of every sample of ``series`` (a name, optionally with a label filter)."""
    name, _, want = series.partition("{")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and (not want or want.rstrip("}") in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_live_scrape_is_valid_and_consistent(fast_demo, tmp_path):
    port = free_master_port()
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "llm-chat-stream.yaml"),
           "--set", f"endpoint.url={fast_demo.url}", "--duration", "6s", "--metrics-port",
           str(port), "--out", str(tmp_path), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)  # fmt: skip
    texts: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            text = scrape(port)
            if text and "stagecheck_requests_total" in text:
                texts.append(text)
            time.sleep(0.5)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(texts) >= 4, "too few scrapes during the run"
    last = texts[-1]
    total = value(last, "stagecheck_requests_total")
    assert total > 0
    # one request, one histogram count, one HDR count
    assert value(last, 'stagecheck_latency_seconds_count{timing="e2e"') == total
    assert value(last, 'stagecheck_latency_hdr_seconds_count{timing="e2e"') == total
    assert value(last, 'stagecheck_latency_seconds_bucket{le="+Inf"') >= total
    assert 'timing="ttft"' in last and 'timing="itl"' in last
    counts = [value(t, "stagecheck_requests_total") for t in texts]
    assert counts == sorted(counts)  # a counter only grows
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert total <= summary["requests"]["total"]
    for outcome, n in summary["requests"]["by_outcome"].items():
        assert value(last, f'stagecheck_requests_total{{outcome="{outcome}"') <= n
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI (.ci/run installs Debian's prometheus)")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    check = subprocess.run([promtool, "check", "metrics"], input=last, capture_output=True,
                           text=True, timeout=30)  # fmt: skip
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stdout


def test_a_taken_metrics_port_is_one_line_and_exit_2(fast_demo, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
             "--set", f"endpoint.url={fast_demo.url}", "--metrics-port", str(port),
             "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )  # fmt: skip
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert lines == [f"stagecheck: --metrics-port {port}: cannot listen on 127.0.0.1:{port} "
                     "(Address already in use)"]  # fmt: skip
    assert not any(tmp_path.iterdir())  # no run folder: nothing was run
    assert re.search(r"Traceback", proc.stderr) is None
