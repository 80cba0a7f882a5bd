"""The dataset profile's model (summary.json's ``dataset``) and its bounds: what
:mod:`stagecheck.datasets.profile` computes and :mod:`stagecheck.datasets.profile_warnings`
and :mod:`stagecheck.datasets.profile_view` say."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from stagecheck.stats import Z95

__all__ = [
    "MAX_GROUPS",
    "MAX_EXAMPLES",
    "MAX_WARNED",
    "EXCERPT_CHARS",
    "THIN_HALF_WIDTH",
    "INPUT_CAP_CHARS",
    "Group",
    "Groups",
    "DuplicateInput",
    "Duplicates",
    "LengthBucket",
    "InputLengths",
    "DatasetProfile",
    "max_half_width",
    "excerpt",
]

MAX_GROUPS = 100  # values kept per class list or slice field (most rows first)
MAX_EXAMPLES = 5  # duplicate examples kept, and row ids per example
MAX_WARNED = 5  # thin classes / slice values named one by one; the rest are counted
EXCERPT_CHARS = 60  # dataset text is shown as excerpts, never whole
THIN_HALF_WIDTH = 0.10  # a group is thin when its 95 % interval can be wider than ±10 points
INPUT_CAP_CHARS = 2000  # PreparedRow.input_text keeps this many characters (then "…")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(_Strict):
    """One class, or one value of a slice field."""

    value: str
    rows: int
    share: float  # of all rows, 0..1
    half_width: float  # widest 95 % half-width at this n (max_half_width), 0..1
    thin: bool  # half_width can exceed ±10 points: its figures mean little
    # a conversation dataset: the conversations holding its turns, the unit of evidence (its
    # turns are not independent): half_width and thin are at this n, not at rows
    conversations: int | None = None


class Groups(_Strict):
    values: list[Group]  # most rows first, at most MAX_GROUPS
    distinct: int  # all distinct values
    omitted_rows: int  # rows of the values beyond MAX_GROUPS
    thin: int  # thin values, counted over all of them
    min_rows: int  # rows of the smallest value

    @property
    def by_conversation(self) -> bool:
        """A conversation dataset's: its values are judged by their conversations."""
        return bool(self.values) and self.values[0].conversations is not None


class DuplicateInput(_Strict):
    """One input text that several rows carry."""

    input: str  # excerpt, at most EXCERPT_CHARS characters, on one line
    rows: int  # rows carrying it
    row_ids: list[str]  # the first MAX_EXAMPLES of them (excerpts)
    expected: list[str]  # its distinct expected answers, first seen first (excerpts, ≤ 5)
    expected_rows: list[str]  # for each of those, the first row id expecting it
    expected_distinct: int  # all its distinct expected answers


class Duplicates(_Strict):
    # what two rows must share to be duplicates: a conversation turn's history counts too
    compared: Literal["input", "history and input"] = "input"
    rows: int  # rows whose input repeats an earlier row's
    inputs: int  # distinct inputs carried by more than one row
    examples: list[DuplicateInput]  # most repeated first
    conflicting_inputs: int  # duplicated inputs with more than one expected answer
    conflicting_rows: int  # rows carrying those inputs
    conflicting_examples: list[DuplicateInput]


class LengthBucket(_Strict):
    low: int  # characters, inclusive
    high: int  # characters, exclusive
    label: str
    rows: int
    share: float


class InputLengths(_Strict):
    """Input length in characters (of the text shown in samples: inputs joined as
    ``name=value | …`` when several fields are sent)."""

    min: int
    p50: int
    p90: int
    max: int
    mean: float
    buckets: list[LengthBucket]
    capped: int  # rows longer than INPUT_CAP_CHARS, measured at the cap


class DatasetProfile(_Strict):
    rows: int
    classification: bool
    thin_below: int  # a class or slice value with fewer rows than this is thin
    classes: Groups | None  # None unless the scoring is a classification
    slices: dict[str, Groups]
    duplicates: Duplicates
    lengths: InputLengths
    warnings: list[str]


def max_half_width(n: int) -> float:
    """Half-width of the widest 95 % Wilson interval of a proportion over ``n`` trials (at
    p̂ = ½): z / (2·√(n + z²)); over :data:`THIN_HALF_WIDTH` exactly when
    :func:`stagecheck.stats.is_thin`. 1.0 for n = 0: nothing is known."""
    return 1.0 if n <= 0 else Z95 / (2 * math.sqrt(n + Z95**2))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "…"): dataset text is shown
    as excerpts, never whole."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
