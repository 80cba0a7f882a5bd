"""The production comparison's statistics and weights against hand values and scipy (a test-only
oracle): the chi-square tail and test, the PSI, the post-stratification weights with a cell
validation lacks merged into a coarser one, and the production-weighted threshold names."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats as sps

from stagecheck.errors import InputError
from stagecheck.judging.thresholds import check_threshold_names, parse_threshold
from stagecheck.production.compare import ValidationView, psi, represent
from stagecheck.production.sample import read_production
from stagecheck.production.strata import stratify
from stagecheck.stats.chisquare import chi2_sf, chi_square_homogeneity

pytestmark = pytest.mark.unit


def test_chi_square_of_a_hand_worked_table():
    # 60 rows each over three values, 10/20/30 against 30/20/10: every expected count is 20,
    # so X² = 4 × 10²/20 = 20 on 2 degrees of freedom, whose tail is exp(-x/2) exactly.
    stat, df, p = chi_square_homogeneity([10, 20, 30], [30, 20, 10])
    assert (stat, df) == (20.0, 2)
    assert p == pytest.approx(math.exp(-10.0), rel=1e-12)
    # a value empty in both samples is no category
    assert chi_square_homogeneity([10, 0, 20, 30], [30, 0, 20, 10])[:2] == (20.0, 2)
    assert chi_square_homogeneity([5, 5], [0, 0]) is None


@pytest.mark.parametrize("df", [1, 2, 3, 7, 10, 50, 200])
@pytest.mark.parametrize("x", [0.001, 0.5, 1.0, 3.84, 10.0, 40.0, 250.0])
def test_chi2_tail_matches_scipy(x, df):
    assert chi2_sf(x, df) == pytest.approx(sps.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_chi_square_test_matches_scipy_contingency():
    a, b = [120, 40, 33, 7], [80, 70, 20, 30]
    stat, df, p = chi_square_homogeneity(a, b)
    want = sps.chi2_contingency([a, b], correction=False)
    assert stat == pytest.approx(want[0], rel=1e-12)
    assert df == want[2]
    assert p == pytest.approx(want[1], rel=1e-9)


def test_psi_of_hand_values():
    # (0.5 − 0.25)·ln 2 + (0.5 − 0.75)·ln(2/3)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.25 * math.log(2) - 0.25 * math.log(2 / 3), rel=1e-12
    )
    assert psi([0.3, 0.7], [0.3, 0.7]) == 0.0
    # a share of zero is floored (1e-4), not infinite
    assert math.isfinite(psi([0.9, 0.1], [1.0, 0.0]))


def test_a_cell_validation_lacks_is_merged_into_the_coarser_cell():
    fields = ["complexity", "channel"]
    production = {("complex", "chat"): 30, ("complex", "voice"): 10, ("complex", "sms"): 20,
                  ("simple", "chat"): 40}  # fmt: skip
    validation = {("complex", "chat"): 50, ("complex", "voice"): 50, ("simple", "chat"): 50,
                  ("simple", "email"): 50}  # fmt: skip
    s = stratify(fields, production, validation)
    # complex/sms (20 %) goes to complexity=complex, in proportion to chat 30 : voice 10
    assert s.weights[("complex", "chat")] == pytest.approx(0.30 + 0.20 * 0.75)
    assert s.weights[("complex", "voice")] == pytest.approx(0.10 + 0.20 * 0.25)
    assert s.weights[("simple", "chat")] == pytest.approx(0.40)
    assert s.weights[("simple", "email")] == 0.0
    assert [(m.cell, m.share, m.into) for m in s.merged] == [
        ("complexity=complex, channel=sms", 0.2, "complexity=complex")]
    assert s.unweighted == [("simple", "email")]
    # a value validation lacks in the first field too: spread over every row (renormalised)
    s = stratify(fields, {("new", "chat"): 1, ("simple", "chat"): 1}, validation)
    assert s.merged[0].into == "every row"
    assert sum(s.weights.values()) == pytest.approx(1.0)


def test_production_thresholds_parse():
    t = parse_threshold("accuracy[production] >= 0.9")
    assert (t.metric, t.target) == ("accuracy[production]", 0.9)
    t = parse_threshold("class[refund].recall[production] >= 70% at 95% confidence")
    assert (t.metric, t.confidence) == ("class[refund].recall[production]", 0.95)
    with pytest.raises(ValueError, match="unknown production-weighted metric"):
        parse_threshold("latency.p99[production] < 1s")
    # checked before the run as the figure it re-weights: the label must be the dataset's
    problems = check_threshold_names(
        [parse_threshold("class[refnd].recall[production] >= 0.5"),
         parse_threshold("accuracy[production] >= 0.5")],
        classes=["refund"], slices={}, timings=["e2e"], classification=True)  # fmt: skip
    assert problems == ["class[refnd].recall: 'refnd' is not a label in the dataset "
                        "(labels: refund); did you mean class[refund]?"]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_unseen_slice_values_are_named(tmp_path):
    prod = read_production(_write(tmp_path / "p.jsonl", [
        '{"text": "where is my parcel", "channel": "sms"}',
        '{"text": "refund please", "channel": "chat"}',
    ]), ["text"], ["channel"])  # fmt: skip
    view = ValidationView(texts=["where is my order", "i want a refund"], slice_fields=["channel"],
                          slices=[("chat",), ("chat",)], labels=["shipping", "refund"])
    r = represent(prod, view)
    assert r.far.unseen == ["channel=sms: 1 production rows (50.0%), no validation row"]


def test_bad_production_files_are_one_line_each(tmp_path):
    with pytest.raises(InputError, match="production sample not found"):
        read_production(tmp_path / "missing.jsonl", ["text"], [])
    with pytest.raises(InputError, match="has no rows"):
        read_production(_write(tmp_path / "empty.jsonl", []), ["text"], [])
    with pytest.raises(InputError, match="no row has the field 'text'") as exc:
        read_production(_write(tmp_path / "other.jsonl", ['{"body": "hi"}']), ["text"], [])
    assert len(exc.value.problems) == 1


def test_demo_production_sample_is_reproduced_and_differs_as_documented(tmp_path):
    import json

    from stagecheck.demo import make_production

    out = tmp_path / "prod.jsonl"
    assert make_production.main(["--out", str(out)]) == 0
    assert out.read_bytes() == make_production.PRODUCTION_PATH.read_bytes()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("label" not in r for r in rows)  # unlabelled, as production is
    complex_share = sum(r["complexity"] == "complex" for r in rows) / len(rows)
    assert complex_share == pytest.approx(make_production.COMPLEX_SHARE, abs=0.03)
    sms = sum(r["channel"] == "sms" for r in rows) / len(rows)
    assert sms == pytest.approx(make_production.CHANNEL_MIX["sms"], abs=0.03)


def test_nearest_distance_is_one_minus_dice_of_character_trigrams():
    import numpy as np

    from stagecheck.production.nearest import nearest_distances, trigrams

    assert trigrams("abc") == [" ab", "abc", "bc "]
    # " ab" is their one shared trigram of three each: Dice 2·1/6, distance 2/3
    d = nearest_distances(["abc"], ["abd", "xyz"])
    assert d.tolist() == pytest.approx([2 / 3])
    assert nearest_distances(["Where  is it"], ["where is it"]).tolist() == [0.0]
    # a validation row is not its own neighbour
    own = nearest_distances(["abc", "abd"], ["abc", "abd"], itself=np.array([0, 1]))
    assert own.tolist() == pytest.approx([2 / 3, 2 / 3])
