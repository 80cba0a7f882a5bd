"""The early-stop rule: a run whose first 20 requests (or all, at the end of a shorter run) got
the same HTTP 401, 403 or 404 stops with one line saying which; anything else runs on."""

from __future__ import annotations

import pytest

from stagecheck.summary.validity import EARLY_STOP_REQUESTS, early_stop_reason

pytestmark = pytest.mark.unit

ROUTE = "POST http://127.0.0.1:9/v1/chat/completions"
K = EARLY_STOP_REQUESTS


@pytest.mark.parametrize(
    ("status", "meaning"),
    [(401, "authentication"), (403, "permission"), (404, "route not found")],
)
def test_the_first_requests_all_refused_stop_the_run(status: int, meaning: str) -> None:
    line = early_stop_reason(K, {f"HTTP {status}": K}, ROUTE)
    assert line is not None and f"the first {K} requests all got HTTP {status}" in line
    assert meaning in line
    assert (ROUTE in line) == (status == 404)  # the URL says where a 404 went


def test_more_requests_than_the_rule_in_one_report_still_stop_it() -> None:
    line = early_stop_reason(K * 7, {"HTTP 401": K * 7}, ROUTE)
    assert line is not None and f"the first {K} requests" in line


@pytest.mark.parametrize(
    "causes",
    [
        {"HTTP 401": K - 1},  # one answered
        {"HTTP 401": K // 2, "HTTP 404": K - K // 2},  # two causes: not one clear mistake
        {"HTTP 500": K},  # a server error is the run's to measure
        {},
    ],
)
def test_anything_else_runs_on(causes: dict[str, int]) -> None:
    assert early_stop_reason(K, causes, ROUTE) is None


def test_a_run_shorter_than_the_rule_is_judged_at_its_end_only() -> None:
    assert early_stop_reason(5, {"HTTP 403": 5}, ROUTE) is None
    line = early_stop_reason(5, {"HTTP 403": 5}, ROUTE, final=True)
    assert line is not None and "all 5 requests got HTTP 403" in line and "permission" in line
    assert early_stop_reason(0, {}, ROUTE, final=True) is None
