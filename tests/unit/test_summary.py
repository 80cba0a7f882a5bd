"""summary.json: built from a real aggregate, same shape as the contract fixture."""

from __future__ import annotations

import json

import pytest

from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, Aggregate, Recorder
from stagecheck.run.preparation import prepare_scenario
from stagecheck.scoring import UNPARSEABLE_LABEL
from stagecheck.summary.build import OTHER_LABEL, RunFacts, build_summary, metric_lookup
from tests.conftest import BASIC_SCENARIO, REPO

pytestmark = pytest.mark.unit

FIXTURE = json.loads((REPO / "tests/fixtures/summary_example.json").read_text())


# mappings whose keys are data, not contract (failure causes as they occurred)
OPEN_MAPPINGS = ("by_cause",)


# sections the run controller adds after build_summary (the profile, the report-time analysis)
ADDED_AFTER_BUILD = ("dataset_profile", "analysis")
# an empty list has no element shape: it matches a list of any shape (a one-stage run's
# run.load.stages is [] where the fixture's staged run lists its stages)
ANY_LIST = "[]"


def shape(value, depth=0):
    """Keys of nested dicts (first element of lists), for a structural comparison."""
    if isinstance(value, dict):
        return {k: None if k in OPEN_MAPPINGS else shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and not value:
        return ANY_LIST
    if isinstance(value, list) and isinstance(value[0], dict):
        return [shape(value[0], depth + 1)]
    return None


def same_shape(a, b):
    if ANY_LIST in (a, b):
        return a == b or isinstance(a if b == ANY_LIST else b, (list, type(None)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return same_shape(a[0], b[0])
    return a == b


def run_summary(write_scenario, thresholds, replays=10):
    text = BASIC_SCENARIO.replace(
        "  - accuracy >= 0.5\n", "".join(f"  - {t}\n" for t in thresholds)
    )
    prepared = prepare_scenario(str(write_scenario(text)))
    rows = prepared.dataset.rows
    agg = Aggregate(rows, prepared.dataset.slice_fields, None, started=100.0)
    agg.begin_stage(0, "steady", 2, 100.0)
    rec = Recorder()
    for i, row in enumerate(list(rows) * replays):
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
    for latency in (expected_shape["latency"], expected_shape["stages"][0]["latency"]):
        for timing in ("ttft", "itl"):
            latency.pop(timing, None)
    expected_shape.pop("tokens")  # token counts too: the fixture's stream reports its usage
    for key in ADDED_AFTER_BUILD:
        assert key in expected_shape, key  # the real run that made the fixture has them
        del expected_shape[key]
    assert set(got_shape) == set(expected_shape)
    for key in ("run", "requests", "throughput", "latency", "quality", "validity", "stages"):
        assert same_shape(got_shape[key], expected_shape[key]), key
    assert same_shape(got_shape["slices"], expected_shape["slices"])
    assert same_shape(got_shape["classes"], expected_shape["classes"])


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
    assert OTHER_LABEL in s["confusion"]["labels"]  # unparseable answers are none of the labels
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


@pytest.mark.parametrize("replays", [1, 10])
def test_every_headline_proportion_has_its_wilson_interval(write_scenario, replays):
    """Wilson's interval; on replayed rows (issue 18) at the effective sample size n / design
    effect, which is n itself when each row is sent once."""
    from statsmodels.stats.proportion import proportion_confint  # independent oracle

    s = run_summary(write_scenario, [], replays=replays)

    def oracle(k, n, deff=1.0):
        if replays == 1:
            assert deff == 1.0
        return pytest.approx(
            list(proportion_confint(k / deff, n / deff, method="wilson")), abs=1e-6
        )

    q = s["quality"]
    assert q["accuracy_ci"] == oracle(q["correct"], q["scored"], q["design_effect"])
    # one pass: a row per scored answer; replayed: every row of the dataset has one
    assert q["rows"] == (q["scored"] if replays == 1 else s["run"]["dataset"]["rows"])
    failures = s["requests"]["by_outcome"]["http_error"]
    assert s["requests"]["error_rate_ci"] == oracle(failures, s["requests"]["total"])
    for c in s["classes"]:
        assert c["recall_ci"] == oracle(c["tp"], c["support"], c["recall_design_effect"])
        assert c["precision_ci"] == (
            oracle(c["tp"], c["predicted"], c["precision_design_effect"])
            if c["predicted"]
            else None
        )
    for sl in s["slices"]:
        assert sl["quality"]["accuracy_ci"] == oracle(
            sl["quality"]["correct"], sl["quality"]["scored"], sl["quality"]["design_effect"]
        )
    if replays == 1:
        return  # (six rows sent once: no unparseable answer below)
    assert q["design_effect"] > 1.5  # replays are not counted as independent evidence
    # unparseable answers are none of the dataset's labels: counted apart, one (other) column
    assert q["off_label"] == sum(
        s["confusion"]["matrix"][i][-1] for i in range(len(s["confusion"]["matrix"]))
    )
    assert q["off_label"] > 0


def test_latency_percentile_intervals_bracket_the_percentile(write_scenario):
    s = run_summary(write_scenario, [])
    e2e = s["latency"]["e2e"]
    for key in ("p50", "p90", "p95"):
        lo, hi = e2e["ci_us"][key]
        assert lo <= e2e[f"{key}_us"] <= hi and lo < hi
    # p99.9 of a few hundred requests: no order-statistics interval reaches 95 %
    assert e2e["count"] < 1000 and e2e["ci_us"]["p99_9"] is None


def test_any_percentile_a_threshold_names_is_judged(write_scenario):
    s = run_summary(
        write_scenario, ["latency.p75 < 1s", "latency.p99.99 < 1s", "latency.p12.5 > 1s"]
    )
    observed = {t["metric"]: t["observed"] for t in s["thresholds"]}
    assert set(observed) == {"latency.p75", "latency.p99.99", "latency.p12.5"}
    assert all(v is not None for v in observed.values()), observed
    e2e = s["latency"]["e2e"]
    assert e2e["p50_us"] / 1e6 <= observed["latency.p75"] <= e2e["p90_us"] / 1e6
    assert observed["latency.p99.99"] <= e2e["max_us"] / 1e6
    assert [t["passed"] for t in s["thresholds"]] == [True, True, False]


def test_a_confidence_threshold_is_judged_on_the_bound(write_scenario):
    s = run_summary(write_scenario, [])
    acc, (lo, _) = s["quality"]["accuracy"], s["quality"]["accuracy_ci"]
    point_passes = f"accuracy >= {(lo + acc) / 2:.4f}"  # below the estimate, above its lower bound
    s = run_summary(write_scenario, [point_passes, point_passes + " at 95% confidence",
                                     "error_rate < 11% at 95% confidence"])  # fmt: skip
    plain, confident, errors = s["thresholds"]
    assert plain["passed"] and "confidence" not in plain
    assert not confident["passed"]
    assert confident["observed"] == pytest.approx(lo, abs=1e-6)
    assert confident["estimate"] == pytest.approx(acc) and confident["confidence"] == 0.95
    # error rate 10 % of 200 requests: its upper bound is above 11 %
    assert errors["estimate"] == pytest.approx(0.1) and errors["observed"] > 0.11
    assert not errors["passed"] and s["verdict"] == "failed"


def test_a_confidence_threshold_counts_replayed_rows_once(write_scenario):
    """Issue 18: ten replays of a few rows are not ten times the evidence. A target between the
    per-request lower bound and the per-row one passed before and fails now."""
    from stagecheck import stats

    s = run_summary(write_scenario, [], replays=10)
    q = s["quality"]
    per_request_lo = stats.wilson(q["correct"], q["scored"])[0]
    rows_lo = q["accuracy_ci"][0]
    assert rows_lo < per_request_lo - 0.05
    target = f"accuracy >= {(rows_lo + per_request_lo) / 2:.4f} at 95% confidence"
    s = run_summary(write_scenario, [target], replays=10)
    (verdict,) = s["thresholds"]
    assert not verdict["passed"] and verdict["observed"] == pytest.approx(rows_lo, abs=1e-6)
    # per slice too: its interval is as wide as its rows allow
    for sl in s["slices"]:
        quality = sl["quality"]
        assert quality["rows"] * 5 <= quality["scored"]  # replayed
        per_request = stats.wilson(quality["correct"], quality["scored"])
        assert quality["accuracy_ci"][0] <= per_request[0] + 1e-6
