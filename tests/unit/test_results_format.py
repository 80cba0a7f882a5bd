"""Every reader of results.jsonl reads line format 2 (issue 10: the row's fixed fields joined
from rows.jsonl, users from the summary's stages, predicted/got only when they say something)
with the same figures as the old lines: the error analysis, ``compare`` and a capacity step.

The same requests are written here twice, once per format (format 2 from its spec, by
:func:`format2`), and each reader's figures of the two folders must be equal; each test also
checks a figure that only a correct join can give (users per stage, an off-label answer's raw
text, a row's id and slices)."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stagecheck.analysis import analyse_run
from stagecheck.analysis.columns import read_columns, stage_users
from stagecheck.capacity.figures import read_requests
from stagecheck.errors import InputError
from stagecheck.reporting.compare.data import load_run
from stagecheck.reporting.compare.runs import compare_folders

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
LABELS = ("billing", "refund", "shipping", "account_access")
CHANNELS = ("chat", "email", "voice_transcript")


def fixture_summary() -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    summary.pop("analysis", None)
    return summary


def started(summary: dict[str, Any]) -> float:
    return datetime.fromisoformat(summary["run"]["started_at"].replace("Z", "+00:00")).timestamp()


def dataset(n: int = 240) -> list[dict[str, Any]]:
    return [
        {"row": i, "id": f"v{i:04d}", "input": f"text of row {i} " * (1 + i % 5),
         "expected": LABELS[i % 4],
         "slices": {"channel": CHANNELS[(i // 4) % 3], "complexity": ("simple", "hard")[i % 2]}}
        for i in range(n)
    ]  # fmt: skip


def old_lines(rows: list[dict[str, Any]], t0: float, users: dict[int, int], seed: int,
              classification: bool = True, n: int = 1500) -> list[dict[str, Any]]:  # fmt: skip
    """Requests in the old line format: correct, wrong, off-label (raw text ≠ its label),
    unparseable, failures with errors, lag, two stages; rows replayed."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        row = rows[rng.randrange(len(rows))]
        exp = row["expected"]
        stage = 0 if i < n // 3 else 1
        u = rng.random()
        error = None
        wrong_label = LABELS[(LABELS.index(exp) + 1) % 4]
        if u < 0.04:
            outcome, got, pred, error = "http_error", None, None, "HTTP 503: overloaded"
        elif u < 0.06:
            outcome, got, pred, error = "timeout", None, None, "timeout: no answer after 5s"
        elif u < 0.08:
            outcome, got, pred = "unparseable", "I cannot tell", None
        elif u < 0.12:
            outcome, got, pred = "incorrect", f"Maybe {wrong_label}?", wrong_label
        elif u < 0.12 + (0.35 if row["slices"]["complexity"] == "hard" else 0.05):
            outcome, got, pred = "incorrect", wrong_label, wrong_label
        elif u < 0.2:  # right, in other words than the label: "Billing." for billing
            outcome, got, pred = "correct", f"{exp.title()}.", exp
        else:
            outcome, got, pred = "correct", exp, exp
        if not classification:
            pred = None
            if outcome == "correct":
                got = f"the answer is {exp}"
        line = {"row": row["row"], "id": row["id"], "expected": exp, "slices": row["slices"],
                "t": round(t0 + 0.01 * i + rng.random() * 0.005, 6), "outcome": outcome,
                "got": got, "predicted": pred, "latency_us": rng.randint(2_000, 300_000),
                "lag_us": rng.choice((0, 0, 0, 1500)), "stage": stage, "users": users[stage],
                "error": error}  # fmt: skip
        if not classification and got is not None:
            line["score"] = round(rng.random(), 3)
        lines.append(line)
    return lines


def format2(old: dict[str, Any], classification: bool) -> dict[str, Any]:
    """The same request as a line of format 2, written from its spec (the keys in order): a
    label only when it is not the row's expected text, an answer only when it is not its
    label (so a right label answered in other words is written as its ``got`` alone)."""
    d = {k: old[k] for k in ("row", "t", "outcome", "latency_us", "stage")}
    if classification and old["predicted"] is not None:
        if old["predicted"] != old["expected"]:
            d["predicted"] = old["predicted"]
        if old["got"] != old["predicted"]:
            d["got"] = old["got"]
    elif old["got"] is not None:
        d["got"] = old["got"]
    if old["error"] is not None:
        d["error"] = old["error"]
    if old["lag_us"] > 0:
        d["lag_us"] = old["lag_us"]
    for extra in ("ttft_us", "tokens", "score", "judge_ms"):
        if extra in old:
            d[extra] = old[extra]
    return d


