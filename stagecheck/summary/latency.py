"""The summary's latency and token figures, read from the aggregate's HDR histograms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdrh.histogram import HdrHistogram

from stagecheck.judging import catalogue
from stagecheck.recording import Aggregate
from stagecheck.recording.hdr import mean_value, percentile_reader
from stagecheck.stats import percentile_interval
from stagecheck.summary.lookup import rank_lookup

__all__ = ["PERCENTILES", "NINES", "latency_figures", "tokens_section", "latency_section"]

#: (summary key, percentile) of the headline percentiles: the catalogue's one table.
PERCENTILES = tuple((p.key, p.value) for p in catalogue.PERCENTILES)


#: Percentiles of the "nines" distribution plot (HdrHistogram's percentile distribution).
NINES = (0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0)


def latency_figures(h: HdrHistogram | None, out_of_range: int = 0) -> dict[str, Any] | None:
    if h is None:
        return None
    at = percentile_reader(h)  # hdrh's own lookups walk every bucket in Python
    out: dict[str, Any] = {
        "count": h.get_total_count(),
        "min_us": h.get_min_value(),
        "mean_us": round(mean_value(h), 1),
    }
    for key, p in PERCENTILES:
        out[key] = at(p)
    out["max_us"] = h.get_max_value()
    out["out_of_range"] = out_of_range
    out["distribution"] = [[p, at(p)] for p in NINES]
    return out


def _distribution(h: HdrHistogram, scale: float = 1.0) -> dict[str, float] | None:
    if not h.get_total_count():
        return None
    at = percentile_reader(h)
    out = {k: at(p) / scale for k, p in (("p50", 50), ("p90", 90), ("p99", 99))}
    out["mean"] = round(mean_value(h) / scale, 3)
    return out


def tokens_section(agg: Aggregate, duration_s: float) -> dict[str, Any] | None:
    """Output tokens of the streamed answers (None when nothing streamed): per answer, per
    second over the run, and per answer its generation speed (tokens after the first / (e2e −
    TTFT)). ``source`` says where the counts come from: the server's ``usage`` or counted text
    deltas (``mixed`` when some answers had usage and some did not)."""
    sources = agg.token_sources
    answers = sum(sources.values())
    if not answers:
        return None
    source = "mixed" if len(sources) > 1 else next(iter(sources))
    return {
        "source": source,
        "answers": answers,
        "output_total": agg.output_tokens,
        "per_request": _distribution(agg.tokens),
        "per_s_overall": round(agg.output_tokens / max(duration_s, 1e-9), 3),
        "per_s_per_request": _distribution(agg.tokens_per_s_milli, 1000.0),
        "ttft_bounded": agg.stamp_bounds["ttft"],
        "itl_merged": agg.stamp_bounds["itl"],
    }


def _percentile_cis(h: HdrHistogram, pause: Callable[[], None]) -> dict[str, list[int] | None]:
    """Distribution-free 95 % intervals of the headline percentiles (order statistics read
    from the histogram), None where the sample is too small for one; ``pause`` between two
    (each one's ranks are a binomial search: ~0.1 ms at 200,000 requests)."""
    n = h.get_total_count()
    out: dict[str, list[int] | None] = {}
    lookup = rank_lookup(h, n)  # the counts read once (each read walks every bucket)
    for key, p in PERCENTILES:
        bounds = percentile_interval(lookup, n, p)
        out[key.removesuffix("_us")] = None if bounds is None else [int(b) for b in bounds]
        pause()
    return out


def latency_section(agg: Aggregate, pause: Callable[[], None]) -> dict[str, Any]:
    latency: dict[str, Any] = {}
    for timing in agg.timings():
        h = agg.histogram(timing)
        pause()
        figures = latency_figures(h, agg.out_of_range_count(timing))
        pause()
        if figures is not None and h is not None:
            figures["ci_us"] = _percentile_cis(h, pause)
            latency[timing] = figures
        pause()
    return latency
