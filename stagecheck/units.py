"""Parsing of the human units used in scenarios and thresholds: durations, rates, percentages.

Every parser raises ``ValueError`` with a message fit to show a user (the caller adds the file,
key path and line), whatever it is given: text, numbers, ``None``, lists or mappings. Values
must be finite and within sane bounds (:data:`MAX_DURATION_S`, :data:`MAX_RATE`): a run of
``.inf`` seconds would never end.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "MAX_DURATION_S",
    "MAX_RATE",
    "parse_duration",
    "parse_rate",
    "parse_percent_or_fraction",
    "shown",
]

MAX_DURATION_S = 30 * 86400.0  # 30 days: longer than any soak test
MAX_RATE = 1e6  # per second: far beyond what one generator can send

_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d{1,30}(?:\.\d{1,30})?)\s*(us|µs|ms|s|m|h)")
_RATE = re.compile(r"^\s*(\d{1,30}(?:\.\d{1,30})?)\s*/\s*(s|m|h)\s*$")
_MOST_DURATION = "720h (30 days)"
_MOST_RATE = "1000000/s"
_MAX_TEXT = 200  # longer text is no duration or rate; refused before any regex runs


def shown(value: object) -> str:
    """A short, printable rendering of a user's value for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: int | float, what: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{what} {shown(value)} is too large") from None
    if math.isnan(number):
        raise ValueError(f"{what} must be a number, got {shown(value)}")
    return number


def _bounded(number: float, value: object, what: str, limit: float, most: str) -> float:
    if number < 0:
        raise ValueError(f"{what} must not be negative, got {shown(value)}")
    if not number <= limit:  # also catches infinity
        raise ValueError(f"{what} must be finite and at most {most}, got {shown(value)}")
    return number


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``300ms``, ``1m30s``, ``2h`` or a bare number of seconds."""
    example = "a duration such as 30s, 300ms or 1m30s"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected {example}, got {shown(value)}")
    if isinstance(value, (int, float)):
        seconds = _number(value, "duration")
        return _bounded(seconds, value, "duration", MAX_DURATION_S, _MOST_DURATION)
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        raise ValueError(f"expected {example}, got {shown(value)}")
    try:
        seconds = _number(float(text), "duration")
    except ValueError:
        pos, seconds = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(text):
            raise ValueError(f"expected {example}, got {shown(value)}") from None
    return _bounded(seconds, value, "duration", MAX_DURATION_S, _MOST_DURATION)


def parse_rate(value: object) -> float:
    """Events per second from ``40/s``, ``600/m``, ``10/h`` or a bare number (per second)."""
    example = "a rate such as 40/s or 600/m"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected {example}, got {shown(value)}")
    if isinstance(value, (int, float)):
        rate = _number(value, "rate")
    else:
        if not value.strip() or len(value) > _MAX_TEXT:
            raise ValueError(f"expected {example}, got {shown(value)}")
        m = _RATE.match(value)
        if m is None:
            try:
                rate = _number(float(value), "rate")
            except ValueError:
                raise ValueError(f"expected {example}, got {shown(value)}") from None
        else:
            rate = float(m.group(1)) / {"s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
    return _bounded(rate, value, "rate", MAX_RATE, _MOST_RATE)


def parse_percent_or_fraction(value: object) -> float:
    """A fraction from ``1%`` (0.01) or a bare number (taken as is); finite."""
    example = "a number or a percentage such as 1%"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected {example}, got {shown(value)}")
    if isinstance(value, (int, float)):
        number = _number(value, "value")
    else:
        text = value.strip()
        if len(text) > _MAX_TEXT:
            raise ValueError(f"expected {example}, got {shown(value)}")
        try:
            number = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected {example}, got {shown(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {shown(value)}")
    return number
