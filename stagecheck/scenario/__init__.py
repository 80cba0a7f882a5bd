"""Scenario files: schema and loading (validated, frozen)."""

from stagecheck.scenario.loader import LoadedScenario, load_scenario, parse_overrides, redacted_yaml
from stagecheck.scenario.schema import (
    DatasetConfig,
    EndpointConfig,
    LoadConfig,
    LoadStage,
    Scenario,
    ValidityConfig,
)

__all__ = [
    "DatasetConfig",
    "EndpointConfig",
    "LoadConfig",
    "LoadStage",
    "LoadedScenario",
    "Scenario",
    "ValidityConfig",
    "load_scenario",
    "parse_overrides",
    "redacted_yaml",
]
