"""The unit of evidence of a run's quality figures, through the real run controller (prepared
dataset, recorder, aggregate, run folder, summary pipeline, reports):

- a conversation run's per-class precision and recall, and the error analysis's accuracy by load
  level, count conversations, not turns (a conversation's turns are not independent);
- with ``dataset.variants`` the headline quality figures (accuracy, classes, confusion, slices,
  thresholds, the analysis's groups) are the rows as written; the varied rows are requests
  (counted, timed) whose figures are the summary's ``variants``.

statsmodels is the independent oracle for the intervals; the design effects are recomputed here
from the answers recorded."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from stagecheck.load.plan import LoadPlan
from stagecheck.recording import Recorder
from stagecheck.reporting import render_junit, render_markdown
from stagecheck.run import RunController
from stagecheck.run.controller import progress_line
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


def _variants_scenario(folder: Path, rows: int) -> Path:
    with (folder / "rows.jsonl").open("w") as f:
        for i in range(rows):
            row = {"id": f"r{i:03d}", "text": f"please help with item {i}",
                   "label": LABELS[i % 3], "channel": "ab"[i % 2]}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    path = folder / "varied.yaml"
    path.write_text(
        "name: units-variants\n"
        "endpoint: {url: http://127.0.0.1:9, protocol: openai-chat, model: m}\n"
        "dataset:\n  path: rows.jsonl\n  input: text\n  expected: label\n  id: id\n"
        "  slices: [channel]\n  passes: 1\n"
        "  variants:\n    - {kind: case, mode: upper}\n    - {kind: truncate, keep: 0.5}\n"
        "scoring: {kind: label}\nload: {users: 2, duration: 30s}\n"
        "thresholds: ['accuracy >= 0.9', 'class[refund].recall >= 0.9', 'f1_macro >= 0.9',\n"
        "  'slice[channel=a].accuracy >= 0.9', 'variant[case].accuracy < 0.1']\n"
    )
    return path


def test_with_variants_the_quality_figures_are_the_rows_as_written(tmp_path: Path):
    """Every row as written answered right, every varied row wrong: the run's accuracy, classes,
    confusion matrix, slices, thresholds, console line and error analysis say 100 % (the
    validation set as written), the variants' figures say 0 %, and the request counts count
    every request sent."""
    rows = 120
    loaded = load_scenario(_variants_scenario(tmp_path, rows))
    prepared = prepare_loaded(loaded)
    dataset = prepared.dataset
    assert len(dataset.rows) == 3 * rows and len(dataset.rows.origins) == 2 * rows
    plan = LoadPlan.from_scenario(loaded, users=2, spawn_rate=2, duration=None)
    run_dir = tmp_path / "run"
    controller = RunController(prepared, plan, run_dir, started=time.time())
    controller.begin_stage(0)
    rec = Recorder()
    t = time.time()
    for row in dataset.rows:
        varied = row.index in dataset.rows.origins
        expected = row.expected_text
        answer = LABELS[(LABELS.index(expected) + 1) % 3] if varied else expected
        rec.record(row_index=row.index, outcome=1 if varied else 0, latency_us=1000, started=t,
                   predicted=answer, got=answer)  # fmt: skip
        t += 0.001
    controller.merge(rec.drain())
    live = controller.live().summary  # what the exporter and the web UI read while it runs
    assert live["quality"]["accuracy"] == 1.0
    assert "accuracy 100.0%" in progress_line(controller.aggregate)
    code = controller.finish()
    summary = controller.summary
    assert summary is not None
    q = summary["quality"]
    assert (q["accuracy"], q["scored"], q["correct"], q["rows"]) == (1.0, rows, rows, rows)
    assert q["f1_macro"] == 1.0 and q["accuracy_ci"] == pytest.approx(_wilson(rows, rows))
    assert sum(c["support"] for c in summary["classes"]) == rows
    assert all(c["recall"] == 1.0 and c["precision"] == 1.0 for c in summary["classes"])
    assert sum(map(sum, summary["confusion"]["matrix"])) == rows
    for s in summary["slices"]:
        assert s["quality"]["accuracy"] == 1.0 and s["quality"]["scored"] == rows // 2
        assert s["requests"] == 3 * rows // 2  # every request of the slice, varied ones too
    assert summary["stages"][0]["quality"]["accuracy"] == 1.0
    assert summary["requests"]["total"] == 3 * rows  # every request sent
    assert summary["requests"]["by_outcome"]["incorrect"] == 2 * rows
    figures = {v["name"]: v for v in summary["variants"]["variants"]}
    assert figures["original"]["accuracy"] == 1.0 == q["accuracy"]
    assert figures["case"]["accuracy"] == 0.0 == figures["truncate"]["accuracy"]
    assert all(th["passed"] for th in summary["thresholds"]), summary["thresholds"]
    assert code == 0 and summary["verdict"] == "passed"
    junit, markdown = render_junit(summary), render_markdown(summary)
    assert "<failure" not in junit and 'name="accuracy &gt;= 0.9"' in junit
    key_figures = markdown.split("### Key figures")[1].split("###")[0]
    assert "360" in key_figures  # requests: every one sent
    assert key_figures.count("1.0000") >= 2, key_figures  # accuracy and macro-F1
    # the error analysis's groups are the rows as written too
    groups = [g for g in summary["analysis"]["concentrations"] if g["kind"] == "slice"]
    assert groups and all(g["accuracy"] == 1.0 and g["scored"] == rows // 2 for g in groups)
    assert not any(g["significant"] for g in summary["analysis"]["concentrations"])
    assert all(lv["accuracy"] == 1.0 for lv in summary["analysis"]["load"] if lv["scored"])
    # the results file still holds every request, and rows.jsonl tags the varied ones
    results = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    assert Counter(r["outcome"] for r in results) == {"correct": rows, "incorrect": 2 * rows}


def test_production_weighted_bootstrap_of_a_conversation_run_resamples_conversations(
    tmp_path: Path,
):
    """Every turn of a conversation right or wrong together (half the conversations of topic
    a wrong, every one of topic b right): the bootstrap of the production-weighted accuracy
    draws whole conversations within each topic, so its standard error is the stratified one
    of 30 conversations a topic, not of 120 independent turns."""
    from stagecheck.production.weighted import run_rows, weighted_figures

    loaded = load_scenario(_conversation_scenario(tmp_path))
    prepared = prepare_loaded(loaded)
    table = prepared.dataset.conversations
    assert table is not None
    plan = LoadPlan.from_scenario(loaded, users=2, spawn_rate=2, duration=None)
    run_dir = tmp_path / "run"
    controller = RunController(prepared, plan, run_dir, started=time.time())
    controller.begin_stage(0)
    rec = Recorder()
    t = time.time()
    for row in prepared.dataset.rows:
        right = table.conversation_of[row.index] % 4 != 0
        answer = row.expected_text if right else "none of them"
        rec.record(row_index=row.index, outcome=0 if right else 1, latency_us=1000, started=t,
                   predicted=answer, got=answer)  # fmt: skip
        t += 0.001
    controller.merge(rec.drain())
    controller.finish()
    assert controller.summary is not None
    rr = run_rows(run_dir, controller.summary, ["topic"])
    _, _, figures, how = weighted_figures(rr, ["topic"], {("a",): 500, ("b",): 500})
    assert figures is not None and figures.accuracy == pytest.approx(0.75)
    # weight ½ each; topic a: p = ½ over 30 conversations; topic b: p = 1 (no variance)
    per_conversation = 0.5 * (0.5 * 0.5 / 30) ** 0.5  # 0.046; per turn it would be 0.023
    assert figures.accuracy_se == pytest.approx(per_conversation, rel=0.15)
    assert "conversations" in how  # the summary says what was resampled
