"""Samples of wrong answers and failures: which ones a run keeps (:class:`SampleRule`) and what
the summary shows of each (:class:`Sample`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from stagecheck.datasets import PreparedRow

__all__ = ["MAX_SAMPLES", "MAX_SAMPLES_PER_GROUP", "SampleCandidate", "SampleRule", "Sample"]

MAX_SAMPLES = 100
MAX_SAMPLES_PER_GROUP = 5  # per (outcome, expected label): keeps samples diverse

# A wrong answer or failure worth keeping as a sample: (row index, outcome, answer text or
# None, latency µs, error or None).
SampleCandidate = tuple[int, int, "str | None", int, "str | None"]


class SampleRule:
    """Which wrong answers become samples: at most :data:`MAX_SAMPLES`, at most
    :data:`MAX_SAMPLES_PER_GROUP` per (outcome, expected value), a row once per outcome (the
    error analysis counts its repeats from results.jsonl). First come, first kept."""

    def __init__(self) -> None:
        self.kept = 0
        self._groups: Counter[tuple[int, str]] = Counter()
        self._rows: set[tuple[int, int]] = set()

    def admit(self, row: PreparedRow, outcome: int) -> bool:
        return self.admit_at(row.index, row.expected_text, outcome)

    def admit_at(self, index: int, expected_text: str, outcome: int) -> bool:
        """:meth:`admit` for the row at ``index`` whose expected text is ``expected_text``."""
        group = (outcome, expected_text)
        if self.kept >= MAX_SAMPLES or self._groups[group] >= MAX_SAMPLES_PER_GROUP:
            return False
        if (index, outcome) in self._rows:
            return False
        self._rows.add((index, outcome))
        self._groups[group] += 1
        self.kept += 1
        return True



@dataclass(frozen=True)
class Sample:
    row: int
    row_id: str
    input: str
    expected: str
    got: str | None
    outcome: str
    latency_us: int
    slices: dict[str, str]
    error: str | None

