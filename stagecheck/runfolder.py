"""The run folder (DESIGN.md): ``runs/<UTC timestamp>-<scenario name>/``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stagecheck.errors import one_line
from stagecheck.redact import redact_override
from stagecheck.scenario import LoadedScenario, redacted_yaml

__all__ = ["new_run_dir", "write_scenario_copy", "write_summary"]


def new_run_dir(root: Path, scenario_name: str, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    base = root / f"{stamp}-{scenario_name}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def write_scenario_copy(run_dir: Path, loaded: LoadedScenario) -> None:
    header = f"# scenario as run (from {loaded.path}); secrets redacted\n"
    if loaded.overrides:
        shown = " ".join(f"--set {one_line(redact_override(o))}" for o in loaded.overrides)
        header += f"# overrides: {shown}\n"
    (run_dir / "scenario.yaml").write_text(header + redacted_yaml(loaded.raw), encoding="utf-8")


def write_summary(run_dir: Path, summary: dict[str, Any], name: str = "summary.json") -> Path:
    path = run_dir / name
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
