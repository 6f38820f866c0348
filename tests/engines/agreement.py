"""How the compiled engine's runs must agree with the Python engine's: bit for bit where
both do the same operations, to 1e-12 where NumPy and the compiled code compute a
transcendental function each their own way."""

from __future__ import annotations

import numpy as np

import descend as dd

# NumPy computes these with its own SIMD code (exp, log, cosh and, on CPUs with AVX-512,
# sin and cos too), the compiled loop with the C library's: they may differ in the last
# bit (on an AVX-512 Xeon here, np.exp in 4% of inputs and np.cosh in 23%). Elsewhere both
# call the same operations (pow, sqrt, BLAS's ddot), so the runs agree bit for bit.
INEXACT = ("exp", "log", "tan", "sin", "cos", "e**")


def exact(fun):
    """Whether the compiled run must equal the Python one bit for bit."""
    if isinstance(fun, str):
        return not any(name in fun for name in INEXACT)
    return fun is not dd.functions.rastrigin  # its cos and sin


def agree(got, want, bitwise, what):
    """got equals want bit for bit, or to 1e-12 of the largest magnitude it holds."""
    assert np.shape(got) == np.shape(want), what
    if bitwise:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        finite = np.abs(np.asarray(want))[np.isfinite(want)]
        scale = finite.max() if finite.size else 0.0
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale, err_msg=what)
