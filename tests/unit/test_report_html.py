"""report.html: self-contained (no script, no external URL), sections findable, text escaped."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from stagecheck.reporting import fmt, load_summary, render_html, write_reports
from stagecheck.reporting.html.page import SECTION_IDS

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"
REQUIRED_IDS = {"verdict", "thresholds", "latency", "classes", "confusion", "slices"}
# a run with its error analysis shows every wrong answer; an older one its samples
ANALYSIS_IDS = {"analysis", "timeline", "concentrations", "wrong-answers"}


@pytest.fixture
def summary() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


class _Page(HTMLParser):
    """Collects what the checks need: ids, tags, resource attributes, text and cell styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.resource_refs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.heat_cells: list[str] = []
        self._in_heat = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            if values.get(name) is not None:
                self.resource_refs.append((tag, name, str(values[name])))
        if tag == "table" and "heat" in (values.get("class") or ""):
            self._in_heat = True
        if self._in_heat and tag == "td":
            self.heat_cells.append(values.get("style") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_heat = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _csp(page: str) -> dict[str, list[str]]:
    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert match is not None, "no Content-Security-Policy"
    policy = html.unescape(match.group(1))
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def _assert_self_contained(page: str, parsed: _Page) -> None:
    assert "iframe" not in parsed.tags
    assert "link" not in parsed.tags and "img" not in parsed.tags
    assert parsed.resource_refs == []  # no src= on a script either
    # Inline scripts only (the wrong-answers table's filter), each allowed by its own hash:
    # the policy lets nothing else run, and nothing load.
    csp = _csp(page)
    assert csp["default-src"] == ["'none'"]
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == parsed.tags.count("script")
    allowed = csp.get("script-src", [])
    assert "'unsafe-inline'" not in allowed
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    # No external URL in CSS either (url(...) / @import).
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_fixture_sections_and_self_contained(summary: dict[str, Any]) -> None:
    page = render_html(summary)
    parsed = _parse(page)
    assert set(parsed.ids) >= REQUIRED_IDS | ANALYSIS_IDS | {"distribution", "profile"}
    profile = summary["dataset_profile"]
    start = page.index('<section id="profile">')
    shown = page[start : page.index("</section>", start)]
    assert f"{profile['rows']:,} rows" in shown
    assert all(f"<td>{g['value']}</td>" in shown for g in profile["classes"]["values"])
    assert "samples" not in parsed.ids  # the table of every wrong answer replaces them
    assert set(SECTION_IDS) <= set(parsed.ids)
    assert len(parsed.ids) == len(set(parsed.ids))
    _assert_self_contained(page, parsed)
    del summary["analysis"]  # a run from before the analysis: its samples, and no script
    older = render_html(summary)
    assert "samples" in _parse(older).ids and "<script" not in older
    assert not set(_parse(older).ids) & ANALYSIS_IDS
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    assert "<svg" in page  # percentile chart and outcome bar, inline
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)


def test_fixture_content(summary: dict[str, Any]) -> None:
    page = render_html(summary)
    text = " ".join(_parse(page).text)
    assert "FAILED" in text
    e2e, quality = summary["latency"]["e2e"], summary["quality"]
    p99 = next(t for t in summary["thresholds"] if t["metric"] == "latency.p99")
    worst_class = min(summary["classes"], key=lambda c: c["f1"])
    worst_slice = min(summary["slices"], key=lambda s: s["quality"]["accuracy"])
    best_slice = max(summary["slices"], key=lambda s: s["quality"]["accuracy"])
    correct = summary["requests"]["by_outcome"]["correct"] / summary["requests"]["total"]
    figures = (
        fmt.quantity(p99["observed"], "s"),  # its golden values: test_report_load
        f"< {fmt.quantity(p99['target'], 's', precise=False)}",
        f"{quality['accuracy']:.4f}",
        fmt.percent(correct),
        fmt.ms(e2e["p50_us"]),
        fmt.ms(e2e["max_us"]),
        f"{worst_class['f1']:.4f}",
        fmt.percent(worst_slice["quality"]["accuracy"], 2),
    )
    for figure in figures:
        assert figure in text, figure
    # Endpoint URL is shown as text, never as a link or resource.
    assert summary["run"]["endpoint"]["url"] in text
    # Worst class and worst slice come first.
    best_class = max(summary["classes"], key=lambda c: c["f1"])
    classes = text[text.index("Per class") :]
    assert classes.index(worst_class["label"]) < classes.index(best_class["label"])
    slices = text[text.index("Where it is worst") :]
    assert slices.index(f"{worst_slice['value']}") < slices.index(f"{best_slice['value']}")


