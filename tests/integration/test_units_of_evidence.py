"""The unit of evidence of a run's quality figures, through the real run controller (prepared
dataset, recorder, aggregate, run folder, summary pipeline, reports):

- a conversation run's per-class precision and recall, and the error analysis's accuracy by load
  level, count conversations, not turns (a conversation's turns are not independent);

statsmodels is the independent oracle for the intervals; the design effects are recomputed here
from the answers recorded."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stagecheck.load.plan import LoadPlan
from stagecheck.recording import Recorder
from stagecheck.run import RunController
from stagecheck.run.preparation import prepare_loaded
from stagecheck.scenario import load_scenario
from stagecheck.summary.lookup import interval_lookup

pytestmark = pytest.mark.integration

LABELS = ("refund", "shipping", "billing")


def _wilson(k: float, n: float) -> list[float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


def _deff(clusters: list[tuple[int, int]]) -> float:
    """Kish's design effect of Σk/Σn over clusters (the sandwich over the binomial variance)."""
    k = sum(c[0] for c in clusters)
    n = sum(c[1] for c in clusters)
    p = k / n
    return max(1.0, sum((kc - p * nc) ** 2 for kc, nc in clusters) / (n * p * (1 - p)))


def _conversation_scenario(folder: Path) -> Path:
    """60 conversations of 4 turns, each turn labelled with an intent (label scoring)."""
    with (folder / "conv.jsonl").open("w") as f:
        for c in range(60):
            turns = [{"user": f"question {t} of conversation {c}", "expected": LABELS[(c + t) % 3],
                      "assistant": "noted"} for t in range(4)]  # fmt: skip
            f.write(json.dumps({"id": f"c{c:02d}", "topic": "ab"[c % 2], "turns": turns}) + "\n")
    path = folder / "conv.yaml"
    path.write_text(
        "name: units-conversations\n"
        "endpoint: {url: http://127.0.0.1:9, protocol: openai-chat, model: m}\n"
        "dataset:\n  path: conv.jsonl\n  input: user\n  expected: expected\n  id: id\n"
        "  slices: [topic]\n  passes: 1\n"
        "  conversations: {turns: turns, reference: assistant, history: reference}\n"
        "scoring: {kind: label}\nload: {users: 2, duration: 30s}\nthresholds: []\n"
    )
    return path


def test_per_class_intervals_of_a_conversation_run_count_conversations(tmp_path: Path):
    """A model wrong on every turn of one conversation in four: a class's precision and recall
    intervals are Wilson's at the design effect over conversations (their turns agree), as the
    run's accuracy is, and a threshold's interval reads them; so is the error analysis's
    accuracy by load level."""
    loaded = load_scenario(_conversation_scenario(tmp_path))
    prepared = prepare_loaded(loaded)
    table = prepared.dataset.conversations
    assert table is not None
    plan = LoadPlan.from_scenario(loaded, users=2, spawn_rate=2, duration=None)
    controller = RunController(prepared, plan, tmp_path / "run", started=time.time())
    controller.begin_stage(0)
    rec = Recorder()
    t = time.time()
    # per class, per conversation: [tp, support] (recall) and [tp, predicted] (precision)
    recall: dict[str, dict[int, list[int]]] = {label: {} for label in LABELS}
    precision: dict[str, dict[int, list[int]]] = {label: {} for label in LABELS}
    for row in prepared.dataset.rows:
        conv = table.conversation_of[row.index]
        expected = row.expected_text
        right = conv % 4 != 0
        answer = expected if right else LABELS[(LABELS.index(expected) + 1) % 3]
        rec.record(row_index=row.index, outcome=0 if right else 1, latency_us=1000, started=t,
                   predicted=answer, got=answer)  # fmt: skip
        r = recall[expected].setdefault(conv, [0, 0])
        r[0] += right
        r[1] += 1
        p = precision[answer].setdefault(conv, [0, 0])
        p[0] += right
        p[1] += 1
        t += 0.001
    controller.merge(rec.drain())
    controller.finish()
    summary = controller.summary
    assert summary is not None and summary["validity"]["valid"], summary["validity"]
    classes = {c["label"]: c for c in summary["classes"]}
    ci = interval_lookup(summary)
    for label in LABELS:
        for name, tallies in (("recall", recall[label]), ("precision", precision[label])):
            clusters = [tuple(v) for v in tallies.values()]
            deff = _deff(clusters)  # type: ignore[arg-type]
            assert deff > 1.2, (label, name)  # the turns of a conversation agree
            k, n = sum(c[0] for c in clusters), sum(c[1] for c in clusters)
            c = classes[label]
            assert c[f"{name}_design_effect"] == pytest.approx(deff, rel=1e-5), (label, name)
            assert c[f"{name}_ci"] == pytest.approx(_wilson(k / deff, n / deff), abs=1e-6)
            lo, hi = ci(f"class[{label}].{name}", 0.95) or (None, None)
            assert [lo, hi] == pytest.approx(c[f"{name}_ci"], abs=1e-6)
    # the analysis's accuracy by load (one latency bucket here: the whole run) clusters too
    (level,) = [lv for lv in summary["analysis"]["load"] if lv["scored"] == 240]
    assert level["accuracy_ci"] == pytest.approx(summary["quality"]["accuracy_ci"], abs=1e-6)
