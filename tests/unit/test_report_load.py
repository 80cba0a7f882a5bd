"""load_summary: one clear InputError line naming the file, whatever is wrong with it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stagecheck.errors import EXIT_BAD_INPUT, InputError
from stagecheck.reporting import build_report, load_summary
from stagecheck.reporting.fmt import ms, percent, quantity

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "fixtures" / "summary_example.json"


def _problem(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_summary(path)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert len(caught.value.problems) == 1 and "\n" not in caught.value.problems[0]
    return caught.value.problems[0]


def test_loads_a_run_folder_or_the_file(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "summary.json")
    assert load_summary(tmp_path)["schema_version"] == 1
    assert load_summary(tmp_path / "summary.json") == load_summary(str(tmp_path))


def test_missing_folder_and_missing_file(tmp_path: Path) -> None:
    assert str(tmp_path / "nope") in _problem(tmp_path / "nope")
    message = _problem(tmp_path)
    assert str(tmp_path / "summary.json") in message and "run folder" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "expected a JSON object"),
        ('{"run": {}}', "no schema_version"),
        ('{"schema_version": 2}', "schema_version 2"),
        ('{"schema_version": true}', "schema_version True"),
    ],
)
def test_bad_content(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "summary.json").write_text(content, encoding="utf-8")
    message = _problem(tmp_path)
    assert expected in message and str(tmp_path / "summary.json") in message


def test_undecodable_file(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read" in _problem(tmp_path)


def test_model_is_forgiving_about_odd_values() -> None:
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    summary["latency"]["e2e"]["p99_us"] = "fast"
    summary["classes"][0]["f1"] = None
    summary["samples"][0]["input"] = {"text": "hi", "lang": "en"}
    report = build_report(summary)
    e2e = report.timing("e2e")
    assert e2e is not None and e2e.p99_us is None
    assert report.classes_worst_first()[-1].f1 is None
    assert report.samples[0].input == '{"lang": "en", "text": "hi"}'


@pytest.mark.parametrize(
    ("value", "unit", "precise", "text"),
    [
        (0.1092, "s", True, "109.2ms"),
        (0.3, "s", False, "300ms"),
        (0.0042, "s", True, "4.20ms"),
        (2.5, "s", True, "2.50s"),
        (0.02, "%", True, "2.00%"),
        (0.01, "%", False, "1%"),
        (41.27, "/s", True, "41.27/s"),
        (20.0, "/s", False, "20/s"),
        (0.8525, "", True, "0.8525"),
        (0.9, "", False, "0.9"),
        (None, "s", True, "n/a"),
    ],
)
def test_threshold_quantities(value: float | None, unit: str, precise: bool, text: str) -> None:
    assert quantity(value, unit, precise=precise) == text


@pytest.mark.parametrize(
    ("us", "text"),
    [(42_000, "42.00"), (11_975, "11.97"), (99_994, "99.99"), (109_250, "109.2"), (1450, "1.45"),
     (2_500_000, "2500.0"), (None, "n/a")],
)  # fmt: skip
def test_milliseconds(us: int | None, text: str) -> None:
    """The views' tests format the fixture's latencies with this: its own golden values."""
    assert ms(us) == text


@pytest.mark.parametrize(
    ("frac", "digits", "text"), [(0.0143, 1, "1.4%"), (0.7103, 2, "71.03%"), (None, 1, "n/a")]
)
def test_percent(frac: float | None, digits: int, text: str) -> None:
    assert percent(frac, digits) == text


def test_reporting_never_imports_locust() -> None:
    """Reports are rebuilt on machines without a load generator: no Locust (or gevent) import."""
    code = (
        "import sys, stagecheck.reporting as r; "
        "r.render_html({'schema_version': 1}); "
        "assert not {'locust', 'gevent'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_samples_for_review_order() -> None:
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    base = summary["samples"][0]
    specs = [
        ("timeout", "a", "x1"),
        ("incorrect", "b", "x2"),
        ("correct", "a", "x3"),
        ("unparseable", "a", "x4"),
        ("incorrect", "a", "x10"),
        ("incorrect", "a", "x9"),
        ("connection_error", "a", "x5"),
        ("http_error", "b", "x6"),
        ("incorrect", None, "x7"),
        ("something_new", "a", "x8"),
    ]
    summary["samples"] = [
        dict(base, outcome=outcome, expected=expected, id=sid) for outcome, expected, sid in specs
    ]
    report = build_report(summary)
    assert [s.id for s in report.samples_for_review()] == [
        "x9", "x10", "x2", "x7",  # incorrect: label a (ids as numbers), b, then no label
        "x4",  # unparseable
        "x6", "x1", "x5",  # failures, in OUTCOMES order
        "x8",  # an outcome this version does not know
        "x3",  # correct, if a run ever keeps one
    ]  # fmt: skip
    # Arrival order is untouched for whoever wants it.
    assert [s.id for s in report.samples] == [sid for _, _, sid in specs]


@pytest.mark.parametrize(
    ("load", "passes", "text"),
    [
        ({"exact_pass": True}, 1, "8 users (spawn 4/s) · exact pass: every row once"),
        ({"exact_pass": True}, None, "8 users (spawn 4/s) · exact pass: every row once"),
        ({"exact_pass": True}, 2, "8 users (spawn 4/s) · exact pass: every row twice"),
        ({"exact_pass": True}, 5, "8 users (spawn 4/s) · exact pass: every row 5 times"),
        ({"exact_pass": False}, 1, "8 users (spawn 4/s)"),
        ({"exact_pass": "yes"}, 1, "8 users (spawn 4/s)"),
        ({}, 1, "8 users (spawn 4/s)"),
    ],
)
def test_load_summary_says_an_exact_pass(
    load: dict[str, object], passes: int | None, text: str
) -> None:
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    # The fixture's run has stages; an exact pass is a closed-loop users run: made one here.
    summary["run"]["load"].update(mode="users", users=8, spawn_rate=4.0, stages=[])
    summary["run"]["load"].pop("exact_pass")
    summary["run"]["load"].update(load)
    summary["run"]["dataset"]["passes"] = passes
    assert build_report(summary).run.load_summary() == text
