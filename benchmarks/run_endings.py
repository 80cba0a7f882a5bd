"""How each abnormal ending of a run ends: exit code, seconds from the signal (or the kill) to
the process's exit, requests recorded vs results lines vs what the endpoint served, and worker
processes still alive 5 s later. A 60 s smoke run against the fast demo endpoint, ended at 7 s.

    .venv/bin/python benchmarks/run_endings.py
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import REPO, SCENARIOS, free_master_port, running_demo  # noqa: E402


def one(extra: list[str], sig: signal.Signals | None, group: bool, kill_workers: int = 0) -> str:
    out = tempfile.mkdtemp()
    with running_demo() as demo:
        cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
               "--set", f"endpoint.url={demo.url}", "--set", "endpoint.metrics_url=null",
               "--duration", "60s", "--out", out, "--quiet", *extra]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                                start_new_session=True)  # fmt: skip
        time.sleep(7)
        workers = psutil.Process(proc.pid).children()
        t0 = time.monotonic()
        if kill_workers:
            for w in workers[:kill_workers]:
                w.kill()
        elif sig is not None and group:
            os.killpg(proc.pid, sig)
        elif sig is not None:
            proc.send_signal(sig)
        proc.communicate(timeout=120)
        took = time.monotonic() - t0
        _, alive = psutil.wait_procs(workers, timeout=5)
        (summary_path,) = glob.glob(f"{out}/*/summary.json")
        summary = json.loads(Path(summary_path).read_text())
        lines = len((Path(summary_path).parent / "results.jsonl").read_text().splitlines())
        served = demo.stats()["requests_total"]
    return (f"exit {proc.returncode} in {took:.1f}s · {summary['verdict']} · recorded "
            f"{summary['requests']['total']:,} · lines {lines:,} · served {served:,} · "
            f"workers alive 5 s later: {len(alive)}")  # fmt: skip


def main() -> None:
    def dist() -> list[str]:
        return ["--processes", "2", "--master-port", str(free_master_port())]

    cases = [
        ("SIGTERM, single process", [], signal.SIGTERM, False, 0),
        ("SIGINT, single process", [], signal.SIGINT, False, 0),
        ("SIGTERM to the master, --processes 2", dist(), signal.SIGTERM, False, 0),
        ("SIGINT to the process group", dist(), signal.SIGINT, True, 0),
        ("SIGTERM to the process group", dist(), signal.SIGTERM, True, 0),
        ("1 worker SIGKILLed", dist(), None, False, 1),
        ("both workers SIGKILLed", dist(), None, False, 2),
    ]
    for name, extra, sig, group, kills in cases:
        print(f"{name:<40} {one(extra, sig, group, kills)}", flush=True)


if __name__ == "__main__":
    main()
