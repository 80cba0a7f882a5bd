"""``stagecheck validate SCENARIO --probe``: one real request (the first row, as a run builds
it), shown whole — method and URL (no key), status, timing, the raw answer, the prediction and
its score — exit 0 when the answer was read and scored, 3 with one line when it was not."""

from __future__ import annotations

import re
import socket

import pytest

from tests.hosted import ROUTE
from tests.support import SCENARIOS

pytestmark = pytest.mark.e2e

SCENARIO = str(SCENARIOS / "seekrflow.yaml")


def _probe_lines(stdout: str) -> dict[str, str]:
    """The probe's own lines (after the scenario and profile), by their first word."""
    part = stdout[stdout.index("\nprobe ") + 1 :]
    return {ln.split()[0]: ln for ln in part.splitlines() if ln.strip()}


def test_the_probe_shows_the_request_the_answer_and_its_score(cli, hosted, key) -> None:
    r = cli("validate", SCENARIO, "--probe", "--set", f"endpoint.url={hosted.url}",
            env={"SEEKR_API_KEY": key})  # fmt: skip
    assert r.code == 0, r.stderr
    lines = _probe_lines(r.stdout)
    assert f"POST {hosted.url}{ROUTE}" in lines["probe"]
    assert "Authorization: *** (raw value" in lines["headers"]
    assert re.search(r"HTTP 200 .* in \d+\.\d ms", lines["status"])
    assert '"chat.completion"' in lines["answer"]
    # the row's expected label and the stand-in's prediction, scored by the label scorer
    first = (SCENARIOS / "data" / "support_intents.jsonl").read_text().splitlines()[0]
    expected = __import__("json").loads(first)["label"]
    predicted = re.search(r"prediction '([^']+)'", lines["prediction"])
    assert predicted
    verdict = "correct" if predicted.group(1) == expected else "incorrect"
    assert lines["score"].startswith(f"score      {verdict} (label scorer, expected '{expected}'")
    assert key not in r.stdout + r.stderr and key[10:] not in r.stdout + r.stderr


def test_a_refused_key_is_exit_3_with_one_line(cli, hosted) -> None:
    r = cli("validate", SCENARIO, "--probe", "--set", f"endpoint.url={hosted.url}",
            env={"SEEKR_API_KEY": "not-the-key-0000"})  # fmt: skip
    assert r.code == 3
    assert "HTTP 401" in _probe_lines(r.stdout)["status"]
    assert "Invalid API key" in _probe_lines(r.stdout)["answer"]  # the server's own words
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "HTTP 401" in errors[0] and "authentication" in errors[0]
    assert "not-the-key-0000" not in r.stdout + r.stderr


def test_an_unreadable_answer_is_exit_3(cli, hosted, key) -> None:
    # the health route answers JSON with no choices: a route that is not a chat completion
    r = cli("validate", SCENARIO, "--probe", "--set", f"endpoint.url={hosted.url}",
            "--set", "endpoint.options.path=/_stats", env={"SEEKR_API_KEY": key})  # fmt: skip
    assert r.code == 3
    assert "could not be read" in r.stderr or "HTTP" in r.stderr


def test_an_unreachable_endpoint_is_exit_3_with_one_line(cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        r = cli("validate", str(SCENARIOS / "smoke.yaml"), "--probe",
                "--set", f"endpoint.url=http://127.0.0.1:{port}")  # fmt: skip
    assert r.code == 3
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "unreachable" in errors[0]


def test_the_probe_reads_a_streamed_answer(cli, demo) -> None:
    r = cli("validate", str(SCENARIOS / "llm-chat-stream.yaml"), "--probe",
            "--set", f"endpoint.url={demo.url}")  # fmt: skip
    assert r.code == 0, r.stderr
    lines = _probe_lines(r.stdout)
    assert "Accept: text/event-stream" in lines["headers"]
    assert "data:" in lines["answer"]
    assert lines["score"].split()[1] in ("correct", "incorrect")
