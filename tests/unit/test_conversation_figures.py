"""Conversation figures of a run folder, checked against a hand computation: plays, success,
turn share, first wrong turn, derailment, accuracy by turn with intervals clustered by
conversation (statsmodels' Wilson at Kish's effective n as the oracle), timings by turn and by
context length, and the threshold lookups."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from stagecheck.judging.thresholds import parse_threshold
from stagecheck.summary.conversations import conversation_figures
from stagecheck.summary.lookup import interval_lookup, metric_lookup

pytestmark = pytest.mark.unit

# (row, conversation, turn, context characters)
ROWS = [(0, "A", 1, 100), (1, "A", 2, 600), (2, "A", 3, 1200), (3, "B", 1, 50), (4, "B", 2, 700),
        (5, "C", 1, 80), (6, "C", 2, 900)]  # fmt: skip
# (row, t, outcome, latency µs, ttft µs): A twice, B once, C cut by the end of the run
RESULTS = [
    (0, 1.0, "correct", 100, 10), (1, 2.0, "incorrect", 110, 11), (2, 3.0, "incorrect", 120, 12),
    (0, 10.0, "correct", 200, 20), (1, 11.0, "correct", 210, 21), (2, 12.0, "correct", 220, 22),
    (3, 5.0, "incorrect", 300, 30), (4, 6.0, "correct", 310, 31),
    (5, 7.0, "correct", 400, 40), (6, 8.0, "unfinished", 999, None),
]  # fmt: skip


def _folder(tmp_path: Path) -> Path:
    with (tmp_path / "rows.jsonl").open("w") as f:
        for row, conv, turn, chars in ROWS:
            f.write(json.dumps({"row": row, "id": f"{conv}#{turn}", "input": "q", "expected": "x",
                                "slices": {}, "conversation": conv, "turn": turn,
                                "context_chars": chars}) + "\n")  # fmt: skip
    with (tmp_path / "results.jsonl").open("w") as f:
        for row, t, outcome, latency, ttft in RESULTS:
            line = {"row": row, "t": t, "outcome": outcome, "latency_us": latency, "stage": 0}
            if ttft is not None:
                line["ttft_us"] = ttft
            f.write(json.dumps(line) + "\n")
    return tmp_path


def _wilson_at_effective_n(k: float, n: float, deff: float) -> list[float]:
    lo, hi = proportion_confint(k / deff, n / deff, alpha=0.05, method="wilson")
    return [lo, hi]


def test_figures_by_conversation_and_turn_match_a_hand_computation(tmp_path):
    c = conversation_figures(_folder(tmp_path), "live")
    assert c is not None
    assert (c["conversations"], c["turns"]) == (3, 7)
    assert c["turns_per_conversation"] == {"2": 2, "3": 1}
    # complete plays: A (wrong at 2), A (all right), B (wrong at 1); C's second turn never ended
    assert (c["plays"], c["incomplete_plays"]) == (3, 1)
    assert (c["success"]["events"], c["success"]["n"]) == (1, 3)
    assert c["first_failure"] == {"1": 1, "2": 1, "none": 1}
    # success per conversation A 1/2, B 0/1: the sandwich variance is below the binomial one,
    # so the design effect stays 1 (never counted as more than independent plays)
    assert c["success"]["design_effect"] == 1.0
    assert c["success"]["ci"] == pytest.approx(_wilson_at_effective_n(1, 3, 1.0))
    # turn share: mean of 1/3, 3/3, 1/2; sandwich over A (4/3 over 2 plays) and B (1/2 over 1)
    assert c["turn_share"] == pytest.approx(11 / 18)
    half = 1.959963984540054 * math.sqrt((4 / 3 - 2 * 11 / 18) ** 2 + (1 / 2 - 11 / 18) ** 2) / 3
    assert c["turn_share_ci"] == pytest.approx([11 / 18 - half, 11 / 18 + half])
    # by turn: turn 1 A 2/2, B 0/1, C 1/1; turn 2 A 1/2, B 1/1 (C unfinished); turn 3 A 1/2
    t1, t2, t3 = c["by_turn"]
    assert [(t["correct"], t["scored"]) for t in (t1, t2, t3)] == [(3, 4), (2, 3), (1, 2)]
    deff1 = ((2 - 1.5) ** 2 + (0 - 0.75) ** 2 + (1 - 0.75) ** 2) / (4 * 0.75 * 0.25)
    assert t1["design_effect"] == pytest.approx(deff1)
    assert t1["accuracy_ci"] == pytest.approx(_wilson_at_effective_n(3, 4, deff1))
    # nearest-rank percentiles of turn 1's latencies 100, 200, 300, 400 and TTFTs
    assert (t1["latency_p50_us"], t1["latency_p95_us"]) == (200, 400)
    assert (t1["ttft_p50_us"], t1["ttft_p95_us"]) == (20, 40)
    assert t2["requests"] == 3  # the unfinished request is no answer
    # derailment: after a wrong turn A1 (W→W), B (W→R); after a right one A1 (R→W), A2 twice
    assert (c["wrong_after_wrong"]["events"], c["wrong_after_wrong"]["n"]) == (1, 2)
    assert (c["wrong_after_right"]["events"], c["wrong_after_right"]["n"]) == (1, 3)
    # context buckets: rows 0, 3, 5 under 500 chars; 1, 4 (6 unfinished) 500-1k; 2 in 1k-2k
    ctx = {b["bucket"]: b for b in c["by_context"]}
    assert {k: b["requests"] for k, b in ctx.items()} == {"<500": 4, "500-1k": 3, "1k-2k": 2}
    assert ctx["1k-2k"]["latency_p95_us"] == 220
    # error analysis: wrong turns grouped by conversation, most first
    assert [(w["conversation"], w["wrong"]) for w in c["worst"]] == [("A", [2, 3]), ("B", [1])]


def test_thresholds_read_the_conversation_figures(tmp_path):
    summary = {"conversations": conversation_figures(_folder(tmp_path))}
    look = metric_lookup(summary)
    assert look("conversation.success") == pytest.approx(1 / 3)
    assert look("conversation.turn_share") == pytest.approx(11 / 18)
    assert look("turn[2].accuracy") == pytest.approx(2 / 3)
    assert look("turn[9].accuracy") is None  # no such turn: the threshold fails as unknown
    assert look("turn[1].ttft.p95") == pytest.approx(40e-6)
    assert look("context[last].latency.p95") == pytest.approx(220e-6)
    assert look("context[<500].ttft.p50") == pytest.approx(20e-6)
    assert look("conversation.wrong_after_wrong") == pytest.approx(0.5)
    t = parse_threshold("conversation.success >= 0.8 at 95% confidence")
    bounds = interval_lookup(summary)(t.metric, 0.95)
    assert bounds == pytest.approx(_wilson_at_effective_n(1, 3, 1.0))


def test_every_catalogued_conversation_name_is_found(tmp_path):
    from stagecheck.judging.catalogue import CATALOGUE

    summary = {"conversations": conversation_figures(_folder(tmp_path))}
    look = metric_lookup(summary)
    names = [m.example.replace("turn[3]", "turn[2]") for m in CATALOGUE
             if m.scope in ("conversation", "turn", "context")]  # fmt: skip
    assert len(names) == 9
    gates = [parse_threshold(f"{n} >= 0s" if ".p" in n else f"{n} >= 0") for n in names]
    assert [t.metric for t in gates if look(t.metric) is None] == []


def test_rows_without_conversations_give_no_figures(tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps({"row": 0, "id": "1", "input": "q",
                                                     "expected": "x", "slices": {}}) + "\n")
    (tmp_path / "results.jsonl").write_text("")
    assert conversation_figures(tmp_path) is None
