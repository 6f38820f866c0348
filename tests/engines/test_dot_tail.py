"""How NumPy's short dot products sum, found without Numba (descend.engines._dot_tail)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from descend.engines import _dot_tail


def test_the_exact_product_is_exact():
    rng = np.random.default_rng(3)
    for a, b, s in rng.standard_normal((20_000, 3)) * 10.0 ** rng.integers(-8, 9, (20_000, 3)):
        p, e = _dot_tail._exact_product(float(a), float(b))
        assert Fraction(p) + Fraction(e) == Fraction(float(a)) * Fraction(float(b))
        fused = float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(s)))
        assert math.fsum((p, e, float(s))) == fused  # fma(a, b, s), rounded once


def test_the_tail_found_sums_as_numpy_does():
    tail = _dot_tail.small_dot_tail()
    assert tail in (0, _dot_tail.FUSED_TAIL, _dot_tail.PLAIN_TAIL)
    if tail == 0:
        return
    rng = np.random.default_rng(17)  # vectors other than the ones the check used
    for n in range(1, _dot_tail.BLOCK):
        a, b = rng.standard_normal((2, n))
        s = Fraction(0)
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            if tail == _dot_tail.FUSED_TAIL:
                s = Fraction(float(Fraction(x) * Fraction(y) + s))
            else:
                s = Fraction(float(s) + x * y)
        assert float(s) == a.dot(b), n
