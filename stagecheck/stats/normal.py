"""The standard normal distribution and the shared constants of the statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy.typing as npt

Z95 = 1.959963984540054  # standard normal quantile at 0.975
_REL_TIES = 1 + 1e-7  # outcomes this close in probability count as equally extreme (R, scipy)
_MIN_EXPECTED = 5.0  # Cochran: below this expected count, use an exact test
MIN_ROWS = 10  # distinct dataset rows below which a group is thin and never significant
_EXACT_FLIPS = 16  # rows that differ up to which the sign-flip test is enumerated (2**16 sums)

Values = Sequence[float] | npt.NDArray[Any]  # a sample: a list or a numpy array


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence}")


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: P(|Z| ≤ z) = confidence."""
    _check_confidence(confidence)
    if confidence == 0.95:
        return Z95
    tail = (1.0 - confidence) / 2.0
    # Start from a rational approximation (Abramowitz & Stegun 26.2.23, error < 4.5e-4),
    # then polish with Newton steps on the exact tail (erfc).
    t = math.sqrt(-2.0 * math.log(tail))
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (
        1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t**3
    )
    for _ in range(3):
        density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        z += (normal_sf(z) - tail) / density
    return z
