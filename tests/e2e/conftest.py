"""End-to-end fixtures: the real demo endpoint as a subprocess on a free loopback port, the
hosted-platform stand-in, and a runner for the ``stagecheck`` CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.hosted import Hosted, running_hosted
from tests.support import REPO, Demo, read_results, running_demo


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with running_demo() as demo:
        yield demo


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    out_dir: Path

    @property
    def run_dir(self) -> Path:
        dirs = sorted(p for p in self.out_dir.iterdir() if p.is_dir())
        assert len(dirs) == 1, dirs
        return dirs[0]

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "summary.json").read_text())

    def results(self) -> list[dict[str, Any]]:
        return read_results(self.run_dir)


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CliResult]:
    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> CliResult:
        out = tmp_path / f"runs{len(list(tmp_path.glob('runs*')))}"
        out.mkdir()
        full = [sys.executable, "-m", "stagecheck.cli", *args]
        if args and args[0] in ("run", "demo"):
            full += ["--out", str(out), "--quiet"]
        proc = subprocess.run(
            full,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr, out)

    return run


@pytest.fixture(scope="module")
def key() -> str:
    """A canary API key for the hosted-platform stand-in: it must never show anywhere."""
    return f"sk-canary-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def hosted(key: str) -> Iterator[Hosted]:
    """The SeekrFlow-like stand-in on loopback (tests/hosted.py), accepting only ``key``."""
    with running_hosted(key) as h:
        yield h
