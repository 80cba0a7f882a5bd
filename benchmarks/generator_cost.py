"""Load-generator CPU cost per request: stagecheck vs a bare Locust FastHttpUser.

    .venv/bin/python benchmarks/generator_cost.py [--rounds 5] [--seconds 10] [--users 8]
        [--concurrent 3] [--ladder ROUNDS] [--profile auto|always|never] [--rev REV] [--check]

One loopback target (nginx when /usr/sbin/nginx exists, else stagecheck's demo endpoint with every
delay at zero) answers every request with the same OpenAI chat completion; it is pinned to CPU 1,
the generator to CPU 0 (taskset). Two variants, same users, same duration, no wait, all users
spawned at once:

* baseline   benchmarks/bare_locustfile.py: POST the next pre-encoded row body of the smoke
  scenario (same path, same headers), read the answer;
* stagecheck benchmarks/stagecheck_locustfile.py: the classes of locustfiles/validation.py (parse,
  score, HDR record, drain to results.jsonl and latency.hlog every second, reports at the end).

The CPU probe (benchmarks/cpu_probe.py) measures the Locust process's CPU time from test_start to
test_stop only (no start-up, imports, dataset preparation, nor end-of-run reports; the drain
greenlet and the final drain are inside). The figure of merit is CPU-µs per request (generator
CPU / requests) and the ratio stagecheck / baseline.

1. ``--rounds`` rounds, alternating (ABBA: baseline first in even rounds): each run alone on
   the generator's CPU. Ratio per round; median and min–max.
2. ``--concurrent`` pairs side by side: both variants at once on the generator's CPU, so that
   whatever else the machine does hits both alike (a cross-check on a shared machine).
3. ``--ladder ROUNDS`` (off by default): benchmarks/ladder_locustfile.py's levels (catch, parse,
   score, record, drain), each side by side with a baseline, to price each piece in situ.
4. When the median ratio misses the target (1.05), or with ``--profile always``: one py-spy
   profile of each variant.
5. ``--whole ROUNDS`` (default 2): the cost as a user pays it. Three whole processes on the
   generator's CPU, order rotated per round: a bare ``locust --headless`` (bare_locustfile.py
   given the prepared bodies in a file: it imports nothing of stagecheck), ``stagecheck run
   scenarios/smoke.yaml --users U --duration S`` (start-up, dataset preparation, load, summary
   and every report), and ``wrk -t1 -cU`` posting the same bodies (Lua). Each one's CPU is its
   own user + system time from ``os.wait4``; the figure is CPU-µs per request (its requests:
   the probe's, results.jsonl's lines, wrk's count), and the ratios, per round, are
   stagecheck run ÷ bare Locust and stagecheck run ÷ wrk (median, min–max). Start-up and the
   end-of-run reports are a fixed cost: the fewer requests a busy machine lets through in S
   seconds, the more they weigh. The measured stagecheck is byte-compiled first, as installing
   it does (Locust's modules were compiled when pip installed them). ``--whole-rev REV`` adds
   a fourth process to each round, ``stagecheck run`` from git REV (the same command, its
   own sources): a before/after in the same invocation, each ÷ the same round's bare Locust.

Prints tables; writes benchmarks/results/generator_cost-<UTC time>.json (+ py-spy stacks).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
BIN = Path(sys.executable).parent
LOCUST = str(BIN / "locust")
NGINX = "/usr/sbin/nginx"
SCENARIO = "scenarios/smoke.yaml"
SOURCE_ENV: dict[str, str] = {}  # PYTHONPATH of a --rev snapshot, for every child process
# Working directory of the child processes: Locust puts its cwd first on sys.path, so a --rev
# snapshot's folder must be the cwd for its stagecheck to win over the working tree's.
SOURCE_DIR = REPO
TARGET_RATIO = 1.05
TARGET_CORE, GENERATOR_CORE = 1, 0

# The demo endpoint's non-streamed chat answer shape; the content is one of the smoke labels.
ANSWER_LABEL = "shipping"
CHAT_ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "intent-classifier",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER_LABEL},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41},
}
CHAT_ANSWER_BODY = json.dumps(CHAT_ANSWER, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# pinning, target CPU


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def pin_prefix(core: int) -> list[str]:
    """``taskset -c core`` when taskset exists and there are two cores or more."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core)] if taskset and _can_pin() else []


