"""Where a ``stagecheck run`` process spends its CPU: start-up, load window, end of run.

    .venv/bin/python benchmarks/run_phases.py run scenarios/smoke.yaml --users 8 \\
        --duration 10s --set endpoint.url=http://127.0.0.1:PORT --out /tmp/runs --quiet

Runs stagecheck's command line (the arguments as ``stagecheck`` takes them) in this process and
prints, on stderr, the process's user + system CPU (``getrusage``) between marks: the CLI
imported, the scenario prepared and the endpoint checked, Locust imported, test_start, the end
of the load (``end_of_run`` starts), the end of run done, exit. ``PHASES_OUT=FILE`` appends
the marks as one JSON line. Pin it as generator_cost.py does (``taskset -c 0``) to compare
with its figures; run it from a ``git archive`` of another revision (PYTHONPATH and working
folder there) to compare revisions.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import sys
from typing import Any

MARKS: list[tuple[str, float]] = []


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def mark(name: str) -> None:
    MARKS.append((name, cpu()))


def report() -> None:
    mark("exit")
    parts, previous = [], 0.0
    for name, at in MARKS:
        parts.append(f"{name} +{at - previous:.3f}")
        previous = at
    print("PHASES " + " | ".join(parts), file=sys.stderr)
    out = os.environ.get("PHASES_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(MARKS) + "\n")


def main() -> int:
    mark("python started")
    atexit.register(report)
    import stagecheck.cli.run as cli_run

    locust_main = cli_run._locust_main

    def marked_locust_main(argv: list[str], prepared: Any = None) -> int:
        mark("prepared and checked")
        import locust.main  # noqa: F401 - its import is the mark's cost

        mark("locust imported")
        import stagecheck.locust as glue
        import stagecheck.locust.runs as runs

        install, end_of_run = glue.install, runs.end_of_run

        def marked_install(events: Any) -> Any:
            plugin = install(events)
            events.test_start.add_listener(lambda **_: mark("test_start"))
            return plugin

        def marked_end_of_run(*args: Any, **kwargs: Any) -> Any:
            mark("load ended")
            try:
                return end_of_run(*args, **kwargs)
            finally:
                mark("end of run done")

        glue.install, runs.end_of_run = marked_install, marked_end_of_run  # type: ignore[assignment]
        return locust_main(argv, prepared)

    cli_run._locust_main = marked_locust_main  # type: ignore[assignment]
    from stagecheck.cli import main as stagecheck_main

    mark("cli imported")
    sys.argv = ["stagecheck", *sys.argv[1:]]
    return stagecheck_main()


if __name__ == "__main__":
    sys.exit(main())
