"""The options stagecheck adds to Locust's command line, and the run options they make.

``--scenario FILE`` (env ``STAGECHECK_SCENARIO``): the scenario to run (required).
``--scenario-set KEY=VALUE`` (repeatable): override a scenario key. Locust's ``-H URL`` sets
``endpoint.url`` (a ``--scenario-set endpoint.url=…`` wins over it).
``--run-dir DIR``: the run folder (default: ``<runs-root>/<UTC time>-<scenario>``).
``--runs-root DIR``: where run folders are made (default ``runs``).
``--metrics-port P``: serve Prometheus metrics on ``--metrics-host`` (default 127.0.0.1).
``--pushgateway URL``: push the final metrics to a Prometheus Pushgateway.
``--console-log stagecheck|all``: with Locust's ``--logfile``, which lines still reach the
console (stagecheck's own and Locust's errors, or all; default: all).
``--web-linger SECONDS``: with the web UI, quit when a run has ended: after SECONDS, or once its
report has been fetched (and a few seconds more), whichever comes first (default: Locust's own
``--autoquit``, if any).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagecheck.locust.console import CONSOLE_MODES

__all__ = ["RunOptions", "add_arguments", "compute_locust_defaults_once"]


def compute_locust_defaults_once() -> None:
    """A worker handling a spawn message checks every option its master sent against Locust's
    ``argument_parser.default_args_dict()``, which builds and parses Locust's whole parser on
    each call: some 70 parses in one go (1 to 8 s of CPU on a 2-core machine, the busier the
    longer). The worker's event loop is held meanwhile: no heartbeat goes out, the master marks
    the worker missing (after 3 s) and the run loses it. The defaults cannot change within a
    process (config files are not read for them): computed once."""
    from locust import argument_parser

    if not hasattr(argument_parser.default_args_dict, "cache_info"):
        argument_parser.default_args_dict = functools.cache(argument_parser.default_args_dict)


def add_arguments(parser: Any, **_: Any) -> None:
    """Locust's ``init_command_line_parser`` listener: the options above."""
    if "--scenario" in parser._option_string_actions:  # fired again on every web UI GET /
        return
    group = parser.add_argument_group("stagecheck")
    group.add_argument("--scenario", env_var="STAGECHECK_SCENARIO", default=None,
                       help="stagecheck scenario file (YAML)")  # fmt: skip
    group.add_argument("--scenario-set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a scenario key, e.g. endpoint.url=http://…")  # fmt: skip
    group.add_argument("--run-dir", default=None, help="run folder to write")
    group.add_argument("--runs-root", default="runs", help="where run folders are made")
    group.add_argument("--metrics-port", type=int, default=None,
                       help="serve Prometheus metrics on this port")  # fmt: skip
    group.add_argument("--metrics-host", default="127.0.0.1",
                       help="interface for --metrics-port")  # fmt: skip
    group.add_argument("--pushgateway", default=None, metavar="URL",
                       help="push the final metrics to a Pushgateway")  # fmt: skip
    group.add_argument("--web-linger", type=float, default=None, metavar="SECONDS",
                       help="(web UI) quit this long after a run ends, or once its report "
                            "has been fetched")  # fmt: skip
    group.add_argument("--console-log", choices=CONSOLE_MODES, default="all",
                       help="with --logfile: the lines still shown on the console "
                            "(stagecheck: its own and Locust's errors)")  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    """Where a local or master run writes, and where its metrics go."""

    runs_root: Path = Path("runs")
    run_dir: Path | None = None  # the first run's folder (later runs get their own)
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    pushgateway: str | None = None
    web_linger: float | None = None  # web UI: quit this long after a run (or its report) ends

    @classmethod
    def from_parsed(cls, opts: Any) -> RunOptions:
        return cls(
            runs_root=Path(opts.runs_root),
            run_dir=Path(opts.run_dir) if opts.run_dir else None,
            metrics_port=opts.metrics_port,
            metrics_host=opts.metrics_host,
            pushgateway=opts.pushgateway,
            web_linger=getattr(opts, "web_linger", None),
        )