def _row_shares(matrix: list[list[int]]) -> list[list[float]]:
    return [[n / sum(row) if sum(row) else 0.0 for n in row] for row in matrix]


def test_confusion_heat_map_shades_by_row(summary: dict[str, Any]) -> None:
    parsed = _parse(render_html(summary))
    shades = [re.search(r"rgba\(([\d,]+),([\d.]+)\)", s) for s in parsed.heat_cells]
    alphas = [(m.group(1), float(m.group(2))) for m in shades if m]
    matrix = summary["confusion"]["matrix"]
    columns = len(summary["confusion"]["labels"])
    assert len(alphas) == len(matrix) * columns  # expected rows × predicted columns
    diagonal = [alphas[i * columns + i] for i in range(len(matrix))]
    assert all(rgb == "45,164,78" for rgb, _ in diagonal)
    off = [alphas[i * columns + j] for i in range(len(matrix)) for j in range(columns) if i != j]
    assert all(rgb == "207,34,46" for rgb, _ in off)
    # The cell with the largest share of its row is the darkest; zero cells are not shaded.
    shares = [share for row in _row_shares(matrix) for share in row]
    darkest = max(range(len(shares)), key=shares.__getitem__)
    assert alphas[darkest][1] == max(a for _, a in alphas)
    zeros = [k for k, n in enumerate(n for row in matrix for n in row) if n == 0]
    assert zeros and all(alphas[k][1] == 0.0 for k in zeros)
    # Shading follows the row share, not the raw count.
    faint = min((k for k in range(len(shares)) if shares[k]), key=shares.__getitem__)
    assert 0.0 < alphas[faint][1] < alphas[darkest][1]


def test_malicious_text_is_escaped(summary: dict[str, Any]) -> None:
    evil = '<script>alert("x")</script><img src=http://evil.example/x.png onerror=alert(1)>'
    for sample in (summary["samples"][0], summary["analysis"]["wrong"][0]):
        sample["input"] = evil
        sample["got"] = "</td></tr></table><script>"
        sample["error"] = "<b>boom</b>"
    summary["classes"][0]["label"] = '"><script>alert(2)</script>'
    summary["confusion"]["labels"][0] = '"><script>alert(2)</script>'
    summary["slices"][0]["value"] = "<iframe src=https://evil.example>"
    summary["run"]["scenario"] = "<script>alert(3)</script>"
    summary["thresholds"][0]["expression"] = "latency.p99 < 300ms <script>"
    page = render_html(summary)
    parsed = _parse(page)
    _assert_self_contained(page, parsed)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '<script>alert("x")</script>' in " ".join(parsed.text)


def _bare_summary(**extra: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run": {"scenario": "bare", "scoring": {"kind": "exact"}},
        "verdict": "invalid",
        "validity": {"valid": False, "reasons": ["only 0 requests (need 100)"]},
        "requests": {"total": 0, "by_outcome": {}},
        "throughput": {"requests_per_s": 0.0},
        "latency": {"e2e": {"count": 0}},
        "quality": None,
        "classes": [],
        "confusion": None,
        "slices": [],
        "stages": [],
        "thresholds": [
            {
                "expression": "latency.p99 < 300ms",
                "metric": "latency.p99",
                "op": "<",
                "target": 0.3,
                "observed": None,
                "unit": "s",
                "passed": False,
            },
        ],
        "samples": [],
    }
    summary.update(extra)
    return summary


