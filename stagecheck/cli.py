"""``stagecheck`` command line: run, validate, report, compare, capacity, demo-server, demo.

Exit codes (DESIGN.md): 0 passed · 1 a threshold failed (or a regression, for compare) ·
2 bad input · 3 the run could not be carried out.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from stagecheck import __version__
from stagecheck.errors import (
    EXIT_BAD_INPUT,
    EXIT_RUN_FAILED,
    EXIT_THRESHOLD_FAILED,
    InputError,
    StagecheckError,
)

if TYPE_CHECKING:
    from stagecheck.capacity import CapacityRequest
    from stagecheck.locust.plugin import StagecheckPlugin
    from stagecheck.run.preparation import PreparedScenario
    from stagecheck.scenario.schema import EndpointConfig

__all__ = ["main", "build_parser"]

DEMO_SCENARIO = "scenarios/smoke.yaml"
# stagecheck.locust.webui's names (not imported here: that would import Locust and gevent)
WEB_LOGIN_ENV = ("STAGECHECK_WEB_USER", "STAGECHECK_WEB_PASSWORD")
WEB_LINGER_S = 30.0  # --web without --keep-web: the UI's time after the run (report not opened)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit code 2
        self.print_usage(sys.stderr)
        print(f"stagecheck: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stagecheck", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"stagecheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario against its endpoint (headless by default)")
    run.add_argument("scenario", help="scenario file (YAML)")
    _add_run_options(run)

    validate = sub.add_parser("validate", help="check a scenario and its dataset; send no load")
    validate.add_argument("scenario")
    validate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a scenario key",
    )
    validate.add_argument(
        "--probe",
        action="store_true",
        help="send ONE real request (the first row) and show the request, answer and score",
    )
    sub.add_parser(
        "protocols", help="print every protocol's and scorer's options (scenarios/REFERENCE.md)"
    )

    report = sub.add_parser(
        "report",
        help="rebuild a run folder's analysis, verdict and reports (new thresholds: --threshold)",
    )
    report.add_argument("run_dir")
    report.add_argument(
        "--threshold",
        dest="thresholds",
        action="append",
        default=[],
        metavar="EXPR",
        help="judge the run by this threshold instead of its own (repeatable), into "
        "summary.rejudged.json and report.rejudged.html beside the run's own files, "
        "e.g. --threshold 'latency.p99 < 250ms' --threshold 'accuracy >= 0.9 at 95%% confidence'",
    )

    compare = sub.add_parser("compare", help="compare two runs: regression table and verdict")
    compare.add_argument("base_run")
    compare.add_argument("new_run")
    compare.add_argument("--markdown", action="store_true",
                         help="print Markdown (a PR comment), not the table")  # fmt: skip
    compare.add_argument("--out", metavar="FILE",
                         help="also write it to FILE: .md or .html")  # fmt: skip
    compare.add_argument("--alpha", type=float, default=0.05,
                         help="significance level of the (Holm-adjusted) tests (0.05)")  # fmt: skip
    compare.add_argument("--quality-tolerance", type=float, default=0.01,
                         help="largest accepted accuracy drop, absolute (0.01)")  # fmt: skip
    compare.add_argument("--error-rate-tolerance", type=float, default=0.005,
                         help="largest accepted error-rate rise, absolute (0.005)")  # fmt: skip
    compare.add_argument("--latency-tolerance", type=float, default=0.10,
                         help="largest accepted latency rise, relative (0.10)")  # fmt: skip
    compare.add_argument("--throughput-tolerance", type=float, default=0.10,
                         help="largest accepted throughput drop, relative (0.10)")  # fmt: skip

    demo_server = sub.add_parser(
        "demo-server", help="serve the embedded demo staging endpoint", add_help=False
    )
    demo_server.add_argument("args", nargs=argparse.REMAINDER)

    demo = sub.add_parser(
        "demo", help="start the demo endpoint on a free port, run a scenario against it, stop it"
    )
    demo.add_argument(
        "scenario",
        nargs="?",
        default=None,
        help=f"scenario (default {DEMO_SCENARIO} of this checkout)",
    )
    _add_run_options(demo)
    _add_capacity_parser(sub)
    return parser


def _add_capacity_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    cap = sub.add_parser(
        "capacity",
        help="find the highest sustained arrival rate meeting latency AND correctness SLOs",
        description="Open-loop steps of arrival rate (each a real run), doubled from "
        "--min-rate until an SLO fails, then bisected. Exit 0: capacity found (>= --require), "
        "1: none, 2: bad input, 3: the search could not be carried out.",
    )
    add = cap.add_argument
    add("scenario", help="scenario file (YAML); its load section is replaced by the steps")
    add("--slo", dest="slos", action="append", default=[], metavar="EXPR",
        help="an SLO in the threshold grammar, e.g. 'latency.p99 < 300ms', 'accuracy >= 0.9', "
             "'error_rate < 1%%', 'goodput >= 20/s' (repeatable; at least one)")  # fmt: skip
    add("--min-rate", default=None,
        help="first step's rate (default: the lowest rate whose step holds the requests the "
             "SLOs need, e.g. 598 for a p99 over a 30 s step: 20/s; if that step fails, the "
             "rate halves, steps lengthened, down to 1/s)")  # fmt: skip
    add("--max-rate", default="1000/s", help="highest rate tried (default: %(default)s)")
    add("--step-duration", default="30s",
        help="measured length of a step, after its warm-up (default: %(default)s; lengthened "
             "when too short for the requests the SLOs' percentiles need)")  # fmt: skip
    add("--warmup", default="5s", help="start of each step left out of its figures (%(default)s)")
    add(
        "--max-steps",
        type=int,
        default=12,
        help="most rates tried (default: %(default)s; a step run again is not counted)",
    )
    add(
        "--require",
        metavar="RATE",
        help="exit 1 unless the capacity is at least RATE, e.g. 40/s (default: none)",
    )
    add("--processes", type=int, metavar="N",
        help="run every step on N Locust worker processes (Locust's master/worker)")  # fmt: skip
    add("--master-port", type=int, default=5557, help="(--processes) the master's port")
    add("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
        help="override a scenario key (passed to every step)")  # fmt: skip
    add("--out", default="runs", help="folder for the capacity folder (default: runs)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    p.add_argument("--users", type=int, help="concurrent users (overrides load.users)")
    p.add_argument("--duration", help="run length, e.g. 30s (overrides load.duration)")
    p.add_argument("--rate", help="open loop: arrival rate, e.g. 40/s (sets load.arrival_rate)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override any scenario key",
    )
    p.add_argument("--web", action="store_true", help="serve Locust's web UI (127.0.0.1)")
    p.add_argument("--web-port", type=int, default=8089)
    p.add_argument("--web-host", default="127.0.0.1", help="interface for --web")
    p.add_argument("--keep-web", action="store_true",
                   help="(--web) keep the web UI up when the plan is done (new runs "
                        "from the form; Ctrl-C quits); by default: --web-linger")  # fmt: skip
    p.add_argument("--web-linger", type=float, default=WEB_LINGER_S, metavar="SECONDS",
                   help="(--web) after the plan ends, the UI stays up this long, or until "
                        "the run's report has been opened (then 5 s), whichever comes "
                        "first; then it exits with the run's exit code "
                        f"(default {WEB_LINGER_S:g})")  # fmt: skip
    p.add_argument("--web-login", action="store_true",
                   help="(--web) require a login: Locust's --web-login, with the user and "
                        "password from STAGECHECK_WEB_USER / STAGECHECK_WEB_PASSWORD")  # fmt: skip
    obs = p.add_argument_group("Prometheus (the web UI also serves /metrics)")
    obs.add_argument("--metrics-port", type=int, metavar="P",
                     help="serve Prometheus metrics of the run on this port")  # fmt: skip
    obs.add_argument("--metrics-host", default="127.0.0.1",
                     help="interface for --metrics-port (default 127.0.0.1)")  # fmt: skip
    obs.add_argument("--pushgateway", metavar="URL",
                     help="push the run's final metrics to a Prometheus Pushgateway")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="less Locust logging")
    p.add_argument("--verbose", action="store_true",
                   help="also show Locust's own log lines (always in locust.log of the run "
                        "folder)")  # fmt: skip
    dist = p.add_argument_group("distribution (Locust's own master/worker)")
    mode = dist.add_mutually_exclusive_group()
    mode.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="run N Locust worker processes on this machine (-1: one per core)",
    )
    mode.add_argument("--master", action="store_true", help="be the master of remote workers")
    mode.add_argument("--worker", action="store_true", help="be a worker of --master-host")
    dist.add_argument(
        "--expect-workers",
        type=int,
        default=1,
        metavar="N",
        help="(--master) workers to wait for before starting (default 1)",
    )
    dist.add_argument("--master-host", default="127.0.0.1", help="(--worker) the master's host")
    dist.add_argument("--master-port", type=int, default=5557)
    dist.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="(--master/--processes) interface to accept workers on",
    )


def _overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.overrides)
    if args.users is not None:
        if args.users < 1:
            raise InputError(f"--users must be at least 1, got {args.users}")
        out.append(f"load.users={args.users}")
    if args.duration is not None:
        out.append(f"load.duration={args.duration}")
    if args.rate is not None:
        out.append(f"load.arrival_rate={args.rate}")
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    from stagecheck.datasets.profile import profile_dataset
    from stagecheck.datasets.profile_view import profile_lines
    from stagecheck.run.preparation import describe_scenario, prepare_scenario

    prepared = prepare_scenario(args.scenario, args.overrides)
    print(describe_scenario(prepared))
    ds = prepared.dataset
    profile = profile_dataset(ds, ds.slice_fields, prepared.scorer.classification)
    print("\n".join(profile_lines(profile)))
    if not args.probe:
        return 0
    from stagecheck.endpoint.check import check_endpoint
    from stagecheck.errors import RunError
    from stagecheck.run.probe import probe_endpoint

    check_endpoint(prepared.loaded.scenario.endpoint)
    result = probe_endpoint(prepared)
    print("\n".join(result.lines), flush=True)
    if result.failure:
        raise RunError(result.failure)
    return 0


def _cmd_run(args: argparse.Namespace, scenario: str, extra_sets: Sequence[str] = ()) -> int:
    from stagecheck.endpoint.check import check_endpoint
    from stagecheck.run.preparation import prepare_scenario
    from stagecheck.runfolder.layout import check_writable, new_run_dir

    overrides = [*_overrides(args), *extra_sets]
    if not (math.isfinite(args.web_linger) and args.web_linger >= 0):
        raise InputError(f"--web-linger must be 0 or more seconds, got {args.web_linger}")
    if args.web and args.web_login and not all(map(os.environ.get, WEB_LOGIN_ENV)):
        # before anything starts (the web UI would check it too, after the endpoint's check)
        raise InputError(f"--web-login needs {' and '.join(WEB_LOGIN_ENV)} set (the web UI's "
                         "one user and password); without them nobody could log in")  # fmt: skip
    prepared = prepare_scenario(scenario, overrides)
    sc = prepared.loaded.scenario
    argv = ["-f", str(Path(__file__).parent / "locust" / "locustfile.py"),
            "--scenario", str(Path(scenario).resolve()), "--runs-root", args.out,
            "--only-summary"]  # fmt: skip
    if not args.worker:  # a worker takes the endpoint and overrides from its master
        check_writable(Path(args.out), "--out")  # before any load: one line, exit 2
        check_endpoint(sc.endpoint)  # reachable; a preset's health route answers
        if args.metrics_port is not None:
            _check_listenable("--metrics-port", args.metrics_host, args.metrics_port)
            argv += ["--metrics-port", str(args.metrics_port),
                     "--metrics-host", args.metrics_host]  # fmt: skip
        if args.pushgateway:
            argv += ["--pushgateway", args.pushgateway]
        if args.processes or args.master:
            _check_listenable("--master-port", args.master_bind_host, args.master_port)
        # Locust's own statistics go to the run folder rather than the terminal: its
        # bucketed percentiles beside stagecheck's HDR ones would only confuse.
        run_dir = new_run_dir(Path(args.out), sc.name)
        argv += ["--run-dir", str(run_dir), "--json-file", str(run_dir / "locust_stats")]
        # Locust's log to the run folder; the console keeps stagecheck's own lines
        argv += ["--logfile", str(run_dir / "locust.log"),
                 "--console-log", "all" if args.verbose else "stagecheck"]  # fmt: skip
    for item in overrides:
        argv += ["--scenario-set", item]
    if args.web:
        argv += ["--web-host", args.web_host, "--web-port", str(args.web_port), "--autostart"]
        if not args.keep_web:
            # Like a headless run, end with the plan (and its exit code), once whoever watches
            # the page has had the time to see the verdict and open the report.
            argv += ["--web-linger", str(args.web_linger)]
        if args.web_login:
            argv += ["--web-login"]
    else:
        argv += ["--headless"]
    if args.quiet:
        argv += ["--loglevel", "WARNING"]
    return _locust_main(argv + _distribution_argv(args), prepared)


def _check_listenable(option: str, host: str, port: int) -> None:
    """One line and exit 2 for a port that is out of range or taken, before any load."""
    import socket

    if not 0 <= port <= 65535:
        raise InputError(f"{option} must be 0 to 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.bind(infos[0][4])
    except OSError as exc:
        raise InputError(f"{option} {port}: cannot listen on {host}:{port} "
                         f"({exc.strerror or exc})") from None  # fmt: skip


def _distribution_argv(args: argparse.Namespace) -> list[str]:
    if args.worker:
        return ["--worker", "--master-host", args.master_host,
                "--master-port", str(args.master_port)]  # fmt: skip
    # --processes forks workers that connect to --master-port: set it as well as the bind port.
    bind = ["--master-bind-host", args.master_bind_host, "--master-bind-port",
            str(args.master_port), "--master-port", str(args.master_port),
            "--expect-workers-max-wait", "60"]  # fmt: skip
    if args.processes:
        return ["--processes", str(args.processes), *bind]
    if args.master:
        return ["--master", "--expect-workers", str(args.expect_workers), *bind]
    return []


def _locust_main(argv: list[str], prepared: PreparedScenario | None = None) -> int:
    import locust.main  # monkey-patches with gevent: only import it when running load
    from locust import events

    from stagecheck.locust import install

    plugin = install(events)
    if prepared is not None and "--worker" in argv:  # ready for the master's scenario
        plugin.offer(prepared)
    elif prepared is not None:  # prepared and checked once, here: the plugin need not again
        plugin.hand_over(prepared)
    saved = sys.argv
    sys.argv = ["stagecheck", *argv]
    code = 0
    try:
        locust.main.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except OSError as exc:
        # Locust writes its own statistics (--json-file) after the run has ended with its
        # summary, and fires its quit event (the console summary) only after that.
        print(f"stagecheck: Locust's statistics could not be written: {exc.filename}: "
              f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        events.quit.fire(exit_code=EXIT_RUN_FAILED)
        code = EXIT_RUN_FAILED
    except KeyboardInterrupt:  # a signal before the plugin's handlers, or past its stop
        code = EXIT_RUN_FAILED
    finally:
        sys.argv = saved
    return _honest_exit_code(code, plugin, worker=prepared is None or plugin.is_worker)


def _honest_exit_code(code: int, plugin: StagecheckPlugin, *, worker: bool) -> int:
    """A run's exit code says what its summary says; with no summary the run was not carried
    out (exit 3), whatever Locust's own code (it exits 1 when no worker connects, 0 when its
    quit path lost the end of the run)."""
    if worker or code == EXIT_BAD_INPUT:
        return code
    controller = plugin.controller
    if controller is None or controller.exit_code is None:
        why = "it never started" if controller is None else "it did not end with a summary"
        print(f"stagecheck: the run could not be carried out: {why}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return controller.exit_code


def _capacity_request(args: argparse.Namespace) -> tuple[CapacityRequest, EndpointConfig]:
    """The search asked for, or InputError with one line per problem."""
    from stagecheck.capacity import CapacityRequest, parse_slos
    from stagecheck.capacity.slo import min_requests
    from stagecheck.run.preparation import prepare_scenario
    from stagecheck.units import parse_duration, parse_rate

    slos, problems = parse_slos(args.slos)

    def read(option: str, value: str | None, parse: Callable[[object], float]) -> float | None:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            problems.append(f"{option} {value}: {exc}")
            return None

    min_rate = read("--min-rate", args.min_rate, parse_rate)
    max_rate = read("--max-rate", args.max_rate, parse_rate)
    step_s = read("--step-duration", args.step_duration, parse_duration)
    warmup_s = read("--warmup", args.warmup, parse_duration)
    require = read("--require", args.require, parse_rate)
    if min_rate is not None and not min_rate > 0:
        problems.append(f"--min-rate must be above 0, got {args.min_rate}")
    if step_s is not None and not step_s > 0:
        problems.append(f"--step-duration must be above 0, got {args.step_duration}")
    if min_rate is None and step_s and not problems:
        # Below this a step is lengthened to gather the requests its percentiles need: a p99
        # at 1/s would take ten minutes a step.
        min_rate = float(max(1, math.ceil(min_requests(slos) / step_s)))
    if min_rate and max_rate is not None and max_rate < min_rate:
        problems.append(f"--max-rate {args.max_rate} is below --min-rate {min_rate:g}/s")
    if args.max_steps < 1:
        problems.append(f"--max-steps must be at least 1, got {args.max_steps}")
    if args.processes is not None and args.processes < 1:
        problems.append(f"--processes must be at least 1, got {args.processes}")
    if problems:
        raise InputError(problems)
    assert min_rate and max_rate and step_s and warmup_s is not None  # checked above
    prepared = prepare_scenario(args.scenario, args.overrides)
    sc = prepared.loaded.scenario
    if sc.load.stages:
        raise InputError(f"{args.scenario}: capacity sets the load of every step itself; "
                         "use a scenario without load.stages")  # fmt: skip
    request = CapacityRequest(
        scenario=str(Path(args.scenario).resolve()),
        scenario_name=sc.name,
        endpoint=sc.endpoint.url,
        slos=slos,
        min_rate=min_rate,
        max_rate=max_rate,
        step_duration_s=step_s,
        warmup_s=warmup_s,
        max_steps=args.max_steps,
        out=Path(args.out),
        overrides=list(args.overrides),
        scenario_users=sc.load.users if "users" in sc.load.model_fields_set else 0,
        require=require,
        processes=args.processes,
        master_port=args.master_port if args.processes else None,
        floor=1.0 if args.min_rate is None else None,  # the search chose min_rate: it may go lower
    )
    return request, sc.endpoint


def _cmd_capacity(args: argparse.Namespace) -> int:
    from stagecheck.capacity import Step, run_capacity
    from stagecheck.capacity.slo import min_requests
    from stagecheck.endpoint.check import check_endpoint
    from stagecheck.redact import redact_url
    from stagecheck.reporting.capacity import write_capacity_reports
    from stagecheck.reporting.capacity.view import render_capacity_console
    from stagecheck.runfolder.layout import check_writable

    request, endpoint = _capacity_request(args)
    check_writable(request.out, "--out")
    check_endpoint(endpoint)  # reachable; a preset's health route answers
    if request.processes:
        _check_listenable("--master-port", "127.0.0.1", args.master_port)

    need = min_requests(request.slos)
    print(f"stagecheck capacity: each step measures at least {need:,} requests after a "
          f"{request.warmup_s:g} s warm-up (steps below {need / request.step_duration_s:.3g}/s "
          f"are lengthened); first step at {request.min_rate:g}/s", file=sys.stderr)  # fmt: skip

    def progress(step: Step) -> None:
        f = step.figures
        seen = f" (achieved {f.achieved_rate:.2f}/s, {f.requests} requests)" if f else ""
        print(f"stagecheck capacity: step {step.index} ({step.phase}) {step.offered_rate:g}/s"
              f"{seen}: {step.status}", file=sys.stderr, flush=True)  # fmt: skip

    result, folder = run_capacity(replace(request, endpoint=redact_url(request.endpoint) or ""),
                                  progress)  # fmt: skip
    write_capacity_reports(folder, result)
    print(render_capacity_console(result, str(folder)), end="")
    return result.exit_code


def _cmd_demo(args: argparse.Namespace) -> int:
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    scenario = args.scenario or DEMO_SCENARIO
    if not Path(scenario).is_file():
        raise InputError(
            f"{scenario}: scenario not found (run from the checkout, or name a scenario)"
        )
    proc, url = start_demo_subprocess()
    print(f"stagecheck demo: staging endpoint started at {url}", flush=True)
    owner = os.getpid()
    try:
        return _cmd_run(args, scenario, [f"endpoint.url={url}"])
    finally:
        # With --processes, Locust forks workers that return through here too: only the
        # process that started the endpoint stops it.
        if os.getpid() == owner:
            stop_demo_subprocess(proc)
            print("stagecheck demo: staging endpoint stopped", flush=True)


def _cmd_report(args: argparse.Namespace) -> int:
    """Rebuild the analysis and judge the thresholds again from the run folder; the exit code
    is the verdict's, as after the run. New thresholds (``--threshold``) judge the run into
    ``summary.rejudged.json`` and its reports, beside the run's own, which stay as they were.
    A run folder without a summary (its master or its process died) gets one rebuilt from the
    results on disk first, marked incomplete: invalid, exit 3."""
    from stagecheck.reporting import (
        REJUDGED,
        SUMMARY_FILE,
        load_summary,
        render_console,
        summary_variant,
        variant_name,
        write_reports,
    )
    from stagecheck.run.controller import exit_code_for
    from stagecheck.run.rebuild import can_rebuild, rebuild_summary
    from stagecheck.runfolder.layout import live_owner, write_summary
    from stagecheck.summary.verdict import rejudge_run_folder

    run_dir = Path(args.run_dir)
    owner = live_owner(run_dir) if run_dir.is_dir() else None
    if owner is not None:  # a rebuild now would call a live run dead: leave its folder alone
        raise InputError(f"{run_dir}: its run is still going (process {owner}); report it "
                         "once the run has ended")  # fmt: skip
    if can_rebuild(run_dir):
        path = write_summary(run_dir, rebuild_summary(run_dir))
        print(f"wrote {path} (rebuilt from the results on disk: the run did not end)")
    summary = load_summary(run_dir)
    if run_dir.is_dir():
        variant = REJUDGED if args.thresholds else ""
        summary = rejudge_run_folder(run_dir, summary, args.thresholds)
        print(f"wrote {write_summary(run_dir, summary, variant_name(SUMMARY_FILE, variant))}")
        if variant:
            print(f"  (judged by --threshold; the run's own verdict stays in {SUMMARY_FILE})")
    elif args.thresholds:
        raise InputError(f"{run_dir}: --threshold needs the run folder, not a summary file")
    else:
        variant = summary_variant(run_dir)
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    for path in write_reports(folder, summary, variant):
        print(f"wrote {path}")
    print(render_console(summary))
    return exit_code_for(str(summary.get("verdict")))


def _cmd_compare(args: argparse.Namespace) -> int:
    from stagecheck.reporting.compare.html import write_comparison
    from stagecheck.reporting.compare.runs import compare_folders
    from stagecheck.reporting.compare.view import render_comparison, render_comparison_markdown

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".md", ".html", ".htm"):
        raise InputError(f"--out {out}: the file must end in .md or .html")
    comparison = compare_folders(
        args.base_run,
        args.new_run,
        quality_tolerance=args.quality_tolerance,
        error_rate_tolerance=args.error_rate_tolerance,
        latency_tolerance=args.latency_tolerance,
        throughput_tolerance=args.throughput_tolerance,
        alpha=args.alpha,
    )
    if out is not None:
        write_comparison(comparison, out)
    render = render_comparison_markdown if args.markdown else render_comparison
    code = EXIT_THRESHOLD_FAILED if comparison.regressed else 0
    try:
        sys.stdout.write(render(comparison))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): Python's documented recipe, so the exit at
        # shutdown does not flush into the closed pipe again; the exit code stays honest.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo-server"]:
        from stagecheck.demo.server import main as demo_main

        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "protocols":
            from stagecheck.scenario.reference import reference_markdown

            print(reference_markdown(), end="")
            return 0
        if args.command == "run":
            return _cmd_run(args, args.scenario)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "capacity":
            return _cmd_capacity(args)
        return _cmd_compare(args)
    except StagecheckError as exc:
        for line in exc.problems:
            print(f"stagecheck: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`stagecheck validate … | head`): Python's documented recipe, so
        # that the flush at exit does not raise again into the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
