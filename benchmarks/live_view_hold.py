"""How long building a live view holds the event loop (issue 10, target 2; issue 19 §3).

The Prometheus exporter and the web UI read the run's live view (rebuilt at most once a second)
in the generator's own process while its users run. This script fills a real RunController with
SECONDS seconds of the smoke scenario's requests at RATE/s (``drain_hold``'s synthetic mix),
then builds the live view ROUNDS times with a ``pause`` that notes the time between two calls
(the merging thread's CPU time, as in ``drain_hold.py``) and renders the Prometheus text.

With ``--workers N`` the controller is a master's: N workers share the rate, each folds its
requests and reports every 3 s (through Locust's real message serializer), and the master
absorbs the reports; the live view then reads what many workers' reports left. ``--rev REV``
also measures a committed revision in the same invocation (git archive).

    .venv/bin/python benchmarks/live_view_hold.py
    .venv/bin/python benchmarks/live_view_hold.py --rate 7000 --seconds 10 --rounds 3
    .venv/bin/python benchmarks/live_view_hold.py --workers 32 --seconds 30 --rev ab46f06
    .venv/bin/python benchmarks/live_view_hold.py --scenario conversations.yaml
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drain_hold import record_second  # noqa: E402
from revision import ROOT, call_in, revision_trees  # noqa: E402

REPORT_S = 3  # Locust's worker report interval


def fill_from_workers(controller: Any, rows: Any, labels: list[str], rng: Any, rate: int,
                      seconds: int, workers: int, t0: float) -> None:  # fmt: skip
    """The master's side: each worker's report (every REPORT_S, ending at its own time) folded
    on the worker, serialised by Locust and absorbed."""
    from locust.rpc.protocol import Message

    import stagecheck.recording as rec_mod
    from stagecheck.recording import IntervalReport, Recorder

    fold = getattr(rec_mod, "DeltaFold", None) or getattr(rec_mod, "Folder", None)  # older revs
    folds = [fold(rows) for _ in range(workers)]
    per_report = rate * REPORT_S // workers
    for report in range(max(seconds // REPORT_S, 1)):
        for i in range(workers):
            ended = t0 + (report + 1 + i / workers) * REPORT_S
            rec = Recorder(clock=lambda ended=ended: ended)
            record_second(rec, rows, labels, rng, per_report, t0 + report * REPORT_S)
            payload = folds[i].fold(rec.drain()).to_payload()
            wire = Message("stats", {"stagecheck": payload}, f"w{i}").serialize()
            data = Message.unserialize(wire).data["stagecheck"]
            controller.absorb(IntervalReport.from_payload(data), worker=f"w{i}")


def measure(rate: int, seconds: int, rounds: int, scenario: str, workers: int) -> dict[str, Any]:
    """Runs in the process of the code under test (sys.path set by the caller)."""
    from stagecheck.exporter.server import MetricsExporter
    from stagecheck.load.plan import LoadPlan
    from stagecheck.recording import Recorder
    from stagecheck.run import RunController
    from stagecheck.run.preparation import prepare_loaded
    from stagecheck.scenario import load_scenario

    loaded = load_scenario(ROOT / "scenarios" / scenario, [])
    prepared = prepare_loaded(loaded)
    plan = LoadPlan.from_scenario(loaded, users=8, spawn_rate=8, duration=seconds)
    rows = prepared.dataset.rows
    labels = sorted({r.expected_text for r in rows})
    rng = random.Random(1)
    holds: list[float] = []
    last = [time.thread_time()]

    def pause() -> None:
        now = time.thread_time()
        holds.append(now - last[0])
        last[0] = time.thread_time()

    out: dict[str, Any] = {"builds": []}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        controller = RunController(prepared, plan, Path(tmp) / "run", started=t0, pause=pause,
                                   clock=lambda: controller.aggregate.ended)  # fmt: skip
        controller.begin_stage(0)
        if workers:
            controller.distributed = True
            fill_from_workers(controller, rows, labels, rng, rate, seconds, workers, t0)
        else:
            for second in range(seconds):
                rec = Recorder(clock=lambda second=second: t0 + second + 1)
                record_second(rec, rows, labels, rng, rate, t0 + second)
                controller.merge(rec.drain())
        gc.collect()
        gc.freeze()
        exporter = MetricsExporter(controller.live)
        out["requests"] = controller.aggregate.requests
        for _ in range(rounds):
            holds.clear()
            controller._live = None  # a fresh build each round
            c0 = last[0] = time.thread_time()
            controller.live()
            holds.append(time.thread_time() - last[0])
            total = time.thread_time() - c0
            r0 = time.thread_time()
            exporter.render()
            render = time.thread_time() - r0
            build = {"cpu_ms": total * 1e3, "holds": len(holds), "longest_ms": max(holds) * 1e3}
            out["builds"].append({**build, "render_ms": render * 1e3})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=7000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scenario", default="smoke.yaml", help="a scenario of scenarios/")
    p.add_argument("--workers", type=int, default=0, help="a master's, fed by N workers")
    p.add_argument("--rev", help="also measure this committed revision (git archive)")
    a = p.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    who = f"{a.workers} workers' reports" if a.workers else "one process"
    with revision_trees(a.rev) as trees:
        for name, tree in trees:
            r = call_in(tree, __file__, "measure", a.rate, a.seconds, a.rounds, a.scenario,
                        a.workers)  # fmt: skip
            print(f"{name}: live view of {r['requests']:,} requests ({who}), {a.rounds} builds")
            for b in r["builds"]:
                print(f"  CPU {b['cpu_ms']:6.1f} ms in {b['holds']} holds, longest "
                      f"{b['longest_ms']:.2f} ms; Prometheus text {b['render_ms']:.2f} ms")
            longest = [b["longest_ms"] for b in r["builds"]]
            print(f"  longest hold {min(longest):.2f}–{max(longest):.2f} ms, over 1 ms in "
                  f"{sum(x > 1 for x in longest)} of {len(longest)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
