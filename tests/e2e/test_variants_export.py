"""Issue 22 §2 and §3 through the CLI against the real demo endpoint: dataset.variants sent as
rows of their own with flip rates that match a recount from the run folder, and ``stagecheck
export`` writing errors and regressions that load again as a dataset."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support import FAST, SCENARIOS, read_results, running_demo

pytestmark = pytest.mark.e2e

LIMIT = 160  # dataset rows as written (each gets 7 variants): ~1,300 requests


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo):
    """The robustness scenario against the demo, then the same rows (no variants) against the
    demo and against a degraded demo (for --flips-from)."""
    import subprocess
    import sys

    from tests.support import REPO

    out = tmp_path_factory.mktemp("runs")

    def run(name: str, url: str, *sets: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        root = out / name
        proc = subprocess.run(
            [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "robustness.yaml"),
             "--set", f"endpoint.url={url}", "--set", f"dataset.limit={LIMIT}", *sets,
             "--out", str(root)],
            capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        (folder,) = [p for p in root.iterdir() if p.is_dir()]
        return proc, folder

    varied = run("varied", demo.url)
    plain = ("--set", "dataset.variants=[]", "--set", "thresholds=[]")
    base = run("base", demo.url, *plain)
    with running_demo(*FAST, "--degrade", "intent=billing:0.6",
                      "--degrade", "intent=refund:0.6") as worse:  # fmt: skip
        new = run("new", worse.url, *plain)
    return {"varied": varied, "base": base, "new": new}


def _rows(folder: Path) -> dict[int, dict[str, Any]]:
    return {r["row"]: r for r in map(json.loads, (folder / "rows.jsonl").read_text().splitlines())}


def _answers(folder: Path) -> dict[int, tuple[Any, bool]]:
    """Each row's answer and whether it was right (one pass: one answer a row)."""
    out = {}
    for line in read_results(folder):
        if line["outcome"] in ("correct", "incorrect", "unparseable"):
            answer = line["predicted"] if line["predicted"] is not None else line["got"]
            out[line["row"]] = (answer, line["outcome"] == "correct")
    return out


def test_variants_are_sent_as_rows_with_flip_rates_recounted_from_the_run_folder(runs):
    proc, folder = runs["varied"]
    assert proc.returncode in (0, 1), proc.stderr
    rows = _rows(folder)
    tagged = {r: (row["variant"], row["origin"]) for r, row in rows.items() if "variant" in row}
    names = ["typos", "case", "whitespace", "punctuation", "truncate", "filler", "template"]
    assert Counter(v for v, _ in tagged.values()) == {n: LIMIT for n in names}
    assert len(rows) == LIMIT * (1 + len(names))
    for r, (_, origin) in tagged.items():  # a variant keeps its origin's label and slices
        assert rows[r]["expected"] == rows[origin]["expected"]
        assert rows[r]["slices"] == rows[origin]["slices"]
    typo_inputs = {rows[o]["input"]: rows[r]["input"] for r, (v, o) in tagged.items()
                   if v == "typos"}  # fmt: skip
    assert all(a != b and len(a) == len(b) for a, b in typo_inputs.items())
    # every row (as written and varied) sent exactly once
    results = read_results(folder)
    assert Counter(line["row"] for line in results) == dict.fromkeys(rows, 1)

    answers = _answers(folder)
    figures = {v["name"]: v for v in json.loads((folder / "summary.json").read_text())
               ["variants"]["variants"]}  # fmt: skip
    assert list(figures) == ["original", *names]
    # the dataset's profile describes the rows as written (variant rows are copies)
    assert json.loads((folder / "summary.json").read_text())["dataset_profile"]["rows"] == LIMIT
    originals = [r for r in rows if r not in tagged and r in answers]
    acc = sum(answers[r][1] for r in originals) / len(originals)
    assert figures["original"]["accuracy"] == pytest.approx(acc)
    for name in names:
        pairs = [(r, o) for r, (v, o) in tagged.items() if v == name and r in answers
                 and o in answers]  # fmt: skip
        flips = sum(answers[r][0] != answers[o][0] for r, o in pairs)
        worse = sum(answers[o][1] and not answers[r][1] for r, o in pairs)
        f = figures[name]
        assert (f["pairs"], f["flips"], f["right_to_wrong"]) == (len(pairs), flips, worse), name
        assert f["flip_rate"] == pytest.approx(flips / len(pairs))
        lo, hi = f["flip_rate_ci"]
        assert lo <= flips / len(pairs) <= hi
        varied_rows = [r for r, (v, _) in tagged.items() if v == name and r in answers]
        assert f["accuracy"] == pytest.approx(
            sum(answers[r][1] for r in varied_rows) / len(varied_rows))
        by_class = Counter(rows[o]["expected"] for r, o in pairs if answers[r][0] != answers[o][0])
        assert {g["value"]: g["flips"] for g in f["by_class"] if g["flips"]} == by_class
        by_slice = Counter((k, v) for r, o in pairs if answers[r][0] != answers[o][0]
                           for k, v in rows[o]["slices"].items())  # fmt: skip
        assert {(g["field"], g["value"]): g["flips"] for g in f["by_slice"] if g["flips"]} \
            == by_slice
    # the keyword model flips on typos and truncation, not on upper case
    assert figures["typos"]["flip_rate"] > 0.02
    assert figures["truncate"]["flip_rate"] > figures["typos"]["flip_rate"]
    assert figures["case"]["flips"] == 0

    summary = json.loads((folder / "summary.json").read_text())
    judged = {t["expression"]: t for t in summary["thresholds"]}
    typo_rate = figures["typos"]["flip_rate"]
    gate = judged["variant[typos].flip_rate < 5%"]
    assert gate["observed"] == pytest.approx(typo_rate) and gate["passed"] is (typo_rate < 0.05)
    assert proc.returncode == (0 if all(t["passed"] for t in summary["thresholds"]) else 1)
    # console and summary.md say it, the worst flips side by side
    assert "Robustness (dataset.variants" in proc.stdout
    worst = figures["typos"]["worst"][0]
    assert worst["answer"] != worst["varied_answer"]
    md = (folder / "summary.md").read_text()
    assert "### Robustness" in md and "| typos |" in md
    html = (folder / "report.html").read_text()
    assert 'id="variants"' in html and "Worst flips, side by side" in html


