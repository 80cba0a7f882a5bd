"""report.html in a real browser, as a person reads it, from a real run folder.

The module runs the demo endpoint and one exact pass over 200 rows through the CLI once (a few
seconds), then every test opens the report afresh in its own offline browser context and reads
what is displayed: figures are compared with summary.json as the page rounds them. The unit tests
check the HTML text; these check what Chromium makes of it (layout, escaping, no network).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
from stagecheck.reporting import write_reports
from tests.support import FAST, REPO

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from .conftest import Visit

pytestmark = pytest.mark.browser

SECTION_IDS = (
    "verdict",
    "thresholds",
    "requests",
    "latency",
    "classes",
    "confusion",
    "slices",
    "stages",
    "analysis",
    "timeline",
    "wrong-answers",
    "profile",
    "run",
)
PAYLOAD = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"

OpenPage = Callable[[Path], "Visit"]


@dataclass(frozen=True)
class RunFolder:
    path: Path
    summary: dict[str, Any]

    @property
    def report(self) -> Path:
        return self.path / "report.html"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One real run: demo endpoint subprocess + ``stagecheck run`` subprocess, exact pass."""
    out = tmp_path_factory.mktemp("runs")
    proc, url = start_demo_subprocess(*FAST)
    try:
        cmd = [
            sys.executable,
            "-m",
            "stagecheck.cli",
            "run",
            "scenarios/exact-pass.yaml",
            "--set",
            f"endpoint.url={url}",
            "--set",
            "dataset.limit=200",
            "--out",
            str(out),
            "--quiet",
        ]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    finally:
        stop_demo_subprocess(proc)
    # 0 passed, 1 a threshold failed: both leave a full run folder to look at.
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stderr[-3000:]}"
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return RunFolder(folder, summary)


