"""The target of a threshold (``300ms``, ``0.9``, ``90%``, ``20/s``, ``1000``): read in the
metric's base units, or a ``ValueError`` that says what to write instead."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from stagecheck.judging.catalogue import Kind
from stagecheck.units import parse_duration, parse_percent_or_fraction, parse_rate

__all__ = ["Unit", "is_number", "target_value"]

Unit = Literal["s", "%", "/s", ""]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Kinds written with a unit: (parser, unit, what it is, the unit to suggest, examples).
_WITH_UNIT: dict[str, tuple[Callable[[str], float], Unit, str, str, str]] = {
    "duration": (parse_duration, "s", "a duration", "ms", "300ms, 1.5s, 250us"),
    "rate": (parse_rate, "/s", "a rate", "/s", "20/s, 600/m"),
}


def target_value(text: str, metric: str, kind: Kind) -> tuple[float, Unit]:
    """``text`` as a target of ``metric`` (a ``kind`` figure), with the unit it was written in."""
    if kind in _WITH_UNIT:
        parse, unit, what, suffix, examples = _WITH_UNIT[kind]
        if is_number(text):
            raise ValueError(f"'{text}' needs a unit for {metric} (e.g. {text}{suffix})")
        try:
            return parse(text), unit
        except ValueError:
            raise ValueError(f"'{text}' is not {what} for {metric} (e.g. {examples})") from None
    if kind == "count":
        return _count(text, metric), ""
    return _fraction(text, metric)


def _count(text: str, metric: str) -> float:
    if not is_number(text):
        raise ValueError(f"{metric} takes a plain number, got '{text}'")
    count = float(text)
    if not math.isfinite(count):
        raise ValueError(f"{metric} target must be a finite number, got '{text}'")
    if count < 0:
        raise ValueError(f"{metric} target must not be negative, got {text}")
    return count


def _fraction(text: str, metric: str) -> tuple[float, Unit]:
    """A score or a rate, written 0.9 or 90%."""
    try:
        value = parse_percent_or_fraction(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number or a percentage for {metric}") from None
    percent = text.endswith("%")
    if value > 1 and not percent:
        hint = f" (write {value / 100:g} or {text}%)" if value <= 100 else ""
        raise ValueError(
            f"{metric} target {text} is above 1: scores and rates are fractions "
            f"or percentages{hint}"
        )
    if not 0 <= value <= 1:
        raise ValueError(f"{metric} target {text} must be between 0 and 1 (or 0% and 100%)")
    rate = metric.rsplit(".", 1)[-1].endswith("_rate")
    return value, "%" if percent or rate else ""