def test_every_variant_figure_of_the_catalogue_is_found_by_report(runs, cli):
    from stagecheck.judging.catalogue import CATALOGUE

    _, folder = runs["varied"]
    gates = [f"{m.example} >= 0" for m in CATALOGUE if m.scope == "variant"]
    assert len(gates) == 4
    r = cli("report", str(folder), *(x for g in gates for x in ("--threshold", g)))
    assert r.code == 0, r.stderr
    judged = json.loads((folder / "summary.rejudged.json").read_text())["thresholds"]
    assert [t["expression"] for t in judged] == gates
    assert all(t["observed"] is not None and t["passed"] for t in judged), judged


def _export(cli, *args: str):
    return cli("export", *args, timeout=120)


def _scenario_over(tmp_path: Path, data: Path, fmt: str) -> Path:
    sc = tmp_path / f"over-{fmt}.yaml"
    sc.write_text(
        f"name: exported\nendpoint: {{url: 'http://127.0.0.1:9', protocol: openai-chat}}\n"
        f"dataset: {{path: {data}, input: text, expected: label, id: id, format: {fmt},\n"
        "          slices: [complexity, channel]}\nscoring: {kind: label}\nthresholds: []\n"
    )  # fmt: skip
    return sc


def test_export_errors_writes_each_wrong_row_once_in_the_datasets_own_format(runs, cli, tmp_path):
    _, folder = runs["varied"]
    rows = _rows(folder)
    wrong = {line["row"]: line for line in read_results(folder) if line["outcome"] != "correct"}
    assert wrong
    out = tmp_path / "errors.jsonl"
    r = _export(cli, str(folder), "--errors", "--format", "jsonl", "--out", str(out))
    assert r.code == 0, r.stderr
    assert f"exported {len(wrong):,} wrong" in r.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [rec["stagecheck_row"] for rec in records] == sorted(wrong)
    for rec in records:
        row, line = rows[rec["stagecheck_row"]], wrong[rec["stagecheck_row"]]
        assert (rec["id"], rec["text"], rec["label"]) == (row["id"], row["input"], row["expected"])
        assert (rec["complexity"], rec["channel"]) == (row["slices"]["complexity"],
                                                       row["slices"]["channel"])  # fmt: skip
        assert rec["stagecheck_answer"] == (line["predicted"] or line["got"])
        assert (rec["stagecheck_wrong"], rec["stagecheck_requests"]) == (1, 1)
        assert rec["stagecheck_variant"] == row.get("variant")
    # it loads again as a dataset: stagecheck validate over it, in its own format
    v = cli("validate", str(_scenario_over(tmp_path, out, "jsonl")), timeout=60)
    assert v.code == 0, v.stderr
    assert f"{len(wrong)} rows" in v.stdout

    out_csv = tmp_path / "errors.csv"
    r = _export(cli, str(folder), "--errors", "--format", "csv", "--out", str(out_csv))
    assert r.code == 0, r.stderr
    table = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [int(t["stagecheck_row"]) for t in table] == sorted(wrong)
    assert {t["stagecheck_off_label"] for t in table} == {"false"}  # the demo answers labels
    v = cli("validate", str(_scenario_over(tmp_path, out_csv, "csv")), timeout=60)
    assert v.code == 0, v.stderr


