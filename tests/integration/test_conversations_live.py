"""Conversation figures while the run goes on: a real run against the demo's assistant that
forgets the history (``--forget-rate``) exports conversation success, turn share and accuracy by
turn, and judges the conversation thresholds, before it ends; and the live figures (from the
per-row tallies) equal the run folder's for an exact pass."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stagecheck.load.plan import LoadPlan
from stagecheck.locust.webtables import conversation_rows
from stagecheck.recording import Recorder
from stagecheck.run import RunController
from stagecheck.run.preparation import prepare_loaded
from stagecheck.scenario import load_scenario
from stagecheck.summary.lookup import interval_lookup, metric_lookup
from tests.integration.test_metrics_cli import scrape, value
from tests.support import REPO, SCENARIOS, free_master_port, running_demo

pytestmark = pytest.mark.integration

GATES = '["conversation.success >= 0.8", "turn[2].accuracy >= 0.7"]'


def _has(text: str, series: str, label: str) -> bool:
    return any(x.startswith(series + "{") and label in x for x in text.splitlines())


def test_a_running_conversation_run_exports_its_figures_by_turn(tmp_path):
    port = free_master_port()
    with running_demo("--agent", "--forget-rate", "0.25", "--latency-ms", "20",
                      "--token-delay-ms", "0") as demo:  # fmt: skip
        cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "conversations.yaml"),
               "--set", f"endpoint.url={demo.url}", "--set", f"thresholds={GATES}",
               "--duration", "8s", "--metrics-port", str(port), "--out", str(tmp_path),
               "--quiet"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO)  # fmt: skip
        running: list[str] = []  # scrapes taken while the run's verdict was "running"
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                text = scrape(port)
                if text and value(text, 'stagecheck_run_verdict{verdict="running"') == 1:
                    running.append(text)
                time.sleep(0.5)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert proc.returncode in (0, 1), (err[-3000:], summary["validity"])
    with_turns = [t for t in running if _has(t, "stagecheck_turn_accuracy_ratio", 'turn="2"')]
    assert with_turns, "no scrape during the run had the accuracy of turn 2"
    last = with_turns[-1]
    success = value(last, "stagecheck_conversation_success_ratio")
    share = value(last, "stagecheck_conversation_turn_share_ratio")
    turn1 = value(last, 'stagecheck_turn_accuracy_ratio{turn="1"}')
    turn2 = value(last, 'stagecheck_turn_accuracy_ratio{turn="2"}')
    assert 0 < success <= share <= 1
    # the demo forgets the history a quarter of the time: the first turn needs none
    assert turn1 > 0.9 and turn2 < 0.95
    # the conversation thresholds are judged live
    for metric in ("conversation.success", "turn[2].accuracy"):
        assert _has(last, "stagecheck_threshold_observed", f'metric="{metric}"')
    final = summary["conversations"]
    assert final["by_turn"][1]["accuracy"] == pytest.approx(turn2, abs=0.25)


def test_the_live_figures_equal_the_run_folders_for_an_exact_pass(tmp_path: Path):
    loaded = load_scenario(SCENARIOS / "conversations.yaml",
                           ["dataset.passes=1", f"thresholds={GATES}"])  # fmt: skip
    prepared = prepare_loaded(loaded)
    plan = LoadPlan.from_scenario(loaded, users=4, spawn_rate=4, duration=None)
    table = prepared.dataset.conversations
    assert table is not None and plan.exact_pass
    controller = RunController(prepared, plan, tmp_path / "run", started=time.time())
    controller.begin_stage(0)
    rng = random.Random(7)
    rec = Recorder()
    t = time.time()
    for row in prepared.dataset.rows:  # every turn once; the later turns worse
        right = rng.random() < (0.95 if table.turn_of[row.index] == 1 else 0.7)
        rec.record(row_index=row.index, outcome=0 if right else 1, latency_us=1000, started=t)
        t += 0.001
    controller.merge(rec.drain())
    live = controller.live().summary
    controller.finish()
    final = controller.summary
    assert final is not None
    a, b = live["conversations"], final["conversations"]
    for key in ("conversations", "turns", "plays", "success", "turn_share", "turn_share_ci",
                "turns_per_conversation"):  # fmt: skip
        assert a[key] == b[key], key
    assert a["success"]["value"] is not None and a["success"]["value"] < 1
    keys = ("turn", "conversations", "scored", "correct", "accuracy", "accuracy_ci",
            "design_effect")  # fmt: skip
    assert [{k: t[k] for k in keys} for t in a["by_turn"]] == [
        {k: t[k] for k in keys} for t in b["by_turn"]
    ]
    for metric in ("conversation.success", "conversation.turn_share", "turn[2].accuracy"):
        assert metric_lookup(live)(metric) == metric_lookup(final)(metric) is not None
    ci = interval_lookup(live)("turn[2].accuracy", 0.95)
    assert ci is not None and ci == interval_lookup(final)("turn[2].accuracy", 0.95)
    observed = {t["expression"]: t["observed"] for t in live["thresholds"]}
    assert observed["turn[2].accuracy >= 0.7"] == b["by_turn"][1]["accuracy"]
    # the web UI's Quality tab shows them while the run goes on
    shown = {r["group"]: r["accuracy"] for r in conversation_rows(live)}
    assert shown["turn 2"] == f"{b['by_turn'][1]['accuracy']:.4f}"
    assert f"{a['success']['value']:.4f}" in shown.values()


def test_the_error_analysis_names_the_turns_that_are_worse(tmp_path: Path):
    """The demo forgets the history of half the conversations: the turns after the first,
    which need it, go wrong; "Why is it wrong?" names them as groups of their own."""
    with running_demo("--agent", "--forget-rate", "0.5", "--latency-ms", "2",
                      "--token-delay-ms", "0") as demo:  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "conversations.yaml"),
             "--set", f"endpoint.url={demo.url}", "--set", "dataset.passes=1",
             "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=180, cwd=REPO,
        )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    groups = {c["label"]: c for c in summary["analysis"]["concentrations"]}
    assert groups["turn=2"]["kind"] == "turn" and groups["turn=2"]["significant"]
    assert groups["turn=2"]["accuracy"] == summary["conversations"]["by_turn"][1]["accuracy"]
    assert not groups["turn=1"]["significant"]  # the first turn needs no history
    assert groups["turn=1"]["accuracy"] > groups["turn=1"]["rest_accuracy"]
    assert any(c["kind"] == "context" for c in groups.values())
    why = proc.stdout.split("Why is it wrong?")[1].split("Conversations")[0]
    assert "turn=2" in why and "No group is significantly worse" not in why


def test_before_any_answer_the_live_figures_are_empty_and_the_run_still_ends(tmp_path: Path):
    loaded = load_scenario(SCENARIOS / "conversations.yaml", ["dataset.passes=1"])
    prepared = prepare_loaded(loaded)
    plan = LoadPlan.from_scenario(loaded, users=4, spawn_rate=4, duration=None)
    controller = RunController(prepared, plan, tmp_path / "run", started=time.time())
    controller.begin_stage(0)
    live = controller.live().summary["conversations"]
    assert live["by_turn"] == [] and live["plays"] == 0 and live["success"]["value"] is None
    rec = Recorder()  # every request of the first turns failed: nothing scored
    for row in prepared.dataset.rows[:10]:
        rec.record(row_index=row.index, outcome=3, latency_us=1000, started=time.time(),
                   error="HTTP 503")  # fmt: skip
    controller.merge(rec.drain())
    controller._live = None  # a fresh build (they are rebuilt once a second)
    assert controller.live().summary["conversations"]["by_turn"] == []
    assert controller.finish() == 3  # not every answer in: invalid, with its summary
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["verdict"] == "invalid"


def test_the_run_accuracy_interval_takes_the_conversation_as_its_unit(tmp_path: Path):
    """A model right or wrong on whole conversations (every turn of one conversation the same):
    the turns are not independent evidence, so the run's accuracy interval is Wilson's at
    Kish's effective n over conversations (statsmodels as the oracle), wider than over turns;
    the error analysis's groups cluster the same way."""
    from statsmodels.stats.proportion import proportion_confint

    loaded = load_scenario(SCENARIOS / "conversations.yaml",
                           ["dataset.passes=1", "thresholds=[]"])  # fmt: skip
    prepared = prepare_loaded(loaded)
    plan = LoadPlan.from_scenario(loaded, users=4, spawn_rate=4, duration=None)
    table = prepared.dataset.conversations
    assert table is not None
    controller = RunController(prepared, plan, tmp_path / "run", started=time.time())
    controller.begin_stage(0)
    rec = Recorder()
    t = time.time()
    per_conv: dict[int, list[int]] = {}
    for row in prepared.dataset.rows:
        conv = table.conversation_of[row.index]
        right = conv % 3 != 0  # a third of the conversations wrong on every turn
        rec.record(row_index=row.index, outcome=0 if right else 1, latency_us=1000, started=t)
        per_conv.setdefault(conv, [0, 0])
        per_conv[conv][0] += right
        per_conv[conv][1] += 1
        t += 0.001
    controller.merge(rec.drain())
    controller.finish()
    summary = controller.summary
    assert summary is not None
    k = sum(c[0] for c in per_conv.values())
    n = sum(c[1] for c in per_conv.values())
    p = k / n
    deff = sum((kc - p * nc) ** 2 for kc, nc in per_conv.values()) / (n * p * (1 - p))
    assert deff > 1.5  # turns of one conversation agree: far from independent
    q = summary["quality"]
    assert q["design_effect"] == pytest.approx(deff, rel=1e-6)
    lo, hi = proportion_confint(k / deff, n / deff, alpha=0.05, method="wilson")
    assert q["accuracy_ci"] == pytest.approx([lo, hi], abs=1e-6)
    per_turn = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert hi - lo > 1.2 * (per_turn[1] - per_turn[0])
    assert summary["tool_calls"]["design_effect"] > 1.2  # its turns cluster the same way
    groups = summary["analysis"]["concentrations"]
    assert groups and all(g["accuracy_ci"] is not None for g in groups)
    topic = next(g for g in groups if g["label"].startswith("topic="))
    wide = proportion_confint(topic["accuracy"] * topic["scored"], topic["scored"],
                              alpha=0.05, method="wilson")  # fmt: skip
    assert topic["accuracy_ci"][1] - topic["accuracy_ci"][0] > wide[1] - wide[0]
