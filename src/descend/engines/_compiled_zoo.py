"""The test functions of :mod:`descend.functions` compiled (Numba), for the whole-loop engine.

Each is ``value_and_grad(x, g, params) -> f``: f at the flat point ``x``, its gradient
written into ``g``; ``params`` holds the arrays a function carries (the quadratic's
``A`` and ``b``) and then scratch vectors for its intermediate results (made by
:func:`descend.engines.compiled.zoo_params`), so that an evaluation allocates nothing.
Each repeats its NumPy original in :mod:`descend.problems.functions` operation for
operation, in the same order (a square as a product, any other power as the C library's
``pow``, as NumPy computes a scalar's; sums as NumPy's pairwise sums; dot products
through :func:`dot`), so that the compiled run's iterates are the Python engine's.
Imported only when a compiled run is built; not cached on disk itself (see
:mod:`descend.engines._compiled_kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._compiled_kernels import dot, pairwise_sum, power

__all__ = ["NAMES"]


@njit(error_model="numpy", inline="always")
def rosenbrock_2d(x, g, params):
    """:func:`rosenbrock`'s loops written out for two coordinates, where they cost more
    than the arithmetic; a loop made for 2-D calls this alone (no branch on the size,
    which would cost each update the reference counts of the scratch arrays)."""
    r0, d0 = x[1] - x[0] * x[0], 1 - x[0]  # a dot of one term is its product
    g[0] = -400 * x[0] * r0 - 2 * (1 - x[0])
    g[1] = 0.0 + 200 * r0  # += on a zero, as below (-0.0 becomes 0.0)
    return 100 * (r0 * r0) + d0 * d0


@njit(error_model="numpy", inline="always")
def rosenbrock(x, g, params):
    n = x.size
    if n == 2:
        return rosenbrock_2d(x, g, params)
    r, d = params
    for i in range(n - 1):
        r[i] = x[i + 1] - x[i] * x[i]
        d[i] = 1 - x[i]
    for i in range(n):
        g[i] = 0.0
    for i in range(n - 1):
        g[i] = -400 * x[i] * r[i] - 2 * (1 - x[i])
    for i in range(n - 1):
        g[i + 1] += 200 * r[i]
    return 100 * dot(r, r) + dot(d, d)


@njit(error_model="numpy", inline="always")
def beale(x, g, params):
    a, b = x[0], x[1]
    t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * (b * b), 2.625 - a + a * power(b, 3)
    g[0] = 2 * t1 * (b - 1) + 2 * t2 * (b * b - 1) + 2 * t3 * (power(b, 3) - 1)
    g[1] = 2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * (b * b)
    return t1 * t1 + t2 * t2 + t3 * t3


@njit(error_model="numpy", inline="always")
def booth(x, g, params):
    a, b = x[0], x[1]
    u, v = a + 2 * b - 7, 2 * a + b - 5
    g[0] = 2 * u + 4 * v
    g[1] = 4 * u + 2 * v
    return u * u + v * v


@njit(error_model="numpy", inline="always")
def himmelblau(x, g, params):
    a, b = x[0], x[1]
    u, v = a * a + b - 11, a + b * b - 7
    g[0] = 4 * a * u + 2 * v
    g[1] = 2 * u + 4 * b * v
    return u * u + v * v


@njit(error_model="numpy", inline="always")
def rastrigin(x, g, params):
    n = x.size
    (terms,) = params
    for i in range(n):
        terms[i] = x[i] * x[i] - 10 * np.cos(2 * np.pi * x[i])
        g[i] = 2 * x[i] + 20 * np.pi * np.sin(2 * np.pi * x[i])
    return 10 * n + pairwise_sum(terms, 0, n)


@njit(error_model="numpy", inline="always")
def quadratic(x, g, params):
    A, b, half = params
    Ax = A @ x
    for i in range(x.size):
        g[i] = Ax[i] - b[i]
        half[i] = 0.5 * Ax[i] - b[i]
    return dot(x, half)


# The test functions compiled here, by their names in descend.functions.
NAMES = ("rosenbrock", "beale", "booth", "himmelblau", "rastrigin", "quadratic")
