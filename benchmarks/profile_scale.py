"""Time and memory of the dataset profile (``stagecheck validate``) on a large synthetic
dataset: N prepared rows (default 1 M) with 30 classes, two slice fields (2 and ~300 values),
inputs of 2-60 words and one input repeated in every 50th row under random labels.

    .venv/bin/python benchmarks/profile_scale.py [N]

Prints the profile's wall time, then its peak extra memory under tracemalloc (which slows it
several-fold, so it is timed apart), then the console lines.
"""

from __future__ import annotations

import random
import sys
import time
import tracemalloc

from stagecheck.datasets import PreparedDataset, PreparedRow, RowTable
from stagecheck.datasets.profile import profile_dataset
from stagecheck.datasets.profile_view import profile_lines
from stagecheck.protocols import PreparedRequest


def synthetic(n: int) -> PreparedDataset:
    rng = random.Random(1)
    words = [f"w{i}" for i in range(5000)]
    labels = [f"class_{i}" for i in range(30)]
    request = PreparedRequest(path="/x", body=b"{}")
    rows = []
    for i in range(n):
        text = " ".join(rng.choices(words, k=rng.randint(2, 60))) if i % 50 else "same text"
        label = rng.choice(labels)
        slices = (rng.choice("ab"), f"c{rng.randint(0, 300)}")
        rows.append(PreparedRow(i, i + 1, f"r{i}", request, label, label, slices, text))
    return PreparedDataset("synthetic", RowTable.of(rows), ("tier", "country"), 0, ())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    dataset = synthetic(n)
    start = time.perf_counter()
    profile = profile_dataset(dataset, dataset.slice_fields, True)
    print(f"{n} rows: profiled in {time.perf_counter() - start:.2f} s")
    tracemalloc.start()
    profile_dataset(dataset, dataset.slice_fields, True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak memory of the profile itself: {peak / 1e6:.0f} MB (tracemalloc)")
    print("\n".join(profile_lines(profile)))


if __name__ == "__main__":
    main()
