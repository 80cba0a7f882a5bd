"""Cost ladder for benchmarks/generator_cost.py --ladder: stagecheck's per-request work added one
piece at a time to the bare baseline, with stagecheck's own objects (adapter, scorer, Recorder,
Aggregate), so that each step's CPU-µs/request is measured in a real Locust run.

``BENCH_LADDER`` picks the level (each includes the ones before it):

* ``catch``  the request as ValidationUser sends it: ``client.request(..., catch_response=True)``
  in a ``with`` block, wall-clock start, perf_counter_ns latency, status checks, ``success()``;
* ``parse``  + ``adapter.parse(resp.content)``;
* ``score``  + ``scorer.score`` and the outcome tuple;
* ``record`` + ``Recorder.record`` (HDR record, counters, result tuple);
* ``drain``  + a greenlet merging the recorder into an ``Aggregate`` every second (counters,
  HDR, latency.hlog, results.jsonl in a temporary folder), and a final drain at test_stop.

``drain`` is stagecheck's per-request work without its plugin, load shape and reports; the
``stagecheck`` variant minus ``drain`` is what the rest of stagecheck costs.
"""

import gevent
from locust import FastHttpUser, constant, events, task

import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cpu_probe

from stagecheck.protocols import ResponseParseError
from stagecheck.recording import CORRECT, INCORRECT, Aggregate, Recorder
from stagecheck.run.preparation import prepare_scenario

cpu_probe.register(events)

LEVELS = ("catch", "parse", "score", "record", "drain")
LEVEL = LEVELS.index(os.environ.get("BENCH_LADDER", "drain"))
_SCENARIO = os.environ.get("BENCH_SCENARIO", "scenarios/smoke.yaml")
_URL = os.environ.get("BENCH_TARGET_URL", "http://127.0.0.1:8000")

_prepared = prepare_scenario(_SCENARIO, [f"endpoint.url={_URL}"])
ROWS = _prepared.dataset.rows
_first = ROWS[0].request
PATH = _first.path
HEADERS = {"Content-Type": _first.content_type, "Accept": "application/json"}
NAME = f"{_prepared.loaded.scenario.endpoint.protocol} {PATH}"
ADAPTER = _prepared.adapter
SCORER = _prepared.scorer
_next_row = itertools.cycle(ROWS).__next__
RECORDER = Recorder()
_state: dict[str, Any] = {}


def _drain() -> None:
    delta = RECORDER.drain()  # at level "record" the delta is dropped
    if "aggregate" in _state:
        _state["aggregate"].merge(delta)


def _drain_loop() -> None:
    while True:
        gevent.sleep(1.0)
        _drain()


@events.test_start.add_listener
def _start(**_: Any) -> None:
    if LEVELS.index("drain") <= LEVEL:
        run_dir = _state["run_dir"] = Path(tempfile.mkdtemp(prefix="ladder-"))
        _state["aggregate"] = Aggregate(ROWS, _prepared.dataset.slice_fields, run_dir, time.time())
        _state["aggregate"].begin_stage(0, "steady", 8, time.time())
    if LEVELS.index("record") <= LEVEL:
        RECORDER.drain()
        _state["ticker"] = gevent.spawn(_drain_loop)


def _final_drain(environment: Any) -> None:
    if "ticker" in _state:
        _state.pop("ticker").kill(block=True)
        _drain()
    if "aggregate" in _state:
        _state.pop("aggregate").close()
        shutil.rmtree(_state.pop("run_dir"), ignore_errors=True)


cpu_probe.before_stop.append(_final_drain)


class LadderUser(FastHttpUser):
    host = _URL
    wait_time = constant(0)

    @task
    def replay(self) -> None:
        row = _next_row()
        started = time.time()
        t0 = time.perf_counter_ns()
        outcome, predicted, got, error = CORRECT, None, None, None
        with self.client.request(
            "POST", PATH, data=row.request.body, headers=HEADERS, name=NAME, catch_response=True
        ) as resp:
            latency_us = (time.perf_counter_ns() - t0) // 1000
            status = resp.status_code
            if not status or status < 200 or status >= 300:
                resp.failure(f"HTTP {status}")
                return
            content = resp.content or b""
            if LEVEL >= 1:
                try:
                    prediction = ADAPTER.parse(content)
                except ResponseParseError as exc:
                    resp.failure(str(exc))
                    return
                if LEVEL >= 2:
                    correct, predicted = SCORER.score(prediction, row.expected)
                    got = predicted if predicted is not None else str(prediction)[:300]
                    outcome = CORRECT if correct else INCORRECT
            resp.success()
        if LEVEL >= 3:
            RECORDER.record(
                row_index=row.index,
                outcome=outcome,
                latency_us=latency_us,
                started=started,
                predicted=predicted,
                got=got,
                error=error,
            )
