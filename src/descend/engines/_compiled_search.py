"""L-BFGS's two-loop direction and its strong Wolfe search, compiled once for all loops.

Neither depends on the objective, so each is cached on disk beside this file, as the
kernels of :mod:`descend.engines._compiled_kernels` are, and a new formula's L-BFGS loop
compiles only its own code (see :mod:`descend.engines._compiled_lbfgs`, which calls them).
The search is the Python engine's :func:`descend.core.optimizers.wolfe.strong_wolfe`
turned inside out: :func:`wolfe_begin` and :func:`wolfe_next` keep its state in a float
array and ask the loop for f and the slope at ``search[ALPHA]``, one trial at a time,
so that the evaluation, the one part that depends on the objective, stays in the loop.
They take the same steps and make the same comparisons, in the same order, as
``strong_wolfe`` and ``_zoom``.

Everything a cached function reads comes in as an argument or is defined in this file
(a cache of Numba's is checked against its own file alone): the dot products' tail
(:data:`~descend.engines._compiled_kernels.TAIL`, for
:func:`~descend.engines._compiled_kernels.dot_with`), the search's growth and safeguard.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._compiled_kernels import cached, dot_with

__all__ = ["SEARCH_SIZE", "direction", "lbfgs_arrays", "wolfe_begin", "wolfe_next"]

# The search's state, one float each: the trial it asks for, the step it accepts (0:
# none) and the lowest f of its trials; its phase (0 bracketing, 1 zooming), the trials
# made while bracketing, its budget and the zoom's trials left; the line's f and slope at
# 0, c1, c2, the growth of a bracketing step and the zoom's safeguard; the last bracketing
# trial; the zoom's low and high ends (step, f, slope).
(ALPHA, T, F_MIN, PHASE, EVALS, MAX_EVALS, LEFT, F0, SLOPE0, C1, C2, GROWTH, SAFEGUARD,
 P_A, P_F, P_S, LO_A, LO_F, LO_S, HI_A, HI_F, HI_S) = range(22)  # fmt: skip
SEARCH_SIZE = 22


@cached
def lbfgs_arrays(memory, n):
    """L-BFGS's pairs S and Y (``memory`` x ``n``), their 1 / (s . y) and the two-loop
    coefficients, the remembered point's memo (f, whether it holds one, the evaluations
    made) and the search's state."""
    S, Y = np.empty((memory, n)), np.empty((memory, n))
    memo = np.empty(3)
    memo[0], memo[1], memo[2] = 0.0, 0.0, 0.0
    return S, Y, np.empty(memory), np.empty(memory), memo, np.empty(SEARCH_SIZE)


@cached
def direction(g, S, Y, RHO, A, first, k, d, tail):
    """LBFGS.direction: ``d = -H g`` by the two-loop recursion over the ``k`` newest
    pairs, newest at ``(first + k - 1) % memory``."""
    n, m = g.size, S.shape[0]
    for i in range(n):
        d[i] = g[i]
    if k > 0:
        for j in range(k - 1, -1, -1):  # newest to oldest
            row = (first + j) % m
            A[j] = RHO[row] * dot_with(S[row], d, tail)
            for i in range(n):
                d[i] -= A[j] * Y[row, i]
        newest = (first + k - 1) % m
        gamma = dot_with(S[newest], Y[newest], tail) / dot_with(Y[newest], Y[newest], tail)
        for i in range(n):
            d[i] = d[i] * gamma
        for j in range(k):  # oldest to newest
            row = (first + j) % m
            b = RHO[row] * dot_with(Y[row], d, tail)
            for i in range(n):
                d[i] += S[row, i] * (A[j] - b)
    for i in range(n):
        d[i] = -d[i]


@cached
def wolfe_begin(s, f0, slope0, alpha0, c1, c2, max_evals, growth, safeguard):
    """strong_wolfe's start: True when it asks for a first trial (at ``s[ALPHA]``), False
    when its budget allows none (no step, ``s[T]`` 0)."""
    s[T], s[F_MIN], s[PHASE], s[EVALS], s[MAX_EVALS] = 0.0, math.inf, 0.0, 0.0, max_evals
    s[F0], s[SLOPE0], s[C1], s[C2], s[GROWTH], s[SAFEGUARD] = f0, slope0, c1, c2, growth, safeguard
    s[P_A], s[P_F], s[P_S], s[ALPHA] = 0.0, f0, slope0, alpha0
    return max_evals > 0


