"""What ``--against PROD`` does for each command: the production sample read with the dataset's
field names and compared with the validation set, either from a prepared scenario (``validate``,
``run``) or from a run folder (``report``, ``compare``: its ``scenario.yaml`` names the fields,
its ``rows.jsonl`` holds the validation rows)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from stagecheck.errors import InputError
from stagecheck.production.compare import ValidationView
from stagecheck.production.sample import read_production
from stagecheck.production.schema import ProductionSample
from stagecheck.production.store import make_sample

if TYPE_CHECKING:
    from stagecheck.datasets import PreparedDataset
    from stagecheck.scenario.schema import DatasetConfig

__all__ = ["sample_for_dataset", "sample_for_run_folder", "check_production_gates"]


def check_production_gates(gates: Iterable[str], what: str) -> None:
    """Thresholds on production-weighted figures (``accuracy[production]``) with no production
    sample to weight by: one line (exit 2) before anything runs, not a threshold failed for a
    figure that could never exist. ``what`` says where the sample would come from."""
    from stagecheck.judging.catalogue import PRODUCTION
    from stagecheck.judging.thresholds import parse_threshold

    named = []
    for text in gates:
        try:
            if parse_threshold(text).metric.endswith(PRODUCTION):
                named.append(text)
        except ValueError:
            continue  # reported where thresholds are checked
    if named:
        raise InputError(f"{'; '.join(named)}: a production-weighted figure needs {what}")


def sample_for_dataset(
    path: str, cfg: DatasetConfig, dataset: PreparedDataset, label: str | None
) -> ProductionSample:
    """``validate`` / ``run``: the sample at ``path`` (relative to the working folder) against
    the prepared dataset."""
    prod = read_production(Path(path).resolve(), list(cfg.input), list(cfg.slices), label)
    rows = dataset.rows
    view = ValidationView(texts=rows.input_texts, slice_fields=dataset.slice_fields,
                          slices=rows.slices, labels=rows.expected_texts)  # fmt: skip
    return make_sample(prod, view)


def _dataset_fields(run_dir: Path) -> tuple[list[str], list[str]]:
    """(input fields, slice fields) of the scenario as run (the run folder's scenario.yaml)."""
    from stagecheck.scenario.yamlread import YAMLProblem, read_yaml

    where = run_dir / "scenario.yaml"
    try:
        _, raw = read_yaml(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLProblem) as exc:
        raise InputError(f"--against: {where}: the run's scenario cannot be read "
                         f"({getattr(exc, 'strerror', None) or exc})") from None  # fmt: skip
    dataset = raw.get("dataset") if isinstance(raw, dict) else None
    if not isinstance(dataset, dict) or "input" not in dataset:
        raise InputError(f"--against: {where}: no dataset.input to map the sample's fields by")
    inputs = dataset["input"]
    inputs = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs]
    slices = [str(s) for s in dataset.get("slices") or []]
    return inputs, slices


def _rows_view(run_dir: Path, slices: list[str]) -> ValidationView:
    texts: list[str] = []
    cells: list[tuple[str, ...]] = []
    labels: list[str] = []
    path = run_dir / "rows.jsonl"
    if path.is_file():
        with path.open("rb") as f:
            for line in f:
                try:
                    d: Any = orjson.loads(line)
                    got = d.get("slices") or {}
                    texts.append(str(d.get("input") or ""))
                    cells.append(tuple(str(got.get(s, "(none)")) for s in slices))
                    labels.append(str(d.get("expected") or ""))
                except (orjson.JSONDecodeError, AttributeError):
                    continue
    return ValidationView(texts=texts, slice_fields=slices, slices=cells, labels=labels)


def sample_for_run_folder(path: str, run_dir: Path, label: str | None) -> ProductionSample:
    """``report`` / ``compare``: the sample at ``path`` against a run folder's dataset rows."""
    if not (run_dir / "summary.json").is_file() and not (run_dir / "results.jsonl").is_file():
        raise InputError(f"--against: {run_dir} is not a run folder")
    inputs, slices = _dataset_fields(run_dir)
    prod = read_production(Path(path).resolve(), inputs, slices, label)
    view = _rows_view(run_dir, slices)
    return make_sample(prod, view if view.texts else None)
