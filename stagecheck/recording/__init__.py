"""Recording: the hot-path recorder and the run's aggregate (no Locust import)."""

from stagecheck.recording.aggregate import Aggregate, Sample, StageInfo
from stagecheck.recording.interval import DeltaFold, IntervalReport
from stagecheck.recording.recorder import (
    ALL,
    CONNECTION_ERROR,
    CORRECT,
    FAILURES,
    HIGHEST_US,
    HTTP_ERROR,
    INCORRECT,
    OUTCOMES,
    TIMEOUT,
    TIMINGS,
    UNFINISHED,
    UNPARSEABLE,
    Delta,
    Recorder,
    new_histogram,
)

__all__ = [
    "ALL",
    "CONNECTION_ERROR",
    "CORRECT",
    "FAILURES",
    "HIGHEST_US",
    "HTTP_ERROR",
    "INCORRECT",
    "OUTCOMES",
    "TIMEOUT",
    "TIMINGS",
    "UNFINISHED",
    "UNPARSEABLE",
    "Aggregate",
    "Delta",
    "DeltaFold",
    "IntervalReport",
    "Recorder",
    "Sample",
    "StageInfo",
    "new_histogram",
]
