"""The figures a run's summary gains from its run folder when the run ends, as series: the
production-weighted figures (``--against PROD``, the summary's ``production``) and the variants'
(``dataset.variants``, the summary's ``variants``). A live summary has neither, so these series
appear with the final summary: a scrape after the end (the web UI's ``/metrics``) or the
``--pushgateway`` push. Names and labels: :mod:`stagecheck.judging.catalogue`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from stagecheck.judging.catalogue import MAX_LABEL_VALUES, OTHER

__all__ = ["production", "variants"]


class _Out(Protocol):
    def add(self, name: str, value: float, labels: Sequence[Any] = ...) -> None: ...


def production(out: _Out, summary: Mapping[str, Any]) -> None:
    """Accuracy, macro-F1 and per-class recall re-weighted to production's mix."""
    figures = (summary.get("production") or {}).get("figures")
    if not figures:
        return
    if figures["accuracy"] is not None:
        out.add("stagecheck_production_accuracy_ratio", figures["accuracy"])
    if figures["f1_macro"] is not None:
        out.add("stagecheck_production_f1_ratio", figures["f1_macro"], ["macro"])
    support = {c["label"]: c["support"] for c in summary.get("classes") or []}
    classes = [c for c in figures["classes"] if c["recall"] is not None]
    # the most supported, as the per-class series; a re-weighted recall cannot be pooled
    classes.sort(key=lambda c: (-support.get(c["label"], 0), c["label"]))
    for c in classes[:MAX_LABEL_VALUES]:
        out.add("stagecheck_production_class_recall_ratio", c["recall"], [c["label"]])


def variants(out: _Out, summary: Mapping[str, Any]) -> None:
    """Per variant (``original`` first): accuracy, flip rate, right→wrong rate. Variants past
    :data:`MAX_LABEL_VALUES` are pooled as ``other`` (their counts add up)."""
    section = summary.get("variants")
    if not section:
        return
    shown = list(section["variants"])
    if len(shown) > MAX_LABEL_VALUES:
        shown = [*shown[: MAX_LABEL_VALUES - 1], _pooled(shown[MAX_LABEL_VALUES - 1 :])]
    for v in shown:
        if v["accuracy"] is not None:
            out.add("stagecheck_variant_accuracy_ratio", v["accuracy"], [v["name"]])
        if v.get("flip_rate") is not None:
            out.add("stagecheck_variant_flip_ratio", v["flip_rate"], [v["name"]])
        if v.get("right_to_wrong_rate") is not None:
            out.add("stagecheck_variant_right_to_wrong_ratio", v["right_to_wrong_rate"],
                    [v["name"]])  # fmt: skip


def _pooled(rest: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    scored = sum(v["scored"] for v in rest)
    correct = sum(v["correct"] for v in rest)
    pairs = sum(v.get("pairs") or 0 for v in rest)
    flips = sum(v.get("flips") or 0 for v in rest)
    right_to_wrong = sum(v.get("right_to_wrong") or 0 for v in rest)
    return {"name": OTHER, "accuracy": correct / scored if scored else None,
            "flip_rate": flips / pairs if pairs else None,
            "right_to_wrong_rate": right_to_wrong / pairs if pairs else None}  # fmt: skip
