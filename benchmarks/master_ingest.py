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
* then the master's work is timed: ``Message.unserialize``, the payload → ``IntervalReport``, and
  ``Aggregate.absorb`` into a real run folder (results.jsonl, latency.hlog);
* the master's work is timed ``--passes`` times (3) over the same reports, each into a fresh
  aggregate and run folder, and the least is kept: on this shared machine a pass is ~0.1 s, and
  other processes' bursts inflate single passes by up to ~50 %;
* ``live ms``: then, once, the live view's merge of the last 10 s of latency
  (``Aggregate.recent_histogram``), which a live view (Prometheus, the web UI) does each second.

Locust's own share of a report (its request statistics) is not in the synthetic messages: it
costs the same with or without stagecheck. It is the **baseline**, measured in the same process
right after: the same workers' reports of Locust's own request statistics (one endpoint, the
same latencies, two kinds of errors), serialised by a worker's ``on_report_to_master`` and merged
by the master's ``worker_report`` listener. ``× Locust`` is stagecheck's master CPU per report
over Locust's own. Locust's merge is so small (a few hundredths of a ms) that its ratio is
noisy; a second reference, a fixed pure-Python workload like the master's (tuple-keyed counter
updates, a zlib round trip), is timed before and after each measurement: ``ref ms`` is its
CPU time, and ``µs/req @ref`` scales µs/req to the reference's time on a quiet machine
(:data:`REFERENCE_QUIET_MS`), so that a slower or busier machine does not read as a
regression. ``--rev REV`` also measures a committed revision,
whose workers may ship the raw per-request tuples (before issue 10) — its master then merges
every request itself.

    .venv/bin/python benchmarks/master_ingest.py                      # N = 2, 8, 32
    .venv/bin/python benchmarks/master_ingest.py --rev 4c9072a        # + the revision before
    .venv/bin/python benchmarks/master_ingest.py --rate 50000 --seconds 12
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from revision import ROOT, call_in, revision_trees  # noqa: E402

REPORT_S = 3  # Locust's worker report interval
REFERENCE_QUIET_MS = 5.0  # reference_cpu() on the 2-core VM of BENCHMARKS.md (5.2 ms at load ~6)


def reference_cpu() -> float:
    """CPU seconds of a fixed workload like the master's: the least of three tries."""
    import zlib
    from collections import Counter

    keys = [(s, i, f"v{i % 7}", f"l{k % 20}", f"l{(k * 7) % 20}") for s in range(2)
            for i in range(-1, 4) for k in range(400)]  # fmt: skip
    blob = zlib.compress(bytes(range(256)) * 200)
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        total: Counter[tuple[int, int, str, str, str]] = Counter()
        for n in range(10):
            total.update(Counter(dict.fromkeys(keys, n)))
            zlib.compress(zlib.decompress(blob))
        best = min(best, time.process_time() - c0)
    return best


