"""Time and memory of the report-time error analysis on a 1 M-request run folder.

Synthesises a run folder in /tmp (``rows.jsonl`` with 20,000 rows, 20 classes and two slice
fields; ``results.jsonl`` with REQUESTS lines (line format 2; ``--old-format``: the lines before
issue 10, which repeat the row's fields) over a 10-minute run: ~12 % wrong answers,
concentrated in one slice, a few off-label answers, 1 % HTTP 503 and 0.3 % timeouts; a
``summary.json`` with a latency threshold), then runs ``analyse_run`` on it in a fresh Python
process and reports its wall time and peak RSS (``resource.getrusage``, the child's own).

    .venv/bin/python benchmarks/analysis_scale.py            # 1,000,000 requests
    .venv/bin/python benchmarks/analysis_scale.py 200000     # fewer
    .venv/bin/python benchmarks/analysis_scale.py --old-format   # the old lines

The end of a run and every report on 1 M requests: ``benchmarks/end_of_run_scale.py``.
"""

from __future__ import annotations

import importlib
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROWS = 20_000
LABELS = [f"intent_{i:02d}" for i in range(20)]
COMPLEXITY = ("simple", "medium", "complex")
CHANNELS = ("chat", "email", "voice", "app")
DURATION_S = 600.0
STARTED = 1_800_000_000.0
USERS = (8, 16)  # per stage


def generate(run_dir: Path, requests: int, seed: int = 7, old_format: bool = False) -> None:
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with (run_dir / "rows.jsonl").open("wb") as f:
        for i in range(ROWS):
            words = rng.randint(4, 60)
            row = {
                "row": i,
                "id": f"r{i:05d}",
                "input": " ".join(
                    rng.choice(("order", "refund", "late", "parcel", "card", "uh"))
                    for _ in range(words)
                ),  # fmt: skip
                "expected": LABELS[i % len(LABELS)],
                "slices": {"complexity": COMPLEXITY[i % 3], "channel": CHANNELS[(i // 3) % 4]},
            }
            rows.append(row)
            f.write(orjson.dumps(row) + b"\n")
    with (run_dir / "results.jsonl").open("wb") as f:
        chunk = []
        for n in range(requests):
            row = rows[rng.randrange(ROWS)]
            expected = row["expected"]
            t = STARTED + DURATION_S * n / requests
            latency = int(rng.lognormvariate(10.0, 0.5))
            u = rng.random()
            error = got = predicted = None
            wrong_p = 0.3 if row["slices"]["complexity"] == "complex" else 0.03
            if u < 0.01:
                outcome, error = "http_error", "HTTP 503 at /v1/chat/completions: overloaded"
            elif u < 0.013:
                outcome, error, latency = "timeout", "timeout: no answer after 10s", 10_000_000
            elif u < 0.013 + wrong_p:
                outcome = "incorrect"
                got = predicted = LABELS[(LABELS.index(expected) + 1) % len(LABELS)]
                if rng.random() < 0.05:
                    got = f"I think this is about {expected.replace('_', ' ')}"
                    predicted = got.lower()
            else:
                outcome, got, predicted = "correct", expected, expected
            stage = 0 if n < requests // 2 else 1
            if old_format:
                line = {
                    "row": row["row"], "id": row["id"], "expected": expected,
                    "slices": row["slices"], "t": round(t, 6), "outcome": outcome, "got": got,
                    "predicted": predicted, "latency_us": latency, "lag_us": 0,
                    "stage": stage, "users": USERS[stage], "error": error,
                }  # fmt: skip
            else:  # line format 2: the row's fields are in rows.jsonl, users in the summary
                line = {"row": row["row"], "t": round(t, 6), "outcome": outcome,
                        "latency_us": latency, "stage": stage}  # fmt: skip
                if predicted != expected:
                    line["predicted"] = predicted
                    if got != predicted:
                        line["got"] = got
                if error is not None:
                    line["error"] = error
            chunk.append(orjson.dumps(line))
            if len(chunk) >= 10_000:
                f.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            f.write(b"\n".join(chunk) + b"\n")
    summary = {
        "run": {"started_at": "2027-01-15T08:00:00.000Z", "duration_s": DURATION_S,
                "scoring": {"kind": "label"}, "dataset": {"rows": ROWS}},
        "classes": [{"label": x, "support": 1} for x in LABELS],
        "stages": [{"index": 0, "name": "low", "users": USERS[0]},
                   {"index": 1, "name": "high", "users": USERS[1]}],
        "thresholds": [{"expression": "latency.p99 < 300ms", "metric": "latency.p99", "op": "<",
                        "target": 0.3, "unit": "s"}],
    }  # fmt: skip
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def measure(run_dir: Path) -> None:
    """In this (fresh) process: analyse the folder, print wall time and peak RSS as JSON."""
    from stagecheck.analysis import analyse_run

    for name in ("answers", "columns", "frame", "groups", "load"):  # imported before the clock:
        importlib.import_module(f"stagecheck.analysis.{name}")  # analyse_run's own imports

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    analysis = analyse_run(run_dir, summary)
    wall = time.perf_counter() - start
    dumped = analysis.model_dump_json()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "requests": analysis.replays.requests, "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak / 1024, 1), "rss_before_mib": round(before / 1024, 1),
        "analysis_json_kib": round(len(dumped) / 1024, 1), "wrong_total": analysis.wrong_total,
        "top_group": analysis.concentrations[0].label if analysis.concentrations else None,
    }))  # fmt: skip


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(Path(sys.argv[2]))
        return
    old_format = "--old-format" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--old-format"]
    requests = int(args[0]) if args else 1_000_000
    run_dir = Path(f"/tmp/stagecheck-analysis-scale-{requests}" + ("-old" if old_format else "-v2"))
    if not (run_dir / "summary.json").exists():
        start = time.perf_counter()
        generate(run_dir, requests, old_format=old_format)
        size = (run_dir / "results.jsonl").stat().st_size / 2**20
        print(f"generated {run_dir} ({size:.0f} MiB) in {time.perf_counter() - start:.1f}s")
    out = subprocess.run([sys.executable, __file__, "--measure", str(run_dir)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    print(out.stdout.strip())


if __name__ == "__main__":
    main()