def write_folder(
    folder: Path,
    summary: dict[str, Any],
    rows: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    *,
    v2: bool,
    rows_file: bool = True,
) -> Path:
    folder.mkdir(parents=True)
    classification = bool(summary.get("classes"))
    out = [format2(x, classification) if v2 else x for x in lines]
    text = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in out)
    (folder / "results.jsonl").write_text(text, encoding="utf-8")
    if rows_file:
        (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {**summary, "run": {**summary["run"], "id": folder.name}}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def pair(tmp_path: Path, name: str, summary: dict[str, Any], seed: int = 1,
         **kw: Any) -> tuple[Path, Path, list[dict[str, Any]]]:  # fmt: skip
    rows = dataset()
    users = stage_users(summary)
    lines = old_lines(rows, started(summary) + 0.5, users, seed, bool(summary.get("classes")))
    old = write_folder(tmp_path / "old" / name, summary, rows, lines, v2=False, **kw)
    new = write_folder(tmp_path / "v2" / name, summary, rows, lines, v2=True, **kw)
    return old, new, lines


def test_format2_lines_are_short_and_leave_the_row_out(tmp_path: Path) -> None:
    old, new, lines = pair(tmp_path, "run", fixture_summary())
    first = json.loads((new / "results.jsonl").open().readline())
    assert not {"id", "expected", "slices", "users"} & first.keys()
    per_request = (new / "results.jsonl").stat().st_size / len(lines)
    assert per_request <= 100 < (old / "results.jsonl").stat().st_size / len(lines)


def test_analysis_of_a_format2_folder_equals_the_old_one(tmp_path: Path) -> None:
    summary = fixture_summary()
    old, new, lines = pair(tmp_path, "run", summary)
    a_old, a_new = analyse_run(old, summary), analyse_run(new, summary)
    assert a_new.model_dump() == a_old.model_dump()
    # Figures only a right join gives: users per stage from the summary, raw off-label text.
    cols = read_columns(new, stage_users(summary), classification=True)
    by_stage = {s: {x["users"] for x in lines if x["stage"] == s} for s in (0, 1)}
    assert {s: set(cols.users[cols.stage == s].tolist()) for s in (0, 1)} == by_stage
    assert {x.label for x in a_new.load if x.kind == "users"} == {
        f"{u} users" for s in by_stage.values() for u in s
    }
    raw = {x["got"] for x in lines if x["got"] != x["predicted"] and x["predicted"] is not None}
    assert raw and raw <= {cols.texts[c] for c in cols.got[cols.got >= 0].tolist()}
    # a right answer in other words still has its label: the row's expected text
    labels = [None if c < 0 else cols.texts[c] for c in cols.predicted.tolist()]
    assert labels == [x["predicted"] for x in lines]
    distinct = {(x["row"], x["outcome"], x["got"], x["error"]) for x in lines
                if x["outcome"] != "correct"}  # fmt: skip
    assert a_new.wrong_total == len(distinct)
    assert a_new.replays.requests == len(lines)


def test_free_text_analysis_of_a_format2_folder_equals_the_old_one(tmp_path: Path) -> None:
    summary = fixture_summary()
    summary["classes"] = []
    summary["run"]["scoring"] = {"kind": "exact"}
    old, new, lines = pair(tmp_path, "run", summary, seed=3)
    a_old, a_new = analyse_run(old, summary), analyse_run(new, summary)
    assert a_new.model_dump() == a_old.model_dump()
    cols = read_columns(new, stage_users(summary))
    answers = [x["got"] for x in lines]
    assert [None if c < 0 else cols.texts[c] for c in cols.got.tolist()] == answers
    assert (cols.predicted == -1).all()  # free text has no predicted label


def test_a_format2_line_without_the_summary_users_reads_zero_users(tmp_path: Path) -> None:
    _, new, lines = pair(tmp_path, "run", fixture_summary())
    assert read_columns(new).users.tolist() == [0] * len(lines)
    partial = read_columns(new, {1: 8}).users
    assert partial.tolist() == [0 if x["stage"] == 0 else 8 for x in lines]


def test_compare_of_format2_folders_equals_the_old_ones(tmp_path: Path) -> None:
    summary = fixture_summary()
    base_old, base_new, _ = pair(tmp_path, "base", summary, seed=1)
    new_old, new_new, _ = pair(tmp_path, "new", summary, seed=2)
    c_old = compare_folders(base_old, new_old)
    c_new = compare_folders(base_new, new_new)
    assert c_old.mode == "paired" and c_old.flips
    assert c_new == c_old
    mixed = compare_folders(base_old, new_new)  # an old folder against a new one
    assert mixed.flips == c_old.flips and mixed.flip_counts == c_old.flip_counts
    r_old, r_new = load_run(base_old), load_run(base_new)
    assert r_old.rows is not None and r_new.rows is not None
    for field in ("key", "expected", "slices", "answer", "failure"):
        assert getattr(r_new.rows, field) == getattr(r_old.rows, field), field
    for field in ("row", "correct", "requests"):
        assert getattr(r_new.rows, field).tolist() == getattr(r_old.rows, field).tolist()
    assert r_new.latency_us is not None and r_old.latency_us is not None
    assert r_new.latency_us.tolist() == r_old.latency_us.tolist()
    assert (r_new.requests, r_new.failed) == (r_old.requests, r_old.failed)


def test_compare_reads_a_format2_file_with_an_odd_line_line_by_line(tmp_path: Path) -> None:
    _, new, lines = pair(tmp_path, "run", fixture_summary())
    whole = load_run(new)
    path = new / "results.jsonl"
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*text[:5], '{"row": 3, "t": 5, "outcome": "?"}\n', *text[5:]]))
    odd = load_run(new)  # a line without latency_us: counted as a request, nothing else
    assert odd.rows is not None and whole.rows is not None
    assert odd.requests == len(lines) + 1
    by_key = dict(zip(whole.rows.key, whole.rows.correct.tolist(), strict=True))
    assert dict(zip(odd.rows.key, odd.rows.correct.tolist(), strict=True)) == by_key
    path.write_text("".join([*text[:5], "not json\n", *text[5:]]))
    with pytest.raises(InputError, match=r"results.jsonl:6: not valid JSON"):
        load_run(new)


