"""promtool on grafana/: the example configuration, the rules, and the rules' unit tests."""

from __future__ import annotations

import subprocess

import pytest

from tests.grafana.artefacts import CONFIG, GRAFANA, RULE_TESTS, RULES

pytestmark = pytest.mark.integration


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd=grafana/: the config names its rules relative to itself, as promtool resolves them.
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60,
                          cwd=GRAFANA)  # fmt: skip


def test_check_config(promtool: str) -> None:
    result = _promtool(promtool, "check", "config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_check_rules(promtool: str) -> None:
    result = _promtool(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests(promtool: str) -> None:
    result = _promtool(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout

