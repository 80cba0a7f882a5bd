"""summary.json: built from a real aggregate, same shape as the contract fixture."""

from __future__ import annotations

import json

import pytest

from stagecheck.preparation import prepare_scenario
from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, Aggregate, Recorder
from stagecheck.scoring import UNPARSEABLE_LABEL
from stagecheck.summary import RunFacts, build_summary, metric_lookup
from tests.conftest import BASIC_SCENARIO, REPO

pytestmark = pytest.mark.unit

FIXTURE = json.loads((REPO / "tests/fixtures/summary_example.json").read_text())


# mappings whose keys are data, not contract (failure causes as they occurred)
OPEN_MAPPINGS = ("by_cause",)


def shape(value, depth=0):
    """Keys of nested dicts (first element of lists), for a structural comparison."""
    if isinstance(value, dict):
        return {k: None if k in OPEN_MAPPINGS else shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [shape(value[0], depth + 1)]
    return None


def run_summary(write_scenario, thresholds):
    text = BASIC_SCENARIO.replace(
        "  - accuracy >= 0.5\n", "".join(f"  - {t}\n" for t in thresholds)
    )
    prepared = prepare_scenario(str(write_scenario(text)))
    rows = prepared.dataset.rows
    agg = Aggregate(rows, prepared.dataset.slice_fields, None, started=100.0)
    agg.begin_stage(0, "steady", 2, 100.0)
    rec = Recorder()
    for i, row in enumerate(rows * 10):
        if i % 10 == 0:
            outcome, pred = HTTP_ERROR, None
        elif row.slices[0] == "complex" and i % 3 == 0:
            outcome, pred = INCORRECT, "shipping"
        elif i % 17 == 0:
            outcome, pred = INCORRECT, UNPARSEABLE_LABEL
        else:
            outcome, pred = CORRECT, row.expected_text
        rec.record(
            row_index=row.index,
            outcome=outcome,
            latency_us=1000 + i * 10,
            started=100.0 + i * 0.01,
            predicted=pred,
            got=pred,
        )
    delta = rec.drain()
    delta.ended = 110.0
    agg.merge(delta)
    return build_summary(
        prepared.loaded, prepared.dataset, agg, RunFacts(run_id="x", classification=True)
    )


def test_summary_has_the_contract_shape(write_scenario):
    summary = run_summary(write_scenario, ["latency.p99 < 1s", "accuracy >= 0.5"])
    expected_shape = shape(FIXTURE)
    got_shape = shape(summary)
    # ttft/itl appear only for streams; everything else must match the contract exactly
    del expected_shape["latency"]["ttft"], expected_shape["latency"]["itl"]
    for key in expected_shape:
        assert key in got_shape, key
    for key in ("run", "requests", "throughput", "latency", "quality", "validity"):
        assert got_shape[key] == expected_shape[key], key
    assert got_shape["slices"] == expected_shape["slices"]
    assert got_shape["classes"] == expected_shape["classes"]


def test_summary_figures(write_scenario):
    s = run_summary(
        write_scenario, ["error_rate < 5%", "slice[complexity=complex].accuracy >= 0.9"]
    )
    assert s["requests"]["total"] == 60
    assert s["requests"]["by_outcome"]["http_error"] == 6
    assert s["requests"]["error_rate"] == pytest.approx(0.1)
    assert s["throughput"]["requests_per_s"] == pytest.approx(6.0)
    q = s["quality"]
    assert q["scored"] == 54
    assert q["accuracy"] == pytest.approx(q["correct"] / 54)
    complex_ = next(x for x in s["slices"] if x["value"] == "complex")
    simple = next(x for x in s["slices"] if x["value"] == "simple")
    assert complex_["quality"]["accuracy"] < simple["quality"]["accuracy"]
    assert UNPARSEABLE_LABEL in s["confusion"]["labels"]
    assert [t["passed"] for t in s["thresholds"]] == [False, False]
    assert s["verdict"] == "failed"
    lookup = metric_lookup(s)
    assert lookup("latency.p50") == pytest.approx(s["latency"]["e2e"]["p50_us"] / 1e6)
    assert lookup("class[refund].recall") == next(
        c["recall"] for c in s["classes"] if c["label"] == "refund"
    )
    assert lookup("class[nope].recall") is None


def test_too_few_requests_make_the_run_invalid(write_scenario):
    s = run_summary(write_scenario, [])
    assert s["validity"]["valid"]
    text = BASIC_SCENARIO + "validity: {min_requests: 1000}\n"
    prepared = prepare_scenario(str(write_scenario(text, "v.yaml")))
    agg = Aggregate(prepared.dataset.rows, prepared.dataset.slice_fields, None, started=0.0)
    s = build_summary(prepared.loaded, prepared.dataset, agg, RunFacts("x", True))
    assert s["verdict"] == "invalid"
    assert "only 0 requests" in s["validity"]["reasons"][0]
