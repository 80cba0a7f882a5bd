"""What Locust itself shows of stagecheck's requests (its statistics, failures table, response
times), now that ValidationUser sends on its own connection and fires Locust's ``request``
event by hand: every request counted once, each failure under its cause, and Locust's response
time equal to stagecheck's latency."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, read_results

pytestmark = pytest.mark.integration

LOCUSTFILE = REPO / "locustfiles" / "validation.py"
ROWS = 12


def scenario(tmp_path: Path, url: str, fault: str | None) -> Path:
    path = "/v1/chat/completions" if fault is None else f"/fault/{fault}/v1/chat/completions"
    out = tmp_path / f"{fault or 'ok'}.yaml"
    out.write_text(textwrap.dedent(f"""\
        name: locust-view
        endpoint:
          url: {url}
          protocol: openai-chat
          model: m
          timeout: 2s
          options: {{path: {path}}}
        dataset:
          path: {SCENARIOS / "data/support_intents.jsonl"}
          input: text
          expected: label
          limit: {ROWS}
          passes: 2
        scoring: {{kind: label}}
        load: {{users: 3, duration: 30s}}
        validity: {{min_requests: 1}}
        """))  # fmt: skip
    return out


def run_locust(tmp_path: Path, scenario_file: Path) -> tuple[Path, dict, list[dict[str, str]]]:
    prefix = tmp_path / "locust"
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--scenario", str(scenario_file),
         "--runs-root", str(tmp_path / "runs"), "--headless", "--only-summary",
         "--loglevel", "WARNING", "--json-file", str(prefix), "--csv", str(prefix)],
        capture_output=True, text=True, timeout=90, cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    (entry,) = json.loads(prefix.with_suffix(".json").read_text())
    with open(f"{prefix}_failures.csv", newline="") as f:
        failures = list(csv.DictReader(f))
    return run_dir, entry, failures


def test_locust_response_times_are_stagecheck_latencies(fault_server, tmp_path):
    run_dir, entry, failures = run_locust(tmp_path, scenario(tmp_path, fault_server, "ok"))
    results = read_results(run_dir)
    assert len(results) == 2 * ROWS == entry["num_requests"]  # each request once
    assert entry["num_failures"] == 0 and failures == []
    latencies_ms = [r["latency_us"] / 1000 for r in results]
    assert entry["total_response_time"] == pytest.approx(sum(latencies_ms), abs=0.01)
    assert entry["max_response_time"] == pytest.approx(max(latencies_ms), abs=0.001)
    assert entry["min_response_time"] == pytest.approx(min(latencies_ms), abs=0.001)
    # the request name and method Locust shows, and the answer's size
    assert (entry["method"], entry["name"]) == ("POST", "openai-chat /fault/ok/v1/chat/completions")
    assert entry["total_content_length"] > 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("http_503", "HTTP 503: POST /fault/http_503/v1/chat/completions"),
        ("cut_body", "cut: while reading the answer, AnswerCut"),
        ("drop", "reset: HTTPConnectionClosed: connection closed."),
        ("garbage", "unparseable"),
    ],
)
def test_locust_failures_name_their_cause(fault_server, tmp_path, fault, error):
    run_dir, entry, failures = run_locust(tmp_path, scenario(tmp_path, fault_server, fault))
    results = read_results(run_dir)
    assert len(results) == 2 * ROWS == entry["num_requests"] == entry["num_failures"]
    assert sum(int(f["Occurrences"]) for f in failures) == 2 * ROWS
    for f in failures:  # Locust's failures table: the cause, as response.failure() gives it
        assert f["Method"] == "POST"
        assert f["Error"].startswith(f"CatchResponseError('{error}"), f["Error"]
        assert "→" not in f["Error"]  # the server's words stay out of Locust's grouping
    assert {r["error"].partition(":")[0] for r in results} == {error.partition(":")[0]}
