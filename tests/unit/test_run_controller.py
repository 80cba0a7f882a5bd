"""RunController: the run's lifecycle without Locust: merge, stages, progress, live view, the
end of the run (summary, reports, verdict, exit code)."""

from __future__ import annotations

import json

import pytest

from stagecheck.load.plan import LoadPlan
from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT, Recorder
from stagecheck.reporting import write_reports
from stagecheck.run import RunController, exit_code_for
from stagecheck.run.preparation import prepare_scenario
from tests.conftest import BASIC_SCENARIO

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def controller(write_scenario, tmp_path, text=BASIC_SCENARIO, started=1000.0):
    prepared = prepare_scenario(str(write_scenario(text)))
    clock = Clock(started)
    plan = LoadPlan.from_scenario(prepared.loaded)
    c = RunController(prepared, plan, tmp_path / "run", started=started, clock=clock,
                      reports=write_reports)
    return c, clock


def delta(rows, outcomes, start, step=0.1, latency_us=2000):
    """A delta with one request per outcome, the n-th started ``start + n*step``."""
    rec = Recorder(clock=lambda: start)
    for n, outcome in enumerate(outcomes):
        row = rows[n % len(rows)]
        predicted = row.expected_text if outcome == CORRECT else "other"
        rec.record(row_index=row.index, outcome=outcome, latency_us=latency_us + n,
                   started=start + n * step,
                   predicted=None if outcome == HTTP_ERROR else predicted)  # fmt: skip
    d = rec.drain()
    d.ended = start + len(outcomes) * step
    return d


def test_a_whole_run_ends_with_summary_reports_and_exit_code(write_scenario, tmp_path):
    c, clock = controller(write_scenario, tmp_path)
    rows = c.prepared.dataset.rows
    c.begin_stage(0)
    c.merge(delta(rows, [CORRECT] * 40 + [INCORRECT] * 10, start=1000.0))
    clock.t = 1006.0
    c.aggregate.ended = 1006.0
    assert not c.finished
    code = c.finish()
    assert code == 0 and c.exit_code == 0 and c.finished
    on_disk = json.loads((c.run_dir / "summary.json").read_text())
    assert on_disk == c.summary
    assert on_disk["requests"]["by_outcome"]["correct"] == 40
    assert on_disk["verdict"] == "passed"
    for name in ("report.html", "summary.md", "junit.xml", "scenario.yaml", "results.jsonl"):
        assert (c.run_dir / name).is_file(), name
    assert c.finish() == 0  # once: a second call changes nothing
    c.merge(delta(rows, [HTTP_ERROR] * 5, start=1007.0))  # a late report after the end
    assert c.aggregate.requests == 50


def test_a_timed_run_that_ends_early_is_interrupted_and_exits_3(write_scenario, tmp_path):
    c, _ = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 20, start=1000.0))
    assert c.finish() == 3  # 2 s of a 5 s plan
    assert c.summary["verdict"] == "invalid"
    assert any("interrupted" in r for r in c.summary["validity"]["reasons"])


def test_a_reason_given_at_the_end_makes_the_run_invalid(write_scenario, tmp_path):
    c, _ = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 20, start=1000.0, step=0.3))
    assert c.finish(interrupted=True, reason="stopped by SIGTERM") == 3
    assert "stopped by SIGTERM" in c.summary["validity"]["reasons"]


def test_a_worker_lost_before_its_first_report_still_took_part(write_scenario, tmp_path):
    c, _ = controller(write_scenario, tmp_path)
    rows = c.prepared.dataset.rows
    c.merge(delta(rows, [CORRECT] * 20, start=1000.0, step=0.3), worker="w1")
    c.lost_workers.add("w2")  # killed before it reported anything
    c.finish(reason="worker w2 was lost")
    assert (c.summary["run"]["workers"], c.summary["run"]["workers_lost"]) == (2, 1)


def test_failed_threshold_exits_1(write_scenario, tmp_path):
    c, _ = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [INCORRECT] * 30, start=1000.0, step=0.2))
    assert c.finish() == 1
    assert c.summary["verdict"] == "failed"


def test_exact_pass_is_complete_when_every_row_is_in(write_scenario, tmp_path):
    text = BASIC_SCENARIO.replace("  slices:", "  passes: 2\n  slices:")
    c, _ = controller(write_scenario, tmp_path, text)
    rows = c.prepared.dataset.rows
    c.merge(delta(rows, [CORRECT] * (2 * len(rows) - 1), start=1000.0))
    assert not c.all_answers_in()
    c.merge(delta(rows, [CORRECT], start=1002.0))
    assert c.all_answers_in()
    assert c.finish() == 0  # an exact pass ends when done, whatever its planned duration


