"""Scoring: is an answer right, and how good is the model over many answers.

``build_scorer({"kind": "label", ...})`` validates the options with the scorer's pydantic model
(``ValidationError`` propagates, for the scenario loader to locate); ``get_scorer_class`` raises
a ``ValueError`` listing the valid kinds. ``classification_metrics`` turns confusion counts into
accuracy / precision / recall / F1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Union

from pydantic import Field

from stagecheck.scoring.freetext import (
    PhrasesOptions,
    PhrasesScorer,
    SimilarityOptions,
    SimilarityScorer,
)
from stagecheck.scoring.judge import JudgeFailed, JudgeOptions, JudgeScorer
from stagecheck.scoring.metrics import ClassificationMetrics, ClassMetrics, classification_metrics
from stagecheck.scoring.scorers import (
    UNPARSEABLE_LABEL,
    ContainsOptions,
    ContainsScorer,
    ExactOptions,
    ExactScorer,
    JSONFieldOptions,
    JSONFieldScorer,
    LabelOptions,
    LabelScorer,
    NumericOptions,
    NumericScorer,
    RegexOptions,
    RegexScorer,
    Scorer,
    UnparseableAnswer,
)
from stagecheck.scoring.structured import JSONSchemaOptions, JSONSchemaScorer

__all__ = [
    "UNPARSEABLE_LABEL",
    "UnparseableAnswer",
    "Scorer",
    "LabelScorer",
    "ExactScorer",
    "ContainsScorer",
    "RegexScorer",
    "JSONFieldScorer",
    "NumericScorer",
    "SimilarityScorer",
    "PhrasesScorer",
    "JSONSchemaScorer",
    "JudgeScorer",
    "JudgeFailed",
    "SCORERS",
    "ScoringOptions",
    "available_scorers",
    "get_scorer_class",
    "build_scorer",
    "ClassMetrics",
    "ClassificationMetrics",
    "classification_metrics",
]

SCORERS: Mapping[str, type[Scorer]] = MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            ContainsScorer,
            ExactScorer,
            JSONFieldScorer,
            JSONSchemaScorer,
            JudgeScorer,
            LabelScorer,
            NumericScorer,
            PhrasesScorer,
            RegexScorer,
            SimilarityScorer,
        )
    }
)
"""Every scorer by kind (read-only)."""

ScoringOptions = Annotated[
    Union[  # noqa: UP007 - a runtime union object, for pydantic and JSON Schema
        LabelOptions,
        ExactOptions,
        ContainsOptions,
        RegexOptions,
        JSONFieldOptions,
        NumericOptions,
        SimilarityOptions,
        PhrasesOptions,
        JSONSchemaOptions,
        JudgeOptions,
    ],
    Field(discriminator="kind"),
]
"""The ``scoring:`` section as one pydantic type (e.g. for the scenario's JSON Schema)."""


def available_scorers() -> list[str]:
    """Kinds of the registered scorers, sorted."""
    return sorted(SCORERS)


def get_scorer_class(kind: str) -> type[Scorer]:
    """The scorer class registered as ``kind``; ``ValueError`` listing the valid kinds."""
    try:
        return SCORERS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"Scorer kind {kind!r} is not registered. Available kinds: {available_scorers()}"
        ) from None


def build_scorer(options: Mapping[str, Any], base_dir: Path | None = None) -> Scorer:
    """A scorer from the ``scoring:`` mapping, ``kind`` included; ``base_dir`` (the scenario's
    folder) resolves relative files in the options (``json-schema``'s ``schema_file``).

    ``pydantic.ValidationError`` propagates; an unknown or missing kind is a ``ValueError``.
    """
    if "kind" not in options:
        raise ValueError(f"kind is required. Available kinds: {available_scorers()}")
    cls = get_scorer_class(options["kind"])
    return cls(cls.Options.model_validate(dict(options), context={"base_dir": base_dir}))
