"""Scoring: is an answer right, and how good is the model over many answers.

Each scorer is a class of a module of this package; importing the package registers them all in
:data:`SCORERS` (:mod:`stagecheck.registry`).
``build_scorer({"kind": "label", ...})`` validates the options with the scorer's pydantic model
(``ValidationError`` propagates, for the scenario loader to locate); ``get_scorer_class`` raises
a ``ValueError`` listing the valid kinds. ``classification_metrics`` turns confusion counts into
accuracy / precision / recall / F1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field

from stagecheck.registry import import_submodules
from stagecheck.scoring.judge import JudgeFailed
from stagecheck.scoring.metrics import ClassificationMetrics, ClassMetrics, classification_metrics
from stagecheck.scoring.scorers import SCORERS, UNPARSEABLE_LABEL, Scorer, UnparseableAnswer

__all__ = [
    "UNPARSEABLE_LABEL",
    "UnparseableAnswer",
    "Scorer",
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

import_submodules(__name__, __path__)

# Built from the registry at import time: a value, not a static type (mypy cannot follow it).
_OPTIONS = tuple(SCORERS[kind].Options for kind in SCORERS)
ScoringOptions: Any = Annotated[Union[_OPTIONS], Field(discriminator="kind")]  # noqa: UP007
"""The ``scoring:`` section as one pydantic type (e.g. for the scenario's JSON Schema): every
registered scorer's options, told apart by ``kind``."""


def available_scorers() -> list[str]:
    """Kinds of the registered scorers, sorted."""
    return SCORERS.names()


def get_scorer_class(kind: str) -> type[Scorer]:
    """The scorer class registered as ``kind``; ``ValueError`` listing the valid kinds."""
    return SCORERS.get_class(kind)


def build_scorer(options: Mapping[str, Any], base_dir: Path | None = None) -> Scorer:
    """A scorer from the ``scoring:`` mapping, ``kind`` included; ``base_dir`` (the scenario's
    folder) resolves relative files in the options (``json-schema``'s ``schema_file``).

    ``pydantic.ValidationError`` propagates; an unknown or missing kind is a ``ValueError``.
    """
    if "kind" not in options:
        raise ValueError(f"kind is required. Available kinds: {available_scorers()}")
    cls = get_scorer_class(options["kind"])
    return cls(cls.Options.model_validate(dict(options), context={"base_dir": base_dir}))
