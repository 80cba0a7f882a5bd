"""compare's paired figures count units of evidence: a conversation run's conversations (its
turns are not independent pairs), and the rows as written (dataset.variants' varied rows are
left out, as they are of the summary's quality figures).

Run folders are written here (summary.json from the fixture, rows.jsonl tagging each row's
conversation and turn, or its variant and origin, as a real run writes them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from statsmodels.stats.contingency_tables import mcnemar

from stagecheck import stats
from stagecheck.reporting.compare.runs import compare_folders

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
LABELS = ("billing", "refund", "shipping", "account_access")
TURNS = 5


def _write(folder: Path, rows: list[dict[str, Any]], right: Callable[[dict[str, Any]], bool]
           ) -> Path:  # fmt: skip
    folder.mkdir(parents=True)
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    summary["run"]["id"] = folder.name
    summary["run"]["load"]["exact_pass"] = True
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    lines = []
    for i, row in enumerate(rows):
        ok = right(row)
        got = row["expected"] if ok else LABELS[(LABELS.index(row["expected"]) + 1) % 4]
        lines.append({"row": row["row"], "t": 1000.0 + i / 1000, "outcome":
                      "correct" if ok else "incorrect", "latency_us": 20_000 + i, "stage": 0,
                      "predicted": got, "got": got})  # fmt: skip
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _conversations(n: int) -> list[dict[str, Any]]:
    """``n`` conversations of TURNS turns, rows.jsonl as a conversation run writes it."""
    return [{"row": c * TURNS + t, "id": f"c{c:03d}#{t + 1}", "input": f"turn {t} of {c}",
             "expected": LABELS[(c + t) % 4], "slices": {"topic": "ab"[c % 2]},
             "conversation": f"c{c:03d}", "turn": t + 1}
            for c in range(n) for t in range(TURNS)]  # fmt: skip


def test_a_conversation_run_is_paired_by_conversation_not_by_turn(tmp_path: Path) -> None:
    """The new model fails every turn of 4 conversations of 80: 20 turns flipped, but 4
    pieces of evidence. McNemar on the turns would call it a regression (p ≈ 2e-6); the
    clustered test on 4 conversations cannot (exact p = 2/16), and the intervals widen."""
    rows = _conversations(80)
    base = _write(tmp_path / "base", rows, lambda r: True)
    new = _write(tmp_path / "new", rows, lambda r: r["conversation"] not in
                 ("c000", "c020", "c040", "c060"))  # fmt: skip
    c = compare_folders(base, new)
    acc = next(r for r in c.rows if r.metric == "accuracy")
    naive = mcnemar([[380, 20], [0, 0]], exact=True).pvalue
    assert naive < 1e-5
    assert acc.test == "clustered McNemar" and acc.p == pytest.approx(2 / 16)
    assert not acc.regression and not c.regressed
    assert "80 conversations" in " ".join(c.notes)
    assert acc.new_interval is not None
    plain = stats.wilson(380, 400)
    assert plain is not None
    # new: 76 conversations all right, 4 all wrong: deff = 5 (the turns of one agree)
    assert acc.new_interval == pytest.approx(stats.wilson(380, 400, deff=5.0))
    assert acc.new_interval[0] < plain[0]
    # by turn position each conversation is one pair: the tests there are unchanged
    turn1 = next(r for r in c.rows if r.metric == "accuracy[turn=1]")
    assert turn1.p == pytest.approx(mcnemar([[76, 4], [0, 0]], exact=True).pvalue)


def test_many_conversations_failing_is_still_a_regression(tmp_path: Path) -> None:
    rows = _conversations(80)
    base = _write(tmp_path / "base", rows, lambda r: True)
    new = _write(tmp_path / "new", rows, lambda r: int(r["conversation"][1:]) % 4 != 0)
    c = compare_folders(base, new)
    acc = next(r for r in c.rows if r.metric == "accuracy")
    assert acc.p == pytest.approx(2 * 0.5**20)  # 20 conversations, all worse
    assert acc.regression and c.regressed


def test_varied_rows_are_left_out_of_the_paired_figures(tmp_path: Path) -> None:
    """A base run with dataset.variants (each row once more, upper case) against a new run
    without: the paired figures are the rows as written, as each summary's accuracy is."""
    written = [{"row": i, "id": f"r{i:03d}", "input": f"text {i}", "expected": LABELS[i % 4],
                "slices": {"channel": "ab"[i % 2]}} for i in range(200)]  # fmt: skip
    varied = [{**r, "row": 200 + r["row"], "id": f"{r['id']}~case", "input": r["input"].upper(),
               "variant": "case", "origin": r["row"]} for r in written]  # fmt: skip
    base = _write(tmp_path / "base", written + varied, lambda r: "variant" not in r)
    new = _write(tmp_path / "new", written, lambda r: True)
    c = compare_folders(base, new)
    acc = next(r for r in c.rows if r.metric == "accuracy")
    assert c.mode == "paired" and c.paired_rows == 200
    assert (acc.base, acc.new) == (1.0, 1.0) and acc.status == "same"
    assert c.one_sided is None or c.one_sided.total == 0
    assert any("varied rows" in w for w in c.warnings)
