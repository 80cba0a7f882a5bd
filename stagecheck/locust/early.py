"""A separate ``--worker`` process prepares its dataset while it waits for its master.

A worker runs the scenario its master names, and learns it only when the run starts: loading a
large dataset then would start this worker's arrival schedule seconds late, and the master
waits for it (the run lasts longer than its plan). So the worker prepares the scenario of its
own command line as soon as it starts, in the background (pausing, so heartbeats flow), and at
the start keeps that preparation when the master's scenario asks for the same rows: the same
dataset, scoring and request format (the endpoint's address, headers or load may differ).
"""

from __future__ import annotations

import gevent

import logging
from collections.abc import Callable, Sequence
from typing import Any

from stagecheck.errors import StagecheckError
from stagecheck.run.preparation import PreparedScenario, prepare_loaded
from stagecheck.scenario import LoadedScenario, load_scenario

__all__ = ["EarlyPreparation"]

log = logging.getLogger("stagecheck")


def _rows_key(loaded: LoadedScenario) -> tuple[Any, ...]:
    """What a prepared dataset depends on (:func:`stagecheck.run.preparation.prepare_loaded`)."""
    sc = loaded.scenario
    ep = sc.endpoint
    return (loaded.base_dir.resolve(), sc.dataset, sc.scoring, ep.protocol, ep.model, ep.options)


class EarlyPreparation:
    """The worker's own scenario, prepared before the run: by the ``stagecheck`` CLI (which
    checks it before starting Locust) or in a greenlet from the worker's start."""

    def __init__(self, prepared: PreparedScenario | gevent.Greenlet) -> None:
        self._prepared: PreparedScenario | gevent.Greenlet | None = prepared

    @classmethod
    def start(
        cls, scenario: str, overrides: Sequence[str], pause: Callable[[], None]
    ) -> EarlyPreparation:
        return cls(gevent.spawn(_prepare, scenario, list(overrides), pause))

    def take(self, loaded: LoadedScenario) -> PreparedScenario | None:
        """The early preparation as ``loaded`` (the master's scenario), waiting for it to
        end; None when it failed or prepared other rows. Once."""
        early, self._prepared = self._prepared, None
        if isinstance(early, gevent.Greenlet):
            early = early.get()
        if early is None or _rows_key(early.loaded) != _rows_key(loaded):
            return None
        return PreparedScenario(loaded, early.adapter, early.scorer, early.dataset)


def _prepare(
    scenario: str, overrides: list[str], pause: Callable[[], None]
) -> PreparedScenario | None:
    try:
        return prepare_loaded(load_scenario(scenario, overrides), pause=pause)
    except StagecheckError:
        return None  # prepared again at the start, where its problems are reported
    except Exception:  # noqa: BLE001 - never worth the worker: the start prepares again
        log.debug("early preparation failed", exc_info=True)
        return None
