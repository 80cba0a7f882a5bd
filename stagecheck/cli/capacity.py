"""``stagecheck capacity``: the search for the highest sustained arrival rate that meets the
SLOs, its options checked before any step runs."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from stagecheck.cli.run import check_listenable
from stagecheck.errors import InputError

if TYPE_CHECKING:
    from stagecheck.capacity import CapacityRequest
    from stagecheck.judging.thresholds import Threshold
    from stagecheck.scenario.schema import EndpointConfig

__all__ = ["cmd_capacity"]


def _capacity_request(args: argparse.Namespace) -> tuple[CapacityRequest, EndpointConfig]:
    """The search asked for, or InputError with one line per problem."""
    from stagecheck.capacity import CapacityRequest, parse_slos
    from stagecheck.run.preparation import prepare_scenario

    slos, problems = parse_slos(args.slos)
    min_rate, max_rate, step_s, warmup_s, require = _search_options(args, slos, problems)
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


def _search_options(
    args: argparse.Namespace, slos: Sequence[Threshold], problems: list[str]
) -> tuple[float, float, float, float, float | None]:
    """The search's rates and durations (min, max, step, warm-up, required), or InputError with
    one line per problem, those already found in the SLOs first."""
    from stagecheck.capacity.slo import min_requests
    from stagecheck.units import parse_duration, parse_rate

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
    return min_rate, max_rate, step_s, warmup_s, require


def cmd_capacity(args: argparse.Namespace) -> int:
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
        check_listenable("--master-port", "127.0.0.1", args.master_port)

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