@pytest.fixture(scope="module")
def older_run_folder(run_folder: RunFolder, tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """The same run as a run from before the error analysis: no ``analysis``, so the report
    shows its samples instead of the table of every wrong answer."""
    summary = json.loads(json.dumps(run_folder.summary))
    del summary["analysis"]
    folder = tmp_path_factory.mktemp("older") / run_folder.path.name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_reports(folder, summary)
    return RunFolder(folder, summary)


def _ms(us: float) -> str:
    # As the report shows latencies: milliseconds, 2 decimals below 100 ms, 1 above.
    value = us / 1000
    return f"{value:.2f}" if value < 100 else f"{value:.1f}"


def _frac(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _read_table(table: Locator) -> list[dict[str, str]]:
    """Rows of a report table as {header: cell text}, using the DOM text (not CSS-uppercased)."""
    header, rows = table.evaluate(
        """(t) => [
            [...t.querySelectorAll('thead th')].map((c) => c.textContent.trim()),
            [...t.querySelectorAll('tbody tr')].map(
                (r) => [...r.children].map((c) => c.textContent.trim())),
        ]"""
    )
    return [dict(zip(header, row, strict=True)) for row in rows]


def _percent(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    assert match, f"not a percentage: {text!r}"
    return float(match.group(1))


def _assert_clean(visit: Visit) -> None:
    assert visit.requests == [], "the report requested something over the network"
    assert visit.blocked == [], "the report tried to leave the machine"
    assert visit.console_errors == []
    assert visit.page_errors == []


def test_title_and_verdict_banner(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    page, summary = visit.page, run_folder.summary
    assert summary["run"]["scenario"] in page.title()
    banner = page.locator("#verdict")
    assert banner.is_visible()
    assert banner.locator("h1").inner_text().strip().lower() == summary["verdict"]
    assert summary["verdict"] in (banner.get_attribute("class") or "").split()
    _assert_clean(visit)


def test_every_threshold_shown_with_its_state(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    rows = _read_table(visit.page.locator("#thresholds table"))
    shown = {row["Threshold"]: row[""] for row in rows}
    expected = run_folder.summary["thresholds"]
    assert len(rows) == len(expected)
    for threshold in expected:
        mark = shown[threshold["expression"]][0]
        assert mark == ("✓" if threshold["passed"] else "✗"), threshold["expression"]
    _assert_clean(visit)


def test_class_table_matches_summary(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    rows = _read_table(visit.page.locator("#classes table"))
    classes = run_folder.summary["classes"]
    assert sorted(row["Class"] for row in rows) == sorted(c["label"] for c in classes)
    # The worst class is the one a reader looks at first: check its figures as displayed.
    worst = min(classes, key=lambda c: c["f1"] if c["f1"] is not None else -1.0)
    (row,) = [r for r in rows if r["Class"] == worst["label"]]
    assert row == {
        "Class": worst["label"],
        "Support": f"{worst['support']:,}",
        "Predicted": f"{worst['predicted']:,}",
        "Precision": _frac(worst["precision"]),
        "Recall": _frac(worst["recall"]),
        "F1": _frac(worst["f1"]),
    }
    _assert_clean(visit)


def test_confusion_matrix_has_a_row_per_expected_label(
    run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(run_folder.report)
    matrix = visit.page.locator("#confusion table")
    assert matrix.is_visible()
    row_heads = matrix.locator("tbody tr th").all_text_contents()
    expected_labels = [c["label"] for c in run_folder.summary["classes"]]
    assert sorted(row_heads) == sorted(expected_labels)
    # The diagonal holds the true positives of each class.
    tp = {c["label"]: c["tp"] for c in run_folder.summary["classes"]}
    for i, label in enumerate(row_heads):
        cell = matrix.locator("tbody tr").nth(i).locator("td").nth(i)
        assert cell.evaluate("(c) => c.firstChild.textContent") == f"{tp[label]:,}", label
    _assert_clean(visit)


def test_slices_show_complex_below_simple(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    rows = _read_table(visit.page.locator("#slices table"))
    accuracy = {f"{r['Slice']}={r['Value']}": _percent(r["Accuracy"]) for r in rows}
    assert accuracy["complexity=complex"] < accuracy["complexity=simple"]
    # Lowest first, as the section says.
    shown = [_percent(r["Accuracy"]) for r in rows]
    assert shown == sorted(shown)
    _assert_clean(visit)


def test_latency_chart_and_p99(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    chart = page.locator("#latency svg").first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    rows = _read_table(page.locator("#latency table"))
    (e2e,) = [r for r in rows if r["Timing (ms)"] == "end-to-end"]
    assert e2e["p99"] == _ms(run_folder.summary["latency"]["e2e"]["p99_us"])
    assert e2e["count"] == f"{run_folder.summary['latency']['e2e']['count']:,}"
    _assert_clean(visit)


def test_opens_offline_and_screenshots(
    run_folder: RunFolder, open_page: OpenPage, tmp_path: Path
) -> None:
    visit = open_page(run_folder.report)
    page: Page = visit.page
    for sid in SECTION_IDS:
        assert page.locator(f"section#{sid}").is_visible(), sid
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    _assert_clean(visit)


def test_script_in_a_sample_is_shown_not_run(
    run_folder: RunFolder, open_page: OpenPage, tmp_path: Path
) -> None:
    summary = json.loads(json.dumps(run_folder.summary))
    assert summary["samples"], "the run kept no sample to tamper with"
    summary["samples"][0]["input"] = PAYLOAD + " " + summary["samples"][0]["input"]
    wrong = summary["analysis"]["wrong"][0]
    wrong["input"] = PAYLOAD + " " + wrong["input"]
    folder = tmp_path / run_folder.path.name
    folder.mkdir()
    shutil.copy(run_folder.path / "summary.json", folder / "summary.json")
    write_reports(folder, summary)

    visit = open_page(folder / "report.html")
    page = visit.page
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    # The page's CSP would stop the script even if escaping failed (and log a console error):
    # the DOM itself shows the input was escaped, not just defused.
    samples = page.locator("#wrong-answers")  # the table of every wrong answer
    assert samples.locator("img").count() == 0
    scripts = samples.locator("script").evaluate_all("(els) => els.map((e) => e.textContent)")
    assert not any("__pwned" in text for text in scripts)  # only the table's own filter
    shown = samples.get_by_text(PAYLOAD, exact=False)
    assert shown.count() == 1
    assert shown.is_visible()
    _assert_clean(visit)


# What the review of a real report found, checked as the reader sees it.


def _natural(text: str) -> list[tuple[int, int, str]]:
    return [(1, int(p), "") if p.isdigit() else (0, 0, p) for p in re.split(r"(\d+)", text) if p]


_REVIEW_ORDER = ("incorrect", "unparseable", "http_error", "timeout", "connection_error")


@pytest.mark.parametrize("width", [1280, 800])
def test_samples_table_gives_the_input_room(
    older_run_folder: RunFolder, open_page: OpenPage, width: int
) -> None:
    visit = open_page(older_run_folder.report)
    page = visit.page
    page.set_viewport_size({"width": width, "height": 1000})
    facts = page.locator("#samples table").evaluate(
        """(t) => {
            const box = (el) => el.getBoundingClientRect();
            const scroller = t.parentElement;
            const cells = (i) => [...t.querySelectorAll(`tbody tr > :nth-child(${i})`)];
            return {
                overflow: scroller.scrollWidth - scroller.clientWidth,
                inputs: [...t.querySelectorAll('.input')].map((d) => box(d).width),
                expected: Math.max(...cells(3).map((c) => box(c).width)),
                right: box(scroller).right,
                clipped: [...t.querySelectorAll('.slice')]
                    .filter((s) => s.scrollWidth > s.clientWidth + 1
                        || box(s).right > box(s.closest('td')).right + 1)
                    .map((s) => s.textContent),
            };
        }"""
    )
    assert facts["overflow"] <= 0, facts
    # At least 16em (224 px) even at 800 px, and the widest column of the table.
    assert min(facts["inputs"]) >= 220, facts["inputs"]
    assert min(facts["inputs"]) > facts["expected"]
    assert facts["clipped"] == []
    _assert_clean(visit)


def test_samples_by_outcome_then_label_then_id(
    older_run_folder: RunFolder, open_page: OpenPage
) -> None:
    visit = open_page(older_run_folder.report)
    shown = visit.page.locator("#samples .sid").evaluate_all(
        "(els) => els.map((e) => [e.textContent, e.dataset.row, e.title])"
    )
    samples = older_run_folder.summary["samples"]
    expected = sorted(
        samples,
        key=lambda s: (_REVIEW_ORDER.index(s["outcome"]), s["expected"], _natural(s["id"])),
    )
    assert [text for text, _, _ in shown] == [s["id"] for s in expected]
    # The 0-based row index is only a hint on the id, never shown as a number beside it.
    assert [row for _, row, _ in shown] == [str(s["row"]) for s in expected]
    assert all(title == f"row index {row} (0-based)" for _, row, title in shown)
    assert not re.search(r"\brow \d", visit.page.locator("#samples tbody").inner_text())
    _assert_clean(visit)


@pytest.mark.parametrize("width", [1280, 800])
def test_confusion_matrix_fits_and_keeps_labels_as_they_are(
    run_folder: RunFolder, open_page: OpenPage, width: int
) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    page.set_viewport_size({"width": width, "height": 1000})
    facts = page.locator("#confusion .scroll").evaluate(
        """(s) => ({
            overflow: s.scrollWidth - s.clientWidth,
            rows: [...s.querySelectorAll('th.rowh')].map((c) => c.innerText),
            cols: [...s.querySelectorAll('th.col[title]')].map((c) => [c.innerText, c.title]),
            transforms: [...s.querySelectorAll('th')].map((c) => getComputedStyle(c).textTransform),
            zeros: [...s.querySelectorAll('td[title$=": 0"]')].map((c) => c.innerText),
            total: s.querySelector('thead th:last-child').getBoundingClientRect().right
                <= s.getBoundingClientRect().right,
        })"""
    )
    labels = run_folder.summary["confusion"]["labels"]
    # Ten labels and the totals fit the card: nothing hidden past its edge.
    assert facts["overflow"] <= 0 and facts["total"], facts
    # innerText applies CSS text-transform: the labels read exactly as in summary.json.
    assert facts["rows"] == labels[: len(facts["rows"])]
    assert [title for _, title in facts["cols"]] == [f"predicted {label}" for label in labels]
    assert [text for text, _ in facts["cols"]] == labels
    assert set(facts["transforms"]) == {"none"}
    # Empty cells are blank, so the few errors stand out.
    assert facts["zeros"] and set(facts["zeros"]) == {""}
    _assert_clean(visit)


def test_latency_chart_labels_read_as_the_table(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    rows = _read_table(page.locator("#latency table"))
    (e2e,) = [r for r in rows if r["Timing (ms)"] == "end-to-end"]
    labels = page.locator('#latency svg text[style*="font-weight:600"]').all_text_contents()
    assert labels == [f"{e2e[k]} ms" for k in ("p50", "p90", "p95", "p99", "p99.9", "max")]
    _assert_clean(visit)


def test_top_bar_and_run_details(run_folder: RunFolder, open_page: OpenPage) -> None:
    visit = open_page(run_folder.report)
    page = visit.page
    run = run_folder.summary["run"]
    top = page.locator(".top").inner_text()
    assert top.count(run["scenario"]) == 1 and run["id"] in top
    details = page.locator("#run dl").evaluate(
        "(dl) => Object.fromEntries([...dl.querySelectorAll('dt')].map("
        "(dt) => [dt.textContent, dt.nextElementSibling.textContent]))"
    )
    assert run["load"]["exact_pass"] is True and run["dataset"]["passes"] == 1
    assert details["Load"].endswith(" · exact pass: every row once"), details["Load"]
    _assert_clean(visit)


@pytest.mark.parametrize("width", [1280, 800])
def test_no_table_is_cut_at_the_card_edge(
    run_folder: RunFolder, open_page: OpenPage, width: int
) -> None:
    """A real run's tables (ten classes, two slice fields, one stage) fit a laptop-wide page."""
    visit = open_page(run_folder.report)
    page = visit.page
    page.set_viewport_size({"width": width, "height": 1000})
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('.scroll')]
            .filter((s) => s.scrollWidth > s.clientWidth)
            .map((s) => s.closest('section').id)"""
    )
    assert overflowing == []
    _assert_clean(visit)
