"""A reader that goes away (`stagecheck … | head`) ends a command quietly: no traceback, the
command's own exit code. The pipe is closed before the command writes its first byte."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO, SCENARIOS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "args",
    [["validate", str(SCENARIOS / "smoke.yaml")], ["protocols"]],
    ids=["validate", "protocols"],
)
def test_a_closed_pipe_is_no_traceback(args: list[str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "stagecheck.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even imported stagecheck
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
