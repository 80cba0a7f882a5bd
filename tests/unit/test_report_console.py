"""The end-of-run terminal summary: content, order, and its size limits on odd runs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import fmt, render_console, render_html, render_markdown

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


@pytest.fixture
def summary() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _check_shape(text: str) -> list[str]:
    lines = text.splitlines()
    assert len(lines) <= 60
    assert max(len(line) for line in lines) <= 100
    assert "\x1b" not in text
    return lines


def _outcome_share(summary: dict[str, Any], outcome: str) -> str:
    return fmt.percent(summary["requests"]["by_outcome"][outcome] / summary["requests"]["total"])


def test_fixture_has_every_part(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    _check_shape(text)
    run, requests = summary["run"], summary["requests"]
    assert run["scenario"] in text and run["endpoint"]["url"] in text
    stages = run["load"]["stages"]
    max_users = max(stage["users"] for stage in stages)
    assert f"{len(stages)} stages, up to {max_users} users for {run['duration_s']:.1f}s" in text
    failed = [t["expression"] for t in summary["thresholds"] if not t["passed"]]
    assert failed and "FAILED" in text and ", ".join(failed) in text
    for outcome, n in requests["by_outcome"].items():
        if outcome == "unfinished" and not n:  # shown only when a request was left open
            assert "unfinished" not in text
            continue
        share = _outcome_share(summary, outcome)
        assert re.search(rf"{outcome}\s+{n:,}\s+{re.escape(share)}", text), outcome
    assert requests["by_cause"]
    for cause, n in requests["by_cause"].items():
        assert f"{cause} ×{n:,}" in text, cause
    assert fmt.rate(summary["throughput"]["requests_per_s"]) in text
    e2e = summary["latency"]["e2e"]
    keys = ("p50_us", "p90_us", "p95_us", "p99_us", "p99_9_us", "max_us", "mean_us")
    figures = r"\s+".join(re.escape(fmt.ms(e2e[k])) for k in keys)
    assert re.search(rf"end-to-end\s+{figures}\s+{e2e['count']:,}", text)
    for timing in ("ttft", "itl"):
        p50 = fmt.ms(summary["latency"][timing]["p50_us"])
        assert re.search(rf"{timing}\s+{re.escape(p50)}", text), timing
    quality = summary["quality"]
    assert f"accuracy {quality['accuracy']:.4f}" in text
    assert f"macro-F1 {quality['f1_macro']:.4f}" in text
    assert f"weighted-F1 {quality['f1_weighted']:.4f}" in text


def test_thresholds_in_human_units(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    assert {t["passed"] for t in summary["thresholds"]} == {True, False}  # both marks are seen
    for t in summary["thresholds"]:
        observed = fmt.quantity(t["observed"], t["unit"])  # its golden values: test_report_load
        mark = "✓" if t["passed"] else "✗"
        line = rf"{re.escape(t['expression'])}\s+observed {re.escape(observed)}\s+{mark}"
        assert re.search(line, text), t["expression"]


def test_classes_worst_f1_first_and_slices_worst_accuracy_first(summary: dict[str, Any]) -> None:
    del summary["analysis"]  # a run from before the error analysis lists its slices
    text = render_console(summary)
    per_class = text[text.index("Per class") : text.index("Where it is worst")]
    worst_first = sorted(summary["classes"], key=lambda c: c["f1"])
    positions = [per_class.index(f"  {c['label']} ") for c in worst_first]
    assert positions == sorted(positions)
    worst = text[text.index("Where it is worst") :]
    worst = worst[: worst.index("\n\n")]
    slices = sorted(summary["slices"], key=lambda s: s["quality"]["accuracy"])
    names = [f"{s['field']}={s['value']}" for s in slices]
    order = [worst.index(name + " ") for name in names]
    assert order == sorted(order)
    first = slices[0]
    accuracy = fmt.percent(first["quality"]["accuracy"], 2)
    errors = fmt.percent(first["error_rate"], 2)
    assert re.search(
        rf"{re.escape(names[0])}\s+accuracy\s+{re.escape(accuracy)}\s+error rate\s+"
        rf"{re.escape(errors)}\s+{first['requests']:,} requests",
        worst,
    )


def test_several_stages_have_a_stage_block_but_one_does_not(summary: dict[str, Any]) -> None:
    text = render_console(summary)
    stages = summary["stages"]
    assert len(stages) >= 2 and "Stages" in text
    block = text[text.index("Stages") :]
    for stage in stages:
        assert re.search(rf"{stage['index']} {re.escape(stage['name'])}\s+{stage['users']} users",
                         block), stage["name"]  # fmt: skip
    summary["stages"] = stages[:1]
    text = render_console(summary)
    _check_shape(text)
    assert "Stages" not in text


def test_no_quality_and_no_streaming(summary: dict[str, Any]) -> None:
    summary["quality"] = None
    summary["classes"] = []
    summary["confusion"] = None
    summary["run"]["scoring"]["kind"] = "exact"
    del summary["latency"]["ttft"], summary["latency"]["itl"]
    # ... and no threshold on them: a run that is not a stream has none to judge
    summary["thresholds"] = [
        t for t in summary["thresholds"] if t["metric"].split(".")[0] not in ("ttft", "itl")
    ]
    text = render_console(summary)
    _check_shape(text)
    assert "Per class" not in text
    assert "ttft" not in text and "itl" not in text
    # Accuracy still shows, from the outcome counts.
    assert "correct / answered" in text and "macro-F1" not in text


def test_zero_requests_invalid_run() -> None:
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run": {"scenario": "empty", "endpoint": {"url": "http://127.0.0.1:9"}},
        "validity": {"valid": False, "reasons": ["no request completed", "endpoint unreachable"]},
        "verdict": "invalid",
        "requests": {"total": 0, "by_outcome": {}, "error_rate": None},
        "throughput": {"requests_per_s": 0.0},
        "latency": {"e2e": {"count": 0}},
        "quality": None,
        "thresholds": [
            {
                "expression": "accuracy >= 0.9",
                "unit": "",
                "op": ">=",
                "target": 0.9,
                "observed": None,
                "passed": False,
            },
        ],
    }
    text = render_console(summary)
    _check_shape(text)
    assert "INVALID" in text and "endpoint unreachable" in text
    assert "no requests were made" in text
    assert "observed n/a" in text


def test_long_lists_are_cut(summary: dict[str, Any]) -> None:
    del summary["analysis"]
    summary["classes"] = [
        {"label": f"class-{i:02d}-" + "x" * 80, "support": i, "f1": i / 50} for i in range(40)
    ]
    summary["slices"] = [
        {"field": "f", "value": f"v{i}", "requests": 10, "by_outcome": {"correct": i}}
        for i in range(30)
    ]
    summary["run"]["endpoint"]["url"] = "http://staging.example/" + "p" * 200
    text = render_console(summary)
    _check_shape(text)
    assert "more classes in report.html" in text and "more slices in report.html" in text


def _classes(n: int) -> list[dict[str, Any]]:
    return [
        {"label": f"class-{i:02d}", "support": 10, "precision": 0.9, "recall": 0.9, "f1": i / 20}
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [10, 12])
def test_up_to_twelve_classes_are_all_listed(summary: dict[str, Any], n: int) -> None:
    summary["classes"] = _classes(n)
    text = render_console(summary)
    _check_shape(text)
    assert all(f"class-{i:02d}" in text for i in range(n))
    assert "more classes" not in text


def test_more_than_twelve_classes_are_cut_to_the_worst(summary: dict[str, Any]) -> None:
    summary["classes"] = _classes(13)
    text = render_console(summary)
    _check_shape(text)
    assert "class-07" in text and "class-08" not in text
    assert "… 5 more classes in report.html" in text


def test_exact_pass_in_the_load_line(summary: dict[str, Any]) -> None:
    # The fixture's run has stages; an exact pass is a closed-loop users run: made one here.
    summary["run"]["load"].update(mode="users", users=8, spawn_rate=4.0, stages=[])
    duration = f"{summary['run']['duration_s']:.1f}s"
    load = [line for line in render_console(summary).splitlines() if line.startswith("load")]
    factor = summary["analysis"]["replays"]["factor"]
    replays = f"each row sent {factor:.1f} times on average"
    assert load == [f"load      8 users (spawn 4/s) for {duration} · {replays}"]
    summary["run"]["load"]["exact_pass"] = True
    summary["run"]["dataset"]["passes"] = 1
    load = [line for line in render_console(summary).splitlines() if line.startswith("load")]
    assert load == [f"load      8 users (spawn 4/s) for {duration} · exact pass: every row once"]


def test_target_resources_line_and_its_absence(summary: dict[str, Any]) -> None:
    target = summary["target"]  # the demo's own /metrics, sampled during the real run
    assert target["samples"] > 0
    memory = f"memory {target['memory_bytes_max'] / 1e6:.1f} MB max"
    text = render_console(summary)
    assert (
        f"Target    CPU {target['cpu_percent_mean']:.0f}% mean, {target['cpu_percent_max']:.0f}% "
        f"max (100% = one core) · {memory} · {target['samples']} readings"
    ) in text
    assert memory in render_markdown(summary)
    assert 'id="target"' in render_html(summary)
    without = copy.deepcopy(summary)
    without["target"] = None
    assert "Target" not in render_console(without)
    failing = copy.deepcopy(summary)
    failing["target"].update(samples=0, errors=3, last_error="URLError: refused",
                             cpu_percent_mean=None, cpu_percent_max=None,
                             memory_bytes_mean=None, memory_bytes_max=None)  # fmt: skip
    assert f"no readings from {target['metrics_url']} (3 failed: URLError: refused)" in (
        render_console(failing)
    )


def test_the_analysis_says_where_errors_concentrate_instead_of_listing_slices(
    summary: dict[str, Any],
) -> None:
    text = render_console(summary)
    _check_shape(text)
    assert "Where it is worst" not in text
    why = text[text.index("Why is it wrong?") :]
    why = why[: why.index("\n\n")]
    significant = [c for c in summary["analysis"]["concentrations"] if c["significant"]][:3]
    assert significant, "the fixture's run has a planted worse class and slice"
    positions = [why.index(fmt.truncate(c["label"], 40)) for c in significant]
    assert positions == sorted(positions)  # most significant first, as the analysis ranks them
    first = significant[0]
    assert fmt.percent(first["accuracy"]) in why and fmt.percent(first["rest_accuracy"]) in why
    top = summary["analysis"]["confusions"][0]
    assert f"{top['expected']} → {top['predicted']}: {top['count']:,}" in why
    for f in summary["analysis"]["failures"]:
        assert f"failed: {f['cause']} ×{f['count']:,}" in why
    r = summary["analysis"]["replays"]
    assert f"{r['dataset_rows']:,} rows ·" in text
    assert f" · each row sent {r['factor']:.1f} times on average\n" in text


def test_no_console_line_is_cut_mid_word(summary: dict[str, Any]) -> None:
    """Exact-pass runs showed ``n=68     p 0.0013 t…``: a thin group's row ran past the width and
    was cut mid-word. The row's label gives way instead; a long note is cut between words."""
    concentrations = summary["analysis"]["concentrations"]
    for c in concentrations[:3]:
        label = "complexity=complex × channel=voice_transcript × input ≥200 chars"
        c.update(significant=True, thin=True, scored=243, p_adjusted=5e-9, label=label)
    note = "the first note " + "word " * 30 + "the end of the first note"
    summary["notes"] = [note]
    lines = render_console(summary).splitlines()
    assert max(len(line) for line in lines) <= 100
    rows = [line for line in lines if "rest" in line and "n=243" in line]
    assert len(rows) == 3 and all(line.endswith("p <0.0001 thin") for line in rows), rows
    (shown,) = lines[lines.index("Notes") + 1 :]
    assert shown.endswith(" word…") and note.startswith(shown.removeprefix("  - ")[:-1])


def test_the_rates_and_replays_say_what_they_are(summary: dict[str, Any]) -> None:
    """``480 rows (×10.5)`` and ``answers 167.63/s`` were unexplained: said in words now."""
    text = render_console(summary)
    requests = text[text.index("Requests  ") :].splitlines()[0]
    sent, answered = (fmt.rate(summary["throughput"][k]) for k in ("requests_per_s",
                                                                   "answers_per_s"))  # fmt: skip
    assert f" · {sent} sent · {answered} answered (failures excluded) · " in requests
    r = summary["analysis"]["replays"]
    r.update(unique_rows=r["dataset_rows"] - 7, factor=1.0)
    assert f" · {r['unique_rows']:,} of {r['dataset_rows']:,} rows sent, once each\n" in (
        render_console(summary)
    )
    # a long run's large figures: still one line within the width, the words kept
    summary["requests"]["total"] = 123_456_789
    summary["throughput"].update(requests_per_s=12_345.678, answers_per_s=12_300.5)
    requests = render_console(summary).split("Requests  ")[1].splitlines()[0]
    assert "12345.68/s sent · 12300.50/s answered · error rate" in requests
    assert len("Requests  " + requests) <= 100
