"""``dataset.variants:``: the seeded perturbations of the input text a scenario asks for (the
texts themselves are made by :mod:`stagecheck.datasets.variants`).

Each entry is one named variant; every dataset row gets one varied copy per variant, sent as a
row of its own. ``name`` defaults to ``kind``; two variants may share a kind (``typos-light``
and ``typos-heavy``) but not a name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["VariantSpec", "VARIANT_KINDS", "ORIGINAL", "check_variant_names"]

#: The name the unperturbed rows go by in the variants' figures (``variant[original]``).
ORIGINAL = "original"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class _Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str | None = Field(None, description="Name in figures and thresholds (default: kind)")
    seed: int | None = Field(None, description="Seed of this variant (default: dataset.seed)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError("use letters, digits, '-', '_' or '.', at most 40 characters")
        if v == ORIGINAL:
            raise ValueError(f"'{ORIGINAL}' names the unperturbed rows; choose another name")
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]


_Rate = Annotated[float, Field(gt=0, le=1)]


class Typos(_Variant):
    kind: Literal["typos"]
    rate: _Rate = Field(0.05, description="Share of letters replaced by a keyboard neighbour "
                                          "(at least one per text)")  # fmt: skip


class Case(_Variant):
    kind: Literal["case"]
    mode: Literal["upper", "lower", "title", "random"] = "lower"
    rate: _Rate = Field(0.3, description="mode random: share of letters whose case flips")


class Whitespace(_Variant):
    kind: Literal["whitespace"]
    rate: _Rate = Field(0.2, description="Share of gaps doubled or removed (at least one)")


class Punctuation(_Variant):
    kind: Literal["punctuation"]
    rate: _Rate = Field(0.2, description="Share of words whose punctuation is dropped or added")


class Truncate(_Variant):
    kind: Literal["truncate"]
    keep: _Rate = Field(0.5, description="Share of the words kept, from the start")


class Filler(_Variant):
    kind: Literal["filler"]
    rate: _Rate = Field(0.15, description="Filler words inserted per word (at least one)")
    words: list[str] = Field(
        default_factory=lambda: ["um", "uh", "like", "you know", "basically", "actually"],
        min_length=1,
    )


class Template(_Variant):
    kind: Literal["template"]
    templates: list[str] = Field(
        min_length=1, description="Texts with {text} (the row's input) and {<name>} of values"
    )
    values: dict[str, list[str]] = Field(
        default_factory=dict, description="Choices per placeholder: names, numbers, products"
    )

    @model_validator(mode="after")
    def _placeholders(self) -> Template:
        for i, t in enumerate(self.templates):
            names = set(re.findall(r"\{([^{}]*)\}", t))
            if "text" not in names:
                raise ValueError(f"templates[{i}] has no {{text}} (where the row's input goes)")
            unknown = sorted(names - {"text"} - set(self.values))
            if unknown:
                raise ValueError(f"templates[{i}] names {{{unknown[0]}}}, which values: lacks")
        for key, choices in self.values.items():
            if not choices:
                raise ValueError(f"values.{key} is empty")
        return self


class Substitute(_Variant):
    kind: Literal["substitute"]
    values: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Groups of interchangeable words: each one found in a text is replaced "
        "by another of its group (names, products)",
    )
    numbers: bool = Field(False, description="Also replace each number by another of its length")

    @model_validator(mode="after")
    def _groups(self) -> Substitute:
        if not self.values and not self.numbers:
            raise ValueError("give values: (groups of words) or numbers: true")
        for key, words in self.values.items():
            if len(words) < 2:
                raise ValueError(f"values.{key} needs at least two words to swap between")
        return self


VariantSpec = Annotated[
    Typos | Case | Whitespace | Punctuation | Truncate | Filler | Template | Substitute,
    Field(discriminator="kind"),
]
VARIANT_KINDS = ("typos", "case", "whitespace", "punctuation", "truncate", "filler", "template",
                 "substitute")  # fmt: skip


def check_variant_names(variants: Sequence[_Variant]) -> None:
    """Two variants with one name would mix their figures: ``ValueError``."""
    seen: set[str] = set()
    for v in variants:
        if v.label in seen:
            raise ValueError(f"two variants are named '{v.label}'; give each its own name:")
        seen.add(v.label)
