"""Time and memory of the end of a 1 M-request run and of every report built from its folder
(issue 10, target 7: each under 10 s and under 1 GiB).

In a fresh Python process per folder: a real scenario (20,000-row dataset, 20 classes, two
slice fields, two stages of 8 and 16 users over 10 minutes) is prepared, a
:class:`~stagecheck.run.RunController` is fed REQUESTS recorded requests (through
:class:`~stagecheck.recording.Recorder` deltas and ``merge``, as a run does: the Aggregate
writes results.jsonl and latency.hlog as it goes; ~12 % wrong answers concentrated in one
slice, a few off-label answers, 1 % HTTP 503, 0.3 % timeouts), and then ``finish()`` is timed:
summary → error analysis → verdict → summary.json, report.html, summary.md, junit.xml. Two such
folders (other seeds) are built; then, each in its own process, ``stagecheck report A`` and
``stagecheck compare A B --out compare.html`` are timed. Wall time is the child's; peak RSS is
the child's own (``os.wait4``'s rusage), so the numbers are per step, not cumulative.

    .venv/bin/python benchmarks/end_of_run_scale.py                # 1,000,000 requests
    .venv/bin/python benchmarks/end_of_run_scale.py 200000         # fewer
    .venv/bin/python benchmarks/end_of_run_scale.py --json out.json

Everything is written under a fresh temporary folder, removed at the end unless ``--keep``
(then its path is printed, for profiling: ``.venv/bin/py-spy record -o x.txt -f raw --
.venv/bin/stagecheck report FOLDER/a``).

Baseline, in the same invocation: a fixed reference workload in a fresh process of its own
(:func:`reference_step`: a pure-Python and pandas pass over 1 M synthetic rows like the
reports' own, a few seconds), timed before and after the steps; each step's
``× ref`` is its wall time over the reference's (the mean of both), so that a slower or busier
machine does not read as a regression.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the same synthetic dataset as analysis_scale's (this script's folder is on sys.path)
from analysis_scale import CHANNELS, COMPLEXITY, DURATION_S, LABELS, ROWS, STARTED  # noqa: E402

DELTA = 5_000  # requests per delta (a few seconds' drains of a busy run)
OVERLOADED = "HTTP 503 at /v1/chat/completions: overloaded"
TIMED_OUT = "timeout: no answer after 10s"
GIB = 1024.0  # MiB

SCENARIO = """\
name: end-of-run-scale
endpoint:
  url: http://127.0.0.1:9
  protocol: openai-chat
  model: m
dataset:
  path: {dataset}
  input: text
  expected: label
  slices: [complexity, channel]
load:
  stages:
    - {{name: low, duration: 5m, users: 8}}
    - {{name: high, duration: 5m, users: 16}}
thresholds:
  - latency.p99 < 300ms
  - accuracy >= 0.8
