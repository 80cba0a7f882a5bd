"""``stagecheck run`` and ``stagecheck demo``: a Locust run in this process, its options turned
into Locust's command line and the plugin's, its exit code made honest."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagecheck.cli.parser import DEMO_SCENARIO, WEB_LOGIN_ENV
from stagecheck.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, InputError

if TYPE_CHECKING:
    from stagecheck.locust.plugin import StagecheckPlugin
    from stagecheck.run.preparation import PreparedScenario

__all__ = ["cmd_run", "cmd_demo", "check_listenable"]


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


def cmd_run(args: argparse.Namespace, scenario: str, extra_sets: Sequence[str] = ()) -> int:
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
    sample = None if args.worker else _production_sample(args, prepared)
    argv = ["-f", str(Path(__file__).parents[1] / "locust" / "locustfile.py"),
            "--scenario", str(Path(scenario).resolve()), "--runs-root", args.out,
            "--only-summary"]  # fmt: skip
    if not args.worker:  # a worker takes the endpoint and overrides from its master
        check_writable(Path(args.out), "--out")  # before any load: one line, exit 2
        check_endpoint(sc.endpoint)  # reachable; a preset's health route answers
        if args.metrics_port is not None:
            check_listenable("--metrics-port", args.metrics_host, args.metrics_port)
            argv += ["--metrics-port", str(args.metrics_port),
                     "--metrics-host", args.metrics_host]  # fmt: skip
        if args.pushgateway:
            argv += ["--pushgateway", args.pushgateway]
        if args.processes or args.master:
            check_listenable("--master-port", args.master_bind_host, args.master_port)
        # Locust's own statistics go to the run folder rather than the terminal: its
        # bucketed percentiles beside stagecheck's HDR ones would only confuse.
        run_dir = new_run_dir(Path(args.out), sc.name)
        if sample is not None:  # its weights, for the summary and a later report or compare
            from stagecheck.production.store import write_sample

            print(f"stagecheck: production sample {sample.source}: {sample.rows:,} rows "
                  f"(kept in {write_sample(run_dir, sample)})", flush=True)  # fmt: skip
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


def _production_sample(args: argparse.Namespace, prepared: PreparedScenario) -> Any:
    """``--against PROD``: the production sample, read and checked before any load (exit 2);
    without it, a production-weighted threshold is bad input."""
    from stagecheck.production.against import check_production_gates, sample_for_dataset

    sc = prepared.loaded.scenario
    if not args.against:
        check_production_gates(sc.gates, "--against PROD (a sample of production inputs)")
        return None
    # the rows as written: variant rows are perturbed copies, not validation rows
    return sample_for_dataset(args.against, sc.dataset, prepared.dataset.as_written(),
                              args.against_label)  # fmt: skip


def check_listenable(option: str, host: str, port: int) -> None:
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


def _demo_knobs(scenario: Path) -> tuple[str, ...]:
    """The demo endpoint's mode for a scenario: a scenario that declares tools talks to the
    assistant with tools (``--agent``), a chat scored as free text (not as a label) to the
    chatbot (``--chatbot``), any other to the default intent classifier."""
    import yaml

    from stagecheck.scoring import get_scorer_class

    try:
        doc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
        endpoint = doc.get("endpoint") or {}
        if (endpoint.get("options") or {}).get("tools"):
            return ("--agent",)
        free_text = not get_scorer_class(str(doc["scoring"]["kind"])).classification
    except Exception:  # noqa: BLE001 - a bad file: the run reports it
        return ()
    return ("--chatbot",) if free_text and endpoint.get("protocol") == "openai-chat" else ()


def cmd_demo(args: argparse.Namespace) -> int:
    from stagecheck.demo.testing import start_demo_subprocess, stop_demo_subprocess

    scenario = args.scenario or DEMO_SCENARIO
    if not Path(scenario).is_file():
        raise InputError(
            f"{scenario}: scenario not found (run from the checkout, or name a scenario)"
        )
    knobs = _demo_knobs(Path(scenario))
    proc, url = start_demo_subprocess(*knobs)
    mode = {"--agent": " (assistant with tools: --agent)",
            "--chatbot": " (chatbot: --chatbot)"}.get(knobs[0], "") if knobs else ""  # fmt: skip
    print(f"stagecheck demo: staging endpoint started at {url}{mode}", flush=True)
    owner = os.getpid()
    try:
        return cmd_run(args, scenario, [f"endpoint.url={url}"])
    finally:
        # With --processes, Locust forks workers that return through here too: only the
        # process that started the endpoint stops it.
        if os.getpid() == owner:
            stop_demo_subprocess(proc)
            print("stagecheck demo: staging endpoint stopped", flush=True)
