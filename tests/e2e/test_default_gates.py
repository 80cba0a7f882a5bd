"""A scenario that names no thresholds is judged by the documented default gates (and says
so); ``thresholds: []`` judges validity only, and says that too."""

from __future__ import annotations

import pytest

from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
from stagecheck.scenario.schema import DEFAULT_GATES
from tests.support import FAST, SCENARIOS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def failing_demo():
    proc, url = start_demo_subprocess(*FAST, "--error-rate", "0.3")
    try:
        yield url
    finally:
        stop_demo_subprocess(proc)


def run_without_thresholds(cli, url, *sets):
    return cli("run", str(SCENARIOS / "exact-pass.yaml"), "--set", f"endpoint.url={url}",
               "--set", "dataset.limit=60", *sets)  # fmt: skip


def test_no_thresholds_means_the_default_gates(cli, tmp_path, failing_demo):
    text = (SCENARIOS / "exact-pass.yaml").read_text()
    head, _, _ = text.partition("thresholds:")
    scenario = tmp_path / "no-thresholds.yaml"
    scenario.write_text(head.replace("data/", f"{SCENARIOS}/data/"))
    r = cli("run", str(scenario), "--set", f"endpoint.url={failing_demo}",
            "--set", "dataset.limit=60")  # fmt: skip
    s = r.summary
    assert [t["expression"] for t in s["thresholds"]] == list(DEFAULT_GATES)
    assert s["requests"]["by_outcome"]["http_error"] > 5  # ~30 % of 60
    assert r.code == 1 and s["verdict"] == "failed"  # error_rate < 1% failed
    assert any("default gates" in n for n in s["notes"])
    assert "default gates" in r.stdout


def test_an_empty_list_judges_validity_only_and_says_so(cli, failing_demo):
    r = run_without_thresholds(cli, failing_demo, "--set", "thresholds=[]")
    s = r.summary
    assert s["thresholds"] == [] and s["verdict"] == "passed" and r.code == 0
    assert any("no gates" in n for n in s["notes"])
