"""``--against PROD`` end to end: a real demo run re-weighted to the demo's production sample,
checked against an independent pandas computation; the weights kept in the run folder, so a
later ``report`` and ``compare`` need no flag; a ``accuracy[production]`` threshold judged; and
bad production files as one line each (exit 2) or a reported note, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score, recall_score

from tests.support import REPO, SCENARIOS, running_demo

pytestmark = pytest.mark.e2e

PROD = SCENARIOS / "data" / "production_sample.jsonl"
CELL = ["complexity", "channel"]
GATES = ["accuracy >= 0.5", "accuracy[production] >= 0.5", "class[refund].recall[production] > 0"]


def _stagecheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stagecheck.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """An exact pass of the demo's validation set, against the production sample."""
    out = tmp_path_factory.mktemp("runs")
    with running_demo() as demo:
        r = _stagecheck("run", str(SCENARIOS / "exact-pass.yaml"), "--set",
                        f"endpoint.url={demo.url}", "--against", str(PROD), "--against-label",
                        "predicted", "--out", str(out), "--quiet", "--set",
                        f"thresholds={json.dumps(GATES)}")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert "Production-weighted accuracy" in r.stdout
    return folder


def _pandas_weighted_accuracy(folder: Path) -> float:
    """Post-stratification written independently: each (complexity, channel) cell's accuracy
    over its scored requests, weighted by the cell's share of the production sample; a
    production cell without validation rows gives its share to the cells of its complexity, in
    proportion to their production shares."""
    res = pd.read_json(folder / "results.jsonl", lines=True)
    rows = pd.read_json(folder / "rows.jsonl", lines=True)
    if "variant" in rows:  # dataset.variants: the rows as written only
        rows = rows[rows["variant"].isna()].reset_index(drop=True)
    rows = pd.concat([rows[["row"]], pd.json_normalize(rows["slices"].tolist())], axis=1)
    scored = res[res["outcome"].isin(["correct", "incorrect", "unparseable"])].merge(rows, on="row")
    accuracy = scored.assign(ok=scored["outcome"].eq("correct")).groupby(CELL)["ok"].mean()
    share = pd.read_json(PROD, lines=True).value_counts(CELL, normalize=True)
    weight = share.reindex(accuracy.index, fill_value=0.0)
    for (complexity, channel), s in share.items():
        if (complexity, channel) in accuracy.index:
            continue
        same = [i for i in accuracy.index if i[0] == complexity]
        base = share.reindex(same, fill_value=0.0)
        weight.loc[same] += (s * base / base.sum()).to_numpy()
    return float((weight * accuracy).sum() / weight.sum())


