"""How long building a live view holds the event loop (issue 10, target 2).

The Prometheus exporter and the web UI read the run's live view (rebuilt at most once a second)
in the generator's own process while its users run. This script fills a real RunController with
SECONDS seconds of the smoke scenario's requests at RATE/s (``drain_hold``'s synthetic mix),
then builds the live view ROUNDS times with a ``pause`` that notes the time between two calls
(the merging thread's CPU time, as in ``drain_hold.py``) and renders the Prometheus text.

    .venv/bin/python benchmarks/live_view_hold.py
    .venv/bin/python benchmarks/live_view_hold.py --rate 7000 --seconds 10 --rounds 3
    .venv/bin/python benchmarks/live_view_hold.py --scenario conversations.yaml
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drain_hold import record_second  # noqa: E402
from revision import ROOT  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=7000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scenario", default="smoke.yaml", help="a scenario of scenarios/")
    a = p.parse_args()

    from stagecheck.exporter.server import MetricsExporter
    from stagecheck.load.plan import LoadPlan
    from stagecheck.recording import Recorder
    from stagecheck.run import RunController
    from stagecheck.run.preparation import prepare_loaded
    from stagecheck.scenario import load_scenario

    loaded = load_scenario(ROOT / "scenarios" / a.scenario, [])
    prepared = prepare_loaded(loaded)
    plan = LoadPlan.from_scenario(loaded, users=8, spawn_rate=8, duration=a.seconds)
    rows = prepared.dataset.rows
    labels = sorted({r.expected_text for r in rows})
    rng = random.Random(1)
    holds: list[float] = []
    last = [time.thread_time()]

    def pause() -> None:
        now = time.thread_time()
        holds.append(now - last[0])
        last[0] = time.thread_time()

    with tempfile.TemporaryDirectory() as tmp:
        controller = RunController(prepared, plan, Path(tmp) / "run", started=time.time(),
                                   pause=pause)  # fmt: skip
        controller.begin_stage(0)
        for _ in range(a.seconds):
            rec = Recorder()
            record_second(rec, rows, labels, rng, a.rate, time.time())
            controller.merge(rec.drain())
        gc.collect()
        gc.freeze()
        exporter = MetricsExporter(controller.live)
        print(f"live view of {controller.aggregate.requests:,} requests, {a.rounds} builds")
        for _ in range(a.rounds):
            holds.clear()
            controller._live = None  # a fresh build each round
            c0 = last[0] = time.thread_time()
            controller.live()
            holds.append(time.thread_time() - last[0])
            total = time.thread_time() - c0
            r0 = time.thread_time()
            exporter.render()
            render = time.thread_time() - r0
            print(f"  CPU {total * 1e3:6.1f} ms in {len(holds)} holds, longest "
                  f"{max(holds) * 1e3:.2f} ms; Prometheus text {render * 1e3:.2f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
