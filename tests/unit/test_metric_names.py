"""The one catalogue of metric names against its users: threshold parsing, the summary's
lookups after a run, the confidence intervals, and the Prometheus exporter's series."""

from __future__ import annotations

import pytest

from stagecheck.judging.catalogue import CATALOGUE, STREAM_ONLY, series_names
from stagecheck.judging.thresholds import parse_threshold

pytestmark = pytest.mark.unit

TARGET = {"duration": "300ms", "fraction": "0.5", "rate": "10/s", "count": "10"}


@pytest.mark.parametrize("m", CATALOGUE, ids=[f"{m.scope}:{m.name}" for m in CATALOGUE])
def test_every_catalogued_name_parses_and_takes_its_units(m):
    t = parse_threshold(f"{m.example} >= {TARGET[m.kind]}")
    assert t.metric == m.example
    if m.interval is not None:
        assert parse_threshold(f"{m.example} >= {TARGET[m.kind]} at 95% confidence").confidence
    else:
        with pytest.raises(ValueError, match="at … confidence"):
            parse_threshold(f"{m.example} >= {TARGET[m.kind]} at 95% confidence")


def test_every_live_series_named_is_exported():
    exported = series_names()
    for m in CATALOGUE:
        if m.series is not None:
            assert m.series in exported or f"{m.series}_count" in exported, m


def test_every_catalogued_name_is_found_in_a_real_summary(write_scenario):
    from tests.unit.test_summary import run_summary

    zero = {"duration": "0s", "fraction": "0", "rate": "0/s", "count": "0"}
    # goodput needs the error analysis of a run folder (tests/integration)
    # tokens figures need a streaming endpoint (tests/unit/test_tokens.py)
    # production-weighted figures need --against PROD (tests/e2e/test_against.py)
    # variant figures need a run folder with dataset.variants (tests/e2e/test_variants_export.py)
    # tool_call.accuracy needs a tool-call scorer (tests/integration/test_tool_calls.py)
    # conversation figures need a conversation dataset (tests/unit/test_conversation_figures.py)
    gates = [f"{m.example} >= {zero[m.kind]}" for m in CATALOGUE
             if m.name not in ("goodput", "tool_call.accuracy")
             and m.example.split(".")[0] not in STREAM_ONLY
             and m.scope not in ("variant", "production", "conversation", "turn", "context")
             ]  # fmt: skip
    gates = [g.replace("class[refund]", "class[billing]") for g in gates]
    s = run_summary(write_scenario, gates)
    missing = [t["expression"] for t in s["thresholds"] if t["observed"] is None]
    assert not missing
