"""The capacity answer (verdict, exit code, what failed first) and its views: console,
Markdown and the self-contained HTML curve, from a search over a synthetic endpoint."""

from __future__ import annotations

import re

import pytest

from stagecheck.capacity.figures import StepRequest, measure
from stagecheck.capacity.run import _reason, conclude
from stagecheck.capacity.schema import CapacityResult, SearchSettings, Step
from stagecheck.capacity.search import Phase, StepStatus, search
from stagecheck.capacity.slo import parse_slos
from stagecheck.capacity.step import step_figures, step_status
from stagecheck.reporting.capacity import write_capacity_reports
from stagecheck.reporting.capacity.html import render_capacity_html
from stagecheck.reporting.capacity.view import render_capacity_console, render_capacity_markdown

pytestmark = pytest.mark.unit

SLOS, _ = parse_slos(["latency.p50 < 100ms", "accuracy >= 0.8"])
LATENCY_KNEE, ACCURACY_KNEE = 70.0, 45.0


def synthetic_step(rate: float, phase: Phase, index: int) -> Step:
    """An endpoint whose latency passes 100 ms above 70/s and whose answers go wrong above 45/s."""
    latency_us = 50_000 if rate <= LATENCY_KNEE else 150_000
    wrong = 0 if rate <= ACCURACY_KNEE else int(rate * 5 * 0.5)
    n = int(rate * 5)
    reqs = [StepRequest(1.0 + i / rate, "incorrect" if i < wrong else "correct", latency_us)
            for i in range(n)]  # fmt: skip
    sample = measure(reqs, started=0.0, warmup_s=1.0, window_s=5.0, latency_bound_s=0.1)
    status, checks, kinds, note = step_status(sample, SLOS, [])
    return Step(index=index, phase=phase, offered_rate=rate, users=8, warmup_s=1.0,
                duration_s=5.0, stretched=index == 1, status=status,
                figures=step_figures(sample), slos=checks, failed_kinds=kinds,
                validity_reasons=[], note=note, run_dir=f"steps/{index}", wall_s=6.0)  # fmt: skip


def run_search(require: float | None = None, statuses: dict[float, StepStatus] | None = None
               ) -> CapacityResult:  # fmt: skip
    steps: list[Step] = []

    def probe(rate: float, phase: Phase) -> StepStatus:
        step = synthetic_step(rate, phase, len(steps) + 1)
        if statuses and rate in statuses:
            step = step.model_copy(update={"status": statuses[rate], "note": "injected"})
        steps.append(step)
        return step.status

    outcome = search(probe, min_rate=10, max_rate=400, max_steps=10)
    verdict, code, exprs, kinds = conclude(outcome, steps, require)
    return CapacityResult(
        scenario="synthetic", endpoint="http://127.0.0.1:1", started_at="t0", ended_at="t1",
        wall_s=60.0, slos=[t.expression for t in SLOS],
        settings=SearchSettings(min_rate=10, max_rate=400, step_duration_s=5, warmup_s=1,
                                max_steps=10, resolution=0.1, min_requests=50, processes=None,
                                require=require),
        steps=steps, capacity=outcome.capacity, capacity_achieved=None, at_max=outcome.at_max,
        first_failing_rate=outcome.first_failing, margin=outcome.gap, failed_first=exprs,
        failed_first_kinds=kinds, verdict=verdict,  # type: ignore[arg-type]
        reason=_reason(outcome, steps, require), exit_code=code,
    )  # fmt: skip


def test_the_answer_names_the_capacity_and_the_slo_that_failed_first() -> None:
    r = run_search()
    assert r.capacity is not None and r.first_failing_rate is not None
    assert r.capacity <= ACCURACY_KNEE < r.first_failing_rate
    assert r.failed_first == ["accuracy >= 0.8"] and r.failed_first_kinds == ["correctness"]
    assert (r.verdict, r.exit_code) == ("passed", 0)
    # the latency knee lies above: it was probed (the coarse 80/s) but did not fail first
    assert any("latency" in s.failed_kinds for s in r.steps)


