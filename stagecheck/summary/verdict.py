"""A run's verdict: its thresholds judged on the summary's figures (the validity rules have
had their say: an invalid run is ``invalid`` whatever its thresholds say).

The histograms a threshold may need beyond the summary's percentiles are the run's aggregate
during the run, or read back from ``latency.hlog`` (:func:`logged_histograms`) afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from stagecheck.judging.thresholds import evaluate_thresholds, parse_threshold
from stagecheck.recording.recorder import new_histogram
from stagecheck.summary.lookup import interval_lookup, metric_lookup

__all__ = ["set_verdict", "logged_histograms", "Histograms"]

Histograms = Callable[[str], "HdrHistogram | None"]


def logged_histograms(run_dir: Path) -> Histograms:
    """Timing → histogram read back from ``latency.hlog`` (end-to-end latency only: time to
    first token and inter-token latency are not logged, so only their summary percentiles are
    known after the run)."""
    cache: dict[str, HdrHistogram | None] = {}

    def histograms(timing: str) -> HdrHistogram | None:
        if timing != "e2e":
            return None
        if timing not in cache:
            cache[timing] = _read_hlog(run_dir / "latency.hlog")
        return cache[timing]

    return histograms


def _read_hlog(path: Path) -> HdrHistogram | None:
    if not path.exists():
        return None
    total = new_histogram()
    reader = HistogramLogReader(str(path), new_histogram())
    while (h := reader.get_next_interval_histogram()) is not None:
        total.add(h)
    return total if total.get_total_count() else None


def set_verdict(
    summary: dict[str, Any],
    gates: Sequence[str],
    histograms: Callable[[str], HdrHistogram | None] | None = None,
    *,
    final: bool = True,
) -> None:
    """Judge ``gates`` (threshold expressions) on the summary's figures and set its
    ``thresholds`` and ``verdict``: ``invalid`` when the validity rules say so, else ``running``
    for a run still going, else ``failed`` or ``passed``. ``histograms(timing)`` gives any
    latency percentile a threshold names (the run's aggregate; ``latency.hlog`` in a report)."""
    results = evaluate_thresholds(
        [parse_threshold(t) for t in gates],
        metric_lookup(summary, histograms),
        interval_lookup(summary, histograms),
    )
    summary["thresholds"] = [r.as_dict() for r in results]
    if not (summary.get("validity") or {}).get("valid", False):
        summary["verdict"] = "invalid"
    elif not final:
        summary["verdict"] = "running"
    elif not all(r.passed for r in results):
        summary["verdict"] = "failed"
    else:
        summary["verdict"] = "passed"
