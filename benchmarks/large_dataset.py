"""A large dataset from the command line: time to the first request and peak memory of
``stagecheck run`` with N rows (default 1 M short support-style queries), single process and
``--processes 2``, each beside the same run with a 10 k-row dataset (the baseline, measured in
the same invocation), as ratios.

    .venv/bin/python benchmarks/large_dataset.py [--rows N] [--base-rows N] [--duration 5s]
        [--modes single,processes2]

Each run: a fresh temp folder with the JSONL dataset (id, text, label, complexity, channel),
``stagecheck demo-server`` on a free loopback port, ``stagecheck run scenarios/smoke.yaml``
pointed at both. The first request is seen by the demo server (its ``/stats`` polled every
50 ms) and checked against the first ``t`` of the run's results.jsonl; both from the run
process's start. Memory: the run's process tree sampled every 0.2 s, summed RSS and summed
PSS (forked workers share the master's pages: PSS counts a shared page once).
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import REPO, SCENARIOS, free_master_port, running_demo  # noqa: E402

GREETINGS = ["hi", "hello", "hey", "", "good morning"]
ASKS = [
    ("where is my order {n}", "order_status"),
    ("i want a refund for order {n}", "refund"),
    ("cancel my subscription please", "cancel"),
    ("my card was charged twice", "billing"),
    ("how do i reset my password", "account"),
    ("can i change the address on order {n}", "order_change"),
    ("the item arrived broken, can i swap it", "return_exchange"),
]
CHANNELS = ["chat", "email", "voice_transcript"]


def write_dataset(path: Path, rows: int) -> None:
    rng = random.Random(rows)
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            ask, label = rng.choice(ASKS)
            text = f"{rng.choice(GREETINGS)} {ask.format(n=rng.randint(1000, 99999))}".strip()
            f.write(json.dumps({"id": f"q{i}", "text": text, "label": label,
                                "complexity": rng.choice(("simple", "complex")),
                                "channel": rng.choice(CHANNELS)}) + "\n")  # fmt: skip


@dataclass
class Measured:
    first_request_s: float | None  # from the run's start, seen by the demo server
    first_result_s: float | None  # from the run's start, the first results line's t
    peak_rss_mb: float
    peak_pss_mb: float
    exit_code: int
    requests: int


def _tree_memory(root: psutil.Process) -> tuple[float, float]:
    rss = pss = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 1e6, pss / 1e6


def measure(rows: int, processes: int, duration: str) -> Measured:
    folder = Path(tempfile.mkdtemp(prefix="stagecheck-large-"))
    try:
        data = folder / "data.jsonl"
        write_dataset(data, rows)
        with running_demo() as demo:
            cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "smoke.yaml"),
                   "--set", f"endpoint.url={demo.url}", "--set", "endpoint.metrics_url=null",
                   "--set", f"dataset.path={data}", "--set", "thresholds=[]",
                   "--duration", duration, "--out", str(folder / "runs"), "--quiet"]  # fmt: skip
            if processes:
                cmd += ["--processes", str(processes), "--master-port", str(free_master_port())]
            start = time.time()
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            root = psutil.Process(proc.pid)
            peak = [0.0, 0.0]
            first: list[float] = []

            def watch_memory() -> None:
                while proc.poll() is None:
                    rss, pss = _tree_memory(root)
                    peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                    time.sleep(0.2)

            watcher = threading.Thread(target=watch_memory, daemon=True)
            watcher.start()
            while proc.poll() is None:
                if not first and demo.stats()["requests_total"] > 0:
                    first.append(time.time() - start)
                time.sleep(0.05)
            watcher.join()
            served = demo.stats()["requests_total"]
        results = glob.glob(str(folder / "runs" / "*" / "results.jsonl"))
        first_t = None
        if results:
            with open(results[0], encoding="utf-8") as f:
                ts = [json.loads(line)["t"] for line in f if line.strip()]
            first_t = min(ts) - start if ts else None
        return Measured(first[0] if first else None, first_t, peak[0], peak[1],
                        proc.returncode, served)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:.1f} s"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"×{a / b:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--base-rows", type=int, default=10_000)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--modes", default="single,processes2")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        processes = 2 if mode == "processes2" else 0
        base = measure(args.base_rows, processes, args.duration)
        big = measure(args.rows, processes, args.duration)
        for name, m in ((f"{args.base_rows:,} rows", base), (f"{args.rows:,} rows", big)):
            print(f"{mode:<11} {name:>16}: first request {_s(m.first_request_s)} "
                  f"(results.jsonl: {_s(m.first_result_s)}), peak RSS {m.peak_rss_mb:.0f} MB, "
                  f"PSS {m.peak_pss_mb:.0f} MB, exit {m.exit_code}, "
                  f"{m.requests:,} requests served", flush=True)  # fmt: skip
        print(f"{mode:<11} {'ratio':>16}: first request "
              f"{_ratio(big.first_request_s, base.first_request_s)}, peak PSS "
              f"{_ratio(big.peak_pss_mb, base.peak_pss_mb)}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
