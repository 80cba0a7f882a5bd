"""Every fault class of a real (fault-injecting) server, in a closed loop, an open loop and with
a master and 2 worker processes: each request ends in the outcome and cause that name what went
wrong, every request the server received is accounted for exactly once, and a run in which
nothing was answered is invalid (exit 3) whatever its thresholds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, free_master_port, read_results

pytestmark = pytest.mark.e2e

ROWS = 8
# fault → (stream?, outcome of every request, cause of every failure or None)
FAULTS = {
    "ok": (False, None, None),
    "ok_stream": (True, None, None),
    "http_503": (False, "http_error", "HTTP 503"),
    "http_429": (False, "http_error", "HTTP 429"),
    "garbage": (False, "unparseable", "unparseable"),
    "cut_body": (False, "connection_error", "cut"),
    "reset_body": (False, "connection_error", "cut"),
    "drop": (False, "connection_error", "reset"),
    "sse_cut": (True, "connection_error", "cut"),
    "sse_no_done": (True, "connection_error", "cut"),
    "trickle": (False, "timeout", "timeout"),
    "sse_long_line": (True, "connection_error", "oversize"),
}
DISTRIBUTED = ("ok", "http_503", "cut_body", "sse_cut", "trickle")


def received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as r:
        return json.load(r)


def scenario(tmp_path: Path, url: str, name: str, mode: str) -> Path:
    stream, _, _ = FAULTS[name]
    load = "{users: 4, duration: 60s}"
    if mode == "open":
        load = "{arrival_rate: 20/s, users: 8, duration: 60s}"
    path = tmp_path / f"{name}-{mode}.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: fault-{name}
        endpoint:
          url: {url}
          protocol: openai-chat
          model: m
          timeout: 1s
          options: {{path: /fault/{name}/v1/chat/completions, stream: {str(stream).lower()}}}
        dataset:
          path: {SCENARIOS / "data/support_intents.jsonl"}
          input: text
          expected: label
          limit: {ROWS}
          passes: 1
        scoring: {{kind: label}}
        load: {load}
        validity: {{min_requests: 1}}
        thresholds: [error_rate < 1%]
        """))  # fmt: skip
    return path


def run(path: Path, out: Path, mode: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(path), "--out", str(out), "--quiet"]
    if mode == "processes":
        cmd += ["--processes", "2", "--master-port", str(free_master_port())]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO)


CASES = [(name, mode) for mode in ("closed", "open") for name in FAULTS] + [
    (name, "processes") for name in DISTRIBUTED
]


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_fault_outcome_cause_conservation_and_exit_code(fault_server, tmp_path, name, mode):
    before = received(fault_server).get(name, 0)
    proc = run(scenario(tmp_path, fault_server, name, mode), tmp_path / "runs", mode)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    requests = summary["requests"]
    results = read_results(run_dir)
    # conservation: sent = Σ outcomes = results lines = what the server received
    assert requests["total"] == sum(requests["by_outcome"].values()) == len(results) == ROWS
    assert received(fault_server).get(name, 0) - before == ROWS
    _, outcome, cause = FAULTS[name]
    if outcome is None:
        assert requests["by_outcome"]["correct"] + requests["by_outcome"]["incorrect"] == ROWS
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return
    assert requests["by_outcome"][outcome] == ROWS, requests
    assert requests["by_cause"] == {cause: ROWS}, requests
    assert {r["error"].partition(":")[0] for r in results} == {cause}
    if name == "http_503":  # the route and the server's own words, not only the status
        assert {r["error"] for r in results} == {
            "HTTP 503: POST /fault/http_503/v1/chat/completions"
            ' → {"error":{"message":"overloaded"}}'
        }
    shown = f"by cause: {cause} ×{ROWS}"  # in every report, not only in summary.json
    assert shown in proc.stdout
    assert shown in (run_dir / "summary.md").read_text()
    assert shown in (run_dir / "report.html").read_text()
    # nothing usable came back: invalid, whatever error_rate's threshold would say
    assert proc.returncode == 3, proc.stdout[-2000:]
    assert summary["verdict"] == "invalid"
    assert any("got a usable answer" in r for r in summary["validity"]["reasons"])
