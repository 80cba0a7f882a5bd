"""``production.json`` in a run folder: the production sample's cells (its weights) and its
comparison with the validation set, written by ``run --against`` / ``report --against`` so that
a later ``report`` or ``compare`` needs no flag; and the summary's ``production`` section built
from it and the run's results."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stagecheck.errors import one_line
from stagecheck.production.compare import ValidationView, represent
from stagecheck.production.sample import ProductionRows
from stagecheck.production.schema import Cell, ProductionFigures, ProductionSample

__all__ = ["PRODUCTION_FILE", "make_sample", "write_sample", "read_sample", "production_section"]

PRODUCTION_FILE = "production.json"
log = logging.getLogger("stagecheck")


def make_sample(prod: ProductionRows, view: ValidationView | None) -> ProductionSample:
    """The sample's cells and, with the validation set at hand, their comparison."""
    counts = prod.cell_counts()
    cells = [Cell(values=list(c), rows=n, share=n / prod.rows)
             for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]  # fmt: skip
    return ProductionSample(
        source=prod.source, rows=prod.rows, skipped=prod.skipped,
        slice_fields=prod.slice_fields, predicted_field=prod.predicted_field, cells=cells,
        notes=list(prod.notes), representativeness=None if view is None else represent(prod, view),
    )  # fmt: skip


def write_sample(run_dir: Path, sample: ProductionSample) -> Path:
    path = run_dir / PRODUCTION_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sample.model_dump(mode="json"), indent=2, ensure_ascii=False)
                   + "\n", encoding="utf-8")  # fmt: skip
    tmp.replace(path)
    return path


def read_sample(run_dir: Path) -> ProductionSample | None:
    """The run folder's production sample, None when it has none; raises ValueError with one
    line when the file cannot be used."""
    path = run_dir / PRODUCTION_FILE
    if not path.is_file():
        return None
    try:
        return ProductionSample.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ValueError(f"{path}: not a usable production sample ({one_line(reason)})") from None


def production_section(
    run_dir: Path, summary: Mapping[str, Any], sample: ProductionSample | None = None
) -> dict[str, Any] | None:
    """The summary's ``production`` section for a run folder holding ``production.json`` (or
    for ``sample``; None without either): the strata, weights used and weighted figures."""
    sample = sample or read_sample(run_dir)
    if sample is None:
        return None
    from stagecheck.production.weighted import run_rows, weighted_figures

    fields = sample.slice_fields
    rows = run_rows(run_dir, summary, fields)
    counts = {tuple(c.values): c.rows for c in sample.cells}
    strata, table, figures, how = weighted_figures(rows, fields, counts)
    notes = list(sample.notes)
    if figures is None:
        notes.append("no scored answer in a cell production has: no production-weighted figures")
    section = ProductionFigures(
        source=sample.source, rows=sample.rows, slice_fields=fields,
        predicted_field=sample.predicted_field, strata=table, merged=strata.merged,
        unweighted=[", ".join(f"{f}={v}" for f, v in zip(fields, c, strict=True))
                    for c in strata.unweighted],
        figures=figures, bootstrap=how, representativeness=sample.representativeness,
        notes=notes,
    )  # fmt: skip
    return section.model_dump(mode="json")
