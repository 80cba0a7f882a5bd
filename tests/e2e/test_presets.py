"""``endpoint.preset: seekrflow`` against a loopback stand-in that enforces a hosted platform's
rules (raw key in Authorization, routes under /v1/inference, max_completion_tokens refused, a
health route): a run works end to end; a wrong key or a wrong route stops early (exit 3) with
one line saying which; a failing health route stops the run before any load (exit 3); a missing
key variable is bad input (exit 2). The key never appears in anything stagecheck prints or
writes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hosted import ROUTE, running_hosted
from tests.support import SCENARIOS

pytestmark = pytest.mark.e2e

SCENARIO = str(SCENARIOS / "seekrflow.yaml")


def _written(run_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())


def test_a_run_through_the_preset_is_scored_and_never_shows_the_key(cli, hosted, key) -> None:
    hosted.bodies.clear()
    r = cli("run", SCENARIO, "--duration", "3s", "--set", f"endpoint.url={hosted.url}",
            env={"SEEKR_API_KEY": key, "SEEKR_TEAM_ID": "team-42"})  # fmt: skip
    assert r.code in (0, 1), r.stderr[-2000:]
    by_outcome = r.summary["requests"]["by_outcome"]
    assert by_outcome["correct"] + by_outcome["incorrect"] > 0
    assert by_outcome["http_error"] == 0
    # the raw key, exactly, with no "Bearer"; the team header; max_tokens, never the refused one
    assert hosted.last_headers["Authorization"] == key
    assert hosted.last_headers["x-team-id"] == "team-42"
    assert hosted.bodies and all("max_completion_tokens" not in b for b in hosted.bodies)
    assert all(b["max_tokens"] == 16 for b in hosted.bodies)
    for text in (r.stdout, r.stderr, _written(r.run_dir)):
        assert key not in text and key[10:] not in text


def test_a_wrong_key_stops_early_with_the_authentication_line(cli, hosted) -> None:
    started = time.monotonic()
    r = cli("run", SCENARIO, "--duration", "60s", "--set", f"endpoint.url={hosted.url}",
            env={"SEEKR_API_KEY": "not-the-key-0000"})  # fmt: skip
    elapsed = time.monotonic() - started
    assert r.code == 3, r.stderr[-2000:]
    assert elapsed < 30, f"a 60 s run of HTTP 401s took {elapsed:.0f}s"
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "stopped early" in ln]
    assert lines and "HTTP 401" in lines[0] and "authentication" in lines[0]
    reasons = r.summary["validity"]["reasons"]
    assert any("stopped early" in x and "HTTP 401" in x for x in reasons)


def test_a_url_with_a_path_is_warned_about_and_its_404s_stop_the_run(cli, hosted, key) -> None:
    url = f"{hosted.url}/v1/inference"
    env = {"SEEKR_API_KEY": key}
    v = cli("validate", SCENARIO, "--set", f"endpoint.url={url}", env=env)
    assert v.code == 0, v.stderr
    warning = [ln for ln in v.stdout.splitlines() if "warning" in ln and "endpoint.url" in ln]
    assert warning and "endpoint.options.path" in warning[0], v.stdout
    assert f"/v1/inference{ROUTE}" in warning[0]  # where the requests really go
    plain = cli("validate", SCENARIO, "--set", f"endpoint.url={hosted.url}", env=env)
    assert "endpoint.options.path" not in plain.stdout
    # with the preset, the doubled path fails its health check before any load
    r = cli("run", SCENARIO, "--set", f"endpoint.url={url}", env=env)
    assert r.code == 3
    assert "/v1/inference/v1/inference/health" in r.stderr and "HTTP 404" in r.stderr


def test_a_run_whose_requests_all_get_404_stops_early_naming_the_route(cli, demo) -> None:
    started = time.monotonic()
    r = cli("run", str(SCENARIOS / "smoke.yaml"), "--duration", "60s",
            "--set", f"endpoint.url={demo.url}/v1")  # fmt: skip
    assert r.code == 3, r.stderr[-2000:]
    assert time.monotonic() - started < 30
    route = f"POST {demo.url}/v1/v1/chat/completions"
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "stopped early" in ln]
    assert any("HTTP 404" in ln and route in ln and "route not found" in ln for ln in lines)
    assert any(route in x for x in r.summary["validity"]["reasons"])


def test_a_failing_health_route_stops_the_run_before_any_load(cli, key) -> None:
    with running_hosted(key, healthy=False) as sick:
        r = cli("run", SCENARIO, "--duration", "60s", "--set", f"endpoint.url={sick.url}",
                env={"SEEKR_API_KEY": key})  # fmt: skip
        assert r.code == 3
        errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(errors) == 1 and "health check GET" in errors[0] and "503" in errors[0]
        assert "/v1/inference/health" in errors[0]
        assert not sick.bodies  # no request was sent


def test_a_missing_key_variable_is_one_line_naming_it(cli, hosted, monkeypatch) -> None:
    monkeypatch.delenv("SEEKR_API_KEY", raising=False)
    r = cli("validate", SCENARIO, "--set", f"endpoint.url={hosted.url}")
    assert r.code == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "SEEKR_API_KEY" in lines[0] and "Traceback" not in r.stderr


def test_a_refused_parameter_is_bad_input(cli, hosted, key) -> None:
    r = cli("validate", SCENARIO, "--set", f"endpoint.url={hosted.url}",
            "--set", "endpoint.options.extra_body.max_completion_tokens=16",
            env={"SEEKR_API_KEY": key})  # fmt: skip
    assert r.code == 2
    assert "max_completion_tokens" in r.stderr and "max_tokens" in r.stderr


def test_keys_the_scenario_gives_win_over_the_preset(cli, hosted, key, monkeypatch) -> None:
    monkeypatch.delenv("SEEKR_API_KEY", raising=False)  # not needed: the header is given
    r = cli("validate", SCENARIO, "--probe", "--set", f"endpoint.url={hosted.url}",
            "--set", f"endpoint.headers.Authorization={key}")  # fmt: skip
    assert r.code == 0, r.stderr
    assert hosted.last_headers["Authorization"] == key
    other = cli("validate", SCENARIO, "--set", f"endpoint.url={hosted.url}",
                "--set", "endpoint.options.path=/elsewhere",
                env={"SEEKR_API_KEY": key})  # fmt: skip
    assert "route /elsewhere" in other.stdout
