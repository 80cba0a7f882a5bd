"""Number formatting shared by every view, so a figure reads the same in each report.

Units follow summary.json: latencies are integer microseconds shown in milliseconds; threshold
targets and observed values are in base units named by ``unit`` ("s" seconds, "%" a fraction
shown as a percentage, "/s" per second, "" plain).
"""

from __future__ import annotations

from collections.abc import Sequence

from stagecheck.summary.schema import ThresholdVerdict

__all__ = [
    "MISSING",
    "ms",
    "percent",
    "fraction",
    "rate",
    "count",
    "seconds",
    "quantity",
    "threshold_mark",
    "threshold_observed",
    "threshold_target",
    "truncate",
    "causes_text",
]

#: How every view shows a figure that is not available.
MISSING = "n/a"


def ms(us: float | None) -> str:
    """Microseconds as milliseconds: 2 decimals below 100 ms, 1 above (``42.00``, ``109.2``)."""
    if us is None:
        return MISSING
    value = us / 1000.0
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.1f}"


def percent(frac: float | None, digits: int = 1) -> str:
    """A fraction 0..1 as a percentage: ``0.0143`` → ``1.4%``."""
    return MISSING if frac is None else f"{frac * 100:.{digits}f}%"


def fraction(value: float | None, digits: int = 4) -> str:
    """A score such as accuracy or F1, ``0.8375``."""
    return MISSING if value is None else f"{value:.{digits}f}"


def rate(value: float | None) -> str:
    """Per-second figure, ``41.27/s``."""
    return MISSING if value is None else f"{value:.2f}/s"


def count(value: int | None) -> str:
    """An integer with thousands separators."""
    return MISSING if value is None else f"{value:,}"


def seconds(value: float | None) -> str:
    """A duration: ``850ms``, ``30.3s``, ``2m05s``, ``1h02m``."""
    if value is None:
        return MISSING
    if value == 0:
        return "0s"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.1f}s"
    minutes, rest = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _compact(value: float) -> str:
    # Targets are written by people (300ms, 1%, 0.90): show them without float noise.
    return f"{value:.6g}"


def quantity(value: float | None, unit: str, *, precise: bool = True) -> str:
    """A threshold figure in human units.

    ``precise`` shows measured values with fixed decimals (``109.2ms``, ``2.00%``); otherwise the
    shortest form is used, fit for targets people wrote (``300ms``, ``1%``, ``20/s``).
    """
    if value is None:
        return MISSING
    if unit == "s":
        if abs(value) < 1:
            milli = value * 1000
            if not precise:
                return f"{_compact(milli)}ms"
            return f"{milli:.2f}ms" if abs(milli) < 10 else f"{milli:.1f}ms"
        return f"{value:.2f}s" if precise else f"{_compact(value)}s"
    if unit == "%":
        return f"{value * 100:.2f}%" if precise else f"{_compact(value * 100)}%"
    if unit == "/s":
        return f"{value:.2f}/s" if precise else f"{_compact(value)}/s"
    if precise and not float(value).is_integer():
        text = f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    else:
        text = _compact(value)
    return f"{text}{unit}"


def threshold_mark(threshold: ThresholdVerdict) -> str:
    """✓ for a passed threshold, ✗ otherwise."""
    return "✓" if threshold.passed else "✗"


def threshold_observed(threshold: ThresholdVerdict) -> str:
    """Observed value in human units, or ``n/a`` when the metric was unavailable; for a
    confidence threshold, the interval's bound that was judged and the estimate:
    ``0.9012 (lower 95% bound; estimate 0.9234)``."""
    observed = quantity(threshold.observed, threshold.unit, precise=True)
    if threshold.confidence is None or threshold.observed is None:
        return observed
    side = "lower" if threshold.op in (">", ">=") else "upper"
    estimate = quantity(threshold.estimate, threshold.unit, precise=True)
    return f"{observed} ({side} {threshold.confidence:.0%} bound; estimate {estimate})"


def threshold_target(threshold: ThresholdVerdict) -> str:
    """``< 300ms`` — the operator and the target in human units."""
    target = quantity(threshold.target, threshold.unit, precise=False)
    return f"{threshold.op} {target}".strip()


def truncate(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"


def causes_text(causes: Sequence[tuple[str, int]], limit: int = 6) -> str:
    """``HTTP 503 ×18 · timeout ×3 · …`` (the most frequent first)."""
    shown = [f"{cause} ×{n:,}" for cause, n in causes[:limit]]
    if len(causes) > limit:
        shown.append(f"+{len(causes) - limit} more")
    return " · ".join(shown)
