"""``stagecheck capacity``: the highest sustained arrival rate at which the model is both fast
enough and right.

Data flow: SLOs (:mod:`.slo`) → a bounded search (:mod:`.search`) whose every step is a real
open-loop run (:mod:`.step`) recounted from its run folder (:mod:`.figures`), run again when it
cannot decide yet (:mod:`.recheck`) → the result
(:mod:`.model`), run by :mod:`.run`; its reports are written by
:func:`stagecheck.reporting.capacity.write_capacity_reports`.
"""

from __future__ import annotations

from stagecheck.capacity.run import CapacityRequest, run_capacity
from stagecheck.capacity.schema import CapacityResult, SloCheck, Step, StepFigures
from stagecheck.capacity.search import SearchOutcome, search
from stagecheck.capacity.slo import min_requests, parse_slos

__all__ = [
    "CapacityRequest",
    "CapacityResult",
    "SearchOutcome",
    "SloCheck",
    "Step",
    "StepFigures",
    "min_requests",
    "parse_slos",
    "run_capacity",
    "search",
]
