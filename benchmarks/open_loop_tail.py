"""The open-loop matrix of issue 16 §1: a healthy endpoint must pass, and every request the
server received must be counted, whatever the rate, the answers' delay, the run's length, the
arrival process and the number of worker processes.

Runs ``stagecheck run`` (a subprocess each) against ``tests/faults.py``'s ``/fault/delay_<ms>``
route (a healthy answer after that delay; the server counts what it received) and prints one
Markdown row per case: verdict, exit code, requests counted vs received, dropped, unfinished,
late (over 50 ms after their due time) and the error rate.

    .venv/bin/python benchmarks/open_loop_tail.py                      # the whole matrix (~25 min)
    .venv/bin/python benchmarks/open_loop_tail.py --durations 5 --rates 20,100
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import free_master_port  # noqa: E402

DATASET = REPO / "scenarios" / "data" / "support_intents.jsonl"


def _received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as r:
        return json.load(r)


def _case(url: str, tmp: Path, rate: int, delay_ms: int, duration: int, arrivals: str,
          processes: int) -> dict[str, object]:  # fmt: skip
    users = max(16, int(rate * delay_ms / 1000 * 1.6) + 8)  # the pool: in flight, with room
    name = f"delay_{delay_ms}"
    scenario = tmp / f"s-{rate}-{delay_ms}-{duration}-{arrivals}-{processes}.yaml"
    scenario.write_text(textwrap.dedent(f"""\
        name: tail
        endpoint:
          url: {url}
          protocol: openai-chat
          model: m
          options: {{path: /fault/{name}/v1/chat/completions}}
        dataset: {{path: {DATASET}, input: text, expected: label}}
        scoring: {{kind: label}}
        load: {{arrival_rate: {rate}/s, arrivals: {arrivals}, users: {users},
                duration: {duration}s}}
        thresholds: [error_rate < 1%]
        """))  # fmt: skip
    out = tmp / scenario.stem
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(scenario), "--out", str(out),
           "--quiet"]  # fmt: skip
    if processes > 1:
        cmd += ["--processes", str(processes), "--master-port", str(free_master_port())]
    before = _received(url).get(name, 0)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          timeout=duration + 120)  # fmt: skip
    received = _received(url).get(name, 0) - before
    (run_dir,) = out.iterdir()
    s = json.loads((run_dir / "summary.json").read_text())
    req = s["requests"]
    late = sum(1 for line in (run_dir / "results.jsonl").read_text().splitlines()
               if json.loads(line).get("lag_us", 0) > 50_000)  # fmt: skip
    return {
        "verdict": s["verdict"], "exit": proc.returncode, "counted": req["total"],
        "received": received, "dropped": req["dropped_arrivals"],
        "unfinished": req["by_outcome"].get("unfinished", 0), "late": late,
        "error_rate": req["error_rate"], "reasons": "; ".join(s["validity"]["reasons"]),
        "output": proc.stdout[-3000:] + proc.stderr[-3000:],
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    ap.add_argument("--rates", type=ints, default=[5, 20, 100])
    ap.add_argument("--delays-ms", type=ints, default=[200, 1000])
    ap.add_argument("--durations", type=ints, default=[5, 30])
    ap.add_argument("--arrivals", default="constant,poisson")
    ap.add_argument("--processes", type=ints, default=[1, 2])
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "tests.faults"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        print("| rate /s | delay | duration | arrivals | processes | verdict (exit) | counted "
              "| received | dropped | unfinished | late | error rate |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        bad = 0
        with tempfile.TemporaryDirectory(prefix="open-loop-tail-") as tmp:
            for rate, delay, duration, arrivals, procs in itertools.product(
                args.rates, args.delays_ms, args.durations, args.arrivals.split(","),
                args.processes,
            ):  # fmt: skip
                r = _case(url, Path(tmp), rate, delay, duration, arrivals, procs)
                bad += r["counted"] != r["received"] or r["verdict"] == "failed"
                print(f"| {rate} | {delay} ms | {duration} s | {arrivals} | {procs} | "
                      f"{r['verdict']} ({r['exit']}) | {r['counted']} | {r['received']} | "
                      f"{r['dropped']} | {r['unfinished']} | {r['late']} | "
                      f"{float(r['error_rate']):.2%} |", flush=True)  # type: ignore[arg-type]  # fmt: skip
                expected_exit = {"passed": 0, "failed": 1}.get(str(r["verdict"]), 3)
                if r["exit"] != expected_exit:  # a verdict and an exit code that disagree
                    bad += 1
                    print(f"exit {r['exit']} for a {r['verdict']} run:\n{r['output']}",
                          file=sys.stderr, flush=True)  # fmt: skip
                if r["reasons"]:
                    print(f"|  | | | | | {r['reasons']} | | | | | | |", flush=True)
        return 1 if bad else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
