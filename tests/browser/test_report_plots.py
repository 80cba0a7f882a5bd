"""report.html's plots and its table of every wrong answer, in Chromium, from a real run.

The module runs the demo endpoint and a three-stage run of the support-intents scenario through
the CLI once (about ten seconds), then opens its report in fresh offline contexts: the plots are
drawn with one series per figure the summary holds, the wrong-answers table filters and sorts as
a reader would use it (and reads without script), and nothing reaches the network or the
console. A hand-made summary checks what a real run does not produce on its own: a script in the
data, a table capped below the run's total.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
from stagecheck.reporting import fmt, write_reports
from tests.support import FAST, REPO, SCENARIOS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from .conftest import Visit

pytestmark = pytest.mark.browser

OpenPage = Callable[[Path], "Visit"]
PAYLOAD = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"
SCENARIO = f"""
name: plots-step
endpoint: {{url: http://127.0.0.1:1, protocol: openai-chat, model: intent-classifier}}
dataset:
  path: {SCENARIOS / "data" / "support_intents.jsonl"}
  input: text
  expected: label
  id: id
  slices: [complexity, channel]
  order: shuffle
scoring: {{kind: label}}
load:
  stages:
    - {{name: light, duration: 2s, users: 2}}
    - {{name: medium, duration: 2s, users: 4}}
    - {{name: heavy, duration: 2s, users: 8}}
thresholds: [accuracy >= 0.5]
"""


@dataclass(frozen=True)
class RunFolder:
    path: Path
    summary: dict[str, Any]

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    @property
    def wrong(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.summary["analysis"]["wrong"]
        return rows


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One real staged run: demo endpoint subprocess + ``stagecheck run`` subprocess."""
    base = tmp_path_factory.mktemp("plots")
    scenario = base / "step.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = base / "runs"
    proc, url = start_demo_subprocess(*FAST)
    try:
        cmd = [sys.executable, "-m", "stagecheck.cli", "run", str(scenario),
               "--set", f"endpoint.url={url}", "--out", str(out), "--quiet"]  # fmt: skip
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=90)
    finally:
        stop_demo_subprocess(proc)
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stderr[-3000:]}"
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary.get("analysis"), "the run wrote no error analysis"
    assert summary["analysis"]["wrong"], "the demo model made no mistake to browse"
    return RunFolder(folder, summary)


def _assert_clean(visit: Visit) -> None:
    assert visit.requests == [], "the report requested something over the network"
    assert visit.blocked == [], "the report tried to leave the machine"
    # A script refused by the CSP (a wrong hash) would be a console error here.
    assert visit.console_errors == []
    assert visit.page_errors == []


def _series(page: Page, sid: str) -> list[int]:
    return [
        int(s) for s in page.locator(f"#{sid} svg.chart").evaluate_all(
            "(els) => els.map((e) => e.dataset.series)"
        )
    ]  # fmt: skip


def _visible_rows(page: Page) -> int:
    return int(page.locator("#wrong-answers tbody tr:visible").count())


def _status(page: Page) -> str:
    return str(page.locator("#wrong-answers output").inner_text())


# The plots