def test_production_weighted_accuracy_matches_an_independent_pandas_computation(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    p = summary["production"]
    want = _pandas_weighted_accuracy(run_dir)
    assert p["figures"]["accuracy"] == pytest.approx(want, abs=1e-12)
    # macro-F1 and recall: scikit-learn with each request weighted by its cell's weight over
    # the cell's scored requests (the summary's weights used)
    res = pd.read_json(run_dir / "results.jsonl", lines=True)
    rows = pd.read_json(run_dir / "rows.jsonl", lines=True)
    rows = pd.concat([rows[["row", "expected"]], pd.json_normalize(rows["slices"].tolist())],
                     axis=1)  # fmt: skip
    scored = res[res["outcome"].isin(["correct", "incorrect"])].merge(rows, on="row")
    got = scored["predicted"].where(scored["outcome"].eq("incorrect"), scored["expected"])
    cell = scored["complexity"] + "/" + scored["channel"]
    weight = {s["cell"].replace("complexity=", "").replace(", channel=", "/"): s["weight"]
              for s in p["strata"]}  # fmt: skip
    w = cell.map(weight) / cell.map(cell.value_counts())
    labels = sorted(scored["expected"].unique())
    f1 = f1_score(scored["expected"], got, labels=labels, average="macro", sample_weight=w,
                  zero_division=0)  # fmt: skip
    assert p["figures"]["f1_macro"] == pytest.approx(f1, abs=1e-12)
    recalls = recall_score(scored["expected"], got, labels=labels, average=None, sample_weight=w,
                           zero_division=0)  # fmt: skip
    assert [c["recall"] for c in p["figures"]["classes"]] == pytest.approx(list(recalls))
    # the demo sample is 70 % complex, where the model is weaker: production sees it worse
    assert p["figures"]["accuracy"] < summary["quality"]["accuracy"]
    lo, hi = p["figures"]["accuracy_ci"]
    assert lo < p["figures"]["accuracy"] < hi
    # the sms channel, which validation lacks, is named and merged, never dropped
    merged = {m["cell"]: m["into"] for m in p["merged"]}
    assert merged["complexity=complex, channel=sms"] == "complexity=complex"
    assert sum(s["weight"] for s in p["strata"]) == pytest.approx(1.0)
    html = (run_dir / "report.html").read_text()
    assert 'id="production"' in html and "complexity=complex, channel=sms" in html
    assert "### Production-weighted figures" in (run_dir / "summary.md").read_text()
    # judged in the run itself, on the figures the summary holds
    judged = {t["metric"]: t for t in summary["thresholds"]}
    assert judged["accuracy[production]"]["observed"] == p["figures"]["accuracy"]
    refund = next(c for c in p["figures"]["classes"] if c["label"] == "refund")
    assert judged["class[refund].recall[production]"]["observed"] == refund["recall"]
    assert summary["verdict"] == "passed"


def test_a_timed_run_with_replayed_rows_matches_pandas_too(tmp_path):
    """A timed run replays rows: each cell's accuracy is over its requests, the interval's unit
    the row (resampled within strata)."""
    with running_demo() as demo:
        r = _stagecheck("run", str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={demo.url}",
                        "--against", str(PROD), "--duration", "4s", "--out", str(tmp_path),
                        "--quiet")  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["requests"]["total"] > 480  # rows replayed
    figures = summary["production"]["figures"]
    assert figures["accuracy"] == pytest.approx(_pandas_weighted_accuracy(folder), abs=1e-12)
    assert summary["production"]["bootstrap"].endswith("dataset rows within strata, seed 0")


def test_report_without_the_flag_keeps_the_figures_and_judges_them(run_dir):
    before = json.loads((run_dir / "summary.json").read_text())["production"]["figures"]
    r = _stagecheck("report", str(run_dir))
    assert r.returncode in (0, 1), r.stderr
    after = json.loads((run_dir / "summary.json").read_text())["production"]["figures"]
    assert after["accuracy"] == before["accuracy"]
    assert "Production-weighted accuracy" in r.stdout
    value = before["accuracy"]
    r = _stagecheck("report", str(run_dir), "--threshold",
                    f"accuracy[production] >= {min(value + 0.05, 1.0):.3f}")  # fmt: skip
    assert r.returncode == 1, r.stderr
    (t,) = json.loads((run_dir / "summary.rejudged.json").read_text())["thresholds"]
    assert t["observed"] == pytest.approx(value) and not t["passed"]
    r = _stagecheck("report", str(run_dir), "--threshold",
                    f"accuracy[production] >= {value - 0.2:.3f} at 95% confidence")
    assert r.returncode == 0, r.stdout + r.stderr


def test_compare_shows_both_runs_production_weighted_accuracy(run_dir):
    value = json.loads((run_dir / "summary.json").read_text())["production"]["figures"]["accuracy"]
    r = _stagecheck("compare", str(run_dir), str(run_dir))
    line = next(x for x in r.stdout.splitlines() if x.startswith("accuracy[production]"))
    assert line.count(f"{value:.4f}") == 2, line


@pytest.mark.parametrize("content, message", [
    (None, "production sample not found"),
    ("", "the production sample has no rows"),
    ('{"body": "where is my parcel", "complexity": "simple"}\n',
     "no row has the field 'text' (dataset.input)"),
], ids=["missing", "empty", "none-of-the-fields"])  # fmt: skip
def test_bad_production_file_is_one_line_and_exit_2(tmp_path, content, message):
    prod = tmp_path / "prod.jsonl"
    if content is not None:
        prod.write_text(content)
    for command in (["validate", str(SCENARIOS / "smoke.yaml")],
                    ["run", str(SCENARIOS / "smoke.yaml"), "--out", str(tmp_path / "runs")]):
        r = _stagecheck(*command, "--against", str(prod))
        assert r.returncode == 2, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unseen_slice_values_are_a_reported_note(tmp_path):
    prod = tmp_path / "prod.jsonl"
    prod.write_text('{"text": "where is my parcel", "complexity": "simple", "channel": "fax"}\n'
                    '{"text": "i want my money back", "complexity": "tricky", "channel": "chat"}\n')
    r = _stagecheck("validate", str(SCENARIOS / "smoke.yaml"), "--against", str(prod))
    assert r.returncode == 0, r.stderr
    assert "far: complexity=tricky: 1 production rows (50.0%), no validation row" in r.stdout
    assert "far: channel=fax: 1 production rows (50.0%), no validation row" in r.stdout


def test_a_production_threshold_without_a_sample_is_bad_input(run_dir, tmp_path):
    r = _stagecheck("run", str(SCENARIOS / "smoke.yaml"), "--out", str(tmp_path / "runs"),
                    "--set", 'thresholds=["accuracy[production] >= 0.8"]')  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        "stagecheck: accuracy[production] >= 0.8: a production-weighted figure needs --against "
        "PROD (a sample of production inputs)"]
    assert not (tmp_path / "runs").exists()
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    (bare / "production.json").unlink()
    r = _stagecheck("report", str(bare), "--threshold", "accuracy[production] >= 0.5")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "has no production.json" in r.stderr and "Traceback" not in r.stderr
    # given the sample there, the same report judges it
    r = _stagecheck("report", str(bare), "--threshold", "accuracy[production] >= 0.5",
                    "--against", str(PROD))  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert (bare / "production.json").is_file()


def test_variant_rows_are_left_out_of_the_production_weights(tmp_path):
    """dataset.variants adds perturbed copies of every row: production's mix weights the rows
    as written, so the figure is the same as an exact pass without variants."""
    with running_demo() as demo:
        r = _stagecheck("run", str(SCENARIOS / "robustness.yaml"), "--set",
                        f"endpoint.url={demo.url}", "--set", "thresholds=[]", "--against",
                        str(PROD), "--out", str(tmp_path), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rows = pd.read_json(folder / "rows.jsonl", lines=True)
    assert rows["variant"].notna().sum() > 0
    figures = json.loads((folder / "summary.json").read_text())["production"]["figures"]
    assert figures["accuracy"] == pytest.approx(_pandas_weighted_accuracy(folder), abs=1e-12)
