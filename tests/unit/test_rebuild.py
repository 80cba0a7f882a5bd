"""A summary rebuilt from a run folder's files (its master died before writing one) has the
figures the run's own summary would have had, and says it is incomplete."""

from __future__ import annotations

import pytest

from stagecheck.recording import CORRECT, HTTP_ERROR, INCORRECT
from stagecheck.run.rebuild import can_rebuild, rebuild_summary
from stagecheck.summary.schema import check_summary
from tests.unit.test_run_controller import controller, delta

pytestmark = pytest.mark.unit


def test_the_rebuilt_figures_are_the_runs_own(write_scenario, tmp_path):
    c, clock = controller(write_scenario, tmp_path)
    rows = c.prepared.dataset.rows
    c.begin_stage(0)
    c.merge(delta(rows, [CORRECT] * 30 + [INCORRECT] * 8 + [HTTP_ERROR] * 4, start=1000.0))
    c.merge(delta(rows, [CORRECT] * 20 + [INCORRECT] * 3, start=1004.5, latency_us=9000))
    clock.t = c.aggregate.ended = 1007.0
    c.finish()
    own = c.summary
    (c.run_dir / "summary.json").unlink()  # as if the master had died before writing it
    assert can_rebuild(c.run_dir)
    rebuilt = rebuild_summary(c.run_dir)
    check_summary(rebuilt)  # the contract holds
    assert rebuilt["requests"] == own["requests"]
    for key in ("count", "min_us", "p50_us", "p99_us", "max_us", "mean_us"):
        assert rebuilt["latency"]["e2e"][key] == own["latency"]["e2e"][key], key
    for key in ("quality", "classes", "confusion", "slices"):
        assert rebuilt[key] == own[key], key
    assert rebuilt["stages"][0]["requests"] == own["stages"][0]["requests"] == 65
    assert rebuilt["run"]["workers"] is None  # not on disk
    assert rebuilt["verdict"] == "invalid"
    assert any(
        r.startswith("incomplete: the run did not end") and "the 65 results on disk" in r
        for r in rebuilt["validity"]["reasons"]
    )


def test_a_cut_last_line_is_counted_out_and_said(write_scenario, tmp_path):
    c, clock = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 20, start=1000.0))
    c.aggregate.close()  # the run never finished: no summary
    with (c.run_dir / "results.jsonl").open("ab") as f:
        f.write(b'{"row":1,"t":1002.5,"outc')  # the process died mid-write
    rebuilt = rebuild_summary(c.run_dir)
    assert rebuilt["requests"]["total"] == 20
    assert any("1 results line(s) could not be read" in n for n in rebuilt["notes"])


def test_report_on_a_folder_without_summary_builds_its_analysis_once(
    write_scenario, tmp_path, monkeypatch, capsys
):
    import stagecheck.analysis as analysis
    from stagecheck.cli import main

    c, clock = controller(write_scenario, tmp_path)
    c.merge(delta(c.prepared.dataset.rows, [CORRECT] * 20 + [INCORRECT] * 5, start=1000.0))
    c.aggregate.close()  # the run never finished: no summary
    (c.run_dir / "run.lock").unlink(missing_ok=True)  # its process is gone (this one is not)
    calls = []
    real = analysis.analyse_run
    monkeypatch.setattr(analysis, "analyse_run", lambda *a: calls.append(a) or real(*a))
    assert main(["report", str(c.run_dir)]) == 3  # rebuilt: incomplete, invalid
    assert len(calls) == 1  # the rebuild's analysis is the report's: not made twice
    assert "rebuilt from the results on disk" in capsys.readouterr().out
    # with new thresholds the run is judged again, its analysis with their latency bound
    calls.clear()
    assert main(["report", str(c.run_dir), "--threshold", "accuracy >= 0.1"]) == 3
    assert len(calls) == 1
