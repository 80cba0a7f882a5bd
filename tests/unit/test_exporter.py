"""The Prometheus collector on a fresh registry: values equal the run's own figures, HDR
percentiles and histogram buckets are consistent, labels stay bounded and encodable, no secret
reaches a label."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stagecheck.errors import InputError
from stagecheck.exporter.collector import StagecheckCollector, label_value
from stagecheck.exporter.server import MetricsExporter
from stagecheck.judging.catalogue import (
    LATENCY_BUCKETS_S,
    MAX_LABEL_VALUES,
    OTHER,
    SERIES,
    series_names,
)
from stagecheck.load.plan import LoadPlan
from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, TIMEOUT, Recorder
from stagecheck.run import RunController
from stagecheck.run.live import endpoint_host
from stagecheck.run.preparation import prepare_scenario
from tests.conftest import BASIC_SCENARIO

pytestmark = pytest.mark.unit

# none within 0.1 % (HDR resolution) of a bucket bound
LATENCIES_US = [800, 1500, 4_000, 9_000, 20_000, 90_000, 240_000, 1_200_000]


def make_run(write_scenario, tmp_path, text=BASIC_SCENARIO, dataset=None):
    prepared = prepare_scenario(str(write_scenario(text)))
    plan = LoadPlan.from_scenario(prepared.loaded)
    c = RunController(prepared, plan, tmp_path / "run", started=1000.0, clock=lambda: 1006.0)
    rows = prepared.dataset.rows
    rec = Recorder(clock=lambda: 1000.0)
    outcomes = [CORRECT, CORRECT, INCORRECT, HTTP_ERROR, TIMEOUT, CORRECT, INCORRECT, CORRECT]
    for n, (outcome, us) in enumerate(zip(outcomes, LATENCIES_US, strict=True)):
        row = rows[n % len(rows)]
        predicted = {CORRECT: row.expected_text, INCORRECT: "weather"}.get(outcome)
        rec.record(row_index=row.index, outcome=outcome, latency_us=us, started=1000.0 + n / 2,
                   predicted=predicted)  # fmt: skip
    d = rec.drain()
    d.ended = 1005.0
    c.merge(d)
    c.users = 2
    return c


def scrape(controller):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StagecheckCollector(controller.live))
    return registry


def sample(registry, name, **labels):
    return registry.get_sample_value(
        name, {"scenario": "basic", "run_id": "run", **labels}
    )


def test_counts_equal_the_summary(write_scenario, tmp_path):
    c = make_run(write_scenario, tmp_path)
    reg = scrape(c)
    summary = c.live().summary
    for outcome, n in summary["requests"]["by_outcome"].items():
        assert sample(reg, "stagecheck_requests_total", outcome=outcome) == n
    assert sample(reg, "stagecheck_answers_total") == 6
    assert sample(reg, "stagecheck_accuracy_ratio") == pytest.approx(4 / 6)
    assert sample(reg, "stagecheck_f1_ratio", average="macro") == summary["quality"]["f1_macro"]
    for cls in summary["classes"]:
        assert sample(reg, "stagecheck_class_f1_ratio", **{"class": cls["label"]}) == cls["f1"]
    assert sample(reg, "stagecheck_users") == 2
    assert sample(reg, "stagecheck_run_verdict", verdict="running") == 1
    assert sample(reg, "stagecheck_run_valid") == 1
    assert sample(reg, "stagecheck_threshold_passing", threshold="accuracy >= 0.5",
                  metric="accuracy") == 1  # fmt: skip


def test_hdr_summary_and_histogram_agree_with_the_raw_latencies(write_scenario, tmp_path):
    c = make_run(write_scenario, tmp_path)
    reg = scrape(c)
    labels = {"timing": "e2e"}
    assert sample(reg, "stagecheck_latency_hdr_seconds_count", **labels) == len(LATENCIES_US)
    p999 = sample(reg, "stagecheck_latency_hdr_seconds", quantile="0.999", **labels)
    assert p999 == pytest.approx(max(LATENCIES_US) / 1e6, rel=1e-3)
    for bound in LATENCY_BUCKETS_S:
        expected = sum(us <= bound * 1e6 for us in LATENCIES_US)
        got = sample(reg, "stagecheck_latency_seconds_bucket", le=repr(bound), **labels)
        assert got == expected, bound
    assert sample(reg, "stagecheck_latency_seconds_bucket", le="+Inf", **labels) == 8
    total = sample(reg, "stagecheck_latency_seconds_sum", **labels)
    assert total == pytest.approx(sum(LATENCIES_US) / 1e6, rel=2e-3)


def test_quantile_labels_are_written_exactly(write_scenario, tmp_path):
    text = generate_latest(scrape(make_run(write_scenario, tmp_path))).decode()
    quantiles = set(re.findall(r'quantile="([^"]+)"', text))
    assert quantiles == {"0.5", "0.9", "0.95", "0.99", "0.999"}


def test_every_exported_series_is_in_the_catalogue(write_scenario, tmp_path):
    text = generate_latest(scrape(make_run(write_scenario, tmp_path))).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}  # fmt: skip
    assert names <= series_names()
    exported_families = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
                         for n in names}  # fmt: skip
    missing = {m.name for m in SERIES} - exported_families
    # only the target's resources (no metrics_url here) and streams' timings may be missing,
    # and a conversation run's and a tool-call run's figures, and those of a run folder with
    # --against PROD or dataset.variants (tests/grafana/test_live.py)
    conversations = {m.name for m in SERIES if m.name.startswith(("stagecheck_conversation_",
                                                                  "stagecheck_turn_"))}
    tool_calls = {m.name for m in SERIES if m.name.startswith("stagecheck_tool_call_")}
    folder = {m.name for m in SERIES if m.name.startswith(("stagecheck_production_",
                                                           "stagecheck_variant_"))}
    assert len(conversations) == 4 and len(tool_calls) == 2 and len(folder) == 6
    assert missing == {"stagecheck_target_cpu_ratio", "stagecheck_target_memory_bytes",
                       *conversations, *tool_calls, *folder}


def many_classes_scenario(write_scenario, tmp_path, n_classes):
    data = tmp_path / "many.jsonl"
    data.write_text("".join(
        json.dumps({"text": f"q{i}", "label": f"c{i % n_classes}", "shop": f"s{i}"}) + "\n"
        for i in range(n_classes * 2)
    ))  # fmt: skip
    text = BASIC_SCENARIO.replace("{dataset}", str(data)).replace(
        "slices: [complexity, channel]", "slices: [shop]"
    )
    return text


def test_labels_are_bounded_whatever_the_dataset(write_scenario, tmp_path):
    text = many_classes_scenario(write_scenario, tmp_path, 80)
    c = make_run(write_scenario, tmp_path, text)
    # one answer for every row: every class and slice value exists
    rec = Recorder(clock=lambda: 1000.0)
    for row in c.prepared.dataset.rows:
        rec.record(row_index=row.index, outcome=CORRECT, latency_us=1000, started=1001.0,
                   predicted=row.expected_text)  # fmt: skip
    d = rec.drain()
    d.ended = 1005.0
    c.merge(d)
    text_out = generate_latest(scrape(c)).decode()
    classes = set(re.findall(r'stagecheck_class_f1_ratio\{class="([^"]+)"', text_out))
    shops = set(re.findall(r'stagecheck_slice_requests_total\{[^}]*value="([^"]+)"', text_out))
    assert len(classes) == MAX_LABEL_VALUES and OTHER in classes
    assert len(shops) == MAX_LABEL_VALUES and OTHER in shops
    reg = scrape(c)
    pooled = sample(reg, "stagecheck_slice_requests_total", slice="shop", value=OTHER)
    kept = sum(sample(reg, "stagecheck_slice_requests_total", slice="shop", value=v) or 0
               for v in shops - {OTHER})  # fmt: skip
    assert kept + pooled == c.aggregate.requests  # nothing dropped: folded into "other"


def _variant(name: str, scored: int, correct: int, pairs: int, flips: int,
             right_to_wrong: int) -> dict[str, Any]:
    return {"name": name, "rows": scored, "scored": scored, "correct": correct,
            "accuracy": correct / scored, "accuracy_ci": None, "pairs": pairs, "flips": flips,
            "flip_rate": flips / pairs, "right_to_wrong": right_to_wrong,
            "right_to_wrong_rate": right_to_wrong / pairs}  # fmt: skip


def test_variant_and_production_labels_are_bounded(write_scenario, tmp_path):
    """A scenario's own list of variants, and a production sample's classes, cannot grow the
    series past the cap: variants beyond it are pooled (their counts add), classes beyond it
    (a re-weighted recall does not pool) are the least supported."""
    c = make_run(write_scenario, tmp_path)
    view = c.live()
    n = MAX_LABEL_VALUES + 10
    many = [_variant(f"v{i}", 10, 5 + i % 5, 10, i % 4, i % 3) for i in range(n)]
    labels = [f"c{i:03d}" for i in range(n)]
    production = {"figures": {"accuracy": 0.7, "f1_macro": 0.6, "classes": [
        {"label": label, "recall": 0.5, "recall_ci": None} for label in labels]}}  # fmt: skip
    classes = [{"label": label, "support": i, "tp": 0, "predicted": 0, "precision": 0.0,
                "recall": 0.0, "f1": 0.0} for i, label in enumerate(labels)]  # fmt: skip
    summary = {**view.summary, "variants": {"variants": many, "notes": []},
               "production": production, "classes": classes}  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StagecheckCollector(lambda: dataclasses.replace(view, summary=summary)))
    text_out = generate_latest(registry).decode()
    shown = set(re.findall(r'stagecheck_variant_flip_ratio\{[^}]*variant="([^"]+)"', text_out))
    assert len(shown) == MAX_LABEL_VALUES and OTHER in shown
    rest = many[MAX_LABEL_VALUES - 1 :]
    flips = sample(registry, "stagecheck_variant_flip_ratio", variant=OTHER)
    assert flips == pytest.approx(sum(v["flips"] for v in rest) / (10 * len(rest)))
    accuracy = sample(registry, "stagecheck_variant_accuracy_ratio", variant=OTHER)
    assert accuracy == pytest.approx(sum(v["correct"] for v in rest) / (10 * len(rest)))
    recalls = set(re.findall(r'stagecheck_production_class_recall_ratio\{[^}]*class="([^"]+)"',
                             text_out))  # fmt: skip
    assert recalls == set(labels[-MAX_LABEL_VALUES:])  # the most supported
    assert sample(registry, "stagecheck_production_accuracy_ratio") == 0.7
    assert sample(registry, "stagecheck_production_f1_ratio", average="macro") == 0.6


def test_label_values_always_encode():
    assert label_value("a\udc00b") == "a?b"
    assert len(label_value("x" * 1000)) == 120


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://user:s3cret@example.test:8443/v1?key=s3cret", "example.test:8443"),
        ("https://[::1]:9000/x", "[::1]:9000"),
        ("http://127.0.0.1:99999", "127.0.0.1"),
    ],
)
def test_endpoint_host_carries_no_credentials(url, host):
    assert endpoint_host(url) == host


def test_run_info_has_no_secret(write_scenario, tmp_path):
    text = BASIC_SCENARIO.replace("http://127.0.0.1:9", "http://bob:CANARY-42@127.0.0.1:9/x?k=CANARY-42")
    text_out = generate_latest(scrape(make_run(write_scenario, tmp_path, text))).decode()
    assert "CANARY-42" not in text_out and "bob" not in text_out


def test_served_over_http_on_loopback(write_scenario, tmp_path):
    c = make_run(write_scenario, tmp_path)
    exporter = MetricsExporter(c.live)
    port = exporter.serve(0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
        assert 'stagecheck_requests_total{outcome="correct"' in body
        taken = MetricsExporter(c.live)
        with pytest.raises(InputError, match=f"--metrics-port {port}: cannot listen"):
            taken.serve(port)
    finally:
        exporter.stop()


def test_nothing_is_exported_before_a_run():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StagecheckCollector(lambda: None))
    assert generate_latest(registry) == b""
