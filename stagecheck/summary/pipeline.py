"""A run's summary, made one way: built from the aggregate, the dataset's profile, the error
analysis, then the thresholds judged once, and the result checked against its typed model.

At the end of a run the controller calls :func:`finished_summary`, and so does a summary rebuilt
from a dead run's folder. ``stagecheck report`` calls :func:`rejudge_run_folder`, which
recomputes the analysis and judges the thresholds again (the run's own, or new ones given with
``--threshold``) from what the run folder holds, so an old run can be judged by today's gates.
The validity of a run is never re-decided: what made it invalid happened during the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stagecheck.datasets import PreparedDataset
from stagecheck.datasets.profile import profile_dataset
from stagecheck.errors import InputError, one_line
from stagecheck.judging.thresholds import parse_threshold
from stagecheck.recording import Aggregate
from stagecheck.scenario import LoadedScenario
from stagecheck.summary.build import summary_figures
from stagecheck.summary.facts import RunFacts
from stagecheck.summary.verdict import Histograms, logged_histograms, set_verdict

__all__ = ["finished_summary", "rejudge_run_folder"]

log = logging.getLogger("stagecheck")

_REJUDGED = "thresholds judged again by stagecheck report: "


_RESTORED = (
    "the run's own thresholds judged again, from scenario.yaml (an older stagecheck report "
    "--threshold had replaced them in summary.json)"
)


def finished_summary(
    loaded: LoadedScenario,
    dataset: PreparedDataset,
    agg: Aggregate,
    facts: RunFacts,
    run_dir: Path | None,
    histograms: Histograms | None = None,
) -> dict[str, Any]:
    """The summary of a finished run, judged once: its figures, the dataset's profile, the
    error analysis of ``run_dir`` (its ``results.jsonl``; None: no analysis), then the
    scenario's thresholds (``histograms``: the aggregate's unless given), checked against the
    typed model."""
    summary = summary_figures(loaded, dataset, agg, facts)
    summary["dataset_profile"] = _dataset_profile(summary, dataset, facts.classification)
    gates = loaded.scenario.gates
    conversations = loaded.scenario.dataset.conversations
    if conversations is not None and not summary.get("conversations"):
        summary["conversations"] = {"history": conversations.history}  # filled by _complete
    # goodput counts the answers within the latency bound of the thresholds about to be judged
    _complete(summary, run_dir, gates, histograms or agg.histogram, _as_entries(gates))
    _check_contract(summary)
    return summary


def _complete(
    summary: dict[str, Any],
    run_dir: Path | None,
    gates: Sequence[str],
    histograms: Histograms | None,
    bounds_from: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Add the error analysis of ``run_dir`` to a summary, then judge ``gates`` with it
    (``goodput`` needs it). The analysis reads its latency bound from ``bounds_from`` (default:
    the thresholds the summary holds). An analysis that cannot be built is a note, never a
    lost verdict."""
    if run_dir is not None and summary.get("conversations"):
        _conversations(summary, run_dir)
    if run_dir is not None and (run_dir / "results.jsonl").exists():
        from stagecheck.analysis import analyse_run  # report time only (numpy over the folder)

        seen = summary if bounds_from is None else {**summary, "thresholds": bounds_from}
        try:
            analysis = analyse_run(run_dir, seen)
        except Exception as exc:  # noqa: BLE001 - the figures and the verdict must still be written
            log.exception("error analysis failed")
            summary.setdefault("notes", []).append(
                f"the error analysis could not be built: {one_line(f'{type(exc).__name__}: {exc}')}"
            )
        else:
            summary["analysis"] = analysis.model_dump(mode="json")
        _add_variants(summary, run_dir)
    if run_dir is not None:
        _production(summary, run_dir)
    set_verdict(summary, gates, histograms)


def _add_variants(summary: dict[str, Any], run_dir: Path) -> None:
    """The figures per ``dataset.variants`` entry; like the analysis, never a lost verdict."""
    from stagecheck.summary.variants import variant_figures

    try:
        variants = variant_figures(run_dir, bool(summary.get("classes")))
    except Exception as exc:  # noqa: BLE001 - the figures and the verdict must still be written
        log.exception("variant figures failed")
        summary.setdefault("notes", []).append(
            f"the variants' figures could not be built: {one_line(f'{type(exc).__name__}: {exc}')}"
        )
    else:
        if variants is not None:
            summary["variants"] = variants


def _production(summary: dict[str, Any], run_dir: Path) -> None:
    """The production-weighted figures of a run folder holding ``production.json``; one that
    cannot be built is a note, never a lost verdict."""
    from stagecheck.production.store import production_section

    try:
        section = production_section(run_dir, summary)
    except Exception as exc:  # noqa: BLE001 - the figures and the verdict must still be written
        log.exception("production-weighted figures failed")
        summary.setdefault("notes", []).append(
            f"the production-weighted figures could not be built: "
            f"{one_line(f'{type(exc).__name__}: {exc}')}"
        )
        return
    if section is not None:
        summary["production"] = section