def test_exit_codes_follow_require_and_a_search_that_could_not_be_carried_out() -> None:
    assert run_search(require=40).exit_code == 0
    low = run_search(require=60)
    assert (low.verdict, low.exit_code) == ("failed", 1) and "below the required 60/s" in low.reason
    saturated = run_search(statuses={40.0: "saturated"})
    assert (saturated.verdict, saturated.exit_code) == ("not_carried_out", 3)
    assert (
        "generator saturated at 40/s" in saturated.reason and "not the model's" in saturated.reason
    )
    down = run_search(statuses={10.0: "down"})
    assert (down.exit_code, down.capacity) == (3, None) and "endpoint is down" in down.reason


def test_console_and_markdown_show_the_answer_and_every_step() -> None:
    r = run_search()
    console = render_capacity_console(r, "runs/x-capacity")
    assert console.startswith(f"CAPACITY FOUND: capacity {r.capacity:g}/s")
    assert f"First failing rate: {r.first_failing_rate:g}/s" in console
    assert "correctness failed first: accuracy >= 0.8" in console
    assert "* step lengthened" in console and "runs/x-capacity" in console
    md = render_capacity_markdown(r)
    rows = [line for line in md.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) == len(r.steps)
    assert sum("accuracy >= 0.8 |" in row for row in rows) == sum(
        s.status == "failed" and "correctness" in s.failed_kinds for s in r.steps)  # fmt: skip


def test_html_is_self_contained_with_the_curve_and_the_knee_marked() -> None:
    r = run_search()
    html = render_capacity_html(r)
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert html.count("<svg") == 3
    assert f"knee: {r.capacity:g}/s passes, {r.first_failing_rate:g}/s fails" in html
    assert html.count('class="marker"') == 6  # two knee lines on each of the three charts
    for name in (
        "p50",
        "p99",
        "accuracy",
        "error rate",
        "achieved",
        "goodput (correct and in time)",
    ):
        assert f"{name} at " in html  # a point with its tooltip on that line
    assert html.count('<tr class="step-') == len(r.steps)
    assert "CAPACITY FOUND" in html
    down = render_capacity_html(run_search(statuses={10.0: "down"}))
    assert "SEARCH NOT CARRIED OUT" in down and "banner invalid" in down


def test_the_result_round_trips_through_json_and_refuses_unknown_keys() -> None:
    r = run_search()
    again = CapacityResult.model_validate_json(r.model_dump_json())
    assert again == r
    data = r.model_dump()
    data["surprise"] = 1
    with pytest.raises(ValueError, match="surprise"):
        CapacityResult.model_validate(data)


def test_a_search_cut_short_by_ctrl_c_keeps_its_steps_and_finds_no_capacity(
    tmp_path, monkeypatch
) -> None:
    from stagecheck.capacity import run as capacity_run

    def run_step(rate, phase, index, plan, folder, latency_seen_s=None):
        if index == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third step runs
        return synthetic_step(rate, phase, index)

    monkeypatch.setattr(capacity_run, "run_step", run_step)
    request = capacity_run.CapacityRequest(
        scenario="s.yaml", scenario_name="synthetic", endpoint="http://127.0.0.1:1", slos=SLOS,
        min_rate=10, max_rate=400, step_duration_s=5, warmup_s=1, max_steps=10, out=tmp_path,
    )  # fmt: skip
    result, folder = capacity_run.run_capacity(request)
    assert [s.offered_rate for s in result.steps] == [10, 20]  # both passed, then Ctrl-C
    assert (result.verdict, result.exit_code) == ("not_carried_out", 3)
    assert result.reason.startswith("interrupted after 2 steps; so far: capacity 20/s")
    write_capacity_reports(folder, result)
    assert "interrupted after 2 steps" in (folder / "capacity.md").read_text()