def test_zero_requests_invalid_run_still_has_every_section() -> None:
    page = render_html(_bare_summary())
    parsed = _parse(page)
    assert set(SECTION_IDS) <= set(parsed.ids)
    _assert_self_contained(page, parsed)
    text = " ".join(parsed.text)
    assert "INVALID" in text and "only 0 requests (need 100)" in text
    assert "No requests were made." in text
    assert "not a classification" in text
    assert 'class="banner invalid"' in page
    assert "script" not in parsed.tags  # no wrong answers: no table to filter, no script


def test_no_streaming_and_several_stages(summary: dict[str, Any]) -> None:
    del summary["latency"]["ttft"], summary["latency"]["itl"]
    first = summary["stages"][0]
    summary["stages"] = [dict(first, index=i, name=f"step{i}", users=8 * (i + 1)) for i in range(3)]
    page = render_html(summary)
    text = " ".join(_parse(page).text)
    assert "time to first token" not in text
    assert "Latency by stage" in page and "step2" in text


def test_write_reports(tmp_path: Path, summary: dict[str, Any]) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    paths = write_reports(tmp_path)
    assert [p.name for p in paths] == ["report.html", "summary.md", "junit.xml"]
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)
    assert not list(tmp_path.glob(".*.tmp"))
    assert load_summary(tmp_path)["run"]["scenario"] == summary["run"]["scenario"]
    assert "<!DOCTYPE html>" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_write_reports_with_a_given_summary(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, _bare_summary())
    assert len(paths) == 3 and not (tmp_path / "summary.json").exists()


def _sample(sid: str | None, row: int, outcome: str, expected: str | None) -> dict[str, Any]:
    return {
        "row": row,
        "id": sid,
        "input": f"input of {sid}",
        "expected": expected,
        "got": None if outcome in ("http_error", "timeout") else "other",
        "outcome": outcome,
        "latency_us": 1000,
        "slices": {"channel": "voice_transcript"},
        "error": "HTTP 503" if outcome == "http_error" else None,
    }


def _sample_ids(page: str) -> list[str]:
    start = page.index('<section id="samples">')
    samples = page[start : page.index("<section id=", start + 1)]  # not the wrong-answers table
    return re.findall(r'<span class="sid"[^>]*>([^<]*)</span>', samples)


def test_samples_grouped_for_error_analysis_and_named_by_id(summary: dict[str, Any]) -> None:
    del summary["analysis"]  # samples are shown for runs from before the error analysis
    summary["samples"] = [
        _sample("v10", 9, "incorrect", "refund"),
        _sample("v0231", 230, "http_error", "shipping"),
        _sample("v9", 8, "incorrect", "refund"),
        _sample("v3", 2, "unparseable", "billing"),
        _sample("v7", 6, "incorrect", "billing"),
        _sample("v2", 1, "timeout", "billing"),
    ]
    page = render_html(summary)
    # incorrect (by expected label, then id as numbers read), unparseable, then failures.
    assert _sample_ids(page) == ["v7", "v9", "v10", "v3", "v0231", "v2"]
    start = page.index('<section id="samples">')
    samples = page[start : page.index("<section id=", start + 1)]
    # The 0-based row index is kept as a hint, never shown next to the 1-based id.
    assert 'title="row index 8 (0-based)" data-row="8">v9<' in samples
    assert ">8<" not in samples and "Row" not in samples
    assert "by outcome, then expected label, then id" in samples
    # Slices wrap: each is its own chip, with a break allowed after "=".
    assert '<span class="slice">channel=<wbr>voice_transcript</span>' in samples


def test_samples_without_id_show_the_row_index() -> None:
    bare = _bare_summary(
        samples=[_sample(None, 4, "incorrect", "a"), _sample(None, 2, "incorrect", "a")]
    )
    assert _sample_ids(render_html(bare)) == ["row 2", "row 4"]


