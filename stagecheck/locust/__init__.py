"""Locust glue: the replay user, the scenario load shape, the event listeners.

Thin on purpose: scoring, recording, thresholds and reports are plain Python elsewhere.
"""

from stagecheck.load.plan import LoadPlan, Stage
from stagecheck.locust.environment import attach
from stagecheck.locust.options import RunOptions
from stagecheck.locust.plugin import StagecheckPlugin, install
from stagecheck.locust.shape import ScenarioShape
from stagecheck.locust.user import ValidationUser

__all__ = [
    "LoadPlan",
    "RunOptions",
    "ScenarioShape",
    "Stage",
    "StagecheckPlugin",
    "ValidationUser",
    "attach",
    "install",
]
