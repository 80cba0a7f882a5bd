"""The locustfile the ``stagecheck run`` CLI hands to Locust (``locust -f`` works too)."""

from locust import events

from stagecheck.locust import ScenarioShape, ValidationUser, install


class ScenarioUser(ValidationUser):
    """Replays the scenario's validation dataset against its endpoint."""


class ScenarioLoadShape(ScenarioShape):
    """Follows the scenario's load plan (or Locust's -u/-r/-t when given)."""


install(events)
