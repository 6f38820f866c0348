"""The compiled kernels' sums against NumPy's own, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
from descend.engines._compiled_kernels import BLOCK_SUM, pairwise_sum


@pytest.mark.parametrize(
    "n", [0, 1, 7, 8, 9, 15, 16, 127, BLOCK_SUM, BLOCK_SUM + 1, 255, 1000, 1025, 10**5 + 3]
)
def test_pairwise_sum_adds_as_numpy_does(n):
    # Terms over 16 orders of magnitude, so that another order of the additions rounds
    # differently; a slice from an offset, as the loops pass one.
    rng = np.random.default_rng(n)
    for start in (0, 3):
        for _ in range(20):
            a = rng.standard_normal(n + 3) * 10.0 ** rng.uniform(-8, 8, n + 3)
            assert pairwise_sum(a, start, n) == a[start : start + n].sum()


def test_pairwise_sum_of_negative_zeros_is_zero_as_numpy_makes_it():
    for n in (1, 2, 9, 300):
        a = np.full(n, -0.0)
        assert np.signbit(pairwise_sum(a, 0, n)) == np.signbit(a.sum()) == False  # noqa: E712
