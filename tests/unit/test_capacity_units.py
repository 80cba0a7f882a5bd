"""A capacity step's accuracy counts units of evidence, read from the step folder's rows.jsonl
as a real run writes it: a conversation dataset's conversations (their turns together), and
with dataset.variants the rows as written only (varied rows are requests, timed and counted,
but not the validation set). statsmodels is the oracle for the intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from statsmodels.stats.proportion import proportion_confint

from stagecheck.capacity.figures import measure, read_requests

pytestmark = pytest.mark.unit

START = 1_900_000_000.0


def _step(folder: Path, rows: list[dict[str, Any]], right: dict[int, bool]) -> Path:
    folder.mkdir()
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [{"row": r["row"], "t": START + 1 + i * 0.01, "outcome": "correct"
              if right[r["row"]] else "incorrect", "latency_us": 40_000, "stage": 0}
             for i, r in enumerate(rows)]  # fmt: skip
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder / "results.jsonl"


def test_a_conversation_steps_accuracy_interval_counts_conversations(tmp_path: Path) -> None:
    # 50 conversations of 4 turns, one in five wrong on every turn: 50 pieces of evidence
    rows = [{"row": c * 4 + t, "id": f"c{c}#{t + 1}", "expected": "x", "slices": {},
             "conversation": f"c{c}", "turn": t + 1} for c in range(50) for t in range(4)]
    right = {r["row"]: r["row"] // 4 % 5 != 0 for r in rows}
    sample = measure(read_requests(_step(tmp_path / "step", rows, right)), started=START,
                     warmup_s=0, window_s=10, latency_bound_s=None)  # fmt: skip
    assert (sample.correct, sample.scored) == (160, 200)
    assert sample.accuracy_design_effect == pytest.approx(4.0)  # all-or-nothing: the turns
    lo, hi = sample.interval("accuracy", 0.95)  # type: ignore[misc]
    assert (lo, hi) == pytest.approx(proportion_confint(40, 50, alpha=0.05, method="wilson"))


def test_a_steps_accuracy_is_the_rows_as_written(tmp_path: Path) -> None:
    written = [{"row": i, "id": f"r{i}", "expected": "x", "slices": {}} for i in range(100)]
    varied = [{"row": 100 + i, "id": f"r{i}~case", "expected": "x", "slices": {},
               "variant": "case", "origin": i} for i in range(100)]  # fmt: skip
    right = {r["row"]: "variant" not in r for r in written + varied}
    sample = measure(read_requests(_step(tmp_path / "step", written + varied, right)),
                     started=START, warmup_s=0, window_s=10, latency_bound_s=None)  # fmt: skip
    assert sample.lookup("accuracy") == 1.0 and sample.scored == 100
    assert sample.requests == 200 and sample.lookup("throughput") == 20.0  # every request