def test_export_openai_chat_records_are_fine_tuning_lines(runs, cli):
    _, folder = runs["varied"]
    rows = _rows(folder)
    wrong = sorted({line["row"] for line in read_results(folder) if line["outcome"] != "correct"})
    r = _export(cli, str(folder), "--errors", "--format", "openai-chat")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(wrong)
    for text, row in zip(lines, wrong, strict=True):
        record = json.loads(text)
        assert list(record) == ["messages"]
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in record["messages"])
        assert "support intent" in record["messages"][0]["content"]
        assert record["messages"][1]["content"] == rows[row]["input"]
        assert record["messages"][2]["content"] == rows[row]["expected"]


def test_export_flips_from_base_writes_the_rows_that_regressed(runs, cli, tmp_path):
    (pb, base), (pn, new) = runs["base"], runs["new"]
    assert pb.returncode == 0 and pn.returncode == 0, pb.stderr + pn.stderr
    a, b = _answers(base), _answers(new)
    ids_a = {r: row["id"] for r, row in _rows(base).items()}
    by_id_b = {row["id"]: r for r, row in _rows(new).items()}
    regressed = sorted(by_id_b[ids_a[r]] for r in a
                       if a[r][1] and ids_a[r] in by_id_b and by_id_b[ids_a[r]] in b
                       and not b[by_id_b[ids_a[r]]][1])  # fmt: skip
    assert regressed, "the degraded demo regresses some billing and refund rows"
    out = tmp_path / "flips.jsonl"
    r = _export(cli, str(new), "--flips-from", str(base), "--out", str(out))
    assert r.code == 0, r.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [rec["stagecheck_row"] for rec in records] == regressed
    assert {rec["label"] for rec in records} <= {"billing", "refund"}
    v = cli("validate", str(_scenario_over(tmp_path, out, "jsonl")), timeout=60)
    assert v.code == 0, v.stderr


@pytest.mark.parametrize("case", ["missing", "empty", "damaged", "bad-base"])
def test_export_of_a_bad_run_folder_is_one_line_exit_2(runs, cli, tmp_path, case):
    _, folder = runs["varied"]
    target = tmp_path / "run"
    extra: tuple[str, ...] = ("--errors",)
    if case == "empty":
        target.mkdir()
    elif case == "damaged":
        target.mkdir()
        for name in ("results.jsonl", "scenario.yaml", "summary.json"):
            (target / name).write_bytes((folder / name).read_bytes())
        (target / "rows.jsonl").write_text('{"row": 0, "id": "x"\n')  # cut short
    elif case == "bad-base":
        target = folder
        extra = ("--flips-from", str(tmp_path / "nowhere"))
    r = _export(cli, str(target), *extra)
    assert r.code == 2, (case, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_compare_shows_each_variants_flip_rate_in_both_runs(runs):
    from stagecheck.reporting.compare.runs import compare_folders

    (_, varied), (pb, base) = runs["varied"], runs["base"]
    assert pb.returncode == 0, pb.stderr
    flips = {v["name"]: v["flip_rate"] for v in
             json.loads((varied / "summary.json").read_text())["variants"]["variants"]}  # fmt: skip
    rows = {r.metric: r for r in compare_folders(str(base), str(varied)).rows}
    shown = {m: r for m, r in rows.items() if m.startswith("variant[")}
    assert set(shown) == {f"variant[{n}].flip_rate" for n, f in flips.items() if f is not None}
    for name, rate in flips.items():
        if rate is not None:
            row = shown[f"variant[{name}].flip_rate"]
            assert row.base is None and row.new == rate and row.test is None  # shown, untested


def test_a_distributed_run_keeps_varied_rows_out_of_the_headline_figures(runs, demo, tmp_path):
    """``--processes 2``: the workers' varied rows cross to the master apart from the rows as
    written, so the headline quality of an exact pass is the single-process run's, number for
    number, and the variants' figures too."""
    import subprocess
    import sys

    from tests.support import REPO, free_master_port

    proc = subprocess.run(
        [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "robustness.yaml"),
         "--set", f"endpoint.url={demo.url}", "--set", f"dataset.limit={LIMIT}",
         "--processes", "2", "--master-port", str(free_master_port()),
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    distributed = json.loads((folder / "summary.json").read_text())
    single = json.loads((runs["varied"][1] / "summary.json").read_text())
    assert distributed["requests"]["total"] == single["requests"]["total"]
    assert distributed["quality"] == single["quality"]  # the rows as written only
    assert distributed["classes"] == single["classes"]
    assert distributed["variants"] == single["variants"]
