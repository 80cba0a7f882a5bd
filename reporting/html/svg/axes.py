"""Axes and their ticks: round steps, clock times, the "nines" scale of percentiles."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "Axis",
    "nice_ticks",
    "nice_range",
    "linear_axis",
    "clock",
    "time_ticks",
    "nines",
    "nines_label",
]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 × 10^k) up to at least ``top``."""
    if not top > 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12 * top:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _nice_step(raw: float) -> float:
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def nice_range(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2, 2.5, 5 × 10^k steps) from at or below ``lo`` to at or above ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    step = _nice_step((hi - lo) / count)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


@dataclass(frozen=True)
class Axis:
    """One axis: its range in data units, its ticks and how values read (ticks, tooltips)."""

    lo: float
    hi: float
    ticks: Sequence[tuple[float, str]]
    label: str = ""
    #: How a point's value reads in its tooltip (the ticks carry their own text).
    value_format: Callable[[float], str] = str


def linear_axis(
    lo: float,
    hi: float,
    tick_format: Callable[[float], str],
    *,
    label: str = "",
    value_format: Callable[[float], str] | None = None,
    count: int = 5,
) -> Axis:
    """An axis over round ticks covering ``lo`` … ``hi``."""
    ticks = nice_range(lo, hi, count)
    return Axis(
        ticks[0],
        ticks[-1],
        [(t, tick_format(t)) for t in ticks],
        label,
        value_format or tick_format,
    )


def clock(seconds: float) -> str:
    """Seconds since the start as people read a clock: ``45s``, ``2m``, ``2m30s``, ``1h05m``."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m" + (f"{rest:02d}s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" + (f"{minutes:02d}m" if minutes else "")


_CLOCK_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800)


def time_ticks(end_s: float, count: int = 8) -> list[tuple[float, str]]:
    """Ticks from 0 to at least ``end_s`` seconds at clock-friendly steps (10 s, 1 min, 5 min…)."""
    if not end_s > 0 or not math.isfinite(end_s):
        return [(0.0, "0s"), (1.0, "1s")]
    raw = end_s / count
    if raw < 1:
        step = _nice_step(raw)
    else:
        step = float(next((s for s in _CLOCK_STEPS if s >= raw), _nice_step(raw)))
    last = math.ceil(end_s / step - 1e-9)
    return [(round(k * step, 12), clock(round(k * step, 12))) for k in range(last + 1)]


def nines(percentile: float) -> float:
    """A percentile (0 … 100) on the "nines" axis: -log10(1 - p), so 90 → 1, 99.9 → 3."""
    if percentile >= 100:
        return math.inf
    return -math.log10(1 - max(percentile, 0.0) / 100)


def nines_label(k: int) -> str:
    """The percentile at ``k`` nines: 0 → ``0%``, 1 → ``90%``, 3 → ``99.9%``."""
    if k <= 0:
        return "0%"
    if k == 1:
        return "90%"
    return "99" + ("." + "9" * (k - 2) if k > 2 else "") + "%"
