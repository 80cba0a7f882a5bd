"""stagecheck variant for benchmarks/generator_cost.py: the same classes as
``locustfiles/validation.py``, with the CPU probe registered FIRST so that its ``test_stop``
listener closes the measuring window before stagecheck's own (summary and reports) runs.

    BENCH_OUT=out.jsonl locust -f benchmarks/stagecheck_locustfile.py --headless -u 8 -r 8 \
        -t 10s --scenario scenarios/smoke.yaml --scenario-set endpoint.url=http://127.0.0.1:PORT
"""

from locust import events

import cpu_probe

from stagecheck.locust import ScenarioShape, ValidationUser, install

cpu_probe.register(events)  # before install(): Locust fires listeners in registration order


class ScenarioUser(ValidationUser):
    """Replays the scenario's validation dataset against its endpoint."""


class ScenarioLoadShape(ScenarioShape):
    """Follows the scenario's load plan (or Locust's -u/-r/-t when given)."""


install(events)
cpu_probe.instrument_stagecheck(events)
