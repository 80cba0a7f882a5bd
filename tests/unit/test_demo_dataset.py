"""The bundled support-intents dataset: shape, slices, split hygiene and reproducibility."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from stagecheck.demo import make_dataset
from stagecheck.demo.channels import CHANNELS

pytestmark = pytest.mark.unit

VALIDATION = Path(__file__).parents[2] / "scenarios" / "data" / "support_intents.jsonl"
TRAIN = resources.files("stagecheck.demo").joinpath("data", "support_intents_train.jsonl")
FIELDS = {"id", "text", "label", "complexity", "channel"}


def _rows(text: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def train() -> list[dict[str, str]]:
    return _rows(TRAIN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validation() -> list[dict[str, str]]:
    return _rows(VALIDATION.read_text(encoding="utf-8"))


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def test_split_sizes(train: list[dict[str, str]], validation: list[dict[str, str]]) -> None:
    assert 800 <= len(train) <= 1500
    assert len(validation) >= 400


@pytest.mark.parametrize("split,prefix", [("train", "t"), ("validation", "v")])
def test_rows_have_exactly_the_documented_fields(
    split: str, prefix: str, request: pytest.FixtureRequest
) -> None:
    rows = request.getfixturevalue(split)
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert set(row) == FIELDS
        assert row["id"].startswith(prefix) and row["id"][1:].isdigit()
        assert row["complexity"] in ("simple", "complex")
        assert row["channel"] in CHANNELS
        assert row["text"].strip() and row["label"].isidentifier() and row["label"].islower()


def test_both_splits_cover_the_same_labels(
    train: list[dict[str, str]], validation: list[dict[str, str]]
) -> None:
    labels = {r["label"] for r in validation}
    assert len(labels) >= 8
    assert labels == {r["label"] for r in train}
    # Every label has enough validation rows in each slice for per-class metrics to mean something.
    per_slice = Counter((r["label"], r["complexity"]) for r in validation)
    assert min(per_slice.values()) >= 15


def test_validation_is_half_simple_half_complex_over_all_channels(
    validation: list[dict[str, str]],
) -> None:
    complexity = Counter(r["complexity"] for r in validation)
    assert 0.4 <= complexity["simple"] / len(validation) <= 0.6
    channels = Counter((r["complexity"], r["channel"]) for r in validation)
    assert set(channels) == {(c, ch) for c in ("simple", "complex") for ch in CHANNELS}
    assert min(channels.values()) >= 40


def test_complex_queries_are_longer_than_simple_ones(validation: list[dict[str, str]]) -> None:
    def median_words(kind: str) -> float:
        return statistics.median(
            len(r["text"].split()) for r in validation if r["complexity"] == kind
        )

    assert median_words("complex") >= 2.5 * median_words("simple")


def test_no_text_is_in_both_splits(
    train: list[dict[str, str]], validation: list[dict[str, str]]
) -> None:
    overlap = {_normalise(r["text"]) for r in train} & {_normalise(r["text"]) for r in validation}
    assert not overlap
    assert len({_normalise(r["text"]) for r in validation}) == len(validation)


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    train_out, validation_out = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    code = make_dataset.main(["--train", str(train_out), "--validation", str(validation_out)])
    assert code == 0
    assert train_out.read_bytes() == TRAIN.read_bytes()
    assert validation_out.read_bytes() == VALIDATION.read_bytes()


def test_another_seed_gives_other_rows() -> None:
    _, validation = make_dataset.generate(seed=1)
    committed = _rows(VALIDATION.read_text(encoding="utf-8"))
    assert [r["text"] for r in validation] != [r["text"] for r in committed]
    assert len(validation) == len(committed)
