"""The edges of an open-loop run are not charged to the endpoint.

A healthy endpoint (every answer after a fixed delay) at an arrival rate it keeps up with must
pass ``error_rate < 1%``: when the plan ends no new request leaves, the requests in flight get
the graceful stop to finish and are recorded like any other, and every planned arrival is sent
(counted) or dropped (counted apart) — the requests counted equal what the server received.
The last arrivals of the plan are sent on time, not in a burst after the stop.
(Issue: the last ~50 ms of arrivals were sent after the stop had begun and cut off as
``connection_error``, a false FAIL.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, SCENARIOS, free_master_port, read_results

pytestmark = pytest.mark.e2e

DURATION_S = 5


def received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as r:
        return json.load(r)


def open_loop(tmp_path: Path, url: str, *, rate: int, delay_ms: int, arrivals: str,
              users: int, timeout: str = "10s", extra: str = "") -> Path:  # fmt: skip
    path = tmp_path / f"open-{rate}-{delay_ms}-{arrivals}.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: tail-{rate}-{delay_ms}-{arrivals}
        endpoint:
          url: {url}
          protocol: openai-chat
          model: m
          timeout: {timeout}
          options: {{path: /fault/delay_{delay_ms}/v1/chat/completions}}
        dataset:
          path: {SCENARIOS / "data/support_intents.jsonl"}
          input: text
          expected: label
        scoring: {{kind: label}}
        load: {{arrival_rate: {rate}/s, arrivals: {arrivals}, users: {users},
                duration: {DURATION_S}s{extra}}}
        thresholds: [error_rate < 1%]
        """))  # fmt: skip
    return path


def run(path: Path, out: Path, processes: bool) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(path), "--out", str(out)]
    if processes:
        cmd += ["--processes", "2", "--master-port", str(free_master_port())]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)


@dataclass
class Tail:
    proc: subprocess.CompletedProcess[str]
    run_dir: Path
    summary: dict[str, Any]
    sent: int  # requests the server received during the run

    @property
    def requests(self) -> dict[str, Any]:
        return self.summary["requests"]


def run_tail(url: str, tmp_path: Path, *, processes: bool = False, **scenario: Any) -> Tail:
    """One run of ``open_loop(**scenario)``; no traceback whatever its verdict."""
    name = f"delay_{scenario['delay_ms']}"
    before = received(url).get(name, 0)
    proc = run(open_loop(tmp_path, url, **scenario), tmp_path / "runs", processes)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    return Tail(proc, run_dir, summary, received(url).get(name, 0) - before)


# (rate /s, answer delay ms, arrivals, users, worker processes): the matrix, one case a
# corner (the whole matrix, 30 s runs included: benchmarks/open_loop_tail.py)
CASES = [
    (100, 200, "constant", 64, False),
    (20, 1000, "poisson", 48, False),
    (5, 1000, "constant", 16, True),
    (100, 200, "poisson", 64, True),
]


@pytest.mark.parametrize(("rate", "delay_ms", "arrivals", "users", "processes"), CASES,
                         ids=[f"{r}ps-{d}ms-{a}-{'2proc' if p else '1proc'}"
                              for r, d, a, _, p in CASES])  # fmt: skip
def test_a_healthy_endpoint_passes_and_every_request_is_counted_once(
    fault_server, tmp_path, rate, delay_ms, arrivals, users, processes
):
    t = run_tail(fault_server, tmp_path, processes=processes, rate=rate, delay_ms=delay_ms,
                 arrivals=arrivals, users=users)  # fmt: skip
    proc, run_dir, summary, requests, sent = t.proc, t.run_dir, t.summary, t.requests, t.sent
    # every request sent is counted once, with its own outcome: none cut off at the end
    assert requests["total"] == len(read_results(run_dir)) == sent, requests
    assert requests["by_outcome"]["unfinished"] == 0, requests
    assert requests["by_cause"] == {}, requests
    assert requests["dropped_arrivals"] == 0, requests
    if arrivals == "constant":  # every planned arrival was sent
        assert sent == rate * DURATION_S
    # the endpoint is not charged with the run's end: its gate passes
    assert [t["passed"] for t in summary["thresholds"]] == [True], summary["thresholds"]
    assert_passed_or_machine_late(summary, proc.returncode)
    # and the last arrivals went out on time, not in a burst after the stop
    lines = read_results(run_dir)
    end = max(r["t"] for r in lines)
    assert not [r for r in lines if r["t"] > end - 0.5 and r.get("lag_us", 0) > 50_000]


def assert_passed_or_machine_late(summary: dict, code: int) -> None:
    """Passed; or, on a machine too busy to keep the schedule (another process took the
    CPU), invalid for that reason alone: the product's own verdict, asserted as such."""
    if summary["verdict"] == "invalid":
        reasons = summary["validity"]["reasons"]
        assert all("arrival schedule was not kept" in r for r in reasons), reasons
        assert code == 3
    else:
        assert summary["verdict"] == "passed" and code == 0, summary


def test_what_the_graceful_stop_cuts_off_is_unfinished_not_an_error(fault_server, tmp_path):
    """With a graceful stop shorter than the answers' delay, the requests still in flight when
    it runs out are ``unfinished``: shown, counted as sent, never in the error rate."""
    t = run_tail(fault_server, tmp_path, rate=10, delay_ms=1500, arrivals="constant", users=32,
                 extra=", graceful_stop: 200ms")  # fmt: skip
    proc, run_dir, summary, requests, sent = t.proc, t.run_dir, t.summary, t.requests, t.sent
    assert requests["total"] == sent == 10 * DURATION_S, requests
    unfinished = requests["by_outcome"]["unfinished"]
    assert 5 <= unfinished <= 20, requests  # about 1.3 s of arrivals at 10/s were in flight
    assert requests["error_rate"] == 0.0 and requests["by_cause"] == {"unfinished": unfinished}
    assert [t["passed"] for t in summary["thresholds"]] == [True], summary["thresholds"]
    assert_passed_or_machine_late(summary, proc.returncode)
    assert any(ln.split()[:2] == ["unfinished", str(unfinished)] for ln in
               proc.stdout.splitlines()), proc.stdout  # fmt: skip
    assert "failed: unfinished" not in proc.stdout  # the error analysis lists no failure
    lines = [r for r in read_results(run_dir) if r["outcome"] == "unfinished"]
    assert len(lines) == unfinished
    # an unfinished request has no latency of the endpoint's: none enters the percentiles
    assert summary["latency"]["e2e"]["count"] == sent - unfinished


def test_arrivals_no_user_could_send_in_time_are_dropped_not_sent_timeouts(fault_server,
                                                                           tmp_path):  # fmt: skip
    """Two users for 20 arrivals a second at 300 ms: arrivals queue for a free user; one that
    waited past the request's timeout is never sent, so it is a dropped arrival, not a
    timeout of the endpoint's (the server never saw it)."""
    t = run_tail(fault_server, tmp_path, rate=20, delay_ms=300, arrivals="constant", users=2,
                 timeout="1s")  # fmt: skip
    proc, summary, requests, sent = t.proc, t.summary, t.requests, t.sent
    assert requests["total"] == sent, requests
    assert requests["dropped_arrivals"] > 0
    assert requests["total"] + requests["dropped_arrivals"] == 20 * DURATION_S
    assert summary["verdict"] == "invalid" and proc.returncode == 3
    assert any("never sent" in r for r in summary["validity"]["reasons"])
