"""Whose latency grows under a CPU hog: the endpoint's or the load generator's? (issue 18 §2)

Runs one open-loop ``stagecheck run`` step (as ``stagecheck capacity`` does) against a fresh
demo endpoint started with ``--access-log``, with and without one CPU hog
(``python3 -c 'while 1: pass'``) beside it, and prints per case: the client's latency (from
the due time, what the capacity SLO judges), its send lag, and the demo's own time per request
(gevent's access log: from reading the request to the answer written, so it includes any wait
of the demo's process for the CPU). The client minus the server is the generator's share.

    .venv/bin/python benchmarks/service_time.py --rate 360 --repeat 2
    .venv/bin/python benchmarks/service_time.py --rate 360 -- --slowdown-ms-per-request 0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "smoke.yaml"
WARMUP_S, WINDOW_S = 5.0, 20.0
_ACCESS = re.compile(r'"POST [^"]*" 200 \d+ ([\d.]+)$')


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _case(rate: float, hog: bool, knobs: list[str], tmp: Path) -> str:
    port = _free_port()
    log_path = tmp / f"access-{time.monotonic_ns()}.log"
    hog_proc = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if hog else None
    with log_path.open("w") as log:
        demo = subprocess.Popen([sys.executable, "-m", "stagecheck.cli", "demo-server", "--port",
                                 str(port), "--access-log", *knobs],
                                stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        users = max(8, int(2 * rate * 0.2 + 0.999))  # as stagecheck.capacity.step.users_for
        out = tmp / "runs"
        load = os.getloadavg()[0]
        subprocess.run([sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIO),
                        "--rate", f"{rate:g}/s", "--duration", f"{WARMUP_S + WINDOW_S + 1:g}s",
                        "--users", str(users), "--out", str(out), "--quiet",
                        "--set", f"endpoint.url=http://127.0.0.1:{port}",
                        "--set", f"load.spawn_rate={users * 4}"],
                       capture_output=True, check=False)  # fmt: skip
    finally:
        demo.terminate()
        demo.wait()
        if hog_proc:
            hog_proc.kill()
            hog_proc.wait()
    run = sorted(p for p in out.iterdir() if p.is_dir())[-1]
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    t0 = min(r["t"] for r in results)
    window = [r for r in results if t0 + WARMUP_S <= r["t"] < t0 + WARMUP_S + WINDOW_S]
    client = [r["latency_us"] / 1000 for r in window]
    lag = [r.get("lag_us", 0) / 1000 for r in window]
    served = [float(m.group(1)) * 1000 for line in log_path.read_text().splitlines()
              if (m := _ACCESS.search(line.strip()))]  # fmt: skip
    # the window by order: leave out the warm-up's and the last second's answers
    served = served[int(WARMUP_S * rate) : len(served) - int(rate)]
    late = sum(x > 50 for x in lag)
    return (f"| {'one hog' if hog else 'none'} | {rate:g}/s | {load:.1f} | {len(window)} | "
            f"{_pct(client, 50):.0f} / {_pct(client, 99):.0f} | {_pct(lag, 99):.1f} | {late} | "
            f"{_pct(served, 50):.0f} / {_pct(served, 99):.0f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=360.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("knobs", nargs="*", help="demo-server knobs, after --")
    args = parser.parse_args()
    print("| hog | rate | load avg | requests | client p50 / p99 ms | send lag p99 ms | "
          "late > 50 ms | demo's own p50 / p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for hog in (False, True):
                print(_case(args.rate, hog, args.knobs, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
