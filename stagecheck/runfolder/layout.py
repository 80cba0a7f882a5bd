"""The run folder (DESIGN.md): ``runs/<UTC timestamp>-<scenario name>/``."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from stagecheck.errors import InputError, one_line
from stagecheck.redact import redact_override
from stagecheck.scenario import LoadedScenario, redacted_yaml

__all__ = [
    "check_writable",
    "new_run_dir",
    "write_scenario_copy",
    "write_summary",
    "mark_live",
    "clear_live",
    "live_owner",
    "LIVE_FILE",
]

#: Written when a run starts in its folder and removed when it has ended: the process that owns
#: the run (its pid and start time, so that a reused pid or a lock left by a killed run is not
#: taken for the run).
LIVE_FILE = "run.lock"

_CHECK_BYTES = 64 * 1024  # written (and removed) to tell a full disk before the run


def check_writable(folder: Path, option: str) -> None:
    """Before any load: ``folder`` can be made and a file in it written, or
    :class:`InputError` (exit 2) with one line naming the folder and the OS's reason (a
    read-only mount, an immutable folder, a full disk, a file in the way)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".stagecheck-write-check-") as f:
            f.write(b"\0" * _CHECK_BYTES)
            f.flush()
            os.fsync(f.fileno())  # a full disk may refuse only here
    except OSError as exc:
        raise InputError(f"{option} {folder}: the run folder cannot be written there "
                         f"({exc.strerror or exc})") from None  # fmt: skip


def new_run_dir(root: Path, scenario_name: str, now: float | None = None) -> Path:
    """A new run folder under ``root``; :class:`InputError` (exit 2) when it cannot be made."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    base = root / f"{stamp}-{scenario_name}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot make the run folder ({exc.strerror or exc})") from None
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


def _started(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, ValueError):
        return None


def mark_live(run_dir: Path) -> None:
    """Record this process as the one running ``run_dir``'s run (best effort: a folder that
    cannot take it has its own failure reported by the run)."""
    pid = os.getpid()
    with contextlib.suppress(OSError):
        (run_dir / LIVE_FILE).write_text(json.dumps({"pid": pid, "started": _started(pid)}))


def clear_live(run_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (run_dir / LIVE_FILE).unlink(missing_ok=True)


def live_owner(run_dir: Path) -> int | None:
    """The pid of the process still running ``run_dir``'s run, or None: no lock, or one whose
    process is gone (a killed run) or is another process that got its pid since."""
    try:
        lock = json.loads((run_dir / LIVE_FILE).read_text())
        pid, started = int(lock["pid"]), lock["started"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = _started(pid)
    if now is None or started is None or abs(now - float(started)) > 0.5:
        return None
    return pid
