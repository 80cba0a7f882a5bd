"""Replay a stagecheck scenario with plain Locust:

    locust -f locustfiles/validation.py --scenario scenarios/smoke.yaml --headless
    locust -f locustfiles/validation.py --scenario scenarios/smoke.yaml -H http://staging:8000

The scenario's load plan drives the run; ``-u/-r/-t`` override it; ``-H URL`` is the endpoint
(``endpoint.url``; ``--scenario-set endpoint.url=…`` wins over it). Every stagecheck option
(``--scenario-set``, ``--run-dir``, ``--runs-root``, ``--metrics-port``, ``--pushgateway``, …)
is described in ``stagecheck/locust/options.py``. Subclass ``ValidationUser`` here to add your
own behaviour (extra headers, a think time, a second task).
"""

from locust import events

from stagecheck.locust import ScenarioShape, ValidationUser, install


class ScenarioUser(ValidationUser):
    """Replays the scenario's validation dataset against its endpoint."""


class ScenarioLoadShape(ScenarioShape):
    """Follows the scenario's load plan (or Locust's -u/-r/-t when given)."""


install(events)
