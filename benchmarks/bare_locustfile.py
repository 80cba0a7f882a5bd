"""Baseline for benchmarks/generator_cost.py: what a hand-written FastHttpUser locustfile does at
minimum to replay the same dataset. Per request: take the next pre-encoded body, POST it to the
same path with the same headers, read the answer. No parsing, no scoring, no recording beyond
Locust's own statistics.

    BENCH_TARGET_URL=http://127.0.0.1:PORT locust -f benchmarks/bare_locustfile.py \
        --headless -u 8 -r 8 -t 10s -H http://127.0.0.1:PORT --only-summary
"""

from locust import FastHttpUser, constant, events, task

import itertools
import os

import cpu_probe

from stagecheck.run.preparation import prepare_scenario

cpu_probe.register(events)

_SCENARIO = os.environ.get("BENCH_SCENARIO", "scenarios/smoke.yaml")
_URL = os.environ.get("BENCH_TARGET_URL", "http://127.0.0.1:8000")

# Done once, before the load window: the same prepared rows stagecheck sends.
_prepared = prepare_scenario(_SCENARIO, [f"endpoint.url={_URL}"])
_first = _prepared.dataset.rows[0].request
BODIES = [r.request.body for r in _prepared.dataset.rows]
PATH = _first.path
HEADERS = {"Content-Type": _first.content_type, "Accept": "application/json"}
NAME = f"{_prepared.loaded.scenario.endpoint.protocol} {PATH}"
_next_body = itertools.cycle(BODIES).__next__


class BareUser(FastHttpUser):
    host = _URL
    wait_time = constant(0)

    @task
    def replay(self) -> None:
        resp = self.client.post(PATH, data=_next_body(), headers=HEADERS, name=NAME)
        resp.content  # noqa: B018  # read the answer, do nothing with it
