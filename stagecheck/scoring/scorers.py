"""The scorer contract: is a prediction right? One subclass per ``scoring.kind``, each in its own
module of this package (label, match, jsonfield, numeric, structured, freetext, judge).

``prepare_expected`` runs once per dataset row at load time and does the costly work (text
conversion, normalisation, regex compilation); ``score`` runs per request and stays lean. An
answer that cannot be interpreted raises :class:`UnparseableAnswer` (counted apart from wrong
answers, and shown in the confusion matrix as :data:`UNPARSEABLE_LABEL`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from stagecheck.protocols import ResponseParseError
from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.registry import Registry
from stagecheck.scoring.text import label_text

__all__ = [
    "SCORERS",
    "UNPARSEABLE_LABEL",
    "UnparseableAnswer",
    "Scorer",
    "ScorerOptions",
    "Graded",
    "answer_text",
    "expected_text",
    "load_json_answer",
    "answer_document",
]

UNPARSEABLE_LABEL = "(unparseable)"

# A verdict with its per-row score: (correct, predicted label or None, score 0..1 or None,
# judge call µs or 0: time spent outside the target, never in its latency).
Graded = tuple[bool, "str | None", "float | None", int]


class UnparseableAnswer(ResponseParseError):
    """The answer arrived but cannot be interpreted (not a number, no label found...)."""


SCORERS: Registry[Scorer] = Registry("Scorer kind", "kinds")
"""Every scorer by kind (read-only)."""


class ScorerOptions(BaseModel):
    """Base of every scorer's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Scorer(ABC):
    """Decides whether a prediction matches the expected value of its row. A subclass that
    sets ``kind`` registers itself in :data:`SCORERS`."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]
    classification: ClassVar[bool] = False  # True: confusion matrix + precision/recall/F1
    memoize: ClassVar[bool] = True  # False: every answer is scored anew (an LLM judge)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            SCORERS.add(cls.kind, cls)

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(
                f"{type(self).__name__} needs {self.Options.__name__} options, "
                f"got {type(options).__name__}"
            )
        self.options = options

    @abstractmethod
    def prepare_expected(self, raw: Any) -> Any:
        """The expected value as ``score`` wants it; ``ValueError`` if unusable."""

    @abstractmethod
    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        """``(correct, predicted label or None)``; ``UnparseableAnswer`` if uninterpretable."""

    def prepare_row(self, raw: Any, record: Mapping[str, Any], question: str) -> Any:
        """``prepare_expected`` with the whole row (``record``) and its input text at hand, for
        scorers that need more than the expected value (per-row phrases, a judge's question)."""
        return self.prepare_expected(raw)

    def grade(self, prediction: Any, expected: Any) -> Graded:
        """``score`` with the per-row score (free-text scorers) and judge time."""
        correct, label = self.score(prediction, expected)
        return correct, label, None, 0


def expected_text(raw: Any) -> str:
    try:
        return label_text(raw)
    except TypeError as exc:
        raise ValueError(f"expected value must be a string or a number ({exc})") from None


def answer_text(prediction: Any) -> str:
    if type(prediction) is str:
        return prediction
    if type(prediction) is ChatAnswer:  # tools declared: a text scorer reads the answer's text
        return prediction.text
    try:
        return label_text(prediction)
    except TypeError:
        raise UnparseableAnswer(
            f"answer is a {type(prediction).__name__}, not a single value"
        ) from None


def load_json_answer(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    # LLMs wrap JSON in prose or ``` fences: try the outermost {...}.
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    raise UnparseableAnswer("answer is not JSON")


def answer_document(prediction: Any) -> Any:
    """The JSON document of an answer: text is parsed, a decoded value taken as it is."""
    if isinstance(prediction, str):
        return load_json_answer(prediction)
    if type(prediction) is ChatAnswer:
        return load_json_answer(prediction.text)
    return prediction
