"""The dashboard and the rules against real data: a real ``stagecheck run`` (the CLI as a
subprocess, against the demo endpoint) scraped every second by a real Prometheus configured from
``grafana/prometheus.yml``; every panel query and every rule expression is evaluated through
Prometheus's HTTP API while the run goes on.

This is what guards "every Grafana panel queries only metrics the exporter really emits": a
renamed metric, a label value spelled differently (``latency.p99``, ``e2e``, ``window``), or a
series the exporter stops emitting makes a query come back empty here, long before a user opens
an empty panel.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.grafana import artefacts
from tests.grafana.artefacts import Query
from tests.grafana.promserver import PromError, Prometheus, Pushgateway, example_config, free_port
from tests.support import REPO, SCENARIOS, Demo

pytestmark = pytest.mark.integration

SMOKE = ("support-intents-smoke", SCENARIOS / "smoke.yaml")
STREAM = ("support-intents-llm-stream", SCENARIOS / "llm-chat-stream.yaml")
RUN_S = 20
# Only a streamed run has these timings; the smoke run has a target metrics_url, the stream
# scenario none (so no target CPU/memory there).
STREAM_ONLY = ("ttft", "itl")
# `metric <op> number`: an alert condition whose left side must match real series.
_ALERT_OPS = (" == ", " > ", " < ", " >= ", " <= ", " != ")


def _is_stream_only(q: Query) -> bool:
    return any(t in q.expr for t in STREAM_ONLY)


# A conversation run's series (its figures come from the run folder when the run ends) and a
# tool-call run's (test_a_pushed_conversation_run_fills_its_panels).
CONVERSATION_ONLY = ("stagecheck_conversation_", "stagecheck_turn_", "stagecheck_tool_call_")


def _is_conversation(q: Query) -> bool:
    return any(t in q.expr for t in CONVERSATION_ONLY)


# Built from the run folder when the run ends, with --against PROD or dataset.variants
# (test_a_pushed_production_and_robustness_run_fills_its_panels).
FOLDER_ONLY = ("stagecheck_production_", "stagecheck_variant_")


def _is_folder_only(q: Query) -> bool:
    return any(t in q.expr for t in FOLDER_ONLY)


def _alert_lhs(expr: str) -> str:
    """The series an alert compares (``x == 0`` -> ``x``)."""
    for op in _ALERT_OPS:
        if op in expr:
            return expr.rsplit(op, 1)[0].strip()
    raise AssertionError(f"alert without a comparison: {expr}")


@contextmanager
def stagecheck_run(scenario: Path, demo: Demo, port: int, out: Path,
                   *extra: str) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """``stagecheck run`` as a subprocess on ``--metrics-port port``; killed if still running
    when the block exits (the block waits for it normally)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(scenario),
           "--set", f"endpoint.url={demo.url}", "--duration", f"{RUN_S}s",
           "--metrics-port", str(port), "--quiet", "--out", str(out), *extra]  # fmt: skip
    with (out / "stdout.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _finish(proc: subprocess.Popen[bytes], out: Path, timeout: float = 60) -> int:
    code = proc.wait(timeout=timeout)
    assert code in (0, 1), f"exit {code}:\n{(out / 'stdout.log').read_text(errors='replace')}"
    return code


def _run_id(prom: Prometheus, scenario: str) -> str:
    """The run of ``scenario``, found as the dashboard's variables find it."""
    variables = dict(artefacts.variable_queries())
    match, label = artefacts.parse_label_values(variables["scenario"])
    assert scenario in prom.label_values(label, match)
    match, label = artefacts.parse_label_values(variables["run_id"])
    match = artefacts.substitute(match, scenario=scenario, run_id="")
    run_ids = prom.label_values(label, match)
    assert len(run_ids) == 1, run_ids
    return run_ids[0]


def _evaluate(prom: Prometheus, queries: list[Query]) -> dict[str, list[dict[str, Any]] | str]:
    """``{where: result}``; a query Prometheus rejects maps to its error text."""
    results: dict[str, list[dict[str, Any]] | str] = {}
    for q in queries:
        try:
            results[q.where] = prom.query(q.expr)
        except PromError as e:
            results[q.where] = str(e)
    return results


def _poll_until_nonempty(prom: Prometheus, queries: list[Query], deadline: float,
                         done: Callable[[], bool]) -> dict[str, Any]:  # fmt: skip
    """Evaluate, once a second, the queries that have had no result yet, until none is left,
    the deadline passes or ``done()``; return those left (``{where: "empty" | error}``)."""
    pending = list(queries)
    problems: dict[str, Any] = {}
    while True:
        results = _evaluate(prom, pending)
        problems = {w: (r if isinstance(r, str) else "empty")
                    for w, r in results.items() if not r or isinstance(r, str)}  # fmt: skip
        pending = [q for q in pending if q.where in problems]
        if not pending or time.monotonic() >= deadline or done():
            return problems
        time.sleep(1.0)


def _substituted(queries: list[Query], scenario: str, run_id: str) -> list[Query]:
    return [Query(q.where, artefacts.substitute(q.expr, scenario=scenario, run_id=run_id))
            for q in queries]  # fmt: skip


@pytest.mark.timeout(180)
def test_every_panel_and_rule_has_data_during_a_real_run(
    demo: Demo, prometheus_factory: Callable[[dict[str, Any]], Prometheus], tmp_path: Path
) -> None:
    ports = {SMOKE: free_port(), STREAM: free_port()}
    targets = [f"127.0.0.1:{p}" for p in ports.values()]
    prom = prometheus_factory(example_config({"stagecheck": targets}))
    with (stagecheck_run(SMOKE[1], demo, ports[SMOKE], tmp_path / "smoke") as smoke,
          stagecheck_run(STREAM[1], demo, ports[STREAM], tmp_path / "stream") as stream):
        deadline = time.monotonic() + RUN_S + 5
        for target in targets:
            prom.wait_up("stagecheck", target, timeout=30)
        smoke_id, stream_id = _run_id(prom, SMOKE[0]), _run_id(prom, STREAM[0])

        panels = [q for q in artefacts.panel_queries()
                  if not _is_conversation(q) and not _is_folder_only(q)]  # fmt: skip
        rules = artefacts.rules()
        recording = [Query(f"rule {r['record']}", r["expr"]) for r in rules if "record" in r]
        recorded = [Query(f"recorded {r['record']}", f'{r["record"]}{{run_id="{smoke_id}"}}')
                    for r in rules if "record" in r]  # fmt: skip
        alerts = [Query(f"alert {r['alert']}", r["expr"]) for r in rules if "alert" in r]
        # Alert conditions stay quiet in a healthy run (an empty result), so their left sides
        # are checked instead: the series an alert compares must exist, its label values too.
        compared = [Query(f"{q.where} (compared series)", _alert_lhs(q.expr)) for q in alerts]
        must_have_data = (
            _substituted([q for q in panels if not _is_stream_only(q)], SMOKE[0], smoke_id)
            + _substituted([q for q in panels if _is_stream_only(q)], STREAM[0], stream_id)
            + recording + recorded + compared
        )
        problems = _poll_until_nonempty(
            prom, must_have_data, deadline, lambda: smoke.poll() is not None
        )
        # The alert expressions themselves: valid PromQL on real data. Empty is expected in this
        # healthy run (accuracy and p99 within their thresholds, no errors, the run valid).
        quiet = _evaluate(prom, alerts)
        still_running = smoke.poll() is None and stream.poll() is None
        assert not problems, f"queries without data during the run: {problems}"
        assert still_running, "a run ended before the checks did: raise RUN_S"
        errors = {w: r for w, r in quiet.items() if isinstance(r, str)}
        assert not errors, errors
        assert len(quiet) == 4
        _finish(smoke, tmp_path / "smoke")
        _finish(stream, tmp_path / "stream")


@pytest.mark.timeout(120)
def test_a_pushed_run_fills_the_dashboard(
    demo: Demo, pushgateway: Pushgateway,
    prometheus_factory: Callable[[dict[str, Any]], Prometheus], tmp_path: Path,
) -> None:  # fmt: skip
    """``--pushgateway``: the final figures, scraped from the gateway by the example's
    honor_labels job, keep the run's own labels, and the dashboard's queries find them."""
    prom = prometheus_factory(example_config({"stagecheck-pushgateway": [pushgateway.address]}))
    prom.wait_up("stagecheck-pushgateway", pushgateway.address)
    out = tmp_path / "pushed"
    with stagecheck_run(SMOKE[1], demo, free_port(), out, "--duration", "3s",
                        "--pushgateway", pushgateway.url) as proc:  # fmt: skip
        code = _finish(proc, out)
    run_id = ""
    deadline = time.monotonic() + 15
    while not run_id:
        found = prom.query(f'stagecheck_run_info{{scenario="{SMOKE[0]}"}}')
        run_id = found[0]["metric"]["run_id"] if found else ""
        assert run_id or time.monotonic() < deadline, "pushed metrics never reached Prometheus"
        time.sleep(0.0 if run_id else 0.5)
    info = found[0]["metric"]
    assert info["job"] == "stagecheck", info  # the pushed job, kept by honor_labels
    verdict = prom.query(f'stagecheck_run_verdict{{run_id="{run_id}"}} == 1')
    assert [v["metric"]["verdict"] for v in verdict] == ["passed" if code == 0 else "failed"]
    # A pushed run is final figures only: rates need two scrapes of the gateway (5 s apart in
    # the example; 1 s here), so poll until they have them.
    panels = _substituted([q for q in artefacts.panel_queries() if not _is_stream_only(q)
                           and not _is_conversation(q) and not _is_folder_only(q)],
                          SMOKE[0], run_id)  # fmt: skip
    problems = _poll_until_nonempty(prom, panels, time.monotonic() + 15, lambda: False)
    assert not problems, f"panels without data for a pushed run: {problems}"


@pytest.mark.timeout(120)
def test_a_pushed_conversation_run_fills_its_panels(
    pushgateway: Pushgateway, prometheus_factory: Callable[[dict[str, Any]], Prometheus],
    tmp_path: Path,
) -> None:  # fmt: skip
    """A conversation run's figures by turn and its tool calls, pushed at its end, reach the
    dashboard's conversation and tool-call panels (the demo's assistant with tools, calling the
    wrong tool one call in five, every conversation once)."""
    from tests.support import running_demo

    prom = prometheus_factory(example_config({"stagecheck-pushgateway": [pushgateway.address]}))
    prom.wait_up("stagecheck-pushgateway", pushgateway.address)
    out = tmp_path / "pushed"
    scenario = SCENARIOS / "conversations.yaml"
    with running_demo("--agent", "--wrong-tool-rate", "0.2", "--latency-ms", "2",
                      "--token-delay-ms", "0") as demo, \
            stagecheck_run(scenario, demo, free_port(), out, "--pushgateway", pushgateway.url,
                           "--set", "dataset.passes=1",
                           "--set", "load.think_time=0s") as proc:  # fmt: skip
        _finish(proc, out)
    summary = _pushed(prom, out)
    run_id = summary["run"]["id"]
    panels = _substituted([q for q in artefacts.panel_queries() if _is_conversation(q)],
                          "support-conversations", run_id)  # fmt: skip
    assert len(panels) == 6
    problems = _poll_until_nonempty(prom, panels, time.monotonic() + 15, lambda: False)
    assert not problems, f"conversation and tool-call panels without data: {problems}"
    turns = prom.query(f'stagecheck_turn_accuracy_ratio{{run_id="{run_id}"}}')
    assert sorted(int(t["metric"]["turn"]) for t in turns) == [1, 2, 3, 4, 5]
    wrong = prom.query(f'stagecheck_tool_call_wrong_total{{run_id="{run_id}"}}')
    assert {w["metric"]["reason"]: int(float(w["value"][1])) for w in wrong} == \
        summary["tool_calls"]["reasons"] != {}  # fmt: skip
    accuracy = prom.query(f'stagecheck_tool_call_accuracy_ratio{{run_id="{run_id}"}}')
    assert float(accuracy[0]["value"][1]) == pytest.approx(summary["tool_calls"]["accuracy"])


def _pushed(prom: Prometheus, out: Path) -> dict[str, Any]:
    """The summary of the run written under ``out``, once its pushed metrics reached Prometheus
    (its own: the pushgateway keeps earlier runs' groups of the same scenario name)."""
    summary: dict[str, Any] = json.loads(next(out.glob("*/summary.json")).read_text())
    run_id = summary["run"]["id"]
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not found:
        found = prom.query(f'stagecheck_run_info{{run_id="{run_id}"}}')
        assert found or time.monotonic() < deadline, "pushed metrics never reached Prometheus"
        time.sleep(0.0 if found else 0.5)
    return summary


def _by(prom: Prometheus, series: str, run_id: str, label: str) -> dict[str, float]:
    found = prom.query(f'{series}{{run_id="{run_id}"}}')
    return {r["metric"][label]: float(r["value"][1]) for r in found}


@pytest.mark.timeout(150)
def test_a_pushed_production_and_robustness_run_fills_its_panels(
    demo: Demo, pushgateway: Pushgateway,
    prometheus_factory: Callable[[dict[str, Any]], Prometheus], tmp_path: Path,
) -> None:  # fmt: skip
    """A run with ``--against`` the demo's production sample and ``dataset.variants``
    (robustness.yaml, every row once per variant): its production-weighted figures and its
    variants' figures, built from the run folder at its end, are pushed, reach the dashboard's
    "Production and robustness" row, and equal summary.json's."""
    prom = prometheus_factory(example_config({"stagecheck-pushgateway": [pushgateway.address]}))
    prom.wait_up("stagecheck-pushgateway", pushgateway.address)
    out = tmp_path / "pushed"
    with stagecheck_run(SCENARIOS / "robustness.yaml", demo, free_port(), out,
                        "--pushgateway", pushgateway.url,
                        "--against", str(SCENARIOS / "data" / "production_sample.jsonl"),
                        "--set", "dataset.limit=120") as proc:  # fmt: skip
        _finish(proc, out)
    summary = _pushed(prom, out)
    run_id = summary["run"]["id"]
    panels = _substituted([q for q in artefacts.panel_queries() if _is_folder_only(q)],
                          "support-intents-robustness", run_id)  # fmt: skip
    assert len(panels) == 7
    problems = _poll_until_nonempty(prom, panels, time.monotonic() + 15, lambda: False)
    assert not problems, f"production and robustness panels without data: {problems}"

    weighted = summary["production"]["figures"]
    accuracy = prom.query(f'stagecheck_production_accuracy_ratio{{run_id="{run_id}"}}')
    assert float(accuracy[0]["value"][1]) == pytest.approx(weighted["accuracy"])
    assert weighted["accuracy"] != pytest.approx(summary["quality"]["accuracy"])  # re-weighted
    f1 = _by(prom, "stagecheck_production_f1_ratio", run_id, "average")
    assert f1 == {"macro": pytest.approx(weighted["f1_macro"])}
    recall = _by(prom, "stagecheck_production_class_recall_ratio", run_id, "class")
    assert recall == pytest.approx({c["label"]: c["recall"] for c in weighted["classes"]})

    variants = summary["variants"]["variants"]
    assert [v["name"] for v in variants][:3] == ["original", "typos", "case"]
    flips = _by(prom, "stagecheck_variant_flip_ratio", run_id, "variant")
    assert flips == pytest.approx({v["name"]: v["flip_rate"] for v in variants[1:]})
    assert flips["truncate"] > 0  # the demo's keyword model flips on truncation
    accuracy_by = _by(prom, "stagecheck_variant_accuracy_ratio", run_id, "variant")
    assert accuracy_by == pytest.approx({v["name"]: v["accuracy"] for v in variants})
    right_to_wrong = _by(prom, "stagecheck_variant_right_to_wrong_ratio", run_id, "variant")
    assert right_to_wrong == pytest.approx(
        {v["name"]: v["right_to_wrong_rate"] for v in variants[1:]}
    )
