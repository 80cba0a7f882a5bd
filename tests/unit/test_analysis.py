"""The error analysis (``stagecheck.analysis.analyse_run``) on run folders written here with
known answers: planted errors must be found, ranked first and called significant; noise must
not be; every count must match what was planted."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from reporting.analysis_text import analysis_console_lines, analysis_markdown
from reporting.html.analysis import render_analysis_html
from stagecheck import stats
from stagecheck.analysis import Analysis, analyse_run, answers
from stagecheck.analysis.load import bin_width

pytestmark = pytest.mark.unit

T0 = 1_900_000_000.0
LABELS = ["billing", "refund", "shipping", "cancel"]


def make_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    channels, langs = ("chat", "email", "voice", "app"), ("en", "de")
    return [
        {
            "row": i,
            "id": f"r{i:04d}",
            "input": "word " * rng.randint(2, 60),
            "expected": LABELS[i % 4],
            "slices": {"channel": channels[(i // 4) % 4], "lang": langs[(i // 16) % 2]},
        }
        for i in range(n)
    ]


def request(row: dict[str, Any], t: float, outcome: str = "correct", got: str | None = None,
            predicted: str | None = None, latency_us: int = 20_000, stage: int = 0,
            users: int = 4, error: str | None = None) -> dict[str, Any]:  # fmt: skip
    if outcome == "correct":
        got = predicted = row["expected"]
    return {"row": row["row"], "id": row["id"], "expected": row["expected"],
            "slices": row["slices"], "t": T0 + t, "outcome": outcome, "got": got,
            "predicted": predicted, "latency_us": latency_us, "lag_us": 0, "stage": stage,
            "users": users, "error": error}  # fmt: skip


def wrong(row: dict[str, Any], t: float, **kw: Any) -> dict[str, Any]:
    other = LABELS[(LABELS.index(row["expected"]) + 1) % 4]
    return request(row, t, "incorrect", got=other, predicted=other, **kw)


def write_run(tmp: Path, rows: list[dict[str, Any]], results: list[dict[str, Any]],
              classification: bool = True, thresholds: list[dict[str, Any]] | None = None,
              duration: float | None = None) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "rows.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (tmp / "results.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in results))
    started = datetime.fromtimestamp(T0, timezone.utc).isoformat().replace("+00:00", "Z")
    span = duration if duration is not None else max(r["t"] for r in results) - T0 + 0.5
    summary = {
        "run": {"started_at": started, "duration_s": span,
                "scoring": {"kind": "label" if classification else "exact"}},
        "classes": [{"label": x, "support": 1} for x in LABELS] if classification else [],
        "thresholds": thresholds or [],
        "stages": [{"index": 0, "name": "steady"}],
    }  # fmt: skip
    return tmp, summary


def test_planted_slice_is_ranked_first_and_significant(tmp_path: Path) -> None:
    rows = make_rows(400)
    results = []
    for r in rows:
        planted = r["slices"]["channel"] == "email" and r["row"] % 2 == 0  # 50 % wrong in email
        noise = r["row"] % 20 == 3  # 5 % wrong everywhere
        results.append(wrong(r, r["row"] * 0.1) if planted or noise else request(r, r["row"] * 0.1))
    a = analyse_run(*write_run(tmp_path, rows, results))
    top = a.concentrations[0]
    assert top.group == {"channel": "email"} and top.significant and not top.thin
    email = [x for x in results if x["slices"]["channel"] == "email"]
    correct = sum(x["outcome"] == "correct" for x in email)
    assert top.requests == top.scored == len(email)
    assert top.accuracy == pytest.approx(correct / len(email))
    rest_correct = sum(x["outcome"] == "correct" for x in results) - correct
    assert top.rest_accuracy == pytest.approx(rest_correct / (len(results) - len(email)))
    assert top.p_value == pytest.approx(
        stats.proportion_p(correct, len(email), rest_correct, len(results) - len(email))
    )
    assert top.accuracy_ci == pytest.approx(stats.wilson(correct, len(email)))
    # Holm over every group compared, in the analysis's own order
    assert [c.p_adjusted for c in a.concentrations] == pytest.approx(
        stats.holm([c.p_value for c in a.concentrations])
    )
    # every significant group involves email; the other channels are not worse
    assert all("email" in c.label for c in a.concentrations if c.significant)
    for c in a.concentrations:
        if c.group in ({"channel": "chat"}, {"channel": "voice"}, {"channel": "app"}):
            assert not c.significant and c.accuracy > c.rest_accuracy
    # ranked: significant ones first, by adjusted p
    flags = [c.significant for c in a.concentrations]
    assert flags == sorted(flags, reverse=True)
    sig = [c.p_adjusted for c in a.concentrations if c.significant]
    assert sig == sorted(sig)
    kinds = {c.kind for c in a.concentrations}
    assert kinds == {"slice", "cross", "length", "class"}
    crosses = [c for c in a.concentrations if c.kind == "cross"]
    assert crosses and all(c.scored >= 10 for c in crosses)
    # wrong-answer samples of the top group are email rows, each once
    assert top.samples and all(rows[s.row]["slices"]["channel"] == "email" for s in top.samples)
    assert len({s.row for s in top.samples}) == len(top.samples)
    lines = analysis_console_lines(a)
    assert any("channel=email" in line for line in lines)


def test_uniform_noise_has_nothing_significant_after_holm(tmp_path: Path) -> None:
    rng = random.Random(42)
    rows = make_rows(200)
    results = [
        request(r, i * 0.05) if rng.random() < 0.85 else wrong(r, i * 0.05)
        for i, r in enumerate(rows * 10)
    ]
    a = analyse_run(*write_run(tmp_path, rows, results))
    assert a.concentrations and not any(c.significant for c in a.concentrations)
    assert any("No group is significantly worse" in line for line in analysis_console_lines(a))


def test_off_label_answers_are_counted_with_a_hint(tmp_path: Path) -> None:
    rows = make_rows(100)
    results = []
    for r in rows:
        if r["row"] < 70:
            text = f"The customer's intent is {r['expected']}"
            results.append(request(r, r["row"], "incorrect", got=text, predicted=text.lower()))
        else:
            results.append(request(r, r["row"]))
    results.append(request(rows[0], 100.0, "incorrect", got=LABELS[1], predicted=LABELS[1]))
    a = analyse_run(*write_run(tmp_path, rows, results))
    ol = a.off_label
    assert ol is not None and ol.count == 70 and ol.answers == 101
    assert ol.share == pytest.approx(70 / 101)
    assert ol.hint is not None and "extract: contains-label" in ol.hint
    assert "extract: regex" in ol.hint and "pattern" in ol.hint
    # one example per distinct answer, ×N: four sentences, one per label
    assert len(ol.examples) == 4 and sum(x.count for x in ol.examples) == 70
    for x in ol.examples:
        assert x.got == f"The customer's intent is {x.expected}"
        assert x.count == sum(1 for r in rows[:70] if r["expected"] == x.expected)
    other = [c for c in a.confusions if c.predicted == "(other)"]
    assert sum(c.count for c in other) == 70
    billing = next(c for c in other if c.expected == "billing")
    assert billing.share_of_expected == pytest.approx(
        billing.count / sum(1 for x in results if x["expected"] == "billing")
    )
    assert any("hint:" in line for line in analysis_console_lines(a))


def test_few_off_label_answers_give_no_hint_and_exact_scoring_has_none(tmp_path: Path) -> None:
    rows = make_rows(40)
    results = [request(r, r["row"]) for r in rows]
    results[3] = request(rows[3], 3, "incorrect", got="dunno", predicted="dunno")
    a = analyse_run(*write_run(tmp_path / "label", rows, results))
    assert a.off_label is not None and a.off_label.count == 1 and a.off_label.hint is None
    b = analyse_run(*write_run(tmp_path / "exact", rows, results, classification=False))
    assert b.off_label is None and b.confusions == []
    assert not any(c.kind == "class" for c in b.concentrations)


def test_wrong_answers_deduplicated_with_counts(tmp_path: Path) -> None:
    rows = make_rows(20)
    results = [request(r, r["row"]) for r in rows]
    results += [wrong(rows[5], 30 + i, latency_us=10_000 * (i + 1)) for i in range(3)]
    results.append(request(rows[5], 40, "http_error", error="HTTP 503: POST /predict busy"))
    a = analyse_run(*write_run(tmp_path, rows, results))
    assert a.wrong_total == 2
    first = a.wrong[0]
    assert (first.row, first.outcome, first.count, first.latency_us) == (5, "incorrect", 3, 30_000)
    assert first.predicted == first.got == LABELS[(LABELS.index(rows[5]["expected"]) + 1) % 4]
    assert a.wrong[1].outcome == "http_error" and a.wrong[1].error == "HTTP 503: POST /predict busy"
    assert a.replays.unique_rows == 20 and a.replays.requests == 24
    assert a.replays.factor == pytest.approx(24 / 20)
    confusion = a.confusions[0]
    assert confusion.count == 3 and confusion.samples[0].count == 3


def test_wrong_answers_are_capped_honestly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(answers, "MAX_WRONG", 10)
    rows = make_rows(30)
    a = analyse_run(*write_run(tmp_path, rows, [wrong(r, r["row"]) for r in rows]))
    assert len(a.wrong) == 10 and a.wrong_total == 30
    assert any("30 distinct wrong answers" in n for n in a.notes)


def test_consistency_flags_exactly_the_planted_rows(tmp_path: Path) -> None:
    rows = make_rows(30)
    results = []
    for p in range(3):
        for r in rows:
            if r["row"] in (5, 7) and p == 1:
                results.append(wrong(r, p * 30 + r["row"]))
            elif r["row"] == 9 and p == 2:
                results.append(
                    request(
                        r,
                        p * 30 + r["row"],
                        "unparseable",
                        got="",
                        predicted="(unparseable)",
                        error="unparseable: empty",
                    )
                )
            else:
                results.append(request(r, p * 30 + r["row"]))
    results.append(request(rows[11], 95, "timeout", error="timeout: 10s"))  # no answer: ignored
    a = analyse_run(*write_run(tmp_path, rows, results))
    c = a.consistency
    assert c is not None and c.rows_repeated == 30 and c.rows_inconsistent == 3
    assert {x.row for x in c.examples} == {5, 7, 9}
    five = next(x for x in c.examples if x.row == 5)
    assert sorted(n for _, n in five.answers) == [1, 2]
    assert c.share == pytest.approx(3 / 30)
    # text answers (exact scoring): case and spacing do not make an answer different
    results = [request(r, r["row"], "incorrect", got=g, predicted=None)
               for r in rows[:2] for g in ("Hello  World", "hello world")]  # fmt: skip
    results += [
        request(rows[2], 3, "incorrect", got="a"),
        request(rows[2], 4, "incorrect", got="b"),
    ]
    b = analyse_run(*write_run(tmp_path / "text", rows, results, classification=False))
    assert b.consistency is not None and b.consistency.rows_repeated == 3
    assert [x.row for x in b.consistency.examples] == [2]


def test_goodput_uses_the_tightest_latency_threshold(tmp_path: Path) -> None:
    rows = make_rows(50)
    results = [request(r, r["row"] * 0.2, latency_us=(r["row"] % 5 + 1) * 40_000) for r in rows]
    results[0] = wrong(rows[0], 0, latency_us=1_000)
    thresholds = [
        {"expression": "latency.p99 < 300ms", "metric": "latency.p99", "op": "<", "target": 0.3},
        {"expression": "latency.p50 < 100ms", "metric": "latency.p50", "op": "<", "target": 0.1},
        {"expression": "accuracy >= 0.9", "metric": "accuracy", "op": ">=", "target": 0.9},
    ]
    a = analyse_run(*write_run(tmp_path, rows, results, thresholds=thresholds, duration=10.0))
    expected = sum(1 for x in results if x["outcome"] == "correct" and x["latency_us"] <= 100_000)
    g = a.goodput
    assert g is not None and g.latency_bound_s == 0.1 and "latency.p50 < 100ms" in g.source
    assert g.requests == expected and g.per_s == pytest.approx(expected / 10.0)
    b = analyse_run(*write_run(tmp_path / "none", rows, results, duration=10.0))
    assert b.goodput is not None and b.goodput.latency_bound_s is None
    assert b.goodput.requests == 49 and "every correct answer" in b.goodput.source


def test_failures_by_cause_with_times_and_errors(tmp_path: Path) -> None:
    rows = make_rows(20)
    results = [request(r, r["row"]) for r in rows]
    results += [request(rows[i], 5 + i, "http_error", error="HTTP 503: POST /v1/chat overloaded")
                for i in range(3)]  # fmt: skip
    results.append(
        request(rows[4], 12.5, "http_error", error="HTTP 404: POST /v2/models/x not found")
    )
    results += [request(rows[1], 8, "timeout", error="timeout: no answer in 10s"),
                request(rows[1], 9, "timeout", error="timeout: no answer in 10s")]  # fmt: skip
    a = analyse_run(*write_run(tmp_path, rows, results))
    by = {f.cause: f for f in a.failures}
    assert set(by) == {"HTTP 503", "HTTP 404", "timeout"}
    assert [f.cause for f in a.failures][0] == "HTTP 503"
    assert (by["HTTP 503"].count, by["HTTP 503"].first_s, by["HTTP 503"].last_s) == (3, 5, 7)
    assert by["HTTP 404"].errors == [("HTTP 404: POST /v2/models/x not found", 1)]
    assert by["timeout"].examples[0].row == 1 and by["timeout"].examples[0].count == 2
    md = analysis_markdown(a)
    assert "#### Failures by cause" in md and "HTTP 404: POST /v2/models/x not found" in md


def test_timeline_and_load_levels_add_up(tmp_path: Path) -> None:
    rows = make_rows(100)
    results = [request(r, i * 0.3, latency_us=1000 + i, stage=i // 150, users=4 * (1 + i // 150))
               for i, r in enumerate(rows * 3)]  # fmt: skip
    results[10] = wrong(rows[10], 3.0)
    a = analyse_run(*write_run(tmp_path, rows, results, duration=90.0))
    tl = a.timeline
    assert tl is not None and tl.bin_s == 1.0 and len(tl.bins) == 90
    assert sum(b.requests for b in tl.bins) == len(results)
    assert sum(b.incorrect for b in tl.bins) == 1 and tl.bins[3].incorrect == 1
    first = [x["latency_us"] for x in results if x["t"] - T0 < 1.0]
    assert tl.bins[0].requests == len(first) and tl.bins[0].p50_us == sorted(first)[1]
    users = [x for x in a.load if x.kind == "users"]
    assert [x.label for x in users] == ["4 users", "8 users"]
    assert [x.requests for x in users] == [150, 150]
    latency = [x for x in a.load if x.kind == "latency"]
    assert sum(x.requests for x in latency) == len(results)
    assert [bin_width(d) for d in (5, 119, 300, 3600, 86400)] == [1, 1, 5, 30, 900]


def test_read_is_lenient_with_older_and_partial_files(tmp_path: Path) -> None:
    rows = make_rows(40)
    a = analyse_run(*write_run(tmp_path, rows, [wrong(r, r["row"]) for r in rows]))
    raw = json.loads(a.model_dump_json())
    assert Analysis.read(raw) == a
    raw["from_the_future"] = {"x": 1}
    raw["replays"]["new_field"] = 2
    raw["concentrations"][0]["new_field"] = 3
    raw["concentrations"][1]["accuracy"] = "not a number"  # one broken entry is dropped
    raw["goodput"] = {"requests": "?"}  # a broken section falls back to its default
    back = Analysis.read(raw)
    assert back is not None and back.replays == a.replays
    assert len(back.concentrations) == len(a.concentrations) - 1
    assert back.concentrations[0] == a.concentrations[0] and back.goodput is None
    assert back.wrong == a.wrong
    assert Analysis.read({"concentrations": []}) is None and Analysis.read(None) is None


def test_an_older_run_folder_without_rows_file_still_analyses(tmp_path: Path) -> None:
    rows = make_rows(20)
    run_dir, summary = write_run(tmp_path, rows, [wrong(r, r["row"]) for r in rows])
    (run_dir / "rows.jsonl").unlink()
    with (run_dir / "results.jsonl").open("ab") as f:
        f.write(b'{"row": 1, "outcome": "nonsense"}\n{"broken\n')
    a = analyse_run(run_dir, summary)
    assert a.replays.requests == 20 and a.wrong_total == 20
    assert a.wrong[0].expected == rows[a.wrong[0].row]["expected"]
    assert any("rows.jsonl" in n for n in a.notes) and any("2 unreadable" in n for n in a.notes)


def test_renderers_escape_and_mark_thin_and_significant(tmp_path: Path) -> None:
    rows = make_rows(400)
    rows[2]["input"] = "<script>alert(1)</script> " + "x" * 500
    results = [wrong(r, r["row"]) if r["slices"]["channel"] == "email" and r["row"] % 2 == 0
               else request(r, r["row"]) for r in rows]  # fmt: skip
    results.append(request(rows[2], 401, "incorrect", got="<b>bold</b>", predicted="<b>bold</b>"))
    a = analyse_run(*write_run(tmp_path, rows, results))
    html = render_analysis_html(a)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>bold</b>" not in html
    assert 'id="concentrations"' in html and 'class="pill bad"' in html and ">thin<" in html
    assert "x" * 300 not in html  # inputs are excerpts
    md = analysis_markdown(a)
    assert "### Why is it wrong?" in md and "| channel=email |" in md and "<script>" not in md
    assert render_analysis_html(None) == "" and analysis_markdown(None) == ""
    assert analysis_console_lines(None) == []


def test_latency_buckets_merge_where_percentiles_tie(tmp_path: Path) -> None:
    rows = make_rows(200)
    same = [request(r, r["row"] * 0.1) for r in rows]  # every latency 20 ms
    a = analyse_run(*write_run(tmp_path / "same", rows, same))
    assert [(x.label, x.requests) for x in a.load] == [("all (min–max)", 200)]
    slow = [request(r, r["row"] * 0.1, latency_us=1000 if r["row"] < 150 else 9000) for r in rows]
    b = analyse_run(*write_run(tmp_path / "two", rows, slow))
    assert [(x.label, x.requests) for x in b.load] == [
        ("< 9.0 ms (min–p90)", 150),
        ("≥ 9.0 ms (p90–max)", 50),
    ]
