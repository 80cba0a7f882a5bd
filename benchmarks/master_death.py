"""A master SIGKILLed under separate ``--worker`` processes: what the workers still send.

A 60 s smoke run against the fast demo endpoint, a master and 2 worker processes; once 2,000
requests have been served the master is killed. Prints, per round: the requests the endpoint
received after the master's death (nobody counts them), when the last one came, and when the
workers exited (and their exit codes).

    .venv/bin/python benchmarks/master_death.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import REPO, SCENARIOS, free_master_port, running_demo  # noqa: E402


def one() -> str:
    def cmd(*args: str) -> list[str]:
        return [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
                *args, "--quiet"]  # fmt: skip

    with running_demo() as demo, tempfile.TemporaryDirectory() as out:
        port = str(free_master_port())
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": REPO}
        master = subprocess.Popen(cmd("--set", f"endpoint.url={demo.url}", "--set",
                                      "endpoint.metrics_url=null", "--duration", "60s",
                                      "--master", "--expect-workers", "2", "--master-port", port,
                                      "--out", out), **quiet)  # fmt: skip
        workers = [
            subprocess.Popen(
                cmd("--worker", "--master-host", "127.0.0.1", "--master-port", port), **quiet
            )  # fmt: skip
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while demo.stats()["requests_total"] < 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
        master.kill()
        master.wait()
        died = time.monotonic()
        at_death = last = demo.stats()["requests_total"]
        last_at = died
        while any(w.poll() is None for w in workers) and time.monotonic() - died < 90:
            n = demo.stats()["requests_total"]
            if n != last:
                last, last_at = n, time.monotonic()
            time.sleep(0.02)
        exited = time.monotonic() - died
        n = demo.stats()["requests_total"]
        if n != last:
            last, last_at = n, time.monotonic()
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        return (f"{last - at_death:6,} requests after the master's death, the last at "
                f"+{last_at - died:.2f} s; workers exited at +{exited:.2f} s, exit codes "
                f"{[w.returncode for w in workers]}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for n in range(args.rounds):
        print(f"round {n + 1}: {one()}", flush=True)


if __name__ == "__main__":
    main()