@cached
def wolfe_next(s, f, slope):
    """Take f and the slope at the trial ``s[ALPHA]``: True when the search asks for
    another trial (at the new ``s[ALPHA]``), False when it has ended (``s[T]``: the step
    it accepts, 0 for none; ``s[F_MIN]``: the lowest f of its trials)."""
    alpha, f0, slope0, c1, c2 = s[ALPHA], s[F0], s[SLOPE0], s[C1], s[C2]
    if f < s[F_MIN]:
        s[F_MIN] = f
    if s[PHASE] == 0.0:  # strong_wolfe's loop
        s[EVALS] += 1.0
        if not f <= f0 + c1 * alpha * slope0 or (s[P_A] > 0 and f >= s[P_F]):
            return _zoom(s, s[P_A], s[P_F], s[P_S], alpha, f, slope)
        if abs(slope) <= -c2 * slope0:
            return _accept(s, alpha)
        if slope >= 0:  # past a minimum along d
            return _zoom(s, alpha, f, slope, s[P_A], s[P_F], s[P_S])
        s[P_A], s[P_F], s[P_S], s[ALPHA] = alpha, f, slope, alpha * s[GROWTH]
        if s[EVALS] < s[MAX_EVALS]:
            return True
        return _accept(s, s[P_A] if s[P_A] > 0 else 0.0)
    lo_a, lo_f, lo_s, hi_a, hi_f, hi_s = s[LO_A], s[LO_F], s[LO_S], s[HI_A], s[HI_F], s[HI_S]
    if not f <= f0 + c1 * alpha * slope0 or f >= lo_f:  # _zoom's loop
        hi_a, hi_f, hi_s = alpha, f, slope
    else:
        if abs(slope) <= -c2 * slope0:
            return _accept(s, alpha)
        if slope * (hi_a - lo_a) >= 0:
            hi_a, hi_f, hi_s = lo_a, lo_f, lo_s
        lo_a, lo_f, lo_s = alpha, f, slope
    s[LEFT] -= 1.0
    if abs(hi_a - lo_a) <= 1e-16 * max(lo_a, hi_a, 1.0) or s[LEFT] <= 0.0:
        return _accept(s, lo_a if lo_a > 0 else 0.0)
    return _ask_between(s, lo_a, lo_f, lo_s, hi_a, hi_f, hi_s)


@njit(error_model="numpy", inline="always")
def _accept(s, t):
    s[T] = t
    return False


@njit(error_model="numpy", inline="always")
def _zoom(s, lo_a, lo_f, lo_s, hi_a, hi_f, hi_s):
    """_zoom's start, with the trials strong_wolfe left it."""
    s[PHASE], s[LEFT] = 1.0, s[MAX_EVALS] - s[EVALS]
    if s[LEFT] <= 0.0:
        return _accept(s, lo_a if lo_a > 0 else 0.0)
    return _ask_between(s, lo_a, lo_f, lo_s, hi_a, hi_f, hi_s)


@njit(error_model="numpy", inline="always")
def _ask_between(s, lo_a, lo_f, lo_s, hi_a, hi_f, hi_s):
    s[LO_A], s[LO_F], s[LO_S], s[HI_A], s[HI_F], s[HI_S] = lo_a, lo_f, lo_s, hi_a, hi_f, hi_s
    s[ALPHA] = _interpolate(lo_a, lo_f, lo_s, hi_a, hi_f, hi_s, s[SAFEGUARD])
    return True


@njit(error_model="numpy", inline="always")
def _interpolate(a, f_a, s_a, b, f_b, s_b, safeguard):
    """wolfe._interpolate: the safeguarded cubic's minimiser, else the midpoint."""
    width = b - a
    middle = a + 0.5 * width
    if not (math.isfinite(f_b) and math.isfinite(s_b)):
        return middle
    d1 = s_a + s_b - 3 * (f_a - f_b) / (a - b)
    radicand = d1 * d1 - s_a * s_b
    if radicand < 0:
        return middle
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denominator = s_b - s_a + 2 * d2
    if denominator == 0:
        return middle
    alpha = b - (b - a) * (s_b + d2 - d1) / denominator
    low, high = a + safeguard * width, b - safeguard * width
    if high < low:
        low, high = high, low
    return alpha if low <= alpha <= high else middle