_LIVE_CONTEXT = (
    "conversations: context lengths are those of the dataset's history; live history sends "
    "the model's own answers instead, so they are estimates"
)


def _conversations(summary: dict[str, Any], run_dir: Path) -> None:
    """A conversation run's figures by turn and conversation (from the run folder), or a note
    when they cannot be built: the verdict must still be written."""
    from stagecheck.summary.conversations import conversation_figures

    history = str(summary["conversations"].get("history") or "reference")
    try:
        summary["conversations"] = conversation_figures(run_dir, history)
        notes = summary.setdefault("notes", [])
        if history == "live" and summary["conversations"] and _LIVE_CONTEXT not in notes:
            notes.append(_LIVE_CONTEXT)
    except Exception as exc:  # noqa: BLE001 - the figures and the verdict must still be written
        log.exception("conversation figures failed")
        summary["conversations"] = None
        reason = one_line(f"{type(exc).__name__}: {exc}")
        summary.setdefault("notes", []).append(
            f"the conversation figures could not be built: {reason}"
        )


def _as_entries(gates: Sequence[str]) -> list[dict[str, Any]]:
    """Threshold expressions as the summary's ``thresholds[]`` entries name them, not judged."""
    out = []
    for t in map(parse_threshold, gates):
        out.append({"expression": t.expression, "metric": t.metric, "op": t.op,
                    "target": t.target})  # fmt: skip
    return out


def _dataset_profile(
    summary: dict[str, Any], dataset: PreparedDataset, classification: bool
) -> dict[str, Any] | None:
    """The dataset's profile for the summary. A profile that cannot be built is a note: it
    must never cost a run its summary and verdict."""
    try:
        dataset = dataset.as_written()  # variant rows are copies: not part of the profile
        profile = profile_dataset(dataset, dataset.slice_fields, classification)
    except Exception as exc:  # noqa: BLE001 - the run's figures come first
        log.exception("dataset profile failed")
        summary["notes"].append(f"the dataset profile could not be built: {exc!r}"[:300])
        return None
    return profile.model_dump(mode="json")


def _check_contract(summary: dict[str, Any]) -> None:
    """A summary that drifts from its typed model (a bug) is still written, with a note: the
    run's figures and verdict matter more than the shape of one field."""
    from pydantic import ValidationError

    from stagecheck.summary.schema import check_summary

    try:
        check_summary(summary)
    except ValidationError as exc:
        log.error("summary.json does not match its schema: %s", exc)
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        summary["notes"].append(
            f"summary.json does not match its schema at {where}: {first['msg']}"
        )


def rejudge_run_folder(
    run_dir: Path, summary: dict[str, Any], thresholds: Sequence[str] | None = None
) -> dict[str, Any]:
    """The summary of a run folder with its analysis rebuilt and its thresholds judged again:
    ``thresholds`` (expressions) replace the run's own when given. Bad expressions raise
    :class:`InputError`, one line each."""
    gates = (
        list(thresholds)
        if thresholds
        else [t["expression"] for t in summary.get("thresholds") or [] if "expression" in t]
    )
    if not thresholds and _rejudged(summary):
        # An older stagecheck wrote a re-judged verdict over the run's own: its thresholds are
        # still in the scenario as run.
        own = _scenario_gates(run_dir)
        if own is not None:
            gates = own
            notes = [n for n in summary.get("notes") or [] if not str(n).startswith(_REJUDGED)]
            summary["notes"] = [*notes, _RESTORED]
    problems = []
    for text in gates:
        try:
            parse_threshold(text)
        except ValueError as exc:
            problems.append(f"--threshold '{one_line(text)}': {exc}")
    if problems:
        raise InputError(problems)
    if thresholds:
        notes = [n for n in summary.get("notes") or [] if not str(n).startswith(_REJUDGED)]
        summary["notes"] = [*notes, _REJUDGED + "; ".join(gates)]
    # goodput's latency bound is that of the thresholds judged now
    _complete(summary, run_dir, gates, logged_histograms(run_dir), _as_entries(gates))
    return summary


def _rejudged(summary: dict[str, Any]) -> bool:
    return any(str(n).startswith(_REJUDGED) for n in summary.get("notes") or [])


def _scenario_gates(run_dir: Path) -> list[str] | None:
    """The thresholds of the scenario as run (``scenario.yaml``), or None when unreadable."""
    from stagecheck.scenario.schema import DEFAULT_GATES
    from stagecheck.scenario.yamlread import YAMLProblem, read_yaml

    try:  # the scenario reader: bounded in size, depth and aliases
        _, raw = read_yaml((run_dir / "scenario.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLProblem):
        return None
    if not isinstance(raw, dict):
        return None
    gates = raw.get("thresholds", None)
    if gates is None:
        return list(DEFAULT_GATES)
    if isinstance(gates, list) and all(isinstance(g, str) for g in gates):
        return list(gates)
    return None
