"""Measure the demo model offline: accuracy on the validation split, overall and per slice.

``python -m stagecheck.demo.evaluate [VALIDATION.jsonl]`` prints the figures quoted in
``scenarios/data/README.md``. No server involved: this is the reference the load test's
accuracy should match.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stagecheck.demo.make_dataset import VALIDATION_PATH
from stagecheck.demo.model import IntentClassifier, load_default, read_rows

__all__ = ["SliceAccuracy", "Evaluation", "evaluate", "main"]


@dataclass
class SliceAccuracy:
    """Correct / total for one slice value."""

    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


@dataclass
class Evaluation:
    """Accuracy overall and by each slice field (``complexity``, ``channel``, ``label``)."""

    overall: SliceAccuracy = field(default_factory=SliceAccuracy)
    by_slice: dict[str, dict[str, SliceAccuracy]] = field(default_factory=dict)


def evaluate(
    classifier: IntentClassifier,
    rows: Iterable[Mapping[str, object]],
    slices: tuple[str, ...] = ("complexity", "channel", "label"),
) -> Evaluation:
    result = Evaluation(by_slice={name: {} for name in slices})
    for row in rows:
        hit = int(classifier.predict(str(row["text"]))[0] == row["label"])
        result.overall.correct += hit
        result.overall.total += 1
        for name in slices:
            acc = result.by_slice[name].setdefault(str(row[name]), SliceAccuracy())
            acc.correct += hit
            acc.total += 1
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stagecheck.demo.evaluate")
    parser.add_argument("validation", nargs="?", type=Path, default=VALIDATION_PATH)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    classifier = load_default()
    trained_ms = (time.perf_counter() - started) * 1000
    with args.validation.open(encoding="utf-8") as f:
        result = evaluate(classifier, read_rows(f))
    print(f"trained on the bundled split in {trained_ms:.0f} ms ({len(classifier.labels)} labels)")
    o = result.overall
    print(f"overall            {o.accuracy:6.1%}  ({o.correct}/{o.total})")
    for name, values in result.by_slice.items():
        for value, acc in sorted(values.items()):
            print(f"{name}={value:<20} {acc.accuracy:6.1%}  ({acc.correct}/{acc.total})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