def measure(workers: int, rate: int, seconds: int, passes: int = 1) -> dict[str, float]:
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
    report_cls = getattr(rec_mod, "IntervalReport", None) or getattr(rec_mod, "Interval", None)
    folded = report_cls is not None  # older revs merged Deltas
    per_report = rate * REPORT_S // workers
    wires: list[tuple[str, bytes]] = []
    fold = getattr(rec_mod, "DeltaFold", None) or getattr(rec_mod, "Folder", None)  # older revs
    folders = {f"w{i}": fold(rows) for i in range(workers)} if folded else {}
    t0 = time.time()
    for report in range(max(seconds // REPORT_S, 1)):
        for i in range(workers):
            name = f"w{i}"
            # each worker's report ends at its own time, every REPORT_S (the live view keeps
            # the latency of each second its reports end in)
            ended = t0 + (report + 1 + i / workers) * REPORT_S
            r = Recorder(clock=lambda ended=ended: ended)
            record_second(r, rows, labels, rng, per_report, t0 + report * REPORT_S)
            delta = r.drain()
            payload = folders[name].fold(delta).to_payload() if folded else delta.to_payload()
            wires.append((name, Message("stats", {"stagecheck": payload}, name).serialize()))
    requests = per_report * len(wires)
    wire_bytes = sum(len(w) for _, w in wires)
    gc.collect()
    gc.freeze()
    reference_before = reference_cpu()
    cpus, lives = [], []
    for _ in range(passes):  # the same reports into a fresh run folder each pass
        with tempfile.TemporaryDirectory() as tmp:
            agg = Aggregate(rows, prepared.dataset.slice_fields, Path(tmp), t0)
            agg.begin_stage(0, "steady", 8, t0)
            c0 = time.process_time()
            for name, wire in wires:
                data = Message.unserialize(wire).data["stagecheck"]
                if folded:
                    agg.absorb(report_cls.from_payload(data), worker=name)
                else:
                    agg.merge(rec_mod.Delta.from_payload(data), worker=name)
            cpus.append(time.process_time() - c0)
            c1 = time.process_time()
            agg.recent_histogram("e2e", 10.0)  # the live view's "last 10 s" merge
            lives.append(time.process_time() - c1)
            agg.close()
            assert agg.requests == requests, (agg.requests, requests)
    # the least of the passes: what the code costs, less what other processes took from it
    cpu, live = min(cpus), min(lives)
    locust = locust_report_cpu(workers, rate, seconds)
    reference = min(reference_before, reference_cpu())
    return {
        "requests": requests,
        "reports": len(wires),
        "locust_cpu_ms_per_report": locust * 1e3,
        "ratio_to_locust": cpu / len(wires) / locust,
        "reference_cpu_ms": reference * 1e3,
        "master_cpu_us_per_request_at_reference": (
            cpu / requests * 1e6 * REFERENCE_QUIET_MS / (reference * 1e3)
        ),
        "master_cpu_us_per_request": cpu / requests * 1e6,
        "master_cpu_ms_per_report": cpu / len(wires) * 1e3,
        "wire_bytes_per_request": wire_bytes / requests,
        "live_merge_ms": live * 1e3,
    }


def locust_report_cpu(workers: int, rate: int, seconds: int) -> float:
    """The baseline: CPU seconds per report of a bare Locust master merging its workers' request
    statistics (the same reports in number and requests)."""
    from locust.event import Events
    from locust.rpc.protocol import Message
    from locust.stats import RequestStats, setup_distributed_stats_event_listeners

    import random

    rng = random.Random(5)
    per_report = rate * REPORT_S // workers
    wires: list[bytes] = []
    for _ in range(max(seconds // REPORT_S, 1)):
        for i in range(workers):
            stats, events = RequestStats(), Events()
            setup_distributed_stats_event_listeners(events, stats)
            for n in range(per_report):
                ms = rng.lognormvariate(1.0, 0.5)
                stats.log_request("POST", "/v1/chat/completions", ms, 180)
                if n % 50 == 0:
                    error = "HTTP 503" if n % 100 else "timeout"
                    stats.log_error("POST", "/v1/chat/completions", error)
            data: dict[str, object] = {}
            events.report_to_master.fire(client_id=f"w{i}", data=data)
            wires.append(Message("stats", data, f"w{i}").serialize())
    stats, events = RequestStats(), Events()
    setup_distributed_stats_event_listeners(events, stats)
    gc.collect()
    c0 = time.process_time()
    for i, wire in enumerate(wires):
        events.worker_report.fire(client_id=f"w{i % workers}", data=Message.unserialize(wire).data)
    return (time.process_time() - c0) / len(wires)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", default="2,8,32", help="numbers of workers (comma-separated)")
    p.add_argument("--rate", type=int, default=20_000, help="total requests/s of all workers")
    p.add_argument("--seconds", type=int, default=12, help="seconds of load (reports every 3 s)")
    p.add_argument("--rev", help="also measure this committed revision (git archive)")
    p.add_argument("--passes", type=int, default=3,
                   help="the master's work timed this many times (fresh aggregates): the least")
    a = p.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{a.rate:,} requests/s in all, {a.seconds} s, a report per worker every {REPORT_S} s, "
          f"the least of {a.passes} passes")
    head = f"{'variant':<14} {'workers':>7} {'requests':>9} {'µs/req':>7} {'ms/report':>9}"
    head += f" {'wire B/req':>10} {'Locust ms/report':>16} {'× Locust':>8}"
    print(head + f" {'ref ms':>6} {'µs/req @ref':>11} {'live ms':>7}")
    with revision_trees(a.rev) as trees:
        for name, tree in trees:
            for n in (int(x) for x in a.workers.split(",")):
                r = call_in(tree, __file__, "measure", n, a.rate, a.seconds, a.passes)
                print(
                    f"{name:<14} {n:>7} {r['requests']:>9,} "
                    f"{r['master_cpu_us_per_request']:>7.2f} "
                    f"{r['master_cpu_ms_per_report']:>9.2f} {r['wire_bytes_per_request']:>10.1f} "
                    f"{r['locust_cpu_ms_per_report']:>16.2f} {r['ratio_to_locust']:>8.2f} "
                    f"{r['reference_cpu_ms']:>6.1f} "
                    f"{r['master_cpu_us_per_request_at_reference']:>11.2f} "
                    f"{r['live_merge_ms']:>7.2f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
