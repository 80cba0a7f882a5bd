"""The dataset profile (issue 8, §3): rows per class and slice, duplicate inputs and inputs
labelled two ways, input-length buckets, and thin groups, checked on real dataset files loaded
the way ``stagecheck validate`` loads them, against counts recomputed here and against
statsmodels' Wilson interval as an independent oracle."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from statsmodels.stats.proportion import proportion_confint

from stagecheck.datasets.profile import (
    EXCERPT_CHARS,
    MAX_EXAMPLES,
    MAX_GROUPS,
    DatasetProfile,
    bucket_index,
    length_buckets,
    max_half_width,
    profile_dataset,
)
from stagecheck.datasets.profile_view import profile_lines, profile_markdown
from stagecheck.run.preparation import PreparedScenario, prepare_scenario

pytestmark = pytest.mark.unit

SCENARIO = """\
name: profiled
endpoint: {{url: "http://127.0.0.1:9", protocol: openai-chat, model: m}}
dataset:
  path: {path}
  input: text
  expected: label
  id: id
  slices: [{slices}]
scoring: {{kind: {kind}}}
load: {{users: 1, duration: 1s}}
thresholds: [error_rate < 1%]
"""


def load(tmp_path: Path, rows: list[dict[str, Any]], kind: str = "label") -> PreparedScenario:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    slices = [k for k in rows[0] if k not in ("id", "text", "label")]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        SCENARIO.format(path=data, slices=", ".join(slices), kind=kind), encoding="utf-8"
    )
    return prepare_scenario(str(scenario))


def profile_of(prepared: PreparedScenario) -> DatasetProfile:
    ds = prepared.dataset
    return profile_dataset(ds, ds.slice_fields, prepared.scorer.classification)


def rows_of(labels: list[str], **slices: list[str]) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i}", "text": f"message number {i}", "label": label}
        | {k: v[i] for k, v in slices.items()}
        for i, label in enumerate(labels)
    ]


def wilson_widest(n: int) -> float:
    """The widest 95 % Wilson half-width over every count of successes, from statsmodels."""
    return max(
        (hi - lo) / 2
        for lo, hi in (proportion_confint(k, n, alpha=0.05, method="wilson") for k in range(n + 1))
    )


def test_rows_per_class_and_per_slice_value_are_counted(tmp_path):
    rng = random.Random(3)
    labels = rng.choices(["refund", "billing", "shipping"], weights=[6, 3, 1], k=300)
    tiers = rng.choices(["gold", "basic"], k=300)
    p = profile_of(load(tmp_path, rows_of(labels, tier=tiers)))
    assert p.rows == 300
    assert p.classes is not None
    assert {g.value: g.rows for g in p.classes.values} == Counter(labels)
    assert [g.rows for g in p.classes.values] == sorted(Counter(labels).values(), reverse=True)
    assert math.isclose(sum(g.share for g in p.classes.values), 1.0)
    assert {g.value: g.rows for g in p.slices["tier"].values} == Counter(tiers)
    assert p.slices["tier"].distinct == 2 and p.slices["tier"].omitted_rows == 0


def test_thin_flag_flips_where_the_widest_wilson_interval_reaches_10_points(tmp_path):
    # One class at each n around the boundary; statsmodels decides which are thin.
    sizes = {f"c{n}": n for n in range(88, 98)}
    labels = [c for c, n in sizes.items() for _ in range(n)]
    p = profile_of(load(tmp_path, rows_of(labels)))
    assert p.classes is not None
    thin = {g.value: g.thin for g in p.classes.values}
    expected = {c: wilson_widest(n) > 0.10 for c, n in sizes.items()}
    assert thin == expected
    assert True in expected.values() and False in expected.values()  # the flip is in range
    assert p.thin_below == min(n for c, n in sizes.items() if not expected[c])
    for g in p.classes.values:
        assert g.half_width == pytest.approx(max_half_width(g.rows))
        assert g.half_width >= wilson_widest(g.rows) - 1e-12  # the widest: none is wider


def test_small_class_warning_names_it_and_its_interval(tmp_path):
    labels = ["big"] * 200 + ["refund"] * 12
    p = profile_of(load(tmp_path, rows_of(labels)))
    points = round(wilson_widest(12) * 100)
    assert p.warnings == [
        f"class 'refund' has 12 rows: its accuracy can only be known to ±{points} points"
    ]
    assert any("refund" in w and f"±{points}" in w for w in profile_lines(p))


def test_many_thin_values_make_one_warning_line_smallest_first(tmp_path):
    labels = ["big"] * 400 + [f"tiny{i}" for i in range(8) for _ in range(i + 2)]
    p = profile_of(load(tmp_path, rows_of(labels)))
    assert len(p.warnings) == 1
    warning = p.warnings[0]
    assert warning.startswith("8 of 9 classes have fewer than")
    assert "smallest: tiny0 2, tiny1 3" in warning


def test_duplicates_and_inputs_labelled_two_ways(tmp_path):
    rows = rows_of(["refund"] * 10)
    for i in (1, 2, 3):  # the same input three more times, same label: plain duplicates
        rows[i]["text"] = rows[0]["text"]
    rows[5]["text"] = rows[4]["text"]  # the same input labelled two ways
    rows[5]["label"] = "billing"
    p = profile_of(load(tmp_path, rows))
    d = p.duplicates
    assert (d.rows, d.inputs) == (4, 2)  # rows beyond the first of each repeated input
    assert (d.conflicting_inputs, d.conflicting_rows) == (1, 2)
    assert d.examples[0].rows == 4 and d.examples[0].row_ids == ["r0", "r1", "r2", "r3"]
    (conflict,) = d.conflicting_examples
    assert conflict.input == rows[4]["text"]
    assert conflict.expected == ["refund", "billing"]
    assert conflict.expected_rows == ["r4", "r5"]
    labelled = [w for w in p.warnings if "labelled more than one way" in w]
    assert len(labelled) == 1 and "'refund' in row r4, 'billing' in row r5" in labelled[0]
    assert any("4 rows repeat another row's input" in w for w in p.warnings)


def test_no_duplicates_no_duplicate_warning(tmp_path):
    p = profile_of(load(tmp_path, rows_of(["a"] * 100 + ["b"] * 100)))
    assert p.duplicates.rows == 0 and p.duplicates.examples == []
    assert p.warnings == []
    assert "  duplicates none" in profile_lines(p)


@pytest.mark.parametrize("seed", range(25))
def test_length_buckets_cover_every_length_once(seed):
    rng = random.Random(seed)
    lengths = [
        int(rng.lognormvariate(rng.uniform(0, 7), rng.uniform(0.1, 1.5)))
        for _ in range(rng.randint(1, 400))
    ]
    buckets = length_buckets(lengths)
    assert 1 <= len(buckets) <= 5
    assert buckets[0][0] == 0 and buckets[-1][1] > max(lengths)
    assert all(a[1] == b[0] for a, b in pairwise(buckets))
    assert all(lo < hi for lo, hi in buckets)
    for length in lengths:
        holding = [i for i, (lo, hi) in enumerate(buckets) if lo <= length < hi]
        assert holding == [bucket_index(length, buckets)]
    for _, hi in buckets[:-1]:  # inner edges are round numbers: one or two significant digits
        assert len(str(hi).rstrip("0")) <= 2, buckets


def test_length_buckets_split_at_quantiles():
    lengths = [10] * 100 + [100] * 100 + [1000] * 100
    buckets = length_buckets(lengths)
    counts = Counter(bucket_index(n, buckets) for n in lengths)
    assert len(buckets) == 3 and sorted(counts.values()) == [100, 100, 100]
    assert length_buckets([]) == []
    assert length_buckets([7, 7, 7]) == [(0, 8)]


def test_profile_lengths_match_the_inputs(tmp_path):
    rng = random.Random(5)
    rows = rows_of(["a"] * 150)
    for r in rows:
        r["text"] = "w" * rng.randint(1, 500)
    p = profile_of(load(tmp_path, rows))
    lengths = sorted(len(r["text"]) for r in rows)
    ln = p.lengths
    assert (ln.min, ln.max) == (lengths[0], lengths[-1])
    assert ln.p50 == lengths[math.ceil(0.5 * 150) - 1]
    assert ln.p90 == lengths[math.ceil(0.9 * 150) - 1]
    assert sum(b.rows for b in ln.buckets) == 150
    assert [(b.low, b.high) for b in ln.buckets] == length_buckets(lengths)
    for b in ln.buckets:
        assert b.rows == sum(b.low <= n < b.high for n in lengths)


def test_long_inputs_are_shown_as_one_line_excerpts(tmp_path):
    long_text = "line one\nline two " + "x" * 3000
    long_label = "L" * 300
    rows = rows_of(["a"] * 3 + [long_label], **{"s" * 80: ["v" * 200] * 4})
    for r in rows[1:]:
        r["text"] = long_text
    p = profile_of(load(tmp_path, rows))
    assert p.lengths.capped == 3 and p.lengths.max == 2000
    shown = [*p.duplicates.examples, *p.duplicates.conflicting_examples]
    assert shown and all(len(e.input) <= EXCERPT_CHARS and "\n" not in e.input for e in shown)
    for text in [*profile_lines(p), profile_markdown(p)]:
        for long in ("x", "L", "s", "v"):
            assert long * (EXCERPT_CHARS + 1) not in text


def test_not_a_classification_has_no_classes(tmp_path):
    p = profile_of(load(tmp_path, rows_of(["a", "b"] * 60), kind="exact"))
    assert p.classes is None and not p.classification
    assert not any(line.startswith("  classes") for line in profile_lines(p))


def test_many_slice_values_are_capped_and_counted(tmp_path):
    n = MAX_GROUPS + 30
    rows = rows_of(["a"] * n, user=[f"u{i}" for i in range(n)])
    p = profile_of(load(tmp_path, rows))
    users = p.slices["user"]
    assert len(users.values) == MAX_GROUPS and users.distinct == n
    assert users.omitted_rows == 30 and users.thin == n
    assert len(p.warnings) <= MAX_EXAMPLES  # one line for all thin users, not one each


def test_profile_is_a_frozen_json_model(tmp_path):
    p = profile_of(load(tmp_path, rows_of(["a"] * 5 + ["b"] * 3, tier=["x"] * 8)))
    assert DatasetProfile.model_validate_json(p.model_dump_json()) == p
    json.dumps(p.model_dump())
    with pytest.raises(ValidationError):
        p.rows = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DatasetProfile.model_validate({**p.model_dump(), "extra": 1})


def test_markdown_tables_survive_labels_with_pipes(tmp_path):
    labels = ["a|b"] * 120 + ["plain"] * 100
    p = profile_of(load(tmp_path, rows_of(labels)))
    md = profile_markdown(p)
    table = [line for line in md.splitlines() if line.startswith("| ")]
    class_rows = [line for line in table if "a\\|b" in line or "plain" in line]
    assert len(class_rows) == 2
    header_cells = table[0].count(" | ")
    assert all(line.replace("\\|", "").count(" | ") == header_cells for line in class_rows)


def test_a_small_datasets_duplicates_are_found_without_pandas(tmp_path, monkeypatch):
    """The duplicates of a dataset below the size where pandas hashes them are found in a dict,
    with the same profile (importing pandas would cost a run's end ~0.5 CPU-s)."""
    import subprocess
    import sys

    from stagecheck.datasets import profile as module

    rng = random.Random(7)
    rows = rows_of([rng.choice(["refund", "billing", "shipping"]) for _ in range(300)])
    for i in range(0, 300, 7):  # repeated inputs, some of them labelled another way
        rows[i]["text"] = rows[rng.randrange(300)]["text"]
    prepared = load(tmp_path, rows)
    small = profile_of(prepared)
    monkeypatch.setattr(module, "_DICT_CODES_UP_TO", 0)  # the pandas path
    assert profile_of(prepared) == small and small.duplicates.rows > 0
    code = (
        "import sys; from stagecheck.run.preparation import prepare_scenario;"
        "from stagecheck.datasets.profile import profile_dataset;"
        f"p = prepare_scenario({str(tmp_path / 's.yaml')!r});"
        "profile_dataset(p.dataset, p.dataset.slice_fields, True);"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
