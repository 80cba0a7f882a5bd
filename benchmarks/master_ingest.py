"""The master's CPU per request, fed by N synthetic workers (issue 10, target 4).

In a distributed run each worker folds its own requests and ships, in Locust's own worker
report (every 3 s), one interval: fixed-size figures (HDR histograms in HDR's compressed
encoding, counts per stage, slice and class) and its results.jsonl lines, already encoded. The
master decodes Locust's message, adds the interval to the run's aggregate and appends the lines
to the run folder. This script measures that master side alone, in this process's CPU time
(``time.process_time``), for N workers sharing a total request rate:

* the workers' reports are made first (the smoke scenario's dataset, ``drain_hold``'s synthetic
  second of requests: 87 % right, 10 % wrong, 3 % failures), each folded as a worker would and
  serialised with Locust's own ``Message.serialize``;
* then the master's work is timed: ``Message.unserialize``, the payload → ``Interval``, and
  ``Aggregate.absorb`` into a real run folder (results.jsonl, latency.hlog).

Locust's own share of a report (its request statistics) is not in the synthetic messages: it
costs the same with or without stagecheck. ``--rev REV`` also measures a committed revision,
whose workers may ship the raw per-request tuples (before issue 10) — its master then merges
every request itself.

    .venv/bin/python benchmarks/master_ingest.py                      # N = 2, 8, 32
    .venv/bin/python benchmarks/master_ingest.py --rev 4c9072a        # + the revision before
    .venv/bin/python benchmarks/master_ingest.py --rate 50000 --seconds 12
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from revision import ROOT, call_in, revision_trees  # noqa: E402

REPORT_S = 3  # Locust's worker report interval


def measure(workers: int, rate: int, seconds: int) -> dict[str, float]:
    """Runs in the process of the code under test (sys.path set by the caller)."""
    from locust.rpc.protocol import Message

    import random

    import stagecheck.recording as rec_mod
    from stagecheck.recording import Aggregate, Recorder
    from stagecheck.run.preparation import prepare_loaded
    from stagecheck.scenario import load_scenario

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from drain_hold import record_second

    prepared = prepare_loaded(load_scenario(ROOT / "scenarios" / "smoke.yaml", []))
    rows = prepared.dataset.rows
    labels = sorted({r.expected_text for r in rows})
    rng = random.Random(5)
    folded = hasattr(rec_mod, "Interval")
    per_report = rate * REPORT_S // workers
    wires: list[tuple[str, bytes]] = []
    folders = {f"w{i}": rec_mod.Folder(rows) for i in range(workers)} if folded else {}
    t0 = time.time()
    for report in range(max(seconds // REPORT_S, 1)):
        for i in range(workers):
            name = f"w{i}"
            r = Recorder()
            record_second(r, rows, labels, rng, per_report, t0 + report * REPORT_S)
            delta = r.drain()
            payload = folders[name].fold(delta).to_payload() if folded else delta.to_payload()
            wires.append((name, Message("stats", {"stagecheck": payload}, name).serialize()))
    requests = per_report * len(wires)
    wire_bytes = sum(len(w) for _, w in wires)
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        agg = Aggregate(rows, prepared.dataset.slice_fields, Path(tmp), t0)
        agg.begin_stage(0, "steady", 8, t0)
        c0 = time.process_time()
        for name, wire in wires:
            data = Message.unserialize(wire).data["stagecheck"]
            if folded:
                agg.absorb(rec_mod.Interval.from_payload(data), worker=name)
            else:
                agg.merge(rec_mod.Delta.from_payload(data), worker=name)
        cpu = time.process_time() - c0
        agg.close()
        assert agg.requests == requests, (agg.requests, requests)
    return {
        "requests": requests,
        "reports": len(wires),
        "master_cpu_us_per_request": cpu / requests * 1e6,
        "master_cpu_ms_per_report": cpu / len(wires) * 1e3,
        "wire_bytes_per_request": wire_bytes / requests,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", default="2,8,32", help="numbers of workers (comma-separated)")
    p.add_argument("--rate", type=int, default=20_000, help="total requests/s of all workers")
    p.add_argument("--seconds", type=int, default=12, help="seconds of load (reports every 3 s)")
    p.add_argument("--rev", help="also measure this committed revision (git archive)")
    a = p.parse_args()
    print(f"{a.rate:,} requests/s in all, {a.seconds} s, a report per worker every {REPORT_S} s")
    head = f"{'variant':<14} {'workers':>7} {'requests':>9} {'µs/req':>7} {'ms/report':>9}"
    print(head + f" {'wire B/req':>10}")
    with revision_trees(a.rev) as trees:
        for name, tree in trees:
            for n in (int(x) for x in a.workers.split(",")):
                r = call_in(tree, __file__, "measure", n, a.rate, a.seconds)
                print(
                    f"{name:<14} {n:>7} {r['requests']:>9,} "
                    f"{r['master_cpu_us_per_request']:>7.2f} "
                    f"{r['master_cpu_ms_per_report']:>9.2f} {r['wire_bytes_per_request']:>10.1f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
