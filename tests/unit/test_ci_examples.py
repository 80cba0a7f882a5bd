"""The CI examples (scenarios/ci/) stay runnable: the workflow files parse, every ``stagecheck …``
command in them parses with stagecheck's own argument parser and names files that exist, and
each publishes summary.md and junit.xml and gates on stagecheck's exit code."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from stagecheck.cli import build_parser
from stagecheck.demo.server import build_parser as demo_parser
from tests.support import REPO

pytestmark = pytest.mark.unit

CI = REPO / "scenarios" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
_SHELL_ENDS = {">", ">>", "&", "&&", "||", "|", ";", "2>&1"}


def _scripts(doc: Any) -> list[str]:
    """Every shell script of a workflow: GitHub ``run:`` steps, GitLab ``script`` lists."""
    out: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "run" and isinstance(value, str):
                out.append(value)
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
            else:
                out += _scripts(value)
    elif isinstance(doc, list):
        for item in doc:
            out += _scripts(item)
    return out


def _stagecheck_commands(path: Path) -> list[list[str]]:
    commands = []
    for script in _scripts(yaml.safe_load(path.read_text())):
        for line in script.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if not words or words[0] != "stagecheck":
                continue
            for i, word in enumerate(words):  # the command ends at a redirection or operator
                if word in _SHELL_ENDS or word.startswith((">", "2>")):
                    words = words[:i]
                    break
            commands.append(words[1:])
    return commands


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_every_stagecheck_command_parses_and_names_real_files(path: Path) -> None:
    commands = _stagecheck_commands(path)
    assert {c[0] for c in commands} >= {"demo-server", "validate", "run"}
    parser = build_parser()
    for argv in commands:
        # SystemExit(2) on an option stagecheck does not have; demo-server has its own parser,
        # as stagecheck.cli.main dispatches it
        if argv[0] == "demo-server":
            demo_parser().parse_args(argv[1:])
            continue
        args = parser.parse_args(argv)
        scenario = getattr(args, "scenario", None)
        if scenario is not None:
            assert (REPO / scenario).is_file(), f"{path.name}: {scenario} does not exist"


def test_github_workflow_gates_and_publishes() -> None:
    doc = yaml.safe_load(GITHUB.read_text())
    assert set(doc) >= {"name", "jobs"} and (True in doc or "on" in doc)  # YAML 1.1 reads on
    (job,) = doc["jobs"].values()
    steps = job["steps"]
    runs = [s for s in steps if "stagecheck run" in s.get("run", "")]
    # the gate: a failing run fails its step (no continue-on-error, no "|| true")
    assert runs and all("continue-on-error" not in s and "||" not in s["run"] for s in runs)
    publish = [s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert publish and "summary.md" in publish[0]["run"] and publish[0]["if"] == "always()"
    junit = [s for s in steps if "junit.xml" in str(s.get("with", {}))]
    assert junit and junit[0]["if"] == "always()"


def test_gitlab_job_gates_and_publishes() -> None:
    doc = yaml.safe_load(GITLAB.read_text())
    job = doc["staging-validation"]
    assert job["stage"] in doc["stages"]
    assert not job.get("allow_failure", False)  # a failing stagecheck fails the job
    assert all("||" not in line for line in job["script"] if line.startswith("stagecheck run"))
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and artifacts["reports"]["junit"].endswith("junit.xml")
    waiter = [line for line in job["script"] if "wait_for.py" in line]
    assert waiter and (REPO / shlex.split(waiter[0])[1]).is_file()
