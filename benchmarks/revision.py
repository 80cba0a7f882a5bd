"""Run a benchmark's measuring function in another revision's tree, for a before/after in the
same invocation (the machine is shared: a baseline measured minutes apart is not one).

    with revision_trees(rev) as trees:          # [("working tree", ROOT), (rev, /tmp/…)]
        for name, tree in trees:
            figures = call_in(tree, __file__, "measure", 7000, 10)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "revision_trees", "call_in"]


@contextmanager
def revision_trees(rev: str | None) -> Iterator[list[tuple[str, Path]]]:
    """The trees to measure: ``rev`` (extracted with ``git archive``; the working tree is left
    alone) first when given, then the working tree."""
    trees = [("working tree", ROOT)]
    if rev is None:
        yield trees
        return
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield [(rev, Path(tmp)), *trees]


def call_in(tree: Path, script: str, function: str, *args: Any) -> Any:
    """``function(*args)`` of ``script`` (a benchmark file), run in a fresh Python process that
    imports stagecheck from ``tree`` and with the script's ``ROOT`` set to it; returns what the
    function returned (JSON)."""
    code = (
        "import importlib.util, json, pathlib, sys\n"
        f"sys.path.insert(0, {str(tree)!r})\n"
        f"spec = importlib.util.spec_from_file_location('bench', {str(script)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"m.ROOT = pathlib.Path({str(tree)!r})\n"
        f"print(json.dumps(m.{function}(*{json.dumps(list(args))})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
