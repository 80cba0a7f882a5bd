"""How long the per-second merge holds the event loop, and its CPU per request.

A generator process merges its recorder's delta into the run's aggregate every second, on the
same gevent loop as its users: while one stretch of that work runs without yielding, no answer
is read or timed (issue 10, target 2: no stretch longer than 1 ms). This script builds the
smoke scenario's dataset, records a realistic delta (REQUESTS requests of one second: 87 %
right, 10 % wrong, 2 % HTTP 503, 1 % timeouts, spread over the rows) and merges it into an
Aggregate writing a real run folder, with a ``pause`` that notes the time between two pauses.
Each stretch between two pauses, and before the first and after the last, is one hold, in the
CPU time of the merging thread (``time.thread_time``): what the merge itself holds, without the
time another process on a shared machine takes the CPU from it. Garbage collections that
happen during the merge are part of it (they hold the loop too); the plugin freezes the
prepared heap at the start of a run (``gc.freeze``), and so does this script after preparing
the dataset, as a run would.

It reports, over ROUNDS merges: the longest hold, the p99 hold, the merge's CPU per request,
and the bytes per request written to results.jsonl. ``--rev REV`` measures a committed revision
(extracted with ``git archive``) in the same invocation, for a ratio against it:

    .venv/bin/python benchmarks/drain_hold.py                     # working tree
    .venv/bin/python benchmarks/drain_hold.py --rev 4c9072a       # + that revision, same run
    .venv/bin/python benchmarks/drain_hold.py --requests 20000    # a busier second
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from revision import ROOT, call_in, revision_trees  # noqa: E402


def record_second(
    rec: Any, rows: Any, labels: list[str], rng: Any, requests: int, t0: float
) -> None:
    """One second of requests: 87 % right, 10 % wrong, 2 % HTTP 503, 1 % timeouts."""
    for n in range(requests):
        row = rows[rng.randrange(len(rows))]
        u = rng.random()
        lat = int(rng.lognormvariate(9.0, 0.6))
        t = t0 + n / requests
        if u < 0.87:
            label = row.expected_text
            rec.record(row_index=row.index, outcome=0, latency_us=lat, started=t,
                       predicted=label, got=label)  # fmt: skip
        elif u < 0.97:
            wrong = rng.choice([x for x in labels if x != row.expected_text])
            rec.record(row_index=row.index, outcome=1, latency_us=lat, started=t,
                       predicted=wrong, got=wrong)  # fmt: skip
        elif u < 0.99:
            rec.record(row_index=row.index, outcome=3, latency_us=lat, started=t,
                       error="HTTP 503: POST /v1/chat/completions → overloaded")  # fmt: skip
        else:
            rec.record(row_index=row.index, outcome=4, latency_us=10_000_000, started=t,
                       error="timeout: no answer in 10s")  # fmt: skip


def measure(requests: int, rounds: int) -> dict[str, float]:
    """Runs in the process of the code under test (sys.path set by the caller)."""
    import random

    from stagecheck.load.plan import LoadPlan  # noqa: F401 - the scenario's load is unused
    from stagecheck.recording import Aggregate, Recorder
    from stagecheck.run.preparation import prepare_loaded
    from stagecheck.scenario import load_scenario

    prepared = prepare_loaded(load_scenario(ROOT / "scenarios" / "smoke.yaml", []))
    gc.collect()
    gc.freeze()  # as the plugin does at the start of a run (the older revisions did not)
    rows = prepared.dataset.rows
    labels = sorted({r.expected_text for r in rows})
    rng = random.Random(1)
    holds: list[float] = []
    cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        agg = Aggregate(rows, prepared.dataset.slice_fields, Path(tmp), time.time())
        agg.begin_stage(0, "steady", 8, time.time())
        for _ in range(rounds):
            rec = Recorder()
            record_second(rec, rows, labels, rng, requests, time.time())
            delta = rec.drain()
            last = [time.thread_time()]

            def pause(last: list[float] = last) -> None:
                now = time.thread_time()
                holds.append(now - last[0])
                last[0] = time.thread_time()

            c0 = time.process_time()
            last[0] = time.thread_time()
            agg.merge(delta, pause=pause)
            holds.append(time.thread_time() - last[0])
            cpu += time.process_time() - c0
        agg.close()
        size = (Path(tmp) / "results.jsonl").stat().st_size
    holds.sort()
    return {
        "max_hold_ms": holds[-1] * 1e3,
        "p99_hold_ms": holds[int(len(holds) * 0.99)] * 1e3,
        "holds": len(holds),
        "cpu_us_per_request": cpu / (requests * rounds) * 1e6,
        "results_bytes_per_request": size / (requests * rounds),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=7000, help="requests per merge (one second)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--rev", help="also measure this committed revision (git archive)")
    a = p.parse_args()
    print(f"{a.rounds} merges of {a.requests:,} requests each")
    print(
        f"{'variant':<14} {'max hold ms':>11} {'p99 hold ms':>11} {'CPU µs/req':>10} "
        f"{'results B/req':>13}"
    )
    with revision_trees(a.rev) as trees:
        for name, tree in trees:
            r = call_in(tree, __file__, "measure", a.requests, a.rounds)
            print(
                f"{name:<14} {r['max_hold_ms']:>11.2f} {r['p99_hold_ms']:>11.2f} "
                f"{r['cpu_us_per_request']:>10.2f} {r['results_bytes_per_request']:>13.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
