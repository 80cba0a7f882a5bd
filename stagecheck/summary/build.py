"""Build ``summary.json`` (schema version 1) from a run's aggregate.

The summary is the one model every report renders (HTML, Markdown, JUnit, console) and that
``compare`` reads; thresholds are evaluated against it through
:func:`stagecheck.summary.lookup.metric_lookup` and ``interval_lookup``. A finished run's
summary goes through :func:`stagecheck.summary.pipeline.finished_summary` (build, analysis,
thresholds, validated); :func:`build_summary` is the figures judged on their own (a live view).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stagecheck.datasets import PreparedDataset
from stagecheck.recording import Aggregate
from stagecheck.scenario import LoadedScenario
from stagecheck.summary.conversations_live import live_conversation_figures
from stagecheck.summary.facts import RunFacts
from stagecheck.summary.latency import latency_figures, latency_section, tokens_section
from stagecheck.summary.lookup import interval_lookup, metric_lookup
from stagecheck.summary.quality import (
    ANSWER_OUTCOMES,
    OTHER_LABEL,
    classes_section,
    confusion_section,
    no_pause,
    quality_figures,
)
from stagecheck.summary.sections import (
    requests_section,
    run_section,
    run_validity_reasons,
    samples_section,
    slices_section,
    stages_section,
)
from stagecheck.summary.toolcalls import tool_calls_section
from stagecheck.summary.verdict import set_verdict
from stagecheck.version import __version__

__all__ = ["SCHEMA_VERSION", "OTHER_LABEL", "RunFacts", "build_summary", "summary_figures",
           "set_verdict", "metric_lookup", "interval_lookup", "latency_figures",
           "tokens_section"]  # fmt: skip

SCHEMA_VERSION = 1


FILES = {
    "results": "results.jsonl",
    "rows": "rows.jsonl",
    "latency_log": "latency.hlog",
    "scenario": "scenario.yaml",
    "html": "report.html",
    "markdown": "summary.md",
    "junit": "junit.xml",
}


def build_summary(
    loaded: LoadedScenario,
    dataset: PreparedDataset,
    agg: Aggregate,
    facts: RunFacts,
    *,
    final: bool = True,
    pause: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The summary of a run judged on its figures alone: a finished run's (``final``), or
    (``final=False``) of a run so far: then its verdict is ``running`` unless it is already
    invalid, and only the validity rules that cannot be undone apply. ``pause`` is called
    between the costlier sections (histogram queries) so that a cooperative caller does not
    hold up the requests in flight.

    A finished run's summary is built by :func:`stagecheck.summary.pipeline.finished_summary`,
    which judges the thresholds once the error analysis (``goodput``) is in."""
    summary = summary_figures(loaded, dataset, agg, facts, final=final, pause=pause)
    set_verdict(summary, loaded.scenario.gates, agg.histogram, final=final)
    return summary


def summary_figures(
    loaded: LoadedScenario,
    dataset: PreparedDataset,
    agg: Aggregate,
    facts: RunFacts,
    *,
    final: bool = True,
    pause: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The summary's figures and validity, not judged yet: its ``thresholds`` are empty and
    its ``verdict`` is :func:`~stagecheck.summary.verdict.set_verdict`'s to set."""
    pause = pause or no_pause
    sc = loaded.scenario
    requests = requests_section(agg)
    duration = max(agg.ended - agg.started, 1e-9)
    by_outcome = requests["by_outcome"]
    answers = sum(by_outcome[o] for o in ANSWER_OUTCOMES)
    reasons = run_validity_reasons(loaded, dataset, agg, facts, final)
    sections = _sections(agg, facts, frozenset(dataset.labels), pause)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stagecheck", "version": __version__},
        "run": run_section(loaded, dataset, agg, facts),
        "validity": {"valid": not reasons, "reasons": reasons},
        "verdict": None,  # set_verdict()'s
        "requests": requests,
        "throughput": {
            "requests_per_s": requests["total"] / duration,
            "answers_per_s": answers / duration,
        },
        "latency": sections["latency"],
        "target": facts.target,
        **{k: sections[k] for k in ("quality", "classes", "confusion", "slices", "stages")},
        "thresholds": [],
        "samples": sections["samples"],
        "notes": [*facts.notes, *([sc.gates_note] if sc.gates_note else [])],
        "files": dict(FILES),
    }
    if sc.scoring.get("kind") == "tool-call":
        summary["tool_calls"] = tool_calls_section(agg)
    if dataset.conversations is not None:  # the run folder's replace them when the run ends
        summary["conversations"] = live_conversation_figures(agg, dataset.conversations, pause)
    tokens = tokens_section(agg, duration)
    if tokens is not None:  # streamed answers only, as latency's ttft and itl
        summary["tokens"] = tokens
    pause()
    return summary


def _sections(
    agg: Aggregate, facts: RunFacts, labels: frozenset[str], pause: Callable[[], None]
) -> dict[str, Any]:
    """The costlier sections one by one, yielding in between (a live view is built while the
    users run)."""
    classification = facts.classification
    pause()
    latency = latency_section(agg, pause)
    pause()
    quality = quality_figures(agg, classification, labels)
    pause()
    classes = classes_section(agg, pause) if classification else []
    pause()
    confusion = confusion_section(agg, labels) if classification else None
    pause()
    slices = slices_section(agg, facts, labels, pause)
    pause()
    stages = stages_section(agg, facts, labels, pause)
    pause()
    samples = samples_section(agg)
    pause()
    return {"latency": latency, "quality": quality, "classes": classes,
            "confusion": confusion, "slices": slices, "stages": stages,
            "samples": samples}  # fmt: skip
