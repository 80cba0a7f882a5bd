"""The CLI as a user runs it: exit codes, run folder, nothing lost between client and server,
exact pass equal to an offline evaluation."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from stagecheck.demo.model import load_default
from tests.support import SCENARIOS, free_master_port

pytestmark = pytest.mark.e2e

RUN_FILES = {
    "summary.json",
    "report.html",
    "summary.md",
    "junit.xml",
    "latency.hlog",
    "results.jsonl",
    "scenario.yaml",
}


def test_passing_run_exit_0_and_every_request_accounted_for(demo, cli):
    demo.reset()
    r = cli(
        "run",
        str(SCENARIOS / "smoke.yaml"),
        "--set",
        f"endpoint.url={demo.url}",
        "--users",
        "4",
        "--duration",
        "3s",
    )
    assert r.code == 0, r.stderr
    assert {p.name for p in r.run_dir.iterdir()} >= RUN_FILES
    s = r.summary
    assert s["verdict"] == "passed"
    total = s["requests"]["total"]
    assert total > 50
    # the endpoint's own count: nothing lost between client and server
    assert demo.stats()["requests_total"] == total
    assert len(r.results()) == total
    assert Counter(x["outcome"] for x in r.results()) == {
        k: v for k, v in s["requests"]["by_outcome"].items() if v
    }
    assert "PASSED" in r.stdout and str(r.run_dir.name) in r.stdout
    assert s["run"]["load"]["users"] == 4
    # the target's resource usage, sampled from the demo endpoint's real /metrics
    target = s["target"]
    assert target["errors"] == 0 and target["samples"] >= 2
    assert 0 < target["cpu_percent_mean"] <= 200  # two cores at most
    assert target["memory_bytes_max"] > 10_000_000
    assert "Target    CPU" in r.stdout


def test_failing_threshold_exit_1_with_junit_failure(demo, cli):
    r = cli(
        "run",
        str(SCENARIOS / "smoke.yaml"),
        "--set",
        f"endpoint.url={demo.url}",
        "--set",
        "thresholds=[accuracy >= 0.99, error_rate < 1%]",
        "--duration",
        "2s",
    )
    assert r.code == 1, r.stderr
    junit = (r.run_dir / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="1"' in junit
    assert r.summary["verdict"] == "failed"
    assert "FAILED" in r.stdout


def test_bad_scenario_exit_2_names_key_and_line(tmp_path, cli):
    bad = tmp_path / "bad.yaml"
    text = (SCENARIOS / "smoke.yaml").read_text().replace("  timeout: 10s", "  timout: 10s")
    text = text.replace("data/support_intents.jsonl", str(SCENARIOS / "data/support_intents.jsonl"))
    bad.write_text(text)
    r = cli("run", str(bad))
    assert r.code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    line_no = text.splitlines().index("  timout: 10s") + 1
    assert f"{bad}:{line_no}: endpoint.timout: unknown key; did you mean 'timeout'?" in lines[0]
    assert "Traceback" not in r.stderr
    r = cli("validate", str(bad))
    assert r.code == 2 and "endpoint.timout" in r.stderr


def test_unreachable_endpoint_exit_3_one_line(cli):
    r = cli("run", str(SCENARIOS / "smoke.yaml"), "--set", "endpoint.url=http://127.0.0.1:9")
    assert r.code == 3
    assert r.stderr.strip() == (
        "stagecheck: endpoint http://127.0.0.1:9 is unreachable: Connection refused"
    )


def test_exact_pass_sends_each_row_once_and_matches_offline_accuracy(demo, cli):
    demo.reset()
    r = cli("run", str(SCENARIOS / "exact-pass.yaml"), "--set", f"endpoint.url={demo.url}")
    assert r.code == 0, r.stderr + r.stdout
    rows = [
        json.loads(x) for x in (SCENARIOS / "data/support_intents.jsonl").read_text().splitlines()
    ]
    assert demo.stats()["requests_total"] == len(rows)
    results = r.results()
    assert sorted(x["row"] for x in results) == list(range(len(rows)))
    s = r.summary
    assert s["validity"]["valid"] and s["requests"]["total"] == len(rows)
    # the same predictions computed offline by the same model, number for number
    model = load_default()
    offline = sum(model.predict(row["text"])[0] == row["label"] for row in rows) / len(rows)
    assert s["quality"]["accuracy"] == pytest.approx(offline, abs=1e-12)
    from_results = sum(x["outcome"] == "correct" for x in results) / len(results)
    assert s["quality"]["accuracy"] == pytest.approx(from_results, abs=1e-12)
    complex_ = next(x for x in s["slices"] if x["value"] == "complex")
    simple = next(x for x in s["slices"] if x["value"] == "simple")
    assert complex_["quality"]["accuracy"] < simple["quality"]["accuracy"]


@pytest.mark.parametrize("scenario", ["kserve-v2.yaml", "mlflow.yaml", "json-api.yaml"])
def test_every_protocol_scores_the_same_model_the_same(demo, cli, scenario):
    r = cli(
        "run",
        str(SCENARIOS / scenario),
        "--set",
        f"endpoint.url={demo.url}",
        "--set",
        "dataset.passes=1",
        "--set",
        "dataset.limit=120",
        "--set",
        "thresholds=[]",
    )
    assert r.code == 0, r.stderr + r.stdout
    rows = [
        json.loads(x) for x in (SCENARIOS / "data/support_intents.jsonl").read_text().splitlines()
    ][:120]
    model = load_default()
    offline = sum(model.predict(row["text"])[0] == row["label"] for row in rows) / len(rows)
    s = r.summary
    assert s["requests"]["total"] == 120
    assert s["quality"]["accuracy"] == pytest.approx(offline, abs=1e-12)


def test_streaming_run_measures_ttft_and_itl(cli):
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
    from tests.support import FAST

    # tokens 5 ms apart (FAST's 1 ms is too close to what a loaded machine blurs)
    proc, url = start_demo_subprocess(*FAST, "--token-delay-ms", "5")
    try:
        r = cli(
            "run",
            str(SCENARIOS / "llm-chat-stream.yaml"),
            "--set",
            f"endpoint.url={url}",
            "--set",
            "dataset.passes=1",
            "--set",
            "dataset.limit=80",
            "--set",
            "thresholds=[]",
        )
    finally:
        stop_demo_subprocess(proc)
    assert r.code == 0, r.stderr + r.stdout
    lat = r.summary["latency"]
    assert lat["ttft"]["count"] == 80
    assert lat["itl"]["count"] > 80  # several tokens per answer
    assert lat["ttft"]["p50_us"] < lat["e2e"]["p50_us"]
    # ITL must show the server's pacing, not bursts of chunks held back by Nagle's algorithm
    # on the server (what a server without TCP_NODELAY produces: gaps near 0 and ~40 ms).
    assert 3_500 <= lat["itl"]["p50_us"] <= 20_000
    assert r.summary["quality"]["accuracy"] > 0.5


def test_failing_endpoint_never_crashes_and_errors_are_counted(cli):
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess
    from tests.support import FAST

    proc, url = start_demo_subprocess(*FAST, "--error-rate", "0.3", "--seed", "3")
    try:
        r = cli(
            "run",
            str(SCENARIOS / "exact-pass.yaml"),
            "--set",
            f"endpoint.url={url}",
            "--set",
            "dataset.limit=200",
        )
    finally:
        stop_demo_subprocess(proc)
    assert r.code == 1, r.stderr + r.stdout  # error_rate < 1% fails
    s = r.summary
    by = s["requests"]["by_outcome"]
    assert s["requests"]["total"] == 200
    assert 30 < by["http_error"] < 90
    assert s["requests"]["error_rate"] == pytest.approx(by["http_error"] / 200)
    # transport failures are not answers: accuracy counts the answered requests only
    assert s["quality"]["scored"] == 200 - by["http_error"]
    # the status, the route and the server's own words
    errors = {x["error"] for x in s["samples"] if x["outcome"] == "http_error"}
    assert errors and all(e.startswith("HTTP 503: POST /v1/chat/completions → ") for e in errors)


def test_timeouts_are_their_own_outcome(cli):
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    proc, url = start_demo_subprocess("--latency-ms", "400", "--jitter-ms", "0")
    try:
        r = cli(
            "run",
            str(SCENARIOS / "exact-pass.yaml"),
            "--set",
            f"endpoint.url={url}",
            "--set",
            "endpoint.timeout=100ms",
            "--set",
            "dataset.limit=16",
        )
    finally:
        stop_demo_subprocess(proc)
    s = r.summary
    assert s["requests"]["by_outcome"]["timeout"] == 16, s["requests"]
    assert s["requests"]["by_cause"] == {"timeout": 16}
    # nothing was answered: the run measured nothing of the model, whatever its thresholds
    assert r.code == 3
    reasons = s["validity"]["reasons"]
    assert "none of the 16 requests got a usable answer (mostly timeout)" in reasons


def test_report_and_compare(demo, cli):
    base = cli(
        "run",
        str(SCENARIOS / "smoke.yaml"),
        "--set",
        f"endpoint.url={demo.url}",
        "--duration",
        "2s",
    )
    new = cli(
        "run",
        str(SCENARIOS / "smoke.yaml"),
        "--set",
        f"endpoint.url={demo.url}",
        "--duration",
        "2s",
    )
    (base.run_dir / "report.html").unlink()
    r = cli("report", str(base.run_dir))
    assert r.code == 0 and (base.run_dir / "report.html").is_file()
    r = cli("compare", str(base.run_dir), str(new.run_dir))
    assert r.code in (0, 1)
    assert "accuracy" in r.stdout
    r = cli("report", str(base.out_dir / "nope"))
    assert r.code == 2 and "nope" in r.stderr


def test_report_judges_an_old_run_by_new_thresholds(demo, cli):
    base = cli("run", str(SCENARIOS / "smoke.yaml"), "--set", f"endpoint.url={demo.url}",
               "--duration", "2s")  # fmt: skip
    assert base.code == 0, base.stdout[-2000:]
    folder = str(base.run_dir)
    own = json.loads((base.run_dir / "summary.json").read_text())
    own_files = {n: (base.run_dir / n).read_bytes() for n in ("summary.json", "report.html",
                                                              "summary.md", "junit.xml")}

    def judged(name: str = "summary.rejudged.json") -> dict[str, object]:
        summary = json.loads((base.run_dir / name).read_text())
        return {t["metric"]: t for t in summary["thresholds"]} | {"verdict": summary["verdict"]}

    # percentiles outside the usual set are computed from latency.hlog, not "n/a"
    r = cli("report", folder, "--threshold", "latency.p75 < 1us")
    assert r.code == 1, r.stdout[-2000:]
    got = judged()
    assert got["verdict"] == "failed" and got["latency.p75"]["observed"] > 1e-6
    # the re-judged verdict is written beside the run's own, which is kept as it was
    assert f"wrote {base.run_dir / 'summary.rejudged.json'}" in r.stdout
    for name in ("report.rejudged.html", "summary.rejudged.md", "junit.rejudged.xml"):
        assert f"wrote {base.run_dir / name}" in r.stdout and (base.run_dir / name).is_file()
    assert {n: (base.run_dir / n).read_bytes() for n in own_files} == own_files
    # goodput counts the answers within the latency bound of the thresholds judged now, not
    # of the run's own (smoke.yaml: latency.p99 < 300ms)
    r = cli("report", folder, "--threshold", "latency.p50 < 1us", "--threshold", "goodput >= 1/s")
    assert r.code == 1, r.stdout[-2000:]
    rejudged = json.loads((base.run_dir / "summary.rejudged.json").read_text())
    goodput = rejudged["analysis"]["goodput"]
    assert goodput["latency_bound_s"] == pytest.approx(1e-6) and goodput["requests"] == 0
    assert judged()["goodput"]["passed"] is False
    r = cli("report", folder, "--threshold", "latency.p99.99 < 60s",
            "--threshold", "accuracy >= 1% at 95% confidence")  # fmt: skip
    assert r.code == 0, r.stdout[-2000:]
    got = judged()
    assert got["verdict"] == "passed" and set(got) == {"latency.p99.99", "accuracy", "verdict"}
    assert got["accuracy"]["observed"] < got["accuracy"]["estimate"]  # judged on the lower bound
    markdown = (base.run_dir / "summary.rejudged.md").read_text()
    assert "latency.p99.99 &lt; 60s" in markdown and "(lower 95% bound; estimate" in markdown
    # the error analysis is rebuilt too
    assert json.loads((base.run_dir / "summary.rejudged.json").read_text())["analysis"]["replays"]
    # the re-judged summary's own reports are rebuilt under its name, not the run's
    r = cli("report", str(base.run_dir / "summary.rejudged.json"))
    assert r.code == 0 and f"wrote {base.run_dir / 'report.rejudged.html'}" in r.stdout
    assert (base.run_dir / "report.html").read_bytes() == own_files["report.html"]
    # a plain report afterwards judges the run by its own thresholds again
    r = cli("report", folder)
    assert r.code == 0, r.stdout[-2000:]
    assert verdicts(json.loads((base.run_dir / "summary.json").read_text())) == verdicts(own)
    assert "latency.p99.99" not in (base.run_dir / "summary.md").read_text()
    r = cli("report", folder, "--threshold", "latency.p99 < fast", "--threshold", "acc > 1")
    assert r.code == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 2, r.stderr
    # a folder an older stagecheck re-judged in place: a plain report judges it by the
    # scenario's thresholds again (from scenario.yaml) and says so
    from stagecheck.runfolder.layout import write_summary
    from stagecheck.summary.pipeline import rejudge_run_folder

    old = rejudge_run_folder(base.run_dir, json.loads((base.run_dir / "summary.json").read_text()),
                             ["latency.p75 < 1us"])  # fmt: skip
    write_summary(base.run_dir, old)
    r = cli("report", folder)
    assert r.code == 0, r.stdout[-2000:]
    restored = json.loads((base.run_dir / "summary.json").read_text())
    assert verdicts(restored) == verdicts(own)
    assert any("from scenario.yaml" in n for n in restored["notes"]), restored["notes"]


def verdicts(summary: dict[str, Any]) -> tuple[object, ...]:
    return summary["verdict"], [(t["expression"], t["passed"]) for t in summary["thresholds"]]


def test_open_loop_counts_queueing_that_a_closed_loop_would_hide(cli):
    """Coordinated omission guard: at 20/s against a 200 ms endpoint, 2 users can serve only
    10/s. A closed loop would report ~200 ms; the open loop must report the queue building up
    (latency from each request's due time) and mark the run invalid."""
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    knobs = ("--latency-ms", "200", "--jitter-ms", "0", "--slowdown-ms-per-request", "0",
             "--complex-extra-ms", "0")  # fmt: skip
    proc, url = start_demo_subprocess(*knobs)
    try:
        runs = {
            users: cli(
                "run",
                str(SCENARIOS / "open-loop.yaml"),
                "--set",
                f"endpoint.url={url}",
                "--rate",
                "20/s",
                "--users",
                str(users),
                "--duration",
                "4s",
                "--set",
                "thresholds=[]",
                "--set",
                "load.arrivals=constant",  # a known number of arrivals: each is accounted for
            )  # fmt: skip
            for users in (20, 2)
        }
    finally:
        stop_demo_subprocess(proc)
    kept, starved = runs[20].summary, runs[2].summary
    assert runs[20].code == 0, runs[20].stdout
    assert kept["run"]["load"]["mode"] == "arrival_rate"
    assert kept["throughput"]["requests_per_s"] == pytest.approx(20, rel=0.15)
    assert 190_000 <= kept["latency"]["e2e"]["p50_us"] <= 300_000
    assert runs[2].code == 3  # invalid: the rate was not kept
    assert starved["throughput"]["requests_per_s"] < 12
    assert starved["latency"]["e2e"]["p50_us"] > 600_000  # queueing counted
    assert any("arrival schedule was not kept" in r for r in starved["validity"]["reasons"])
    # every arrival of the plan is accounted for: sent, or due with no free user (dropped)
    for summary in (kept, starved):
        planned = 20 * summary["run"]["load"]["duration_s"]
        sent_or_dropped = summary["requests"]["total"] + summary["requests"]["dropped_arrivals"]
        assert sent_or_dropped == pytest.approx(planned, abs=3)
    assert kept["requests"]["dropped_arrivals"] <= 1
    assert starved["requests"]["dropped_arrivals"] >= 20
    assert any("never sent" in r for r in starved["validity"]["reasons"])
    lags = [x["lag_us"] for x in runs[2].results()]
    assert max(lags) > 500_000 and all(x["lag_us"] < 50_000 for x in runs[20].results())


def test_demo_with_worker_processes_stops_its_endpoint_once_and_ends_no_other_process(cli):
    """Locust's forked workers return through the CLI too: only the process that started the
    demo endpoint stops it, and the master reaps only its own forked workers."""
    r = cli("demo", "--processes", "2", "--duration", "3s", "--master-port",
            str(free_master_port()))  # fmt: skip
    assert r.code == 0, r.stderr[-2000:]
    assert r.stdout.count("staging endpoint stopped") == 1
    assert "did not stop by itself" not in r.stderr