def pin_process_tree(pid: int, core: int) -> None:
    """Pin every thread of a running process (and its children) to ``core``."""
    if not _can_pin():
        return
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error, OSError):
            for thread in proc.threads():
                os.sched_setaffinity(thread.id, {core})


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its live children (None if unknown)."""
    try:
        import psutil

        root = psutil.Process(pid)
        total = 0.0
        for proc in (root, *root.children(recursive=True)):
            t = proc.cpu_times()
            total += t.user + t.system
        return total
    except Exception:  # psutil missing or the process is gone
        return None


# --------------------------------------------------------------------------------------------
# targets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


@dataclass
class Target:
    kind: str
    url: str
    pid: int
    stop_fn: Any
    detail: str = ""

    def cpu(self) -> float | None:
        return tree_cpu_seconds(self.pid)

    def stop(self) -> None:
        self.stop_fn()


def _nginx_conf(tmp: Path, port: int, temp_paths: bool) -> str:
    body = CHAT_ANSWER_BODY.replace("\\", "\\\\").replace("'", "\\'")
    assert "$" not in body  # nginx would expand variables
    temps = ""
    if temp_paths:
        temps = "".join(
            f"  {d}_temp_path {tmp / d};\n" for d in ("proxy", "fastcgi", "uwsgi", "scgi")
        )
    return (
        "worker_processes 1;\n"
        "daemon off;\n"
        f"pid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  client_body_temp_path {tmp / 'client_body'};\n"
        f"{temps}"
        "  keepalive_requests 100000000;\n"
        "  keepalive_timeout 300s;\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port};\n"
        "    location / {\n"
        "      default_type application/json;\n"
        f"      return 200 '{body}';\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def start_nginx(tmp: Path) -> Target | None:
    tmp.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    for temp_paths in (True, False):
        port = _free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(_nginx_conf(tmp, port, temp_paths))
        args = [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
        if subprocess.run([*args, "-t"], capture_output=True).returncode != 0:
            continue
        proc = subprocess.Popen(
            [*pin_prefix(TARGET_CORE), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if _wait_port(port, time.monotonic() + 5.0):

            def stop(proc: subprocess.Popen[bytes] = proc) -> None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGQUIT)  # graceful: master and worker exit
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()

            return Target("nginx", f"http://127.0.0.1:{port}", proc.pid, stop, version)
        proc.kill()
        proc.wait()
    return None


def start_demo() -> Target:
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    proc, url = start_demo_subprocess(
        "--latency-ms",
        "0",
        "--jitter-ms",
        "0",
        "--slowdown-ms-per-request",
        "0",
        "--complex-extra-ms",
        "0",
    )
    pin_process_tree(proc.pid, TARGET_CORE)
    return Target(
        "stagecheck demo-server",
        url.rstrip("/"),
        proc.pid,
        lambda: stop_demo_subprocess(proc),
        "python -m stagecheck.demo, all delays 0",
    )


@contextlib.contextmanager
def loopback_target(kind: str, tmp: Path) -> Iterator[Target]:
    target: Target | None = None
    if kind in ("auto", "nginx") and os.path.exists(NGINX):
        target = start_nginx(tmp / "nginx")
        if target is None and kind == "nginx":
            raise SystemExit("nginx did not start (see its -t output)")
    elif kind == "nginx":
        raise SystemExit(f"{NGINX} not found (apt-get install -y nginx-light)")
    if target is None:
        target = start_demo()
    try:
        yield target
    finally:
        target.stop()


# --------------------------------------------------------------------------------------------
# one Locust run


@dataclass
class Run:
    variant: str
    round: int
    probe: dict[str, Any]
    target_cpu_s: float | None
    exit_code: int
    loadavg_1m: float = 0.0
    results_lines: int | None = None  # stagecheck: lines of results.jsonl (one per request)
    profile: dict[str, Any] | None = None

    @property
    def requests(self) -> int:
        return int(self.probe["requests"])

    @property
    def cpu_us_per_request(self) -> float:
        return self.probe["cpu_s"] * 1e6 / max(self.requests, 1)

    @property
    def rps(self) -> float:
        return self.requests / self.probe["wall_s"]

    def as_dict(self) -> dict[str, Any]:
        p = self.probe
        n = max(self.requests, 1)
        d: dict[str, Any] = {
            "variant": self.variant,
            "round": self.round,
            "exit_code": self.exit_code,
            "requests": self.requests,
            "failures": p["failures"],
            "window_s": round(p["wall_s"], 3),
            "req_per_s": round(self.rps, 1),
            "generator_cpu_s": round(p["cpu_s"], 4),
            "generator_cpu_us_per_request": round(self.cpu_us_per_request, 2),
            "generator_core_busy": round(p["cpu_s"] / p["wall_s"], 3),
            "user_s": round(p["utime_s"], 3),
            "system_s": round(p["stime_s"], 3),
            "gc_cpu_us_per_request": round(p["gc_cpu_s"] * 1e6 / n, 2),
            "gc_runs": p["gc_runs"],
            "context_switches": {"voluntary": p["vcsw"], "involuntary": p["ivcsw"]},
            "cpu_wait_share": round(p.get("runqueue_wait_s", 0.0) / p["wall_s"], 3),
            "loadavg_1m_after": round(self.loadavg_1m, 2),
            "locust_latency_ms": p.get("locust_latency_ms"),
            "stagecheck_from": p.get("stagecheck_from"),
        }
        if self.results_lines is not None:
            d["results_jsonl_lines"] = self.results_lines
        extra = p.get("extra") or {}
        if "drain_cpu_s" in extra:
            d["drain_cpu_us_per_request"] = round(extra["drain_cpu_s"] * 1e6 / n, 2)
            d["drains"] = extra.get("drains")
            d["drain_wall_ms_max"] = round(extra.get("drain_wall_ms_max", 0.0), 1)
            d["stagecheck_requests"] = extra.get("stagecheck_requests")
        if "stagecheck_test_start" in (p.get("marks") or {}):
            d["stagecheck_test_start_cpu_ms"] = round(p["marks"]["stagecheck_test_start"] * 1e3, 2)
        if self.target_cpu_s is not None:
            d["target_cpu_s"] = round(self.target_cpu_s, 4)
            d["target_cpu_us_per_request"] = round(self.target_cpu_s * 1e6 / n, 2)
            d["target_core_busy"] = round(self.target_cpu_s / p["wall_s"], 3)
        if self.profile is not None:
            d["profile"] = self.profile
        return d


@dataclass
class Launched:
    variant: str
    round_no: int
    proc: subprocess.Popen[bytes]
    log: Any
    out: Path
    started_flag: Path
    log_path: Path
    run_dir: Path


def launch_locust(
    variant: str, round_no: int, target: Target, args: argparse.Namespace, tmp: Path, tag: str = ""
) -> Launched:
    """Start one headless Locust run of ``variant``, pinned to the generator's CPU."""
    slug = f"{variant.replace(':', '-')}-{round_no}{tag}"
    out = tmp / f"{slug}.probe.jsonl"
    started_flag = tmp / f"{slug}.started"
    log_path = tmp / f"{slug}.log"
    run_dir = tmp / f"run-{slug}"
    env = {
        **os.environ,
        **SOURCE_ENV,
        "BENCH_OUT": str(out),
        "BENCH_VARIANT": variant,
        "BENCH_STARTED": str(started_flag),
        "BENCH_TARGET_URL": target.url,
        "BENCH_SCENARIO": SCENARIO,
        "PYTHONUNBUFFERED": "1",
    }
    common = [
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.users),
        "-t",
        f"{args.seconds}s",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "-H",
        target.url,
    ]
    if variant == "baseline":
        cmd = [LOCUST, "-f", str(BENCH / "bare_locustfile.py"), *common]
    elif variant.startswith("ladder:"):
        env["BENCH_LADDER"] = variant.split(":", 1)[1]
        cmd = [LOCUST, "-f", str(BENCH / "ladder_locustfile.py"), *common]
    else:
        cmd = [
            LOCUST,
            "-f",
            str(BENCH / "stagecheck_locustfile.py"),
            *common,
            "--scenario",
            SCENARIO,
            "--scenario-set",
            f"endpoint.url={target.url}",
            "--run-dir",
            str(run_dir),
        ]
    log = log_path.open("w")
    # taskset execs locust: the child's pid is the Locust process (py-spy attaches to it).
    proc = subprocess.Popen(
        [*pin_prefix(GENERATOR_CORE), *cmd], cwd=SOURCE_DIR, env=env, stdout=log, stderr=log
    )
    return Launched(variant, round_no, proc, log, out, started_flag, log_path, run_dir)


