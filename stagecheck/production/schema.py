"""The production comparison as typed values: what ``production.json`` holds and what the
summary's ``production`` section holds (:class:`ProductionFigures`), read by every view."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Share", "Distribution", "Region", "FarInputs", "FarExample", "Representativeness",
           "Cell", "Stratum", "Merge", "WeightedClass", "Weighted", "ProductionSample",
           "ProductionFigures"]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Share(_Strict):
    """One value (a slice value, a class, a length bucket) in both sets."""

    value: str
    production: int  # rows
    validation: int
    production_share: float  # 0..1
    validation_share: float


class Distribution(_Strict):
    """One figure (``slice:complexity``, ``predicted class``, ``input length``) side by side."""

    name: str
    shares: list[Share]  # most production rows first (length: in bucket order)
    psi: float  # population stability index, zero shares floored at PSI_FLOOR
    test: str  # "chi-square" or "KS"
    statistic: float | None
    p: float | None
    p_holm: float | None  # Holm-adjusted over every distribution of the comparison
    differs: bool  # p_holm < ALPHA


class Region(_Strict):
    """A value the validation set under- or over-represents, in words."""

    figure: str
    value: str
    production_share: float
    validation_share: float
    kind: str  # "under" | "over"
    text: str  # "complexity=complex is 65 % of production, 51 % of validation"


class FarExample(_Strict):
    input: str  # excerpt
    distance: float


class FarInputs(_Strict):
    """Production inputs far from every validation row."""

    unseen: list[str]  # "channel=sms: 97 production rows (9.7 %), no validation row"
    lengths: list[str]  # length buckets production has and validation lacks
    sampled: int  # production inputs compared (a seeded sample)
    of_production: int
    against: int  # validation rows compared with (a seeded sample)
    of_validation: int
    cutoff: float | None  # validation's own 95th percentile nearest-neighbour distance
    far: int  # sampled production inputs beyond the cutoff
    median_distance: float | None
    examples: list[FarExample]
    method: str


class Representativeness(_Strict):
    distributions: list[Distribution]
    regions: list[Region]
    far: FarInputs
    alpha: float


class Cell(_Strict):
    """A joint cell of the slice fields the sample carries, and its production rows."""

    values: list[str]  # in ``slice_fields`` order
    rows: int
    share: float


class ProductionSample(_Strict):
    """``production.json``: the sample's weights (kept in a run folder so ``report`` and
    ``compare`` need no flag), and its comparison with the validation set."""

    source: str  # the file given to --against
    rows: int  # usable production rows
    skipped: int  # rows without any input
    slice_fields: list[str]  # the dataset's slice fields the sample carries, in its order
    predicted_field: str | None
    cells: list[Cell]
    notes: list[str]
    representativeness: Representativeness | None = None


class Merge(_Strict):
    """A production cell without validation rows, and where its weight went."""

    cell: str  # "complexity=complex, channel=sms"
    share: float
    into: str  # "complexity=complex" or "every row" (no coarser cell has rows)


class Stratum(_Strict):
    """A validation cell and the weight production gives it."""

    cell: str
    production_share: float  # its own production share (before merges)
    weight: float  # the weight used (merged shares added), over covered rows: sums to 1
    validation_rows: int  # distinct dataset rows scored in the run
    scored: int  # scored requests
    accuracy: float | None  # its own (unweighted) accuracy


class WeightedClass(_Strict):
    label: str
    recall: float | None
    recall_ci: list[float] | None


class Weighted(_Strict):
    accuracy: float | None
    accuracy_ci: list[float] | None  # 95 %, weighted bootstrap over rows within strata
    accuracy_se: float | None
    f1_macro: float | None
    f1_macro_ci: list[float] | None
    f1_macro_se: float | None
    classes: list[WeightedClass]
    unweighted_accuracy: float | None  # the run's own, beside it


class ProductionFigures(_Strict):
    """The summary's ``production`` section: the sample, its comparison with the validation
    set, and the run's figures re-weighted to production's mix (post-stratification)."""

    source: str
    rows: int
    slice_fields: list[str]
    predicted_field: str | None
    strata: list[Stratum]
    merged: list[Merge]
    unweighted: list[str]  # validation cells production lacks (weight 0)
    figures: Weighted | None
    bootstrap: str  # "1000 resamples of rows within strata, seed 0"
    representativeness: Representativeness | None = None
    notes: list[str]