def test_compare_of_a_format2_folder_without_rows_file_keys_by_row_index(tmp_path: Path) -> None:
    _, new, lines = pair(tmp_path, "run", fixture_summary(), rows_file=False)
    run = load_run(new)
    assert run.rows is not None and run.requests == len(lines)
    assert set(run.rows.key) == {f"#{x['row']}" for x in lines}


def test_capacity_step_reads_format2_lines_like_the_old_ones(tmp_path: Path) -> None:
    old, new, lines = pair(tmp_path, "step", fixture_summary())
    got = read_requests(new / "results.jsonl")
    assert got == read_requests(old / "results.jsonl")
    assert [(r.t, r.outcome, r.latency_us) for r in got] == [
        (x["t"], x["outcome"], x["latency_us"]) for x in lines
    ]


def test_broken_format2_lines_are_left_out_and_the_rest_still_reads(tmp_path: Path) -> None:
    summary = fixture_summary()
    _, new, lines = pair(tmp_path, "run", summary)
    whole = analyse_run(new, summary)
    text = (new / "results.jsonl").read_text().splitlines(keepends=True)
    text[7:7] = ['{"row": 1, "outcome": "nonsense", "t": 1, "latency_us": 5, "stage": 0}\n',
                 '{"broken\n', "\n"]  # fmt: skip
    (new / "results.jsonl").write_text("".join(text))
    cols = read_columns(new, stage_users(summary), classification=True)
    assert cols.bad_lines == 2 and cols.n == len(lines)
    assert analyse_run(new, summary).model_dump(exclude={"notes"}) == whole.model_dump(
        exclude={"notes"}
    )


def test_analysis_of_a_format2_folder_without_rows_file_counts_every_request(
    tmp_path: Path,
) -> None:
    summary = fixture_summary()
    _, new, lines = pair(tmp_path, "run", summary, rows_file=False)
    a = analyse_run(new, summary)
    assert a.replays.requests == len(lines)
    assert a.replays.unique_rows == len({x["row"] for x in lines})
    assert any("rows.jsonl" in n for n in a.notes)


def test_a_cut_rows_file_keeps_every_request_and_the_rows_it_has(tmp_path: Path) -> None:
    summary = fixture_summary()
    _, new, lines = pair(tmp_path, "run", summary)
    kept = (new / "rows.jsonl").read_text().splitlines(keepends=True)[:100]
    (new / "rows.jsonl").write_text("".join(kept))
    cols = read_columns(new, stage_users(summary), classification=True)
    assert cols.n == len(lines) and cols.rows.keys() == {x["row"] for x in lines}
    known = [i for i, x in enumerate(lines) if x["row"] < 100 and x["outcome"] == "correct"]
    labels = [cols.texts[cols.predicted[i]] for i in known]
    assert labels == [lines[i]["expected"] for i in known]  # joined where rows.jsonl has it
    assert cols.rows[150].id == "150"  # a row it lacks is named by its number
