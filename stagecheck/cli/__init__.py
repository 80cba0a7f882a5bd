"""``stagecheck`` command line: run, validate, report, compare, export, capacity, demo-server, demo.

Exit codes (DESIGN.md): 0 passed · 1 a threshold failed (or a regression, for compare) ·
2 bad input · 3 the run could not be carried out.

- :mod:`.parser`: the argument parser (every command's options);
- :mod:`.run`: ``run`` and ``demo`` (a Locust run in this process);
- :mod:`.capacity`: ``capacity`` (the search for the highest sustained rate);
- :mod:`.validate`: ``validate`` (the scenario, its dataset, ``--probe``);
- :mod:`.runfolders`: ``report`` and ``compare`` (run folders read again);
- :mod:`.export`: ``export`` (a run's errors or regressions as training data).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from stagecheck.cli.capacity import cmd_capacity
from stagecheck.cli.parser import build_parser
from stagecheck.cli.run import cmd_demo, cmd_run
from stagecheck.cli.runfolders import cmd_compare, cmd_report
from stagecheck.cli.validate import cmd_validate
from stagecheck.errors import StagecheckError

__all__ = ["main", "build_parser"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo-server"]:
        from stagecheck.demo.server import main as demo_main

        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "protocols":
            from stagecheck.scenario.reference import reference_markdown

            print(reference_markdown(), end="")
            return 0
        if args.command == "run":
            return cmd_run(args, args.scenario)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "capacity":
            return cmd_capacity(args)
        if args.command == "export":
            from stagecheck.cli.export import cmd_export

            return cmd_export(args)
        return cmd_compare(args)
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