def test_live_view_is_the_run_so_far(write_scenario, tmp_path):
    c, clock = controller(write_scenario, tmp_path)
    rows = c.prepared.dataset.rows
    c.begin_stage(0)
    c.users = 2
    # 10 requests per second for 12 s, all correct but one failure per second
    for second in range(12):
        outcomes = [CORRECT] * 9 + [HTTP_ERROR]
        c.merge(delta(rows, outcomes, start=1000.0 + second, step=0.1))
    clock.t = 1012.5
    view = c.live()
    assert view.verdict == "running" and not view.finished
    assert view.summary["requests"]["total"] == 120
    assert view.summary["requests"]["by_outcome"]["http_error"] == 12
    assert view.users == 2 and view.scenario == "basic"
    assert view.achieved_rate == pytest.approx(10.0)
    assert view.interval["e2e"].count == 100  # the last 10 s of deltas
    assert view.buckets["e2e"][-1] == 120  # +Inf bucket: every request
    assert c.live() is view  # cached for a second
    clock.t = 1014.0
    assert c.live() is not view
    c.finish()
    final = c.live()
    assert final.finished and final.verdict == c.summary["verdict"]


def test_progress_line_counts_requests_and_accuracy(write_scenario, tmp_path):
    c, _ = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 3 + [INCORRECT], start=1000.0))
    line = c.progress_line()
    assert "4 requests" in line and "accuracy 75.0%" in line


@pytest.mark.parametrize(
    ("verdict", "code"), [("passed", 0), ("failed", 1), ("invalid", 3), ("running", 3), ("?", 3)]
)
def test_exit_code_for_verdict_never_0_for_an_unknown_one(verdict, code):
    assert exit_code_for(verdict) == code


@pytest.mark.parametrize("broken", ["profile", "analysis"])
def test_a_broken_profile_or_analysis_never_costs_the_run_its_verdict(
    write_scenario, tmp_path, monkeypatch, broken
):
    """A bug in the report-time extras is a note; the figures, verdict and exit code stand."""

    def boom(*_args, **_kwargs):
        raise RuntimeError("planted bug")

    if broken == "profile":
        monkeypatch.setattr("stagecheck.summary.pipeline.profile_dataset", boom)
    else:
        monkeypatch.setattr("stagecheck.analysis.analyse_run", boom)
    c, clock = controller(write_scenario, tmp_path)
    c.begin_stage(0)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 40 + [INCORRECT] * 10, start=1000.0))
    clock.t = c.aggregate.ended = 1006.0
    assert c.finish() == 0
    on_disk = json.loads((c.run_dir / "summary.json").read_text())
    assert on_disk["verdict"] == "passed" and on_disk["requests"]["total"] == 50
    assert any("planted bug" in n for n in on_disk["notes"])
    assert (c.run_dir / "report.html").is_file()


def test_a_run_folder_gone_at_the_end_keeps_the_summary_elsewhere_and_exits_3(
    write_scenario, tmp_path, monkeypatch
):
    """The run folder is replaced by a regular file before the end (a folder removed or
    unmounted mid-run): every write into it fails with ENOTDIR. The summary and reports go to
    a temporary folder the controller names; the verdict is invalid and says why."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    c, clock = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 40, start=1000.0))
    c.run_dir.rename(tmp_path / "moved")
    c.run_dir.write_text("not a folder any more\n")
    clock.t = c.aggregate.ended = 1006.0
    assert c.finish() == 3
    assert c.summary_dir is not None and c.summary_dir.parent == tmp_path
    assert c.summary_dir.name.startswith(f"stagecheck-{c.run_id}-")
    kept = json.loads((c.summary_dir / "summary.json").read_text())
    assert kept == c.summary and kept["verdict"] == "invalid"
    assert kept["requests"]["total"] == 40
    assert any("report.html: Not a directory" in r for r in kept["validity"]["reasons"])
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (c.summary_dir / name).is_file(), name


def test_a_results_write_failure_stops_the_writing_not_the_counting(write_scenario, tmp_path):
    """results.jsonl on /dev/full: its first write fails with ENOSPC, as on a full disk."""
    c, clock = controller(write_scenario, tmp_path)
    rows = c.prepared.dataset.rows
    c.aggregate._results.close()
    c.aggregate._results = open("/dev/full", "ab")  # noqa: SIM115 - the aggregate closes it
    assert c.check_write_failure() is None
    c.merge(delta(rows, [CORRECT] * 20, start=1000.0))
    assert c.check_write_failure() == "results.jsonl: No space left on device"
    c.merge(delta(rows, [INCORRECT] * 5, start=1002.0))  # counted, not written
    clock.t = c.aggregate.ended = 1006.0
    assert c.finish() == 3
    assert c.summary["requests"]["total"] == 25
    assert c.summary_dir == c.run_dir  # summary.json and reports still fit there
    assert any("results.jsonl: No space left on device" in r
               for r in c.summary["validity"]["reasons"])  # fmt: skip
