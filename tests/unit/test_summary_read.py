"""The one summary model, read leniently: what the engine writes reads back as exactly the model
it was checked against; old, half-written or edited summaries read into the same model, with
what is missing or malformed shown as "n/a" rather than a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.reporting import render_console, render_html, render_junit, render_markdown
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary, check_summary

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


def _summary() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def test_an_engine_summary_reads_into_exactly_the_checked_model() -> None:
    data = _summary()
    assert load_summary_model(data) == check_summary(data)


def test_a_malformed_figure_is_none_in_the_model_and_na_in_the_report() -> None:
    data = _summary()
    data["latency"]["e2e"]["p99_us"] = "fast"
    with pytest.raises(ValidationError):
        check_summary(data)  # what the engine writes stays strict
    summary = load_summary_model(data)
    assert summary.latency["e2e"].p99_us is None
    assert summary.latency["e2e"].p50_us == _summary()["latency"]["e2e"]["p50_us"]
    header, e2e = (line for line in render_console(data).splitlines()
                   if line.startswith(("Latency (ms)", "  end-to-end")))  # fmt: skip
    p99 = header.split().index("p99") - 2  # "Latency (ms)" is two words
    assert e2e.split()[1 + p99] == "n/a"


def test_an_older_summary_reads_with_its_missing_figures_defaulted() -> None:
    data = _summary()
    old = copy.deepcopy(data)
    for key in ("tokens", "analysis", "dataset_profile"):
        old.pop(key, None)
    old["run"].pop("workers_lost")
    old["requests"]["by_outcome"].pop("unfinished")
    old["quality"].pop("design_effect")
    summary = load_summary_model(old)
    assert summary.analysis is None and summary.tokens is None
    assert summary.requests.by_outcome.unfinished == 0
    assert summary.quality is not None and summary.quality.design_effect == 1.0
    assert summary.requests == load_summary_model(data).requests


def test_an_empty_summary_renders_every_report() -> None:
    summary = load_summary_model({"schema_version": 1})
    assert isinstance(summary, Summary)
    assert summary.verdict == "invalid" and not summary.valid
    assert summary.run.scenario == "unnamed" and summary.requests.total == 0
    console = render_console({"schema_version": 1})
    assert console.splitlines()[0] == "stagecheck · unnamed"
    assert "INVALID" in console
    assert "INVALID" in render_markdown(summary)
    assert "run validity" in render_junit(summary)
    assert "<html" in render_html(summary)


def test_counts_missing_from_a_section_come_from_its_outcomes() -> None:
    data = _summary()
    total = data["requests"]["total"]
    del data["requests"]["total"]
    del data["stages"][0]["index"]
    summary = load_summary_model(data)
    assert summary.requests.total == total
    assert summary.stages[0].index == 0