def test_timeline_plots_one_column_per_interval_and_mark_stages(
    run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    timeline = run_folder.summary["analysis"]["timeline"]
    # Throughput (1 line), outcomes (4 layers), accuracy (1 line), p50/p90/p99 (3 lines).
    assert _series(page, "timeline") == [1, 4, 1, 3]
    charts = page.locator("#timeline svg.chart")
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100, box
    outcome_columns = charts.nth(1).locator("g > title")
    assert outcome_columns.count() == len(timeline["bins"])
    # Every stage starts at a dashed line, in every chart, labelled once with its name.
    stages = run_folder.summary["stages"]
    assert len(stages) == 3
    assert charts.nth(0).locator("line.marker").count() == len(stages)
    assert charts.nth(3).locator("line.marker").count() == len(stages)
    shown = charts.nth(0).locator("line.marker + text").all_text_contents()
    assert shown == [s["name"] for s in stages]
    # The aligned charts share one x axis: the same tick labels in the same places.
    ticks = charts.evaluate_all(
        "(svgs) => svgs.map((s) => [...s.querySelectorAll('text.xtick')]"
        ".map((t) => t.textContent + '@' + t.getAttribute('x')))"
    )
    assert all(t == ticks[0] for t in ticks) and ticks[0][0].startswith("0s@")
    _assert_clean(visit)


def test_distribution_on_a_nines_axis_one_line_per_timing(
    run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    timings = [k for k, v in run_folder.summary["latency"].items() if v.get("distribution")]
    assert _series(page, "distribution") == [len(timings)]
    ticks = page.locator("#distribution text.xtick").all_text_contents()
    assert ticks[:4] == ["0%", "90%", "99%", "99.9%"] and ticks[-1] == "max"
    # The dots' tooltips read as the latency table does: the max is the summary's max.
    e2e = run_folder.summary["latency"]["e2e"]
    tips = page.locator("#distribution circle > title").all_text_contents()
    assert f"end-to-end at max: {fmt.ms(e2e['max_us'])} ms" in tips
    assert f"end-to-end at p99: {fmt.ms(e2e['p99_us'])} ms" in tips
    _assert_clean(visit)


def test_stage_and_class_plots(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    assert _series(page, "stage-plots") == [1, 2]  # accuracy; p50 and p99
    dots = page.locator("#stage-plots svg").first.locator("circle")
    assert dots.count() == len(run_folder.summary["stages"])
    classes = run_folder.summary["classes"]
    labels = page.locator("#class-plots text.group > title").all_text_contents()
    worst_first = sorted(classes, key=lambda c: (c["f1"] is None, c["f1"] or 0.0, c["label"]))
    assert labels == [c["label"] for c in worst_first]
    assert page.locator("#class-plots rect.gbar").count() == 3 * len(classes)
    _assert_clean(visit)


# The wrong-answers table


def test_wrong_answers_filter_by_text_outcome_and_label(
    run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    wrong = run_folder.wrong
    assert _visible_rows(page) == len(wrong)
    assert _status(page) == f"{len(wrong):,} of {len(wrong):,} rows match"

    # By outcome, then by the expected label that is wrong most often.
    outcome, n_outcome = Counter(w["outcome"] for w in wrong).most_common(1)[0]
    page.select_option("#wrong-answers select[name=outcome]", outcome)
    assert _visible_rows(page) == n_outcome
    label = Counter(w["expected"] for w in wrong if w["outcome"] == outcome).most_common(1)[0][0]
    page.select_option("#wrong-answers select[name=expected]", label)
    both = sum(w["outcome"] == outcome and w["expected"] == label for w in wrong)
    assert _visible_rows(page) == both
    assert _status(page).startswith(f"{both:,} of ")
    page.select_option("#wrong-answers select[name=outcome]", "")
    page.select_option("#wrong-answers select[name=expected]", "")

    # By text: a slice value a reader would type, case-insensitively.
    field, value = sorted(wrong[0]["slices"].items())[0]
    page.fill("#wrong-answers input[name=q]", f"{field}={value}".upper())
    assert _visible_rows(page) == sum(w["slices"].get(field) == value for w in wrong)
    page.fill("#wrong-answers input[name=q]", "no answer contains this ¤¤")
    assert _visible_rows(page) == 0
    page.fill("#wrong-answers input[name=q]", "")
    assert _visible_rows(page) == len(wrong)
    _assert_clean(visit)


def test_wrong_answers_sort_by_count_and_latency(
    run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(run_folder.report)
    page = visit.page

    def column(key: str) -> list[int]:
        return [
            int(v) for v in page.locator("#wrong-answers tbody tr").evaluate_all(
                f"(rows) => rows.map((r) => r.dataset.{key})"
            )
        ]  # fmt: skip

    for key, header in (("count", "Count"), ("latency", "Latency ms")):
        button = page.get_by_role("button", name=header)
        button.click()
        assert column(key) == sorted(column(key), reverse=True), key
        th = page.locator(f"#wrong-answers th[data-sort={key}]")
        assert th.get_attribute("aria-sort") == "descending"
        button.click()
        assert column(key) == sorted(column(key)), key
        assert th.get_attribute("aria-sort") == "ascending"
    # Sorting keeps a filter: only the filtered rows stay visible.
    outcome = run_folder.wrong[0]["outcome"]
    page.select_option("#wrong-answers select[name=outcome]", outcome)
    page.get_by_role("button", name="Count").click()
    assert _visible_rows(page) == sum(w["outcome"] == outcome for w in run_folder.wrong)
    _assert_clean(visit)


def test_wrong_answers_read_without_script(run_folder: RunFolder, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(run_folder.report.resolve().as_uri(), wait_until="load")
        assert page.locator("#wrong-answers .filters").is_hidden()
        assert _visible_rows(page) == len(run_folder.wrong)
        first = run_folder.wrong[0]
        assert (
            page.locator("#wrong-answers tbody tr").first.locator(".sid").inner_text()
            == (first["id"])
        )
    finally:
        context.close()


def test_script_in_a_wrong_answer_is_shown_not_run(
    run_folder: RunFolder, open_page: OpenPage, tmp_path: Path
) -> None:
    summary = json.loads(json.dumps(run_folder.summary))
    analysis = summary["analysis"]
    analysis["wrong"][0]["input"] = PAYLOAD
    analysis["wrong"][0]["expected"] = PAYLOAD
    analysis["wrong_total"] = len(analysis["wrong"]) + 1000
    write_reports(tmp_path, summary)
    visit = open_page(tmp_path / "report.html")
    page = visit.page
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    table = page.locator("#wrong-answers")
    assert table.locator("tbody script, tbody img").count() == 0
    shown = len(analysis["wrong"])
    assert f"{shown:,} of {shown + 1000:,} shown" in table.locator("h2").inner_text()
    # The label with markup in it is a filter choice like any other, matched exactly.
    page.select_option("#wrong-answers select[name=expected]", PAYLOAD)
    assert _visible_rows(page) == 1
    assert table.get_by_text(PAYLOAD, exact=True).count() == 2  # input and expected cells
    _assert_clean(visit)


def test_report_screenshot(run_folder: RunFolder, open_page: OpenPage, tmp_path: Path) -> None:
    visit = open_page(run_folder.report)
    shot = tmp_path / "report.png"
    visit.page.set_viewport_size({"width": 1280, "height": 900})
    visit.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    _assert_clean(visit)