"""


def write_inputs(base: Path) -> Path:
    """The dataset and the scenario (shared by both folders); returns the scenario's path."""
    base.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    words = ("order", "refund", "late", "parcel", "card", "uh")
    with (base / "dataset.jsonl").open("w", encoding="utf-8") as f:
        for i in range(ROWS):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 60)))
            f.write(json.dumps({"text": text, "label": LABELS[i % len(LABELS)],
                                "complexity": COMPLEXITY[i % 3],
                                "channel": CHANNELS[(i // 3) % 4]}) + "\n")  # fmt: skip
    scenario = base / "scenario.yaml"
    scenario.write_text(SCENARIO.format(dataset=base / "dataset.jsonl"), encoding="utf-8")
    return scenario


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def finish_run(scenario: Path, run_dir: Path, requests: int, seed: int) -> dict[str, Any]:
    """In this (fresh) process: feed a controller ``requests`` requests, then time finish()."""
    from stagecheck.load.plan import LoadPlan
    from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, TIMEOUT, Recorder
    from stagecheck.reporting import write_reports
    from stagecheck.run import RunController
    from stagecheck.run.preparation import prepare_scenario

    prepared = prepare_scenario(str(scenario))
    plan = LoadPlan.from_scenario(prepared.loaded)
    end = STARTED + DURATION_S
    c = RunController(prepared, plan, run_dir, started=STARTED, clock=lambda: end,
                      reports=write_reports)
    rows = prepared.dataset.rows
    rng = random.Random(seed)
    worse = 0.3 + 0.05 * seed  # the complex slice's error rate (differs between the folders)
    c.begin_stage(0, at=STARTED)
    t_feed = time.perf_counter()
    n = 0
    while n < requests:
        rec = Recorder(clock=lambda: STARTED)
        for _ in range(min(DELTA, requests - n)):
            t = STARTED + DURATION_S * n / requests
            stage = 0 if t < STARTED + DURATION_S / 2 else 1
            if stage == 1 and c.stage_index == 0:
                c.merge(rec.drain())
                rec = Recorder(clock=lambda: STARTED)
                c.begin_stage(1, at=t)
            row = rows[rng.randrange(len(rows))]
            expected = row.expected_text
            latency = int(rng.lognormvariate(11.0, 0.5))
            u = rng.random()
            wrong_p = worse if row.slices[0] == "complex" else 0.03
            if u < 0.01:
                rec.record(row_index=row.index, outcome=HTTP_ERROR, latency_us=latency, started=t,
                           stage=stage, error=OVERLOADED)  # fmt: skip
            elif u < 0.013:
                rec.record(row_index=row.index, outcome=TIMEOUT, latency_us=10_000_000,
                           started=t, stage=stage, error=TIMED_OUT)  # fmt: skip
            elif u < 0.013 + wrong_p:
                other = LABELS[(LABELS.index(expected) + 1) % len(LABELS)]
                got = other
                if rng.random() < 0.05:
                    got = f"I think this is about {expected.replace('_', ' ')}"
                    other = got.lower()
                rec.record(row_index=row.index, outcome=INCORRECT, latency_us=latency, started=t,
                           stage=stage, predicted=other, got=got)  # fmt: skip
            else:
                rec.record(row_index=row.index, outcome=CORRECT, latency_us=latency, started=t,
                           stage=stage, predicted=expected, got=expected)  # fmt: skip
            n += 1
        delta = rec.drain()
        delta.ended = STARTED + DURATION_S * n / requests
        c.merge(delta)
    c.aggregate.ended = end
    feed_s = time.perf_counter() - t_feed
    rss_before = _rss_mib()
    start = time.perf_counter()
    code = c.finish(interrupted=False)
    wall = time.perf_counter() - start
    results = run_dir / "results.jsonl"
    return {
        "requests": c.aggregate.requests, "exit_code": code, "verdict": c.summary["verdict"]
        if c.summary else None, "feed_s": round(feed_s, 2), "wall_s": round(wall, 2),
        "rss_before_finish_mib": round(rss_before, 1), "peak_rss_mib": round(_rss_mib(), 1),
        "results_bytes_per_request": round(results.stat().st_size / max(requests, 1), 1),
        "report_html_mib": round((run_dir / "report.html").stat().st_size / 2**20, 2),
    }  # fmt: skip


def reference_step(n: int = 1_000_000) -> None:
    """The baseline's fixed workload: parse n JSON lines, count them in Python, and group them
    with pandas (what the reports do with results.jsonl, in miniature)."""
    import orjson
    import pandas as pd

    rng = random.Random(3)
    lines = [orjson.dumps({"row": rng.randrange(20_000), "latency_us": rng.randrange(10**6),
                           "outcome": "correct" if rng.random() < 0.9 else "incorrect"})
             for _ in range(n)]  # fmt: skip
    records = [orjson.loads(x) for x in lines]
    frame = pd.DataFrame.from_records(records)
    frame.groupby("outcome")["latency_us"].quantile([0.5, 0.99])
    frame.groupby(["row", "outcome"]).size()


def timed(argv: list[str]) -> dict[str, Any]:
    """Run ``argv`` in a child; its wall time, its own peak RSS and its exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "exit_code": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace")[-2000:]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("requests", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--finish", nargs=4, help=argparse.SUPPRESS)  # child: scenario dir n seed
    ap.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)  # child
    args = ap.parse_args()
    if args.reference:
        reference_step()
        return
    if args.finish:
        scenario, run_dir, n, seed = args.finish
        print(json.dumps(finish_run(Path(scenario), Path(run_dir), int(n), int(seed))))
        return
    base = Path(tempfile.mkdtemp(prefix=f"stagecheck-end-of-run-{args.requests}-"))
    try:
        run_steps(args, base)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_steps(args: argparse.Namespace, base: Path) -> None:
    scenario = write_inputs(base)
    here, exe = Path(__file__).resolve(), Path(sys.executable)
    stagecheck = str(exe.parent / "stagecheck")
    figures: dict[str, Any] = {"requests": args.requests,
                               "load_average_before": os.getloadavg()}  # fmt: skip
    reference = [timed([str(exe), str(here), "--reference"])["wall_s"]]
    for name, seed in (("a", 1), ("b", 2)):
        child = timed([str(exe), str(here), "--finish", str(scenario), str(base / name),
                       str(args.requests), str(seed)])  # fmt: skip
        if child["exit_code"] not in (0, 1):
            sys.exit(f"the run of folder {name} failed:\n{child['stderr']}")
        figures[f"finish_{name}"] = {**json.loads(child["stdout"]),
                                     "process_peak_rss_mib": child["peak_rss_mib"]}  # fmt: skip
    report = timed([stagecheck, "report", str(base / "a")])
    compare = timed([stagecheck, "compare", str(base / "a"), str(base / "b"),
                     "--out", str(base / "compare.html")])  # fmt: skip
    for name, step in (("report", report), ("compare", compare)):
        if step["exit_code"] not in (0, 1):
            sys.exit(f"stagecheck {name} failed:\n{step['stderr']}")
        figures[name] = {k: step[k] for k in ("wall_s", "peak_rss_mib", "exit_code")}
    reference.append(timed([str(exe), str(here), "--reference"])["wall_s"])
    ref = sum(reference) / len(reference)
    figures["reference_wall_s"] = reference
    figures["load_average_after"] = os.getloadavg()
    for step in (figures["finish_a"], figures["finish_b"], figures["report"], figures["compare"]):
        step["x_reference"] = round(step["wall_s"] / ref, 2)
    print(json.dumps(figures, indent=1))
    worst_wall = max(figures["finish_a"]["wall_s"], report["wall_s"], compare["wall_s"])
    worst_rss = max(report["peak_rss_mib"], compare["peak_rss_mib"],
                    figures["finish_a"]["peak_rss_mib"])  # fmt: skip
    print(f"worst step: {worst_wall:.2f} s (target < 10 s; {worst_wall / ref:.2f} × the "
          f"reference's {ref:.2f} s), {worst_rss:.0f} MiB (target < {GIB:.0f} MiB)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
