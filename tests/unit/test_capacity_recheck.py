"""What a capacity step counts against the generator (the measured window only), when a step is
run again before it decides the search, and what a failed step says about why."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagecheck.capacity.figures import StepRequest, StepSample, measure
from stagecheck.capacity.recheck import (
    BURST_RERUNS,
    NOISE_RERUNS,
    STARVED_RERUNS,
    recheck_reason,
)
from stagecheck.capacity.schema import Step
from stagecheck.capacity.slo import parse_slos
from stagecheck.capacity.step import (
    GENERATOR_REASONS,
    StepPlan,
    _argv,
    _window_reasons,
    spawn_rate_for,
    step_figures,
    step_status,
    users_for,
)
from stagecheck.summary.validity import lateness_reason

pytestmark = pytest.mark.unit

START = 1_800_000_000.0
SLOS, _ = parse_slos(["latency.p90 < 200ms", "accuracy >= 0.7"])


def steady(
    rate: float = 20.0,
    seconds: float = 6.0,
    latency_us: int | list[int] = 100_000,
    wrong_every: int = 0,
    late: dict[float, int] | None = None,
) -> list[StepRequest]:
    """An open loop from START: one request every 1/rate s; ``late``: lag (µs) by start time."""
    n = int(rate * seconds)
    out = []
    for i in range(n):
        t = START + i / rate
        lat = latency_us[i] if isinstance(latency_us, list) else latency_us
        outcome = "incorrect" if wrong_every and i % wrong_every == 0 else "correct"
        lag = next((us for at, us in (late or {}).items() if abs(t - START - at) < 1e-6), 0)
        out.append(StepRequest(t, outcome, lat, lag))
    return out


def window(reqs: list[StepRequest], warmup: float = 1.0, length: float = 4.0) -> StepSample:
    return measure(reqs, started=START, warmup_s=warmup, window_s=length, latency_bound_s=0.2)


def judged(
    sample: StepSample, reasons: list[str] | None = None
) -> tuple[str, tuple[str, int] | None]:
    status, checks, _, _ = step_status(sample, SLOS, reasons or [])
    generator = [r for r in reasons or [] if any(g in r for g in GENERATOR_REASONS)]
    return status, recheck_reason(status, checks, sample, generator)


def test_lateness_in_the_warm_up_or_after_the_window_is_not_counted() -> None:
    # a start-up where every request of the first second left late, and a stop that made the
    # last ones late: neither is the rate's doing
    late = {i / 20: 300_000 for i in range(20)} | {5.8: 150_000, 5.85: 150_000, 5.9: 150_000}
    sample = window(steady(late=late))  # window: 1 s to 5 s
    assert sample.late == 0 and sample.requests == 80
    assert _window_reasons([], sample, users=8) == []
    # the same lateness inside the window counts, once it passes 1 % of the window's requests
    inside = window(steady(late={2.0: 60_000, 3.0: 60_000}))
    assert inside.late == 2
    [reason] = _window_reasons([], inside, users=40)
    assert "2 of 80 requests left over 50 ms" in reason
    # 2 in flight for 40 users: the pool was never short, the generator was short of CPU
    assert "short of CPU" in reason and "raise load.users" not in reason
    assert "pool ran short" in _window_reasons([], inside, users=2)[0]
    assert "short of CPU" in _window_reasons([], inside, users=4)[0]  # 2 in flight of 4


def test_the_run_s_own_lateness_is_replaced_by_the_window_s() -> None:
    run_reason = lateness_reason(30, 120)
    assert run_reason is not None
    cpu = "load generator CPU reached 97% (above 90%): latencies include its queueing"
    assert _window_reasons([run_reason, cpu], window(steady()), users=8) == [cpu]


def test_a_starved_generator_is_run_again_up_to_twice_whatever_it_measured() -> None:
    starved = window(steady(late={2.0: 60_000, 3.0: 60_000}))
    reasons = _window_reasons([], starved, users=40)
    status, again = judged(starved, reasons)
    assert status == "saturated" and again is not None and again[1] == STARVED_RERUNS
    # failing an SLO while starved: not the endpoint's verdict yet either
    wrong = window(steady(wrong_every=2, late={2.0: 60_000, 3.0: 60_000}))
    status, again = judged(wrong, _window_reasons([], wrong, users=40))
    assert status == "failed" and again is not None and "starved" in again[0]


def test_a_latency_failure_only_the_late_requests_made_is_the_generator_s_not_the_endpoint_s(
) -> None:
    # the generator stalled twice for half a second: the 20 requests due then left 300 ms late
    # (open-loop latency counts from the due time); the 60 sent on time got 100 ms answers
    stalled = [i for i in range(120) if 2.0 <= i / 20 < 2.5 or 3.0 <= i / 20 < 3.5]
    lat = [400_000 if i in stalled else 100_000 for i in range(120)]
    late = {i / 20: 300_000 for i in stalled}
    sample = window(steady(latency_us=lat, late=late))
    reasons = _window_reasons([], sample, users=40)  # 3.5 in flight of 40: short of CPU
    status, checks, _, note = step_status(sample, SLOS, reasons)
    assert [c.passed for c in checks] == [False, True]  # p90 400 ms on all 80 requests
    assert status == "saturated", note
    assert note is not None and "the 60 requests sent on time met latency.p90 < 200ms" in note
    assert judged(sample, reasons)[1] == (
        f"the load generator was starved ({reasons[0]})", STARVED_RERUNS)
    # a pool the endpoint's slow answers kept busy: the endpoint fell behind, a failure
    assert judged(sample, _window_reasons([], sample, users=4))[0] == "failed"
    # the requests sent on time were slow too: the endpoint's failure, whatever the lateness
    slow = window(steady(latency_us=[400_000] * 120, late=late))
    assert judged(slow, _window_reasons([], slow, users=40))[0] == "failed"


def test_a_failure_within_noise_is_run_again_once_and_a_clear_one_is_final() -> None:
    # p90 210 ms against 200 ms all through the window: 5 % over, within noise
    close = window(steady(latency_us=210_000))
    status, again = judged(close)
    assert status == "failed" and again == ("it failed by a margin within noise", NOISE_RERUNS)
    # half the answers wrong: far outside noise, the step decides
    status, again = judged(window(steady(wrong_every=2)))
    assert status == "failed" and again is None
    # latency four times the bound throughout: decides
    status, again = judged(window(steady(latency_us=800_000)))
    assert status == "failed" and again is None
    assert judged(window(steady()))[1] is None  # a pass is final


def test_a_correctness_miss_within_noise_is_final_the_rows_decide_it_not_the_load() -> None:
    # accuracy 0.675 against 0.7 (80 answers): its 95 % interval reaches the target, but a
    # re-run replays the same seeded rows and gets the same answers
    status, again = judged(window(steady(wrong_every=3)))
    assert status == "failed" and again is None
    # with a latency burst beside it: the correctness miss still stands
    lat = [800_000 if 2.0 <= i / 20 < 2.5 else 100_000 for i in range(120)]
    status, again = judged(window(steady(latency_us=lat, wrong_every=3)))
    assert status == "failed" and again is None
    # a starved generator is still run again: its late bursts change what the endpoint sees
    starved = window(steady(wrong_every=3, late={2.0: 60_000, 3.0: 60_000}))
    status, again = judged(starved, _window_reasons([], starved, users=40))
    assert status == "failed" and again is not None and again[1] == STARVED_RERUNS


def test_a_latency_burst_is_run_again_and_a_latency_that_stays_high_is_final() -> None:
    # 2 s of 800 ms answers in the middle of the window (another process took the CPU), then
    # back to 100 ms for the last quarter: p90 fails, but not because of the rate
    lat = [800_000 if 1.5 <= i / 20 < 3.5 else 100_000 for i in range(120)]
    status, again = judged(window(steady(latency_us=lat)))
    assert status == "failed" and again == (
        "its latency failed in a burst (the machine stalled?)", BURST_RERUNS)
    # slow answers within one second of the window, then fast again: a stall, run again
    lat = [800_000 if 2.0 <= i / 20 < 2.5 else 100_000 for i in range(120)]
    assert judged(window(steady(latency_us=lat)))[1] == (
        "its latency failed in a burst (the machine stalled?)", BURST_RERUNS)
    # the same burst at the end, still going when the window closed: a queue that grows
    lat = [800_000 if i / 20 >= 3.0 else 100_000 for i in range(120)]
    assert judged(window(steady(latency_us=lat))) == ("failed", None)


def test_a_failed_step_says_which_slo_failed_by_how_much_and_why() -> None:
    status, checks, _, _ = step_status(window(steady(wrong_every=2)), SLOS, [])
    from stagecheck.capacity.recheck import failure_note

    note = failure_note(checks, window(steady(wrong_every=2)))
    assert status == "failed"
    assert note == "accuracy >= 0.7: 0.5, 29 % under (40 of 80 answers wrong, 0 unparseable)"
    slow = window(steady(latency_us=300_000))
    _, checks, _, _ = step_status(slow, SLOS, [])
    note = failure_note(checks, slow)
    assert note is not None and note.startswith("latency.p90 < 200ms: 300 ms, 50 % over (")
    assert "the endpoint answers slower at this rate: p50 300 ms" in note


def test_a_step_starts_every_user_well_inside_its_warm_up(tmp_path: Path) -> None:
    plan = StepPlan(scenario="s.yaml", steps_dir=tmp_path, slos=SLOS, step_duration_s=3.0,
                    warmup_s=1.0, min_requests=58, overrides=["load.spawn_rate=4"])  # fmt: skip
    users = users_for(120.0, plan)
    assert users == 48  # 2 × 120/s × 0.2 s
    argv = _argv(120.0, users, 3.0, plan)
    # the scenario's 4/s (12 s for 48 users) is overridden by the step's own, set last
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert sets[-1] == f"load.spawn_rate={spawn_rate_for(users):g}"
    assert users / spawn_rate_for(users) <= 0.25
    # the pool follows the latency the search has seen when it exceeds the bound
    assert users_for(120.0, plan, latency_seen_s=0.5) == 120


def test_a_step_run_again_is_kept_but_the_last_run_at_its_rate_decides(tmp_path: Path,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from stagecheck.capacity import run as capacity_run

    # 20/s fails by noise the first time (p90 5 % over) and passes the second; 40/s fails
    # clearly
    runs: dict[float, int] = {}

    def run_step(rate, phase, index, plan, folder, latency_seen_s=None):  # type: ignore[no-untyped-def]
        runs[rate] = runs.get(rate, 0) + 1
        if rate <= 30 and runs[rate] > 1:
            sample = window(steady(rate=rate))
        elif rate <= 30:
            sample = window(steady(rate=rate, latency_us=210_000))
        else:
            sample = window(steady(rate=rate, wrong_every=2))
        status, checks, kinds, note = step_status(sample, SLOS, [])
        again = recheck_reason(status, checks, sample, [])
        return Step(index=index, phase=phase, offered_rate=rate, users=8, warmup_s=1.0,
                    duration_s=4.0, stretched=False, status=status,
                    figures=step_figures(sample), slos=checks, failed_kinds=kinds,
                    validity_reasons=[], note=note, run_dir=None, wall_s=6.0,
                    recheck=again[0] if again else None,
                    reruns_allowed=again[1] if again else 0)  # fmt: skip

    monkeypatch.setattr(capacity_run, "run_step", run_step)
    request = capacity_run.CapacityRequest(
        scenario="s.yaml", scenario_name="synthetic", endpoint="http://127.0.0.1:1", slos=SLOS,
        min_rate=20, max_rate=40, step_duration_s=4, warmup_s=1, max_steps=2, out=tmp_path,
        resolution=1.0,
    )  # fmt: skip
    result, _ = capacity_run.run_capacity(request)
    assert [(s.offered_rate, s.status, s.superseded) for s in result.steps] == [
        (20, "failed", True), (20, "passed", False), (40, "failed", False)]  # fmt: skip
    assert (result.capacity, result.first_failing_rate, result.exit_code) == (20, 40, 0)
    assert result.failed_first == ["accuracy >= 0.7"]


def test_the_pool_follows_latencies_that_passed_or_ran_it_short_not_a_failure_s() -> None:
    from stagecheck.capacity.run import _latency_seen

    def step(rate: float, p99_us: int, status: str, reasons: list[str]) -> Step:
        sample = window(steady(rate=rate, latency_us=p99_us))
        return Step(index=1, phase="coarse", offered_rate=rate, users=8, warmup_s=1.0,
                    duration_s=4.0, stretched=False, status=status,  # type: ignore[arg-type]
                    figures=step_figures(sample), slos=[], failed_kinds=[],
                    validity_reasons=reasons, run_dir=None, wall_s=6.0)  # fmt: skip

    short = "the arrival schedule was not kept: … (about 9 requests in flight for 10 users: " \
            "the pool ran short)"
    steps = [step(20, 150_000, "passed", []), step(40, 900_000, "failed", []),
             step(30, 600_000, "saturated", [short])]  # fmt: skip
    assert _latency_seen(steps, 25) == pytest.approx(0.15)  # the pass below; not 40/s's failure
    assert _latency_seen(steps, 30) == pytest.approx(0.6)  # the pool that ran short at 30/s
    assert _latency_seen(steps, 10) is None


def test_a_window_the_run_did_not_fill_is_the_generator_s_shortfall() -> None:
    # a distributed run whose workers started late: the window measured from the first
    # arrival, but the run ended 2 s into it
    sample = window(steady(seconds=3.0))  # 40 of the 80 due in 1 s .. 5 s
    [reason] = _window_reasons([], sample, users=8, rate=20.0)
    assert reason.startswith("the window was not filled: 40 requests measured of 80 due")
    status, again = judged(sample, [reason])
    assert status == "saturated" and again is not None and again[1] == STARVED_RERUNS
    assert _window_reasons([], window(steady()), users=8, rate=20.0) == []
