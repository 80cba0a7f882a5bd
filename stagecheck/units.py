"""Parsing of the human units used in scenarios and thresholds: durations, rates, percentages.

Every parser raises ``ValueError`` with a message fit to show a user (the caller adds the file,
key path and line).
"""

from __future__ import annotations

import re

__all__ = ["parse_duration", "parse_rate", "parse_percent_or_fraction"]

_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``30s``, ``300ms``, ``1m30s``, ``2h`` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s or 300ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return float(value)
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(text) or not text:
            raise ValueError(
                f"expected a duration such as 30s, 300ms or 1m30s, got {value!r}"
            ) from None
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def parse_rate(value: str | int | float) -> float:
    """Events per second from ``40/s``, ``600/m``, ``10/h`` or a bare number (per second)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a rate such as 40/s, got {value!r}")
    if isinstance(value, (int, float)):
        rate = float(value)
    else:
        m = _RATE.match(value)
        if m is None:
            try:
                rate = float(value)
            except ValueError:
                raise ValueError(f"expected a rate such as 40/s or 600/m, got {value!r}") from None
        else:
            rate = float(m.group(1)) / {"s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
    if rate < 0:
        raise ValueError(f"rate must not be negative, got {value!r}")
    return rate


def parse_percent_or_fraction(value: str | int | float) -> float:
    """A fraction from ``1%`` (0.01) or a bare number (taken as is)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number or a percentage such as 1%, got {value!r}") from None
