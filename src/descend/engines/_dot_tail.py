"""How NumPy's ``a.dot(b)`` sums the last terms of float64 vectors on this machine: what
the compiled loop's dot products repeat (:mod:`descend.engines._compiled_kernels`), and
part of the name of every cached compiled loop (:mod:`descend.engines.compiled`), whose
machine code holds it. NumPy only: reading it does not import Numba.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["BLOCK", "FUSED_TAIL", "PLAIN_TAIL", "small_dot_tail"]

# Below this many terms OpenBLAS's ddot sums one term at a time.
BLOCK = 16
# small_dot_tail's answers: s = fma(a[i], b[i], s), or s += a[i] * b[i] (0: neither).
FUSED_TAIL, PLAIN_TAIL = 1, 2


def _exact_product(a: float, b: float) -> tuple[float, float]:
    """``a * b`` as two floats whose sum is exact (Dekker's product; no overflow)."""
    p = a * b
    a_hi, a_lo = _halves(a)
    b_hi, b_lo = _halves(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _halves(x: float) -> tuple[float, float]:
    """``x`` as a sum of two floats of 26 significant bits each (Veltkamp's split)."""
    c = 134217729.0 * x  # 2**27 + 1
    hi = c - (c - x)
    return hi, x - hi


@functools.cache
def small_dot_tail() -> int:
    """How NumPy's dot of fewer than :data:`BLOCK` terms sums: :data:`FUSED_TAIL`,
    :data:`PLAIN_TAIL` or 0 for neither, checked on random vectors of every such length
    against exact arithmetic rounded as each way rounds."""

    def fused(a: float, b: float, s: float) -> float:  # fma(a, b, s), in floats
        return math.fsum((*_exact_product(a, b), s))

    def plain(a: float, b: float, s: float) -> float:
        return s + a * b

    rng = np.random.default_rng(0)
    # Four pairs of each length, 56 in all: the two ways give different sums for about
    # half of such pairs, so the wrong way fails within a few.
    pairs = [rng.standard_normal((2, n)) for n in range(2, BLOCK) for _ in range(4)]
    for code, step in ((FUSED_TAIL, fused), (PLAIN_TAIL, plain)):
        for a, b in pairs:
            s = 0.0
            for i in range(a.size):
                s = step(float(a[i]), float(b[i]), s)
            if s != float(a.dot(b)):
                break
        else:
            return code
    return 0
