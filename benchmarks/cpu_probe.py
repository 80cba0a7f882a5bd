"""Measure a Locust process's own CPU time over the load window only.

Imported by the benchmark locustfiles (``bare_locustfile.py``, ``stagecheck_locustfile.py``).
The window opens in a ``test_start`` listener and closes in a ``test_stop`` listener, so it
excludes interpreter start-up, imports, dataset preparation (all before ``test_start``) and
stagecheck's end-of-run summary and reports (its own ``test_stop`` listener, registered after
this one: Locust fires listeners in registration order).

At ``test_stop`` one JSON line is appended to the file named by the ``BENCH_OUT`` environment
variable (nothing is written when it is unset):

    {"variant": ..., "requests": ..., "failures": ..., "wall_s": ..., "cpu_s": ...,
     "utime_s": ..., "stime_s": ..., "vcsw": ..., "ivcsw": ..., "marks": {...}, "extra": {...}}

``cpu_s`` is ``time.process_time()`` (user + system CPU of the whole process, every thread);
``utime_s``/``stime_s`` come from ``getrusage(RUSAGE_SELF)`` and should add up to it;
``runqueue_wait_s`` is the time the main thread was runnable but waiting for the CPU (from
/proc/self/schedstat: how much other processes contended for the generator's CPU);
``gc_cpu_s``/``gc_runs`` are the CPU time and the runs (per generation) of the cyclic garbage
collector inside the window.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["register", "instrument_stagecheck", "before_stop", "extra"]

# Run at test_stop, inside the window, before it closes (e.g. stagecheck's final drain).
before_stop: list[Callable[[Any], None]] = []  # called with the Locust environment
# Numbers added to the JSON line (e.g. CPU spent in stagecheck's drains).
extra: dict[str, Any] = {}

_start: dict[str, Any] = {}
_marks: dict[str, float] = {}
_gc: dict[str, Any] = {"t0": 0.0, "s": 0.0, "runs": [0, 0, 0]}


def _gc_callback(phase: str, info: dict[str, Any]) -> None:
    """Time the cyclic garbage collector (it runs on allocation, inside whatever code
    allocates: this is the only way to see its share)."""
    if phase == "start":
        _gc["t0"] = time.process_time()
    else:
        _gc["s"] += time.process_time() - _gc["t0"]
        _gc["runs"][info["generation"]] += 1


def _runqueue_wait_s() -> float:
    """Seconds the main thread spent runnable but waiting for a CPU (another process had it):
    the contention the run met. 0 when /proc/self/schedstat is missing."""
    try:
        with open("/proc/self/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _snapshot() -> dict[str, Any]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "runq": _runqueue_wait_s(),
        "wall": time.perf_counter(),
        "cpu": time.process_time(),
        "utime": ru.ru_utime,
        "stime": ru.ru_stime,
        "vcsw": ru.ru_nvcsw,
        "ivcsw": ru.ru_nivcsw,
    }


def _on_test_start(**_: Any) -> None:
    _marks.clear()
    extra.clear()
    _start.clear()
    _gc.update(s=0.0, runs=[0, 0, 0])
    _start.update(_snapshot())
    flag = os.environ.get("BENCH_STARTED")
    if flag:  # tells benchmarks/generator_cost.py the window is open (to attach py-spy)
        with open(flag, "w", encoding="utf-8") as f:
            f.write(str(os.getpid()))


def mark(name: str) -> None:
    """CPU seconds since the window opened, kept under ``marks[name]``."""
    if _start:
        _marks[name] = time.process_time() - _start["cpu"]


def _on_test_stop(environment: Any, **_: Any) -> None:
    if not _start:
        return
    for hook in before_stop:
        hook(environment)
    end = _snapshot()
    total = environment.runner.stats.total
    # Locust's own response times (ms, its rounded buckets), the same way for every variant.
    latency_ms = {
        f"p{q * 100:g}": total.get_response_time_percentile(q) for q in (0.5, 0.99, 0.999)
    }
    latency_ms["max"] = total.max_response_time
    line = {
        "variant": os.environ.get("BENCH_VARIANT", "?"),
        "pid": os.getpid(),
        "requests": total.num_requests,
        "failures": total.num_failures,
        "wall_s": end["wall"] - _start["wall"],
        "cpu_s": end["cpu"] - _start["cpu"],
        "utime_s": end["utime"] - _start["utime"],
        "stime_s": end["stime"] - _start["stime"],
        "vcsw": end["vcsw"] - _start["vcsw"],
        "ivcsw": end["ivcsw"] - _start["ivcsw"],
        "runqueue_wait_s": end["runq"] - _start["runq"],
        "locust_latency_ms": latency_ms,
        "gc_cpu_s": _gc["s"],
        "gc_runs": list(_gc["runs"]),
        "stagecheck_from": getattr(sys.modules.get("stagecheck"), "__file__", None),
        "marks": dict(_marks),
        "extra": dict(extra),
    }
    _start.clear()
    path = os.environ.get("BENCH_OUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def register(events: Any) -> None:
    """Add the probe's listeners to ``events`` (once). Call it BEFORE anything else registers
    ``test_stop`` listeners that should stay out of the window."""
    if getattr(events, "_cpu_probe_registered", False):
        return
    events._cpu_probe_registered = True
    events.test_start.add_listener(_on_test_start)
    events.test_stop.add_listener(_on_test_stop)
    gc.callbacks.append(_gc_callback)


def instrument_stagecheck(events: Any) -> None:
    """Benchmark-only hooks for a stagecheck run (call right after ``install(events)``).
    They use stagecheck's data API only (``session_of(environment)``, the plugin's run
    controller, ``Recorder.drain``, ``Aggregate.merge``), not the plugin's private methods:

    * time every merge of a recorder delta into the aggregate (``extra.drain_cpu_s``,
      ``extra.drains``, the longest one's wall time ``extra.drain_wall_ms_max``): the drain
      greenlet's per-second work (counters, HDR add, one latency.hlog interval, results.jsonl
      lines), the periodic drains and the final one;
    * run the final drain inside the window: stagecheck's own ``test_stop`` listener drains
      the last (< 1 s) part of the run after the window has closed; draining here first counts
      it, and stagecheck's drain then finds an empty delta;
    * mark the CPU spent by stagecheck's own ``test_start`` listener (run folder, scenario
      copy, feeder, aggregate files, drain greenlet), a fixed cost per run
      (``marks.stagecheck_test_start``).
    """
    from stagecheck.locust.binding import session_of
    from stagecheck.recording.aggregate import Aggregate

    merge = Aggregate.merge
    if not getattr(merge, "_cpu_probe", False):

        def timed_merge(self: Any, *args: Any, **kwargs: Any) -> None:
            t0, w0 = time.process_time(), time.perf_counter()
            merge(self, *args, **kwargs)
            if _start:
                extra["drain_cpu_s"] = extra.get("drain_cpu_s", 0.0) + time.process_time() - t0
                extra["drains"] = extra.get("drains", 0) + 1
                # wall time of one merge, including the pauses in which it lets users run
                wall_ms = (time.perf_counter() - w0) * 1e3
                extra["drain_wall_ms_max"] = max(extra.get("drain_wall_ms_max", 0.0), wall_ms)

        timed_merge._cpu_probe = True  # type: ignore[attr-defined]
        Aggregate.merge = timed_merge  # type: ignore[method-assign]

    def final_drain(environment: Any) -> None:
        session = session_of(environment)
        plugin = getattr(environment.events, "_stagecheck_plugin", None)
        controller = getattr(plugin, "controller", None)
        if session is None or controller is None:
            return
        # stagecheck's test_stop listener finishes the run controller when it has written the
        # reports: not finished yet means the window closes before the reports, as it should.
        extra["window_closed_before_stagecheck_stop"] = not controller.finished
        if controller.finished or session.recorder is None:
            return
        # the local drain, as the plugin's drain loop does it (recorder delta → controller)
        controller.merge(session.recorder.drain())
        # requests stagecheck accounted for inside the window (every outcome)
        extra["stagecheck_requests"] = sum(controller.aggregate.outcome_counts().values())

    before_stop.append(final_drain)
    events.test_start.add_listener(lambda **_: mark("stagecheck_test_start"))
