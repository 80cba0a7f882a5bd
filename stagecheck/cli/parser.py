"""The ``stagecheck`` argument parser: every command and its options."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from stagecheck.errors import EXIT_BAD_INPUT
from stagecheck.version import __version__

__all__ = ["build_parser", "DEMO_SCENARIO", "WEB_LOGIN_ENV", "WEB_LINGER_S"]

# The description --help shows (the first line of the package's docstring, as before).
_DESCRIPTION = (
    "``stagecheck`` command line: run, validate, report, compare, export, capacity, "
    "demo-server, demo."
)

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
    parser = _Parser(prog="stagecheck", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"stagecheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario against its endpoint (headless by default)")
    run.add_argument("scenario", help="scenario file (YAML)")
    _add_run_options(run)

    _add_validate_parser(sub)
    sub.add_parser(
        "protocols", help="print every protocol's and scorer's options (scenarios/REFERENCE.md)"
    )
    _add_report_parser(sub)
    _add_compare_parser(sub)
    _add_demo_parsers(sub)
    _add_capacity_parser(sub)
    _add_export_parser(sub)
    return parser


def _add_export_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    export = sub.add_parser(
        "export", help="write a run's wrong, off-label and failed rows (or its regressions "
        "against a base run) as training data",
    )  # fmt: skip
    export.add_argument("run_dir", help="the run folder whose rows are exported")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--errors", action="store_true",
                       help="rows with a wrong or unparseable answer or a failed request")
    which.add_argument("--flips-from", metavar="BASE_RUN",
                       help="rows right in BASE_RUN and wrong in this run (paired as compare "
                       "pairs them)")  # fmt: skip
    export.add_argument("--format", choices=("jsonl", "csv", "openai-chat"), default="jsonl",
                        help="jsonl or csv in the dataset's own field names, or chat "
                        "fine-tuning records {messages: [system?, user, assistant=expected]}")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")


def _add_set_option(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help=text)  # fmt: skip


def _add_against_option(p: argparse.ArgumentParser) -> None:
    """``--against PROD`` (one flag for validate, run, report and compare)."""
    p.add_argument("--against", metavar="PROD",
                   help="a sample of production inputs (JSONL, CSV or Parquet; fields named as "
                        "the dataset's): compare the validation set with it and re-weight the "
                        "run's figures to its slice mix (a run keeps it in production.json)")
    p.add_argument("--against-label", metavar="FIELD",
                   help="(--against) the sample's field holding the production model's "
                        "predicted label")  # fmt: skip


def _add_validate_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    validate = sub.add_parser("validate", help="check a scenario and its dataset; send no load")
    validate.add_argument("scenario")
    _add_set_option(validate, "override a scenario key")
    validate.add_argument(
        "--probe",
        action="store_true",
        help="send ONE real request (the first row) and show the request, answer and score",
    )
    _add_against_option(validate)


def _add_report_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
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
    _add_against_option(report)


def _add_compare_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
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
    _add_against_option(compare)


def _add_demo_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
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
    add("--max-steps", type=int, default=12,
        help="most rates tried (default: %(default)s; a step run again is not counted)")
    add("--require", metavar="RATE",
        help="exit 1 unless the capacity is at least RATE, e.g. 40/s (default: none)")
    add("--processes", type=int, metavar="N",
        help="run every step on N Locust worker processes (Locust's master/worker)")  # fmt: skip
    add("--master-port", type=int, default=5557, help="(--processes) the master's port")
    _add_set_option(cap, "override a scenario key (passed to every step)")
    add("--out", default="runs", help="folder for the capacity folder (default: runs)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    p.add_argument("--users", type=int, help="concurrent users (overrides load.users)")
    p.add_argument("--duration", help="run length, e.g. 30s (overrides load.duration)")
    p.add_argument("--rate", help="open loop: arrival rate, e.g. 40/s (sets load.arrival_rate)")
    _add_set_option(p, "override any scenario key")
    _add_against_option(p)
    _add_web_options(p)
    _add_metrics_options(p)
    p.add_argument("--quiet", action="store_true", help="less Locust logging")
    p.add_argument("--verbose", action="store_true",
                   help="also show Locust's own log lines (always in locust.log of the run "
                        "folder)")  # fmt: skip
    _add_distribution_options(p)


def _add_web_options(p: argparse.ArgumentParser) -> None:
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


def _add_metrics_options(p: argparse.ArgumentParser) -> None:
    obs = p.add_argument_group("Prometheus (the web UI also serves /metrics)")
    obs.add_argument("--metrics-port", type=int, metavar="P",
                     help="serve Prometheus metrics of the run on this port")  # fmt: skip
    obs.add_argument("--metrics-host", default="127.0.0.1",
                     help="interface for --metrics-port (default 127.0.0.1)")  # fmt: skip
    obs.add_argument("--pushgateway", metavar="URL",
                     help="push the run's final metrics to a Prometheus Pushgateway")  # fmt: skip


def _add_distribution_options(p: argparse.ArgumentParser) -> None:
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
