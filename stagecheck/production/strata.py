"""Post-stratification weights: production's share of each joint cell of the slice fields the
sample carries, given to the validation rows of that cell.

A cell production has and validation lacks is never dropped: its share goes to the coarser
cell made by dropping the last slice field (then the one before, …), spread over that cell's
covered cells in proportion to their own production shares (or their validation rows, when
production has none of them); with no coarser cell left, over every covered cell alike (which
is the same as renormalising). Validation cells production lacks get weight 0 and are named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stagecheck.production.schema import Merge

__all__ = ["Strata", "stratify", "cell_text"]

EVERY_ROW = "every row"


def cell_text(fields: Sequence[str], values: Sequence[str]) -> str:
    """``complexity=complex, channel=sms``; ``every row`` for no field."""
    return ", ".join(f"{f}={v}" for f, v in zip(fields, values, strict=False)) or EVERY_ROW


@dataclass(frozen=True)
class Strata:
    fields: tuple[str, ...]
    shares: dict[tuple[str, ...], float]  # production share of each production cell
    weights: dict[tuple[str, ...], float]  # covered validation cells → weight (sums to 1)
    merged: list[Merge]
    unweighted: list[tuple[str, ...]]  # validation cells production lacks (weight 0)


def stratify(
    fields: Sequence[str],
    production: Mapping[tuple[str, ...], int],
    validation: Mapping[tuple[str, ...], int],
) -> Strata:
    """Weights of the validation cells (``validation``: cell → rows, cells with rows only)
    from production's cell counts."""
    total = sum(production.values())
    shares = {c: n / total for c, n in production.items() if n > 0} if total else {}
    covered = [c for c in validation if validation[c] > 0]
    weights = {c: shares.get(c, 0.0) for c in covered}
    merged: list[Merge] = []
    for cell, share in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])):
        if cell in weights:
            continue
        for k in range(len(cell) - 1, -1, -1):
            prefix = cell[:k]
            under = [c for c in covered if c[:k] == prefix]
            if not under:
                continue
            base = {c: shares.get(c, 0.0) for c in under}
            if not sum(base.values()):
                base = {c: float(validation[c]) for c in under}
            norm = sum(base.values())
            for c in under:
                weights[c] += share * base[c] / norm
            merged.append(Merge(cell=cell_text(fields, cell), share=share,
                                into=cell_text(fields, prefix)))  # fmt: skip
            break
    norm = sum(weights.values())
    if norm > 0:
        weights = {c: w / norm for c, w in weights.items()}
    unweighted = sorted(c for c in covered if shares.get(c, 0.0) == 0.0)
    return Strata(fields=tuple(fields), shares=shares, weights=weights, merged=merged,
                  unweighted=unweighted)  # fmt: skip