def finish_locust(
    run: Launched, seconds: int, target_cpu: float | None = None, spy: Any = None
) -> Run:
    """Wait for a launched run and read its probe line."""
    try:
        code = run.proc.wait(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.proc.wait()
        raise SystemExit(f"{run.variant} run {run.round_no} did not end; {run.log_path}") from None
    finally:
        run.log.close()
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
            if spy.poll() is None:
                spy.kill()
    lines = run.out.read_text().splitlines() if run.out.exists() else []
    # exit code 1 is stagecheck's "failed" verdict: the fixed answer scores ~13 % accuracy; 3
    # ("invalid") is its verdict on a saturated generator, which this benchmark is on purpose.
    if not lines or code not in (0, 1, 3):
        tail = "".join(run.log_path.read_text().splitlines(keepends=True)[-25:])
        raise SystemExit(
            f"{run.variant} run {run.round_no} failed (exit {code}); log tail:\n{tail}"
        )
    result = Run(run.variant, run.round_no, json.loads(lines[-1]), target_cpu, code)
    result.loadavg_1m = os.getloadavg()[0]
    if run.run_dir.is_dir():
        results = run.run_dir / "results.jsonl"
        if results.exists():
            with results.open("rb") as f:
                result.results_lines = sum(
                    chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")
                )
        shutil.rmtree(run.run_dir, ignore_errors=True)
    return result


def run_locust(
    variant: str,
    round_no: int,
    target: Target,
    args: argparse.Namespace,
    tmp: Path,
    profile_to: Path | None = None,
) -> Run:
    """One run alone on the generator's CPU (the target's CPU is measured around it)."""
    cpu0 = target.cpu()
    launched = launch_locust(variant, round_no, target, args, tmp)
    spy = None
    if profile_to is not None:
        spy = _attach_py_spy(launched.proc, launched.started_flag, profile_to, args.seconds)
    run = finish_locust(launched, args.seconds, spy=spy)
    cpu1 = target.cpu()
    run.target_cpu_s = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return run


def run_concurrently(
    variants: Sequence[str], round_no: int, target: Target, args: argparse.Namespace, tmp: Path
) -> list[Run]:
    """The variants at the same time, all on the generator's CPU: they share it, and whatever
    else the machine does at that moment hits them alike (no drift between them)."""
    launched = [launch_locust(v, round_no, target, args, tmp, tag="-c") for v in variants]
    return [finish_locust(x, args.seconds) for x in launched]


# --------------------------------------------------------------------------------------------
# the whole process, as a user pays it: start-up, load, end-of-run reports (issue 19 item 4)

WHOLE_VARIANTS = ("locust", "stagecheck run", "wrk")
WHOLE_REV = "stagecheck run @rev"  # --whole-rev: stagecheck run from another revision
# --whole-rev's sources: (PYTHONPATH, working folder, scenario) of its stagecheck run
WHOLE_REV_SOURCE: dict[str, str] = {}


def write_bodies(target: Target, tmp: Path) -> Path:
    """The smoke scenario's prepared request bodies, path and headers, for the bare Locust
    process (which then imports nothing of stagecheck) and for wrk's Lua script."""
    from stagecheck.run.preparation import prepare_scenario

    prepared = prepare_scenario(str(REPO / SCENARIO), [f"endpoint.url={target.url}"])
    first = prepared.dataset.rows[0].request
    given = {
        "bodies": [r.request.body.decode() for r in prepared.dataset.rows],
        "path": first.path,
        "headers": {"Content-Type": first.content_type, "Accept": "application/json"},
        "name": f"{prepared.loaded.scenario.endpoint.protocol} {first.path}",
    }
    path = tmp / "bodies.json"
    path.write_text(json.dumps(given), encoding="utf-8")
    lua = ["wrk.method = 'POST'"]
    lua += [f"wrk.headers[{k!r}] = {v!r}" for k, v in given["headers"].items()]
    lua.append("bodies = {" + ",\n".join(f"[==[{b}]==]" for b in given["bodies"]) + "}")
    lua.append("i = 0")
    lua.append(
        "request = function() i = i % #bodies + 1; "
        f"return wrk.format(nil, {given['path']!r}, nil, bodies[i]) end"
    )
    (tmp / "bodies.lua").write_text("\n".join(lua) + "\n", encoding="utf-8")
    return path


def compile_source(source: Path | None = None) -> None:
    """Byte-compile the measured stagecheck, as installing it does (pip compiles a wheel's
    modules; Locust's were compiled so): with PYTHONDONTWRITEBYTECODE set, as on some shared
    machines, every whole run would otherwise compile stagecheck's source again (~0.3 CPU-s)."""
    folder = source or SOURCE_DIR
    dirs = [str(folder / name) for name in ("stagecheck", "reporting")
            if (folder / name).is_dir()]  # fmt: skip
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def run_whole(
    variant: str, round_no: int, target: Target, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """One whole process of ``variant`` on the generator's CPU: its own CPU time (user +
    system, from ``os.wait4``: start-up, imports, preparation, load, end-of-run reports) and
    the requests it made."""
    slug = f"whole-{variant.replace(' ', '-').replace('@', '')}-{round_no}"
    env = {**os.environ, **SOURCE_ENV, "PYTHONUNBUFFERED": "1"}
    run_dir = tmp / slug
    probe = tmp / f"{slug}.probe.jsonl"
    cwd = SOURCE_DIR
    if variant == "locust":
        env.update(BENCH_OUT=str(probe), BENCH_VARIANT="baseline", BENCH_TARGET_URL=target.url,
                   BENCH_BODIES=str(tmp / "bodies.json"))  # fmt: skip
        cmd = [LOCUST, "-f", str(BENCH / "bare_locustfile.py"), "--headless", "-u",
               str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
               "--only-summary", "--loglevel", "WARNING", "-H", target.url]  # fmt: skip
    elif variant in ("stagecheck run", WHOLE_REV):
        scenario = SCENARIO
        if variant == WHOLE_REV:
            env["PYTHONPATH"] = WHOLE_REV_SOURCE["pythonpath"]
            scenario, cwd = WHOLE_REV_SOURCE["scenario"], Path(WHOLE_REV_SOURCE["dir"])
        cmd = [str(BIN / "stagecheck"), "run", scenario, "--users", str(args.users),
               "--duration", f"{args.seconds}s", "--set", f"endpoint.url={target.url}",
               "--set", f"load.spawn_rate={args.users}", "--out", str(run_dir),
               "--quiet"]  # fmt: skip
    else:
        cmd = [shutil.which("wrk") or "wrk", "-t1", f"-c{args.users}", f"-d{args.seconds}s",
               "-s", str(tmp / "bodies.lua"), target.url]  # fmt: skip
    log_path = tmp / f"{slug}.log"
    with log_path.open("w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*pin_prefix(GENERATOR_CORE), *cmd], cwd=cwd, env=env, stdout=log, stderr=log
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    text = log_path.read_text(errors="replace")
    if variant == "locust":
        requests = json.loads(probe.read_text().splitlines()[-1])["requests"]
    elif variant in ("stagecheck run", WHOLE_REV):
        found = list(run_dir.glob("*/results.jsonl"))
        requests = sum(f.read_bytes().count(b"\n") for f in found)
    else:
        m = re.search(r"(\d+) requests in", text)
        requests = int(m.group(1)) if m else 0
    if code not in (0, 1, 3) or not requests:
        raise SystemExit(f"whole {variant} run {round_no} failed (exit {code}):\n{text[-2000:]}")
    shutil.rmtree(run_dir, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    return {"variant": variant, "round": round_no, "exit_code": code, "requests": requests,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 4),
            "cpu_us_per_request": round(cpu * 1e6 / requests, 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2)}  # fmt: skip


def summarise_whole(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per round: stagecheck run's CPU-µs per request ÷ the bare Locust process's, and ÷
    wrk's; the median and min–max of each."""
    out: dict[str, Any] = {}
    rounds = sorted({r["round"] for r in runs})
    by = {(r["round"], r["variant"]): r["cpu_us_per_request"] for r in runs}
    for name, base, measured in (("ratio_to_locust", "locust", "stagecheck run"),
                                 ("ratio_to_wrk", "wrk", "stagecheck run"),
                                 ("rev_ratio_to_locust", "locust", WHOLE_REV),
                                 ("ratio_to_rev", WHOLE_REV, "stagecheck run")):  # fmt: skip
        ratios = [by[(n, measured)] / by[(n, base)] for n in rounds
                  if (n, base) in by and (n, measured) in by]  # fmt: skip
        if ratios:
            out[name] = {"per_round": [round(x, 3) for x in ratios],
                         "median": round(statistics.median(ratios), 3),
                         "min": round(min(ratios), 3), "max": round(max(ratios), 3)}  # fmt: skip
    for variant in (*WHOLE_VARIANTS, WHOLE_REV):
        values = [r["cpu_us_per_request"] for r in runs if r["variant"] == variant]
        if values:
            made = [r["requests"] for r in runs if r["variant"] == variant]
            out[variant] = {"cpu_us_per_request_median": round(statistics.median(values), 2),
                            "requests_median": statistics.median(made)}  # fmt: skip
    return out


def print_whole(summary: dict[str, Any]) -> None:
    if not summary:
        return
    print("\nwhole process (start-up + load + end-of-run; CPU from os.wait4 ÷ requests):")
    for variant in (*WHOLE_VARIANTS, WHOLE_REV):
        if variant in summary:
            v = summary[variant]
            print(f"  {variant:<18} {v['cpu_us_per_request_median']:8.1f} CPU-µs/request "
                  f"(median; {v['requests_median']:.0f} requests)")  # fmt: skip
    for name, label in (("ratio_to_locust", "stagecheck run ÷ bare locust --headless"),
                        ("ratio_to_wrk", "stagecheck run ÷ wrk"),
                        ("rev_ratio_to_locust", f"{WHOLE_REV} ÷ bare locust --headless"),
                        ("ratio_to_rev", f"stagecheck run ÷ {WHOLE_REV}")):  # fmt: skip
        if name in summary:
            r = summary[name]
            print(f"  {label}: median {r['median']:.3f} (min "
                  f"{r['min']:.3f}, max {r['max']:.3f}; per round {r['per_round']})")  # fmt: skip


# --------------------------------------------------------------------------------------------
# profiling (py-spy)


def _py_spy() -> str | None:
    candidate = BIN / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def _attach_py_spy(
    proc: subprocess.Popen[bytes], started_flag: Path, out: Path, seconds: int
) -> subprocess.Popen[bytes] | None:
    """Sample the Locust process inside its load window: from test_start + 1 s for
    ``seconds - 2`` s, 200 times a second. Blocking mode (py-spy pauses the process for each
    sample): the non-blocking mode reads the stacks of a running process and garbles many of
    them (greenlet switches). The pauses slow the run down, so the profile gives shares, and
    the shares are priced with the unprofiled rounds' CPU-µs/request."""
    spy = _py_spy()
    if spy is None:
        return None
    deadline = time.monotonic() + 60
    while not started_flag.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    time.sleep(1.0)
    duration = max(seconds - 2, 1)
    return subprocess.Popen(
        [
            *pin_prefix(TARGET_CORE),
            spy,
            "record",
            "--pid",
            str(proc.pid),
            "--duration",
            str(duration),
            "--rate",
            "200",
            "--function",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# gevent's resolver thread waits on a lock for the whole run; py-spy counts it as active.
_OTHER_THREAD = "gevent/threadpool.py"


# Buckets: (label, function name, file suffix). A sample counts in a bucket when any frame of its
# stack matches (inclusive time); "#task" matches either variant's task, a name ending in "#self"
# matches the innermost frame only (self time). Nested buckets are indented under their parent.
BUCKETS: list[tuple[str, str, str]] = [
    ("user task (whole request incl. HTTP)", "", "#task"),
    ("  Locust FastHttpSession.request", "FastHttpSession.request", "locust/contrib/fasthttp.py"),
    ("    Locust request event + stats", "EventHook.fire", "locust/event.py"),
    ("  ResponseContextManager.__exit__", "ResponseContextManager.__exit__", "fasthttp.py"),
    ("  _judge: status, parse, score", "_judge", "stagecheck/locust/user.py"),
    ("    adapter.parse (json.loads)", "OpenAIAdapter.parse", "protocols/openai_common.py"),
    ("    scorer.score", "LabelScorer.score", "scoring/label.py"),
    ("  Recorder.record", "Recorder.record", "recording/recorder.py"),
    ("    HdrHistogram.record_value", "HdrHistogram.record_value", "hdrh/histogram.py"),
    ("  RowFeeder.next_row", "RowFeeder.next_row", "datasets/feeder.py"),
    ("  ValidationUser._send own code", "ValidationUser._send#self", "stagecheck/locust/user.py"),
    ("  ValidationUser.replay own code", "ValidationUser.replay#self", "stagecheck/locust/user.py"),
    ("  BareUser.replay own code", "BareUser.replay#self", "bare_locustfile.py"),
    ("drain: Aggregate.merge", "Aggregate.merge", "recording/aggregate.py"),
    ("  results.jsonl lines", "Aggregate._write_results", "recording/aggregate.py"),
    ("    json.dumps", "dumps", "json/__init__.py"),
    ("  latency.hlog interval", "HistogramLogWriter.output_interval_histogram", "hdrh/log.py"),
    ("gevent hub, no Python frame above it", "Hub.run#self", "gevent/hub.py"),
]
_TASKS = {
    ("ValidationUser.replay", "stagecheck/locust/user.py"),
    ("BareUser.replay", "bare_locustfile.py"),
}


def _parse_frame(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame)
    return (m.group("name"), m.group("file")) if m else (frame, "")


def summarise_profile(raw: Path, cpu_us_per_request: float, top: int = 15) -> dict[str, Any]:
    """Bucket the py-spy samples (idle samples are excluded by py-spy, so a sample is CPU time)
    and turn each share into µs per request with the run's measured CPU-µs/request."""
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    other = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if _OTHER_THREAD in stack:
            other += int(count)
            continue
        stacks.append(([_parse_frame(f) for f in stack.split(";")], int(count)))
    total = sum(n for _, n in stacks)
    if not total:
        return {"samples": 0}

    def matches(frames: list[tuple[str, str]], name: str, suffix: str) -> bool:
        if suffix == "#task":
            return any((n, f) in _TASKS or (n, f.rsplit("/", 1)[-1]) in _TASKS for n, f in frames)
        if name.endswith("#self"):
            n, f = frames[-1]
            return n == name[:-5] and f.endswith(suffix)
        return any(n == name and f.endswith(suffix) for n, f in frames)

    buckets = []
    for label, name, suffix in BUCKETS:
        n = sum(c for frames, c in stacks if matches(frames, name, suffix))
        buckets.append(
            {
                "bucket": label,
                "share": round(n / total, 4),
                "us_per_request": round(cpu_us_per_request * n / total, 2),
            }
        )
    self_time: Counter[str] = Counter()
    for frames, c in stacks:
        name, file = frames[-1]
        self_time[f"{name} ({file})"] += c
    return {
        "samples": total,
        "samples_other_thread_dropped": other,
        "priced_at_cpu_us_per_request": round(cpu_us_per_request, 2),
        "buckets": buckets,
        "top_self": [
            {
                "function": fn,
                "share": round(n / total, 4),
                "us_per_request": round(cpu_us_per_request * n / total, 2),
            }
            for fn, n in self_time.most_common(top)
        ],
    }


# --------------------------------------------------------------------------------------------
# machine, summary, output


def export_revision(rev: str, dest: Path) -> str:
    """Extract stagecheck's sources at git revision ``rev`` into ``dest`` (read-only on the
    repository: ``git archive``) and make every child process import them instead of the working
    tree: the editable install's finder comes after PYTHONPATH. Returns the commit id."""
    global SCENARIO, SOURCE_DIR
    commit = _read(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"])
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise SystemExit(f"--rev {rev}: not a commit ({commit})")
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "stagecheck", "reporting", "scenarios"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    link = dest / "stagecheck" / "reporting"
    if not link.exists() and not link.is_symlink():  # newer trees carry the link themselves
        link.symlink_to(dest / "reporting", target_is_directory=True)
    SOURCE_ENV["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(dest), os.environ.get("PYTHONPATH", "")) if p
    )
    SCENARIO = str(dest / "scenarios" / "smoke.yaml")
    SOURCE_DIR = dest
    return commit


def whole_revision(rev: str, tmp: Path) -> str:
    """``--whole-rev``: stagecheck's sources at ``rev`` for the fourth whole process (the
    globals of ``--rev`` are left as they are); returns the commit id."""
    saved = (dict(SOURCE_ENV), SCENARIO, SOURCE_DIR)
    dest = tmp / "whole-rev-src"
    try:
        commit = export_revision(rev, dest)
        WHOLE_REV_SOURCE.update(pythonpath=SOURCE_ENV["PYTHONPATH"], dir=str(dest),
                                scenario=str(dest / "scenarios" / "smoke.yaml"))  # fmt: skip
    finally:
        _restore(*saved)
    compile_source(dest)
    return commit


def _restore(env: dict[str, str], scenario: str, source_dir: Path) -> None:
    global SCENARIO, SOURCE_DIR
    SOURCE_ENV.clear()
    SOURCE_ENV.update(env)
    SCENARIO, SOURCE_DIR = scenario, source_dir


def _read(cmd: Sequence[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=10)
        return (r.stdout or r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(target: Target) -> dict[str, Any]:
    from importlib.metadata import version

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("locust", "gevent", "geventhttpclient", "hdrhistogram", "stagecheck"):
        with contextlib.suppress(Exception):
            versions[dist] = version(dist)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "target": {"kind": target.kind, "url": target.url, "detail": target.detail},
        "pinning": (
            f"target CPU {TARGET_CORE}, generator CPU {GENERATOR_CORE}" if _can_pin() else "none"
        ),
        "git": _read(["git", "describe", "--always", "--dirty", "--abbrev=12"]),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _ratios(runs: list[Run], variant: str) -> list[float]:
    """CPU-µs/request of ``variant`` over the baseline's, round by round."""
    by_round: dict[int, dict[str, Run]] = {}
    for r in runs:
        by_round.setdefault(r.round, {})[r.variant] = r
    return [
        pair[variant].cpu_us_per_request / pair["baseline"].cpu_us_per_request
        for _, pair in sorted(by_round.items())
        if variant in pair and "baseline" in pair
    ]


def _is_clean(r: Run) -> bool:
    p = r.probe
    return p["cpu_s"] / p["wall_s"] >= 0.95 and p.get("runqueue_wait_s", 0.0) / p["wall_s"] < 0.05


def _checks(runs: list[Run]) -> dict[str, Any]:
    """stagecheck accounted for every request inside the window, and its drain greenlet ran
    inside the window (about once a second, plus the final drain)."""
    sc = [r for r in runs if r.variant == "stagecheck"]
    problems = []
    for r in sc:
        extra = r.probe.get("extra") or {}
        if extra.get("stagecheck_requests") != r.requests:
            problems.append(
                f"round {r.round}: stagecheck counted {extra.get('stagecheck_requests')} "
                f"requests in the window, Locust {r.requests}"
            )
        if r.results_lines is not None and r.results_lines != r.requests:
            problems.append(
                f"round {r.round}: results.jsonl has {r.results_lines} lines, "
                f"Locust counted {r.requests} requests"
            )
        if extra.get("window_closed_before_stagecheck_stop") is not True:
            problems.append(f"round {r.round}: stagecheck's test_stop ran inside the window")
        if int(extra.get("drains", 0)) < int(r.probe["wall_s"]):
            problems.append(f"round {r.round}: only {extra.get('drains', 0)} drains in the window")
    return {
        "stagecheck_runs": len(sc),
        "drains_per_run": sorted({int((r.probe.get("extra") or {}).get("drains", 0)) for r in sc}),
        "problems": problems,
    }


def summarise(runs: list[Run]) -> dict[str, Any]:
    out: dict[str, Any] = {"variants": {}}
    variants = list(dict.fromkeys(r.variant for r in runs))
    for variant in variants:
        vs = [r for r in runs if r.variant == variant]
        per_req = [r.cpu_us_per_request for r in vs]
        s: dict[str, Any] = {
            "rounds": len(vs),
            "cpu_us_per_request_median": round(statistics.median(per_req), 2),
            "cpu_us_per_request_min": round(min(per_req), 2),
            "cpu_us_per_request_max": round(max(per_req), 2),
            "cpu_us_per_request_pooled": round(
                sum(r.probe["cpu_s"] for r in vs) * 1e6 / sum(r.requests for r in vs), 2
            ),
            "req_per_s_median": round(statistics.median(r.rps for r in vs), 1),
            "requests_total": sum(r.requests for r in vs),
            "generator_core_busy_median": round(
                statistics.median(r.probe["cpu_s"] / r.probe["wall_s"] for r in vs), 3
            ),
            "gc_cpu_us_per_request_median": round(
                statistics.median(r.probe["gc_cpu_s"] * 1e6 / r.requests for r in vs), 2
            ),
        }
        lat = [r.probe["locust_latency_ms"] for r in vs if r.probe.get("locust_latency_ms")]
        if lat:
            s["locust_latency_ms_median"] = {
                k: statistics.median(x[k] for x in lat) for k in ("p50", "p99", "p99.9", "max")
            }
        with_target = [r for r in vs if r.target_cpu_s is not None]
        if with_target:
            s["target_core_busy_median"] = round(
                statistics.median(r.target_cpu_s / r.probe["wall_s"] for r in with_target), 3
            )
            s["target_cpu_us_per_request_median"] = round(
                statistics.median(r.target_cpu_s * 1e6 / r.requests for r in with_target), 2
            )
        drained = [r for r in vs if "drain_cpu_s" in (r.probe.get("extra") or {})]
        if drained:
            s["drain_cpu_us_per_request_median"] = round(
                statistics.median(
                    r.probe["extra"]["drain_cpu_s"] * 1e6 / r.requests for r in drained
                ),
                2,
            )
            s["drain_wall_ms_max"] = round(
                max(r.probe["extra"].get("drain_wall_ms_max", 0.0) for r in drained), 1
            )
        ratios = _ratios(runs, variant) if variant != "baseline" else []
        if ratios:
            s["ratio_to_baseline_per_round"] = [round(x, 4) for x in ratios]
            s["ratio_to_baseline_median"] = round(statistics.median(ratios), 4)
        out["variants"][variant] = s
    ratios = _ratios(runs, "stagecheck")
    by_round: dict[int, dict[str, Run]] = {}
    for r in runs:
        by_round.setdefault(r.round, {})[r.variant] = r
    diffs = [
        pair["stagecheck"].cpu_us_per_request - pair["baseline"].cpu_us_per_request
        for pair in by_round.values()
        if "stagecheck" in pair and "baseline" in pair
    ]
    if diffs:
        out["extra_cpu_us_per_request_per_round"] = [round(x, 2) for x in diffs]
        out["extra_cpu_us_per_request_median"] = round(statistics.median(diffs), 2)
    out["checks"] = _checks(runs)
    # Rounds where neither run met contention (rule fixed beforehand, not picked afterwards):
    # both kept the generator's CPU >= 95 % busy and waited for it < 5 % of the window.
    clean = [
        pair["stagecheck"].cpu_us_per_request / pair["baseline"].cpu_us_per_request
        for pair in by_round.values()
        if "stagecheck" in pair
        and "baseline" in pair
        and all(_is_clean(r) for r in (pair["stagecheck"], pair["baseline"]))
    ]
    out["clean_rounds"] = len(clean)
    if clean:
        out["ratio_median_clean_rounds"] = round(statistics.median(clean), 4)
    if ratios:
        out["ratio_per_round"] = [round(x, 4) for x in ratios]
        out["ratio_median"] = round(statistics.median(ratios), 4)
        out["ratio_min"] = round(min(ratios), 4)
        out["ratio_max"] = round(max(ratios), 4)
        out["target_ratio"] = TARGET_RATIO
        out["meets_target"] = out["ratio_median"] <= TARGET_RATIO
    return out


def print_table(runs: list[Run], summary: dict[str, Any]) -> None:
    header = (
        f"{'round':>5} {'variant':<15} {'requests':>9} {'req/s':>7} {'CPU µs/req':>10} "
        f"{'gen busy':>8} {'CPU wait':>8} {'GC µs/req':>9} {'drain µs/req':>12} "
        f"{'target µs/req':>13} {'÷ base':>6}"
    )
    print(header)
    print("-" * len(header))
    by_round: dict[int, dict[str, Run]] = {}
    for r in runs:
        by_round.setdefault(r.round, {})[r.variant] = r
    for rnd, variants in sorted(by_round.items()):
        base = variants.get("baseline")
        for variant, r in variants.items():
            d = r.as_dict()
            ratio = (
                f"{r.cpu_us_per_request / base.cpu_us_per_request:.3f}"
                if base is not None and r is not base
                else ""
            )
            print(
                f"{rnd:>5} {variant:<15} {r.requests:>9} {r.rps:>7.0f} "
                f"{r.cpu_us_per_request:>10.1f} {d['generator_core_busy']:>8.2f} "
                f"{d['cpu_wait_share']:>8.2f} {d['gc_cpu_us_per_request']:>9.2f} "
                f"{d.get('drain_cpu_us_per_request', ''):>12} "
                f"{d.get('target_cpu_us_per_request', ''):>13} {ratio:>6}"
            )
    print()
    for variant, s in summary["variants"].items():
        print(
            f"{variant:<15} CPU-µs/request median {s['cpu_us_per_request_median']:6.1f} "
            f"(min {s['cpu_us_per_request_min']:.1f}, max {s['cpu_us_per_request_max']:.1f}); "
            f"{s['req_per_s_median']:.0f} req/s; generator core busy "
            f"{s['generator_core_busy_median']:.0%}"
            + (
                f"; target core busy {s['target_core_busy_median']:.0%}"
                if "target_core_busy_median" in s
                else ""
            )
            + (
                f"; ÷ baseline {s['ratio_to_baseline_median']:.3f}"
                if "ratio_to_baseline_median" in s
                else ""
            )
        )
    checks = summary.get("checks") or {}
    if checks.get("stagecheck_runs"):
        if checks["problems"]:
            for problem in checks["problems"]:
                print(f"CHECK FAILED: {problem}")
        else:
            print(
                f"checks: in all {checks['stagecheck_runs']} stagecheck runs the window closed "
                "before stagecheck's test_stop (reports), the drain greenlet "
                f"ran inside the window ({'/'.join(map(str, checks['drains_per_run']))} drains "
                "incl. the final one) and stagecheck's counts and results.jsonl lines equal "
                "Locust's request count"
            )
    busy_targets = [
        v for v in summary["variants"].values() if v.get("target_core_busy_median", 0) > 0.8
    ]
    if busy_targets:
        print(
            "WARNING: the target's CPU was >80 % busy: the target, not the generator, set the "
            "rate, so the generator idled between answers and its CPU/request includes more "
            "wake-ups than a saturated generator's (install nginx for a cheaper target)"
        )
    for variant, v in summary["variants"].items():
        if "locust_latency_ms_median" in v:
            lat = v["locust_latency_ms_median"]
            print(
                f"{variant:<15} Locust response times (median of runs): p50 {lat['p50']:g} ms, "
                f"p99 {lat['p99']:g} ms, p99.9 {lat['p99.9']:g} ms, max {lat['max']:.0f} ms"
            )
    sc = summary["variants"].get("stagecheck") or {}
    if sc.get("drain_wall_ms_max"):
        print(
            f"stagecheck's drain: median {sc['drain_cpu_us_per_request_median']:.1f} CPU-µs per "
            f"request; the longest merge took {sc['drain_wall_ms_max']:.0f} ms of wall time "
            "(it lets users run every 256 requests merged)"
        )
    if "extra_cpu_us_per_request_median" in summary:
        print(
            "stagecheck − baseline: median "
            f"{summary['extra_cpu_us_per_request_median']:.1f} CPU-µs/request (per round: "
            + ", ".join(f"{x:.1f}" for x in summary["extra_cpu_us_per_request_per_round"])
            + ")"
        )
    if summary.get("clean_rounds"):
        print(
            f"rounds without contention (both runs: generator CPU ≥95 % busy, <5 % waiting for "
            f"it): {summary['clean_rounds']}, their median ratio "
            f"{summary['ratio_median_clean_rounds']:.3f}"
        )
    if "ratio_median" in summary:
        verdict = "meets" if summary["meets_target"] else "DOES NOT meet"
        print(
            f"ratio stagecheck/baseline: median {summary['ratio_median']:.3f} "
            f"(min {summary['ratio_min']:.3f}, max {summary['ratio_max']:.3f}) — {verdict} "
            f"the target of {TARGET_RATIO:.2f}"
        )


def print_profile(name: str, prof: dict[str, Any]) -> None:
    if not prof.get("samples"):
        print(f"{name}: no profile samples")
        return
    print(
        f"\n{name}: py-spy, {prof['samples']} samples of the Locust thread "
        "(CPU-µs/request by bucket, inclusive)"
    )
    for b in prof["buckets"]:
        if b["share"]:
            print(f"  {b['bucket']:<42} {b['us_per_request']:>7.1f} µs  {b['share']:>6.1%}")
    print("  top self time:")
    for t in prof["top_self"][:12]:
        print(f"    {t['us_per_request']:>7.1f} µs  {t['share']:>6.1%}  {t['function']}")


LADDER = [f"ladder:{level}" for level in ("catch", "parse", "score", "record", "drain")]


def round_order(rnd: int) -> list[str]:
    """ABBA: baseline first in even rounds, stagecheck first in odd ones."""
    return ["baseline", "stagecheck"] if rnd % 2 == 0 else ["stagecheck", "baseline"]


def summarise_concurrent(pairs: list[tuple[Run, Run]]) -> dict[str, Any]:
    """Per variant: its CPU-µs/request over (and minus) the baseline run beside it."""
    out: dict[str, Any] = {}
    for variant in dict.fromkeys(other.variant for _, other in pairs):
        these = [(b, o) for b, o in pairs if o.variant == variant]
        ratios = [o.cpu_us_per_request / b.cpu_us_per_request for b, o in these]
        diffs = [o.cpu_us_per_request - b.cpu_us_per_request for b, o in these]
        out[variant] = {
            "pairs": len(these),
            "baseline_cpu_us_per_request": [round(b.cpu_us_per_request, 2) for b, _ in these],
            "cpu_us_per_request": [round(o.cpu_us_per_request, 2) for _, o in these],
            "ratio_per_pair": [round(x, 4) for x in ratios],
            "ratio_median": round(statistics.median(ratios), 4),
            "ratio_min": round(min(ratios), 4),
            "ratio_max": round(max(ratios), 4),
            "extra_cpu_us_per_request_median": round(statistics.median(diffs), 2),
        }
    return out


def print_concurrent(summary: dict[str, Any], title: str) -> None:
    if not summary:
        return
    print(f"\n{title}")
    print(
        f"  {'variant':<15} {'pairs':>5} {'baseline µs/req':>15} {'variant µs/req':>14} "
        f"{'extra µs/req':>12} {'÷ base (median, min–max)':>26}"
    )
    for variant, c in summary.items():
        print(
            f"  {variant:<15} {c['pairs']:>5} "
            f"{statistics.median(c['baseline_cpu_us_per_request']):>15.1f} "
            f"{statistics.median(c['cpu_us_per_request']):>14.1f} "
            f"{c['extra_cpu_us_per_request_median']:>12.1f} "
            f"{c['ratio_median']:>10.3f} ({c['ratio_min']:.3f}–{c['ratio_max']:.3f})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds of (baseline, stagecheck)")
    ap.add_argument("--seconds", type=int, default=10, help="run time of each Locust run")
    ap.add_argument("--users", type=int, default=8, help="Locust users (spawned at once)")
    ap.add_argument("--target", choices=("auto", "nginx", "demo"), default="auto")
    ap.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="py-spy one run of each variant (auto: when the ratio misses the target)",
    )
    ap.add_argument(
        "--profile-seconds",
        type=int,
        default=15,
        help="run time of each profiled run (sampled from 1 s after test_start to 1 s before "
        "the end)",
    )
    ap.add_argument(
        "--concurrent",
        type=int,
        default=3,
        help="cross-check: this many runs of baseline and stagecheck side by side on the "
        "generator's CPU (0: none)",
    )
    ap.add_argument(
        "--ladder",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="decompose stagecheck's cost: benchmarks/ladder_locustfile.py's levels, each "
        "side by side with a baseline run, this many rounds (about 70 s a round)",
    )
    ap.add_argument(
        "--rev",
        help="measure stagecheck at this git revision (git archive to a temporary folder) "
        "instead of the working tree",
    )
    ap.add_argument(
        "--whole",
        type=int,
        default=2,
        metavar="ROUNDS",
        help="rounds of whole processes: bare locust --headless, stagecheck run, wrk (order "
        "rotated per round; 0: none)",
    )
    ap.add_argument(
        "--whole-rev",
        metavar="REV",
        help="whole-process rounds also run stagecheck run from this git revision (a 4th "
        "process per round, in the same rotation): before/after in one invocation",
    )
    ap.add_argument("--out-dir", default=str(BENCH / "results"))
    ap.add_argument("--check", action="store_true", help="exit 1 when the ratio misses the target")
    args = ap.parse_args(argv)

    stamp = datetime.now(timezone.utc)
    stamp_s = stamp.strftime("%Y-%m-%dT%H%M%SZ")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    profiles: dict[str, Any] = {}
    want_profile = False
    with tempfile.TemporaryDirectory(prefix="generator_cost-") as tmp_s:
        tmp = Path(tmp_s)
        source = "working tree"
        if args.rev:
            source = f"git {args.rev} = {export_revision(args.rev, tmp / 'src')}"
            os.environ.update(SOURCE_ENV)  # the demo target too
        with loopback_target(args.target, tmp) as target:
            info = machine_info(target)
            info["stagecheck_source"] = source
            print(
                f"stagecheck from the {source}; "
                f"target {target.kind} at {target.url} ({target.detail}); pinning: "
                f"{info['pinning']}; {args.rounds} rounds × 2 variants × "
                f"{args.seconds}s, {args.users} users"
            )
            for rnd in range(args.rounds):
                for variant in round_order(rnd):
                    run = run_locust(variant, rnd, target, args, tmp)
                    runs.append(run)
                    print(
                        f"  round {rnd} {variant:<15} {run.requests:>7} requests "
                        f"{run.cpu_us_per_request:6.1f} CPU-µs/request",
                        flush=True,
                    )
            summary = summarise(runs)
            concurrent: list[tuple[Run, Run]] = []
            ladder: list[tuple[Run, Run]] = []
            for rnd in range(args.concurrent):
                base, other = run_concurrently(["baseline", "stagecheck"], rnd, target, args, tmp)
                concurrent.append((base, other))
                print(
                    f"  side by side {rnd}: baseline {base.cpu_us_per_request:6.1f}, stagecheck "
                    f"{other.cpu_us_per_request:6.1f} CPU-µs/request",
                    flush=True,
                )
            for rnd in range(args.ladder):
                for level in (*LADDER, "stagecheck"):
                    pair = ["baseline", level]
                    base, other = run_concurrently(pair, 100 + rnd, target, args, tmp)
                    ladder.append((base, other))
                    print(
                        f"  ladder {rnd} {level:<15} baseline {base.cpu_us_per_request:6.1f}, "
                        f"{level} {other.cpu_us_per_request:6.1f} CPU-µs/request",
                        flush=True,
                    )
            whole: list[dict[str, Any]] = []
            variants: tuple[str, ...] = WHOLE_VARIANTS
            if args.whole:
                write_bodies(target, tmp)
                compile_source()
            if args.whole and args.whole_rev:
                info["whole_rev"] = f"git {args.whole_rev} = {whole_revision(args.whole_rev, tmp)}"
                variants = (*WHOLE_VARIANTS, WHOLE_REV)
            for rnd in range(args.whole):
                k = rnd % len(variants)
                order = variants[k:] + variants[:k]
                for variant in order:
                    if variant == "wrk" and not shutil.which("wrk"):
                        continue
                    w = run_whole(variant, rnd, target, args, tmp)
                    whole.append(w)
                    print(f"  whole {rnd} {variant:<15} {w['requests']:>7} requests "
                          f"{w['cpu_us_per_request']:7.1f} CPU-µs/request", flush=True)  # fmt: skip
            summary["whole_process"] = summarise_whole(whole)
            summary["concurrent"] = summarise_concurrent(concurrent)
            summary["ladder"] = summarise_concurrent(ladder)
            want_profile = args.profile == "always" or (
                args.profile == "auto" and not summary.get("meets_target", True)
            )
            if want_profile and _py_spy() is None:
                print("py-spy not installed (.venv/bin/pip install py-spy): no profile")
            elif want_profile:
                for variant in ("baseline", "stagecheck"):
                    raw = tmp / f"{variant}.pyspy.txt"
                    prof_args = argparse.Namespace(**vars(args))
                    prof_args.seconds = args.profile_seconds
                    run = run_locust(variant, -1, target, prof_args, tmp, profile_to=raw)
                    price = summary["variants"][variant]["cpu_us_per_request_median"]
                    run.profile = summarise_profile(raw, price) if raw.exists() else {"samples": 0}
                    if raw.exists():  # collapsed stacks, for flamegraph.pl or speedscope
                        keep = out_dir / f"generator_cost-{stamp_s}-{variant}.pyspy.txt.gz"
                        keep.write_bytes(gzip.compress(raw.read_bytes()))
                    profiles[variant] = run.as_dict()
            info["loadavg_at_end"] = list(os.getloadavg())

    print()
    print_table(runs, summary)
    print_concurrent(
        summary["concurrent"],
        "side by side (both runs at once on the generator's CPU: no drift between them)",
    )
    print_concurrent(
        summary["ladder"],
        "ladder (each level side by side with a baseline run; each level adds one piece)",
    )
    print_whole(summary["whole_process"])
    for variant, prof in profiles.items():
        print_profile(
            f"{variant} (priced at the rounds' median "
            f"{prof['profile'].get('priced_at_cpu_us_per_request', 0):.1f} CPU-µs/req)",
            prof["profile"],
        )

    result = {
        "benchmark": "generator_cost",
        "utc": stamp.isoformat(timespec="seconds"),
        "command": " ".join(
            [".venv/bin/python", "benchmarks/generator_cost.py", *(argv or sys.argv[1:])]
        ),
        "settings": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "users": args.users,
            "spawn_rate": args.users,
            "profile": args.profile,
            "profile_seconds": args.profile_seconds,
            "wait": 0,
            "scenario": SCENARIO,
            "answer": CHAT_ANSWER_BODY,
            "order": "ABBA (baseline first in even rounds)",
            "side_by_side_pairs": args.concurrent,
            "ladder_rounds": args.ladder,
            "whole_rounds": args.whole,
            "whole_rev": args.whole_rev,
        },
        "machine": info,
        "summary": summary,
        "runs": [r.as_dict() for r in runs],
        "side_by_side_runs": [[b.as_dict(), o.as_dict()] for b, o in concurrent],
        "ladder_runs": [[b.as_dict(), o.as_dict()] for b, o in ladder],
        "whole_process_runs": whole,
        "profiles": profiles,
    }
    out = out_dir / f"generator_cost-{stamp_s}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    if args.check and not summary.get("meets_target", False):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
