"""stagecheck: validate an ML model on its staging endpoint, under load.

Python entry point: ``stagecheck.run_scenario(prepare_scenario("x.yaml"))`` runs a scenario in
this process and returns its summary (it imports Locust, which patches the process with gevent:
import it before threads or sockets are made).
"""

from __future__ import annotations

from typing import Any

from stagecheck.version import __version__

__all__ = ["__version__", "run_scenario", "prepare_scenario"]


def __getattr__(name: str) -> Any:  # lazy: importing stagecheck must not import Locust
    if name == "run_scenario":
        from stagecheck.locust.inprocess import run_scenario

        return run_scenario
    if name == "prepare_scenario":
        from stagecheck.run.preparation import prepare_scenario

        return prepare_scenario
    raise AttributeError(f"module 'stagecheck' has no attribute {name!r}")
