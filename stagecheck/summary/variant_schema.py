"""The summary's ``variants`` section (``dataset.variants:``): how answers hold up when the same
rows are varied. Figures are computed by :mod:`stagecheck.summary.variants` from the run folder.

The unit of every figure is the dataset row: a variant row is paired with the row it was made
from, each answered by its most frequent answer (a timed run replays rows), so a flip rate is
flipped rows / paired rows, with a Wilson interval on the paired rows.
"""

from __future__ import annotations

from stagecheck.summary.figures import Interval, _Strict

__all__ = ["FlipGroup", "FlipExample", "VariantFigures", "Variants"]


class FlipGroup(_Strict):
    """Flips among the pairs of one class (by expected answer) or one slice value."""

    field: str | None = None  # the slice field; None for a class
    value: str  # the slice value or the class's label
    pairs: int
    flips: int
    flip_rate: float | None
    right_to_wrong: int


class FlipExample(_Strict):
    """One row whose answer changed with its variant, side by side."""

    row: int  # the origin row's index (rows.jsonl)
    id: str
    expected: str
    input: str  # the origin row's input as sent
    answer: str | None
    right: bool
    varied_input: str
    varied_answer: str | None
    varied_right: bool


class VariantFigures(_Strict):
    name: str  # "original" for the unperturbed rows
    rows: int  # rows of this variant with at least one scored answer
    scored: int  # scored answers (requests)
    correct: int
    accuracy: float | None
    accuracy_ci: Interval
    design_effect: float | None = None  # of the replays of a row (1: each row sent once)
    # vs the origin rows (None for "original")
    pairs: int | None = None  # rows answered both as written and varied
    flips: int | None = None  # pairs whose answers differ
    flip_rate: float | None = None
    flip_rate_ci: Interval = None
    right_to_wrong: int | None = None  # pairs right as written, wrong varied
    right_to_wrong_rate: float | None = None  # right_to_wrong / pairs
    right_to_wrong_ci: Interval = None
    wrong_to_right: int | None = None
    by_class: list[FlipGroup] = []
    by_slice: list[FlipGroup] = []
    worst: list[FlipExample] = []  # right → wrong first


class Variants(_Strict):
    variants: list[VariantFigures]  # "original" first, then the scenario's order
    notes: list[str] = []

    def named(self, name: str) -> VariantFigures | None:
        return next((v for v in self.variants if v.name == name), None)
