"""grafana/ against the metric catalogue: the checked-in dashboard is what the builders make,
and every dashboard query and rule uses only series and labels the exporter emits."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from stagecheck.judging.catalogue import BASE_LABELS, SERIES, series_names
from tests.grafana import artefacts
from tests.grafana.artefacts import Query

pytestmark = pytest.mark.unit


ALL_QUERIES = artefacts.panel_queries() + artefacts.rule_queries()
_RECORDED = {r["record"] for r in artefacts.rules() if "record" in r}


def _labels_of(series: str) -> set[str]:
    """The labels a series of the catalogue has (histogram and summary parts included)."""
    for spec in SERIES:
        labels = {*BASE_LABELS, *spec.labels}
        if series == f"{spec.name}_bucket" and spec.kind == "histogram":
            return labels | {"le"}
        if series in (f"{spec.name}_sum", f"{spec.name}_count"):
            return labels - {"quantile"}  # a summary's quantile is on its main series only
        if series == spec.name:
            return labels
    raise AssertionError(f"{series} is not in the catalogue")


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    """grafana/build_dashboards.py (needs grafana-foundation-sdk, a test extra)."""
    if importlib.util.find_spec("grafana_foundation_sdk") is None:
        reason = "grafana-foundation-sdk is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return artefacts.load_builder()


def test_checked_in_dashboard_is_the_builders_output(builder: ModuleType) -> None:
    assert artefacts.DASHBOARD.read_text(encoding="utf-8") == builder.render(), (
        "grafana/dashboards/stagecheck.json is stale: python grafana/build_dashboards.py"
    )


def test_builder_check_flag(builder: ModuleType) -> None:
    assert builder.main(["--check"]) == 0


def test_builder_check_flag_fails_on_a_stale_file(builder: ModuleType, tmp_path: Path) -> None:
    stale = tmp_path / "stagecheck.json"
    stale.write_text(builder.render().replace("Throughput", "Thruput"), encoding="utf-8")
    assert builder.main(["--check", "--output", str(stale)]) == 1
    assert builder.main(["--output", str(stale)]) == 0
    assert builder.main(["--check", "--output", str(stale)]) == 0


def test_there_are_queries_to_check() -> None:
    assert len(artefacts.panel_queries()) >= 20
    assert {r.get("alert") for r in artefacts.rules()} >= {
        "StagecheckAccuracyBelowThreshold", "StagecheckP99LatencyAboveThreshold",
        "StagecheckErrorRateHigh", "StagecheckRunInvalid",
    }  # fmt: skip


@pytest.mark.parametrize("q", ALL_QUERIES, ids=lambda q: q.where)
def test_every_metric_is_in_the_catalogue(q: Query) -> None:
    names = artefacts.metric_names(q.expr)
    assert names or any(r in q.expr for r in _RECORDED), f"no stagecheck metric in {q.expr}"
    assert names <= series_names(), f"{q.where}: not exported: {names - series_names()}"


@pytest.mark.parametrize("q", ALL_QUERIES, ids=lambda q: q.where)
def test_every_label_matcher_is_a_label_of_its_metric(q: Query) -> None:
    for name, label in artefacts.selector_labels(q.expr):
        assert label in _labels_of(name), f"{q.where}: {name} has no label {label!r}"


def test_variables_query_catalogue_series() -> None:
    variables = dict(artefacts.variable_queries())
    assert set(variables) == {"scenario", "run_id"}
    for query in variables.values():
        match, label = artefacts.parse_label_values(query)
        assert artefacts.metric_names(match) <= series_names()
        assert label in BASE_LABELS


def test_every_panel_uses_the_datasource_variable() -> None:
    board = artefacts.dashboard()
    assert [v["name"] for v in board["templating"]["list"]][0] == "datasource"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert '$scenario' in target["expr"] and '$run_id' in target["expr"], target["expr"]


def test_every_catalogue_metric_is_on_the_dashboard() -> None:
    used = set().union(*(artefacts.metric_names(q.expr) for q in artefacts.panel_queries()))
    parts = {n.removesuffix(s) for n in used for s in ("_bucket", "_sum", "_count")}
    unused = {m.name for m in SERIES} - parts - used
    assert not unused, f"metrics exported but on no panel: {sorted(unused)}"


def test_panel_ids_are_unique() -> None:
    ids = [p["id"] for p in artefacts.dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_rule_unit_tests_cover_every_alert() -> None:
    """promtool runs them (test_promtool.py); here: each alert has a firing and a quiet case."""
    tests = yaml.safe_load(artefacts.RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    checks = [c for t in tests for c in t.get("alert_rule_test", [])]
    for alert in (r["alert"] for r in artefacts.rules() if "alert" in r):
        mine = [c for c in checks if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in mine), f"no test where {alert} fires"
        assert any(not c["exp_alerts"] for c in mine), f"no test where {alert} stays quiet"


def test_dashboard_json_round_trips_through_the_sdk_model(builder: ModuleType) -> None:
    """The JSON is a valid dashboard for the SDK's schema (nothing it would drop or rename)."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    board = artefacts.dashboard()
    again = json.loads(json.dumps(Dashboard.from_json(board), cls=JSONEncoder))
    assert again == board