def test_confusion_blank_zero_cells_and_labels_as_they_are(summary: dict[str, Any]) -> None:
    summary["confusion"]["labels"][:2] = ["Billing", "billing"]
    page = render_html(summary)
    confusion = page[page.index('<section id="confusion">') : page.index('<section id="slices">')]
    matrix = summary["confusion"]["matrix"]
    # Empty cells show nothing (CSS draws a faint dot); non-empty ones keep count and share.
    assert "0<small>0%</small>" not in confusion
    zeros = sum(n == 0 for row in matrix for n in row)
    assert zeros and confusion.count('<td class="zero"') == zeros
    first = matrix[0][0]
    assert f"{first:,}<small>{first / sum(matrix[0]) * 100:.0f}%</small>" in confusion
    # Both spellings stay, in their own case, as row and column heads.
    assert '<th class="rowh">Billing</th>' in confusion
    assert '<th class="rowh">billing</th>' in confusion
    assert '<th class="col" title="predicted Billing"><span>Billing</span></th>' in confusion
    style = page[page.index("<style>") : page.index("</style>")]
    heat_rules = [rule for rule in style.split("}") if "table.heat" in rule]
    assert any("text-transform:none" in rule for rule in heat_rules)
    assert not any("uppercase" in rule for rule in heat_rules)


def test_confusion_long_labels_cut_in_the_middle_and_wide_matrix_says_it_scrolls(
    summary: dict[str, Any],
) -> None:
    labels = [f"intent_category_number_{i:02d}" for i in range(20)]
    summary["confusion"] = {
        "labels": labels,
        "matrix": [[5 if i == j else 0 for j in range(20)] for i in range(20)],
    }
    page = render_html(summary)
    confusion = page[page.index('<section id="confusion">') : page.index('<section id="slices">')]
    # The ends that tell the labels apart stay; the full label is in the title.
    assert (
        '<th class="col" title="predicted intent_category_number_07">'
        "<span>intent_categ…y_number_07</span></th>"
    ) in confusion
    assert '<div class="scroll"><table class="heat">' in confusion
    assert "20 columns: scroll sideways for all of them" in confusion
    assert "scroll sideways" not in render_html(json.loads(FIXTURE.read_text(encoding="utf-8")))


def test_latency_chart_labels_round_as_the_table(summary: dict[str, Any]) -> None:
    summary["latency"]["e2e"].update(p50_us=11975, p99_us=109250)
    page = render_html(summary)
    latency = page[page.index('<section id="latency">') : page.index('<section id="classes">')]
    svg = latency.index("<svg")
    chart = latency[svg : latency.index("</svg>", svg)]  # the first chart: by percentile
    table = latency[:svg]
    assert '<td class="num">11.97</td>' in table and "11.97 ms" in chart
    assert "11.975" not in chart and "11.98" not in chart
    assert "109.2 ms" in chart and "109.25" not in chart
    # Axis ticks stay short round numbers, evenly spaced by 1, 2, 2.5 or 5 × a power of ten.
    ticks = sorted({int(t) for t in re.findall(r">(\d+) ms</text>", chart)})
    assert len(ticks) >= 3, ticks
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1, ticks
    step = steps.pop()
    assert step / 10 ** (len(str(step)) - 1) in (1, 2, 2.5, 5), ticks


def test_top_bar_names_the_scenario_once(summary: dict[str, Any]) -> None:
    scenario = summary["run"]["scenario"]
    top = re.search(r'<div class="top">(.*?)</div>', render_html(summary), re.S)
    assert top is not None
    assert top.group(1).count(scenario) == 1
    assert summary["run"]["id"] in top.group(1)
    summary["run"]["id"] = "run-42"
    top = re.search(r'<div class="top">(.*?)</div>', render_html(summary), re.S)
    assert top is not None and f"{scenario} · run-42" in top.group(1)


def test_run_details_say_an_exact_pass(summary: dict[str, Any]) -> None:
    assert "exact pass" not in render_html(summary)
    # The fixture's run has stages; an exact pass is a closed-loop users run: made one here.
    summary["run"]["load"].update(mode="users", users=8, spawn_rate=4.0, stages=[])
    summary["run"]["load"]["exact_pass"] = True
    summary["run"]["dataset"]["passes"] = 1
    page = render_html(summary)
    assert "<dt>Load</dt><dd>8 users (spawn 4/s) · exact pass: every row once</dd>" in page
    summary["run"]["dataset"]["passes"] = 3
    assert "exact pass: every row 3 times" in render_html(summary)
