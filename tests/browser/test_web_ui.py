"""stagecheck's tabs in Locust's web UI, in a real browser, during a real ``stagecheck run --web``.

Each test runs the demo endpoint and the CLI as subprocesses on loopback (every wait bounded),
opens Locust's page in an offline Chromium context and reads what it displays: the figures of
our tabs appear and change while the run goes, agree with ``/metrics`` and the final
``summary.json``, a dataset row holding HTML shows as text, a start from Locust's form follows
the form's user count and run time (one run folder per start), and with ``--web-login`` every
route we add refuses a request that is not logged in.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
from tests.support import FAST, REPO, free_master_port

from .conftest import _offline_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=window.__pwned=1>"
TAB_WAIT_S = 30.0
USER_READS_S = 6.0  # a user reads the final verdict before opening the report
REPORT_GRACE_S = 5.0  # stagecheck.locust.webui's (importing it here would import Locust)


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    proc, url = start_demo_subprocess(*FAST)
    try:
        yield url
    finally:
        stop_demo_subprocess(proc)


def _dataset(tmp: Path) -> Path:
    """25 rows of the bundled set, and 3 whose text and label hold HTML (always wrong)."""
    src = (REPO / "scenarios" / "data" / "support_intents.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in src.splitlines()[:25]]
    for i in range(3):
        rows.append({"id": f"xss{i}", "text": f"{PAYLOAD} row {i}", "label": PAYLOAD,
                     "complexity": "simple", "channel": "chat"})  # fmt: skip
    path = tmp / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _start(tmp: Path, url: str, port: int, *extra: str, env: dict[str, str] | None = None,
           duration: str = "8s") -> subprocess.Popen[str]:  # fmt: skip
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", "scenarios/smoke.yaml", "--web",
           "--web-port", str(port), "--set", f"endpoint.url={url}", "--set",
           f"dataset.path={_dataset(tmp)}", "--duration", duration, "--out", str(tmp / "runs"),
           "--quiet", *extra]  # fmt: skip
    log = (tmp / "stagecheck.log").open("w")
    return subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})  # fmt: skip


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise


def _get(port: int, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain GET that does not follow redirects (and sends the path as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _until(check: Callable[[], Any], what: str, timeout: float = TAB_WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
            value, last_error = None, exc
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


def _read_table(page: Page) -> list[dict[str, str]]:
    header, rows = page.locator("table").first.evaluate(
        """(t) => [
            [...t.querySelectorAll('thead th')].map((c) => c.textContent.trim()),
            [...t.querySelectorAll('tbody tr')].map(
                (r) => [...r.children].map((c) => c.textContent.trim())),
        ]"""
    )
    return [dict(zip(header, row, strict=True)) for row in rows]


def _items(page: Page) -> dict[str, dict[str, str]]:
    return {row["Item"]: row for row in _read_table(page) if "Item" in row}


def _open_tab(page: Page, title: str) -> None:
    page.get_by_role("tab", name=title).click()
    page.locator("table thead th").first.wait_for(timeout=10_000)


def _tabs_outside_the_bar(page: Page) -> list[str]:
    """The tabs not wholly visible in the tab bar (which scrolls when they do not fit)."""
    return list(
        page.evaluate(
            """() => {
            const bar = document.querySelector('[role=tablist]');
            const box = bar.parentElement.getBoundingClientRect();
            return [...bar.querySelectorAll('[role=tab]')]
                .filter((t) => { const r = t.getBoundingClientRect();
                                 return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
                .map((t) => t.textContent);
        }"""
        )
    )


def _metrics_requests(port: int) -> dict[str, int]:
    status, _, body = _get(port, "/metrics")
    assert status == 200
    out: dict[str, int] = {}
    for line in body.decode().splitlines():
        if line.startswith("stagecheck_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = out.get(outcome, 0) + int(float(value))
    return out


def _stats(port: int) -> dict[str, Any]:
    status, _, body = _get(port, "/stats/requests")
    assert status == 200
    return dict(json.loads(body))


def _summaries(runs: Path) -> list[dict[str, Any]]:
    folders = sorted(p for p in runs.iterdir() if (p / "summary.json").is_file())
    return [json.loads((p / "summary.json").read_text(encoding="utf-8")) for p in folders]


def _run_ended(port: int) -> bool:
    data = _stats(port)
    verdict = next(t for t in data["extended_stats"] if t["key"] == "stagecheck")["data"][0]
    return data["state"] == "stopped" and verdict["status"] == "finished"


def test_tabs_live_final_and_form_start(browser: Browser, tmp_path: Path, demo_url: str) -> None:
    port = free_master_port()
    proc = _start(tmp_path, demo_url, port, "--keep-web")
    requests: list[str] = []
    blocked: list[str] = []
    context = _offline_context(browser, requests, blocked)
    console_errors: list[str] = []
    page_errors: list[str] = []
    try:
        _until(lambda: _get(port, "/")[0] == 200, "the web UI")
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        _open_tab(page, "Verdict")
        # our tabs fit in the bar beside Locust's own: none hidden behind its scroll arrows
        assert _tabs_outside_the_bar(page) == []

        # live: figures appear, then move while the run goes
        first = _until(lambda: int(_items(page).get("requests", {}).get("Value") or 0),
                       "a first request count")  # fmt: skip
        assert _items(page)["verdict"]["Value"] == "RUNNING"
        _until(lambda: int(_items(page)["requests"]["Value"]) > first, "the count to move")
        shown = {k for k in _items(page) if k.startswith("threshold ")}
        assert "threshold accuracy >= 0.80" in shown
        assert "accuracy" in _items(page) and "F1 macro" in _items(page)

        # the end of the plan: the final figures agree exactly with summary.json and /metrics
        _until(lambda: _run_ended(port), "the end of the first run")
        (summary,) = _summaries(tmp_path / "runs")
        final = _until(lambda: (v := _items(page))["verdict"]["Status"] == "finished" and v,
                       "the final verdict in the tab")  # fmt: skip
        assert final["verdict"]["Value"] == summary["verdict"].upper()
        assert int(final["requests"]["Value"]) == summary["requests"]["total"]
        by_outcome = summary["requests"]["by_outcome"]
        for outcome, n in by_outcome.items():
            assert int(final[f"outcome {outcome}"]["Value"]) == n
        assert {k: v for k, v in _metrics_requests(port).items() if v} == {
            k: v for k, v in by_outcome.items() if v
        }
        assert final["report"]["Value"] == "/stagecheck/runs/1/report.html"
        assert final["report"]["Status"] == "ready"
        for t in summary["thresholds"]:
            assert final[f"threshold {t['expression']}"]["Status"] == (
                "PASS" if t["passed"] else "FAIL"
            )

        # the report, read-only from the run folder, and nothing outside it
        status, headers, body = _get(port, "/stagecheck/runs/1/report.html")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert summary["run"]["scenario"].encode() in body
        status, headers, _ = _get(port, "/stagecheck/report/latest")
        assert status == 302 and headers["location"].endswith("/stagecheck/runs/1/report.html")
        for bad in ("/stagecheck/runs/1/../../../../etc/passwd",
                    "/stagecheck/runs/1/..%2f..%2f..%2f..%2fetc%2fpasswd",
                    "/stagecheck/runs/1/%2fetc%2fpasswd", "/stagecheck/runs/2/report.html",
                    "/stagecheck/runs/0/report.html"):  # fmt: skip
            status, headers, _ = _get(port, bad)
            if status == 308:  # Werkzeug merges the slashes of "1//etc": the result is refused
                location = urllib.parse.urlsplit(headers["location"]).path
                assert location.startswith("/stagecheck/runs/1/"), location
                status = _get(port, location)[0]
            assert status == 404, bad

        # classes worst first, then slices worst first, as shown (Locust's table sorts its rows
        # by a "name" key when there is one); HDR beside Locust's rounded figures
        _open_tab(page, "Quality")
        quality = _read_table(page)
        f1s = [float(r["F1"]) for r in quality if r["Kind"].startswith("class")]
        assert f1s == sorted(f1s) and len(f1s) == len(summary["classes"])
        slices = [(float(r["Accuracy"]), r["Name"]) for r in quality
                  if r["Kind"].startswith("slice")]  # fmt: skip
        assert len(slices) == len(summary["slices"]) > 1
        assert [a for a, _ in slices] == sorted(a for a, _ in slices), slices
        _open_tab(page, "Latency")
        lat = _read_table(page)
        whole = next(
            r for r in lat if r["Source"] == "stagecheck HDR" and r["Window"] == "whole run"
        )
        assert whole["p99"] == f"{summary['latency']['e2e']['p99_us'] / 1000:.3f} ms"
        assert int(whole["Count"]) == summary["latency"]["e2e"]["count"]
        assert any(r["Source"] == "Locust (rounded)" for r in lat)

        # a dataset row holding HTML shows as text
        # the wrong answers: rows of the Quality tab (three tabs fit a 1280-pixel window)
        _open_tab(page, "Quality")
        samples = [r for r in _read_table(page) if r["Kind"].startswith("answer ")]
        assert any(r["Name"].startswith(PAYLOAD) for r in samples)
        assert len(samples) == len(summary["samples"])
        assert page.locator("table img").count() == 0
        assert page.evaluate("window.__pwned") is None
        page.screenshot(path=str(tmp_path / "stagecheck-samples.png"))

        # a start from Locust's form uses its user count and run time: a run folder of its own
        page.get_by_role("button", name="New").click()
        page.get_by_label("Number of users (peak concurrency)").fill("3")
        page.get_by_label("Ramp up (users started/second)").fill("3")
        page.get_by_text("Advanced options").click()
        page.get_by_label("Run time (e.g. 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.)").fill("4s")
        page.get_by_role("button", name="Start").click()
        _open_tab(page, "Verdict")
        second_report = "/stagecheck/runs/2/report.html"
        _until(lambda: _items(page).get("report", {}).get("Value") == second_report,
               "the second run in the tab")  # fmt: skip
        _until(lambda: len(_summaries(tmp_path / "runs")) == 2 and _run_ended(port),
               "the end of the second run")  # fmt: skip
        second = _summaries(tmp_path / "runs")[1]
        assert second["run"]["load"]["users"] == 3
        assert second["run"]["load"]["duration_s"] == 4
        done = _until(lambda: (v := _items(page))["verdict"]["Status"] == "finished" and v,
                      "the second verdict")  # fmt: skip
        assert int(done["requests"]["Value"]) == second["requests"]["total"]
        page.screenshot(path=str(tmp_path / "stagecheck-tab.png"), full_page=True)

        assert blocked == [], "the page tried to leave the machine"
        assert all(urllib.parse.urlsplit(u).hostname == "127.0.0.1" for u in requests)
        assert console_errors == []
        assert page_errors == []
    finally:
        context.close()
        code = _stop(proc)
    assert code in (0, 1), (tmp_path / "stagecheck.log").read_text()


def test_web_login_guards_our_routes_and_quits_with_the_plan(tmp_path: Path, demo_url: str) -> None:
    """Plain HTTP: every route we add sends a visitor who is not logged in to the login page;
    logged in, they answer. Without ``--keep-web`` the process ends with the plan."""
    port = free_master_port()
    env = {"STAGECHECK_WEB_USER": "ana", "STAGECHECK_WEB_PASSWORD": "s3cret"}
    proc = _start(tmp_path, demo_url, port, "--web-login", env=env, duration="6s")
    try:
        _until(lambda: _get(port, "/login")[0] == 200, "the login page")
        ours = ("/metrics", "/stats/requests", "/stagecheck/report/latest",
                "/stagecheck/runs/1/report.html", "/stagecheck/runs/1/summary.json")  # fmt: skip
        for path in ours:
            status, headers, body = _get(port, path)
            assert status == 302 and "/login" in headers["location"], (path, status, body[:200])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        form = urllib.parse.urlencode({"username": "ana", "password": "wrong"})
        conn.request("POST", "/stagecheck/login", form,
                     {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        r = conn.getresponse()
        r.read()
        assert "/login" in (r.getheader("Location") or "")
        form = urllib.parse.urlencode({"username": "ana", "password": "s3cret"})
        conn.request("POST", "/stagecheck/login", form,
                     {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        r = conn.getresponse()
        r.read()
        cookie = (r.getheader("Set-Cookie") or "").split(";", 1)[0]
        conn.close()
        assert cookie
        status, _, body = _get(port, "/metrics", cookie)
        assert status == 200 and b"stagecheck_requests_total" in body
        assert "extended_stats" in json.loads(_get(port, "/stats/requests", cookie)[2])
        code = proc.wait(timeout=60)  # the plan ends: the process quits by itself
    finally:
        _stop(proc)
    assert code in (0, 1), (tmp_path / "stagecheck.log").read_text()
    assert len(_summaries(tmp_path / "runs")) == 1


def _post(port: int, path: str, form: dict[str, str], cookie: str | None = None
          ) -> tuple[int, dict[str, str]]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("POST", path, urllib.parse.urlencode(form), headers)
        r = conn.getresponse()
        r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def test_web_login_checks_the_login_before_the_form_reaches_the_plan(
    tmp_path: Path, demo_url: str
) -> None:
    """An unauthenticated POST /swarm once reached stagecheck's form hook before Locust's login
    check and rewrote the stored plan (3 users for 5 s). Now the visitor gets Locust's answer
    (the login page), no run starts, and the next run started from the form without figures of
    its own (then the plan stands) runs the plan as it was: 8 users for 3 s."""
    port = free_master_port()
    env = {"STAGECHECK_WEB_USER": "ana", "STAGECHECK_WEB_PASSWORD": "s3cret"}
    proc = _start(tmp_path, demo_url, port, "--web-login", "--keep-web", env=env, duration="3s")
    try:
        _until(lambda: _get(port, "/login")[0] == 200, "the login page")
        status, headers = _post(port, "/stagecheck/login", {"username": "ana",
                                                             "password": "s3cret"})  # fmt: skip
        cookie = headers.get("set-cookie", "").split(";", 1)[0]
        assert status == 302 and cookie

        def ended() -> bool:
            body = json.loads(_get(port, "/stats/requests", cookie)[2])
            verdict = next(t for t in body["extended_stats"] if t["key"] == "stagecheck")
            return body["state"] == "stopped" and verdict["data"][0]["status"] == "finished"

        _until(ended, "the end of the autostarted run")
        form = {"user_count": "3", "spawn_rate": "3", "host": demo_url, "run_time": "5s"}
        status, headers = _post(port, "/swarm", form)  # not logged in
        assert status == 302 and "/login" in headers["location"], (status, headers)
        body = json.loads(_get(port, "/stats/requests", cookie)[2])
        assert body["state"] == "stopped"  # no run started
        assert len(list((tmp_path / "runs").iterdir())) == 1
        status, _ = _post(port, "/swarm", {"host": demo_url}, cookie)  # logged in: a new run
        assert status == 200
        _until(lambda: len(_summaries(tmp_path / "runs")) == 2, "the second run's summary")
    finally:
        code = _stop(proc)
    assert code in (0, 1), (tmp_path / "stagecheck.log").read_text()[-3000:]
    load = _summaries(tmp_path / "runs")[1]["run"]["load"]
    assert (load["users"], load["duration_s"]) == (8, 3.0), load


def test_web_login_without_its_credentials_is_bad_input(tmp_path: Path) -> None:
    """``--web-login`` with no STAGECHECK_WEB_USER/PASSWORD locked everyone out silently: now
    one line and exit 2, before anything starts (the endpoint is not even checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECHECK_WEB_")}
    env["STAGECHECK_WEB_USER"] = "ana"  # a user without a password is not enough
    r = subprocess.run([sys.executable, "-m", "stagecheck.cli", "run", "scenarios/smoke.yaml",
                        "--web", "--web-login", "--web-port", str(free_master_port()),
                        "--set", "endpoint.url=http://127.0.0.1:9", "--out", str(tmp_path)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "STAGECHECK_WEB_PASSWORD" in lines[0], lines
    assert not any(tmp_path.iterdir())  # no run folder


def test_the_ui_stays_up_for_the_report_then_exits_with_the_runs_code(
    tmp_path: Path, demo_url: str
) -> None:
    """The UI quit 3 s after the plan ended, before its user could open the report it links to.
    Now, like a user who reads the verdict first (a few seconds), the report link answers; once
    the report has been fetched the process still exits by itself, with the run's exit code,
    within a bound."""
    port = free_master_port()
    proc = _start(tmp_path, demo_url, port, duration="3s")
    try:
        _until(lambda: _run_ended(port), "the end of the run")
        time.sleep(USER_READS_S)  # the user reads the verdict before clicking: not a poll
        status, headers, _ = _get(port, "/stagecheck/report/latest")
        assert status == 302, status
        status, _, body = _get(port, headers["location"])
        assert status == 200 and b"<html" in body[:2000].lower()
        fetched = time.monotonic()
        code = proc.wait(timeout=REPORT_GRACE_S + 30)  # the process quits by itself
        assert time.monotonic() - fetched >= REPORT_GRACE_S - 1  # the page had its time
    finally:
        _stop(proc)
    summary = _summaries(tmp_path / "runs")[0]
    assert code == {"passed": 0, "failed": 1, "invalid": 3}[summary["verdict"]], code


def test_the_ui_quits_by_itself_after_its_linger(tmp_path: Path, demo_url: str) -> None:
    """Nobody opens the report: the UI quits ``--web-linger`` seconds after the run, with the
    run's exit code."""
    port = free_master_port()
    proc = _start(tmp_path, demo_url, port, "--web-linger", "2", duration="3s")
    try:
        _until(lambda: _run_ended(port), "the end of the run")
        code = proc.wait(timeout=30)
    finally:
        _stop(proc)
    summary = _summaries(tmp_path / "runs")[0]
    assert code == {"passed": 0, "failed": 1, "invalid": 3}[summary["verdict"]], code


def _tab_boxes(page: Page) -> list[dict[str, Any]]:
    """Every tab of the tab bar (Locust's and ours) with its box on the page."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('[role=tab]')].map((t) => {
                const r = t.getBoundingClientRect();
                return {name: t.textContent, left: r.left, right: r.right, top: r.top,
                        bottom: r.bottom};
            })"""
        )
    )


def test_a_run_without_a_correctness_gate_says_so_in_a_1280_pixel_window(
    browser: Browser, tmp_path: Path, demo_url: str
) -> None:
    """The Verdict tab says that no correctness gate was set (the console, summary.md,
    report.html and junit.xml say it too), and every tab fits a 1280-pixel window: each one
    wholly inside it, none over another."""
    port = free_master_port()
    proc = _start(tmp_path, demo_url, port, "--set", 'thresholds=["latency.p99 < 10s"]',
                  "--keep-web", duration="3s")  # fmt: skip
    context = _offline_context(browser, [], [])
    try:
        _until(lambda: _get(port, "/")[0] == 200, "the web UI")
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        _open_tab(page, "Verdict")
        page.screenshot(path=str(tmp_path / "tabs-1280.png"))
        boxes = _tab_boxes(page)
        assert {"Verdict", "Quality", "Latency"} <= {b["name"] for b in boxes}, boxes
        for b in boxes:
            assert b["left"] >= 0 and b["right"] <= 1280 and b["bottom"] > b["top"], b
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart = (
                    a["right"] <= b["left"] + 0.5
                    or b["right"] <= a["left"] + 0.5
                    or a["bottom"] <= b["top"] + 0.5
                    or b["bottom"] <= a["top"] + 0.5
                )
                assert apart, (a, b)  # fmt: skip
        _until(lambda: _run_ended(port), "the end of the run")
        gate = _until(lambda: _items(page).get("correctness gate"), "the correctness gate row")
        assert gate["Status"] == "WARNING" and gate["Value"] == "none"
        assert gate["Detail"].startswith("no correctness gate was set: answers not judged")
        (summary,) = _summaries(tmp_path / "runs")
        assert summary["verdict"] in ("passed", "invalid")
    finally:
        context.close()
        _stop(proc)


def _metric(text: str, series: str, label: str = "") -> dict[str, float]:
    """``{label value: value}`` of a series in a /metrics text (``{"": v}`` without ``label``)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(series + "{"):
            labels, value = line.rsplit(" ", 1)
            key = labels.split(f'{label}="', 1)[1].split('"', 1)[0] if label else ""
            out[key] = float(value)
    return out


def test_production_weighted_accuracy_and_flip_rates_when_the_run_ends(
    browser: Browser, tmp_path: Path, demo_url: str
) -> None:
    """A run with ``--against`` a production sample and ``dataset.variants``: once it ends, the
    Verdict tab shows the production-weighted accuracy and macro-F1 beside the run's own, the
    Quality tab each variant's accuracy and flip rate, and the UI's /metrics the same figures,
    all equal to summary.json."""
    port = free_master_port()
    cmd = [sys.executable, "-m", "stagecheck.cli", "run", "scenarios/robustness.yaml", "--web",
           "--web-port", str(port), "--keep-web", "--set", f"endpoint.url={demo_url}",
           "--set", "dataset.limit=80", "--against",
           "scenarios/data/production_sample.jsonl", "--out", str(tmp_path / "runs"),
           "--quiet"]  # fmt: skip
    with (tmp_path / "stagecheck.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
    context = _offline_context(browser, [], [])
    try:
        _until(lambda: _get(port, "/")[0] == 200, "the web UI")
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        _open_tab(page, "Verdict")
        _until(lambda: _run_ended(port), "the end of the run")
        (summary,) = _summaries(tmp_path / "runs")
        weighted = summary["production"]["figures"]
        items = _until(lambda: (v := _items(page))["verdict"]["Status"] == "finished" and v,
                       "the final verdict in the tab")  # fmt: skip
        shown = items["accuracy (production-weighted)"]
        assert shown["Value"] == f"{weighted['accuracy']:.4f}"
        assert f"run's own {summary['quality']['accuracy']:.4f}" in shown["Detail"]
        assert items["F1 macro (production-weighted)"]["Value"] == f"{weighted['f1_macro']:.4f}"
        page.screenshot(path=str(tmp_path / "verdict-production.png"), full_page=True)

        _open_tab(page, "Quality")
        rows = [r for r in _read_table(page) if r["Kind"] == "variant"]
        variants = summary["variants"]["variants"]
        assert [r["Name"] for r in rows] == [v["name"] for v in variants]
        for row, v in zip(rows, variants, strict=True):
            assert row["Accuracy"] == f"{v['accuracy']:.4f}"
            if v["name"] != "original":
                assert row["Detail"].startswith(f"flip rate {100 * v['flip_rate']:.2f} %"), row
        page.locator("tbody tr", has_text="the rows as written").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "quality-variants.png"))

        status, _, body = _get(port, "/metrics")
        assert status == 200
        text = body.decode()
        assert _metric(text, "stagecheck_production_accuracy_ratio") == {
            "": pytest.approx(weighted["accuracy"])
        }
        assert _metric(text, "stagecheck_variant_flip_ratio", "variant") == pytest.approx(
            {v["name"]: v["flip_rate"] for v in variants if v["flip_rate"] is not None}
        )
    finally:
        context.close()
        code = _stop(proc)
    assert code in (0, 1), (tmp_path / "stagecheck.log").read_text()[-3000:]
