"""stagecheck.analysis.packed.unique_rows gives what np.unique(keys, axis=0, ...) gives: the
same distinct rows in the same order, the same inverse and counts, whatever the columns' signs,
ranges and integer types, and for keys too wide to pack."""

from __future__ import annotations

import numpy as np
import pytest

from stagecheck.analysis.packed import unique_rows


def _numpy(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    uniq, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return uniq, inverse.reshape(-1), counts


@pytest.mark.parametrize("seed", range(40))
def test_the_same_as_numpys_unique_over_rows(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 3000)), int(rng.integers(1, 5))
    dtype = (np.int64, np.int32, np.int8, np.uint16)[seed % 4]
    low = rng.integers(0 if dtype is np.uint16 else -5, 3, size=k)
    high = low + rng.integers(0, 60, size=k)
    keys = np.stack([rng.integers(low[j], high[j] + 1, size=n) for j in range(k)], axis=1)
    keys = keys.astype(dtype)
    for mine, theirs in zip(unique_rows(keys), _numpy(keys), strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        assert np.array_equal(mine, theirs)


def test_keys_too_wide_to_pack_give_the_same():
    keys = np.array([[2**40, 5, 2**30], [0, 0, 0], [2**40, 5, 2**30], [-(2**40), 1, 3]])
    for mine, theirs in zip(unique_rows(keys), _numpy(keys), strict=True):
        assert np.array_equal(mine, theirs)
