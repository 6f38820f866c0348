"""L-BFGS's update between the loop's evaluations: its two-loop direction, its strong Wolfe
search and the pairs it keeps, compiled once for all loops.

None of it depends on the objective, so each kernel is cached on disk beside this file,
as those of :mod:`descend.engines._compiled_kernels` are, and a new L-BFGS loop compiles
only its own code: a call of :func:`lbfgs_begin`, of :func:`lbfgs_next` for each trial
point the loop evaluates, and of :func:`lbfgs_keep` once it has evaluated the new point
(see :mod:`descend.engines._compiled_lbfgs`), each through its address
(:data:`ADDRESSED`), so that no loop links their code. The search is the Python
engine's :func:`descend.core.optimizers.wolfe.strong_wolfe` turned inside out:
:func:`wolfe_begin` and :func:`wolfe_next` keep its state in a float array and ask for f
and the slope at ``search[ALPHA]``, one trial at a time, so that the evaluation, the one
part that depends on the objective, stays in the loop. They take the same steps and make
the same comparisons, in the same order, as ``strong_wolfe`` and ``_zoom``, and the
update those of :meth:`descend.core.optimizers.quasi_newton.LBFGS.update`.

Everything a cached function reads comes in as an argument or is defined in this file
(a cache of Numba's is checked against its own file alone): the dot products' tail
(:data:`~descend.engines._compiled_kernels.TAIL`, for
:func:`~descend.engines._compiled_kernels.dot_with`), the search's growth and safeguard,
L-BFGS's thresholds.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, njit

from ._compiled_kernels import cached, dot_with

__all__ = [
    "ADDRESSED", "SEARCH_SIZE", "direction", "lbfgs_arrays", "lbfgs_begin", "lbfgs_keep",
    "lbfgs_next", "wolfe_begin", "wolfe_next",
]  # fmt: skip

# The search's state, one float each: the trial it asks for, the step it accepts (0:
# none) and the lowest f of its trials; its phase (0 bracketing, 1 zooming), the trials
# made while bracketing, its budget and the zoom's trials left; the line's f and slope at
# 0, c1, c2, the growth of a bracketing step and the zoom's safeguard; the last bracketing
# trial; the zoom's low and high ends (step, f, slope); then L-BFGS's thresholds of
# rounding and of noise (quasi_newton's _ROUNDING and _NOISE).
(ALPHA, T, F_MIN, PHASE, EVALS, MAX_EVALS, LEFT, F0, SLOPE0, C1, C2, GROWTH, SAFEGUARD,
 P_A, P_F, P_S, LO_A, LO_F, LO_S, HI_A, HI_F, HI_S, ROUNDING, NOISE) = range(24)  # fmt: skip
SEARCH_SIZE = 24
# L-BFGS's integers between its kernels: the ring's oldest pair and its number of pairs
# (newest at (FIRST + K - 1) % memory), the pairs the direction was built from, what the
# trial point is for (ROUNDED: LBFGS._rounded's test; SEARCHED: a search's trial), why
# the update took no step (0: it took one; 1: f is at its minimum to rounding; 2: no
# trial lowered f) and the dot products' tail.
FIRST, K, USED, MODE, STALLED, DOT_TAIL = range(6)
RING_SIZE = 6
ROUNDED, SEARCHED = 0, 1


@cached
def lbfgs_arrays(memory, n, c1, c2, max_linesearch, rounding, noise, growth, safeguard, tail):
    """L-BFGS's pairs S and Y (``memory`` x ``n``), their 1 / (s . y) and the two-loop
    coefficients, the remembered point's memo (f, whether it holds one, the evaluations
    made), the search's state with the update's settings, and the update's integers (an
    empty ring)."""
    S, Y = np.empty((memory, n)), np.empty((memory, n))
    memo = np.empty(3)
    memo[0], memo[1], memo[2] = 0.0, 0.0, 0.0
    s = np.empty(SEARCH_SIZE)
    s[C1], s[C2], s[MAX_EVALS], s[GROWTH], s[SAFEGUARD] = c1, c2, max_linesearch, growth, safeguard
    s[ROUNDING], s[NOISE], s[T] = rounding, noise, 0.0
    ring = np.zeros(RING_SIZE, dtype=np.int64)
    ring[DOT_TAIL] = tail
    return S, Y, np.empty(memory), np.empty(memory), memo, s, ring


@cached
def lbfgs_begin(x, g, f, lr, d, z, S, Y, RHO, A, s, ring):
    """LBFGS.update from x (f and g known there) up to its first trial: True when it asks
    for f and the gradient at the trial point it wrote into ``z``, False when it ended
    with no trial (no step, ``ring[STALLED]`` says why). ``lr`` is this update's rate:
    the search's first step."""
    tail = ring[DOT_TAIL]
    while True:  # once, or twice with the retry along -g
        ring[STALLED], s[T] = 0, 0.0
        direction(g, S, Y, RHO, A, ring[FIRST], ring[K], d, tail)
        slope = dot_with(g, d, tail)
        if not slope < 0:  # not a descent direction: forget the curvature
            ring[FIRST], ring[K] = 0, 0
            for i in range(d.size):
                d[i] = -g[i]
            slope = -dot_with(g, g, tail)
        ring[USED], alpha0 = ring[K], lr
        if ring[USED] == 0:
            length = math.sqrt(-slope)
            alpha0 /= length if length > 1.0 else 1.0  # max(1.0, length)
        if -slope * alpha0 <= s[ROUNDING] * abs(f):  # LBFGS._rounded: approximate Wolfe
            ring[MODE], s[SLOPE0], s[ALPHA] = ROUNDED, slope, alpha0
            _trial_point(x, d, alpha0, z)
            return True
        ring[MODE] = SEARCHED
        if wolfe_begin(s, f, slope, alpha0, s[C1], s[C2], s[MAX_EVALS], s[GROWTH], s[SAFEGUARD]):
            _trial_point(x, d, s[ALPHA], z)
            return True
        if not _retries(f, s, ring):
            return False


@cached
def lbfgs_next(x, g, f, lr, f_z, g_z, d, z, S, Y, RHO, A, s, ring):
    """Take f and the gradient at the trial point ``z``: True when the update asks for
    another (written into ``z``), False when it has ended: ``s[T]`` is its step along
    ``d`` (0 for none, and ``ring[STALLED]`` says why)."""
    tail = ring[DOT_TAIL]
    if ring[MODE] == ROUNDED:  # LBFGS._rounded: f within its rounding, the strong curvature
        if f_z <= f + s[ROUNDING] * abs(f) and abs(dot_with(g_z, d, tail)) <= -s[C2] * s[SLOPE0]:
            s[T] = s[ALPHA]
        else:
            ring[STALLED] = 1
        return False
    if wolfe_next(s, f_z, dot_with(g_z, d, tail) if math.isfinite(f_z) else math.nan):
        _trial_point(x, d, s[ALPHA], z)
        return True
    if _retries(f, s, ring):
        return lbfgs_begin(x, g, f, lr, d, z, S, Y, RHO, A, s, ring)
    return False


@cached
def lbfgs_keep(step, g, g_new, y, S, Y, RHO, ring, curvature_tol):
    """LBFGS.update's end, once the loop has the new point's gradient ``g_new``: the pair
    ``(step, y = g_new - g)`` (``y`` written) kept, the oldest dropped for it when the
    memory is full, unless the update took no step or the pair would make H indefinite."""
    if ring[STALLED]:
        return
    tail, m = ring[DOT_TAIL], S.shape[0]
    for i in range(y.size):
        y[i] = g_new[i] - g[i]
    sy = dot_with(step, y, tail)
    if sy > curvature_tol * math.sqrt(dot_with(step, step, tail) * dot_with(y, y, tail)):
        if ring[K] == m:  # the oldest pair goes
            ring[FIRST], ring[K] = (ring[FIRST] + 1) % m, ring[K] - 1
        newest = (ring[FIRST] + ring[K]) % m
        for i in range(y.size):
            S[newest, i], Y[newest, i] = step[i], y[i]
        RHO[newest], ring[K] = 1.0 / sy, ring[K] + 1


# What a loop calls through their addresses (first-class functions, as a formula's): each
# kernel of arrays as one of pointers to their first elements and the sizes n and memory,
# so that a loop links none of their code and LLVM does not optimise it again in each
# loop's module. The kernels' signatures, by name, as Numba writes them:
_P, _I = "CPointer(float64)", "CPointer(int64)"
_STATE = f"{_P}, {_P}, {_P}, {_P}, {_P}, {_I}, int64, int64"  # S, Y, RHO, A, s, ring, n, m
ADDRESSED = {
    "lbfgs_begin_at": f"boolean({_P}, {_P}, float64, float64, {_P}, {_P}, {_STATE})",
    "lbfgs_next_at": f"boolean({_P}, {_P}, float64, float64, float64, {_P}, {_P}, {_P}, {_STATE})",
    "lbfgs_keep_at": f"none({_P}, {_P}, {_P}, {_P}, {_P}, {_P}, {_P}, {_I}, float64, int64, int64)",
}


@cached
def lbfgs_begin_at(x, g, f, lr, d, z, S, Y, RHO, A, s, ring, n, memory):
    """:func:`lbfgs_begin` of the arrays at these addresses."""
    return lbfgs_begin(
        carray(x, n), carray(g, n), f, lr, carray(d, n), carray(z, n), carray(S, (memory, n)),
        carray(Y, (memory, n)), carray(RHO, memory), carray(A, memory),
        carray(s, SEARCH_SIZE), carray(ring, RING_SIZE),
    )  # fmt: skip


@cached
def lbfgs_next_at(x, g, f, lr, f_z, g_z, d, z, S, Y, RHO, A, s, ring, n, memory):
    """:func:`lbfgs_next` of the arrays at these addresses."""
    return lbfgs_next(
        carray(x, n), carray(g, n), f, lr, f_z, carray(g_z, n), carray(d, n), carray(z, n),
        carray(S, (memory, n)), carray(Y, (memory, n)), carray(RHO, memory),
        carray(A, memory), carray(s, SEARCH_SIZE), carray(ring, RING_SIZE),
    )  # fmt: skip


@cached
def lbfgs_keep_at(step, g, g_new, y, S, Y, RHO, ring, curvature_tol, n, memory):
    """:func:`lbfgs_keep` of the arrays at these addresses."""
    lbfgs_keep(
        carray(step, n), carray(g, n), carray(g_new, n), carray(y, n), carray(S, (memory, n)),
        carray(Y, (memory, n)), carray(RHO, memory), carray(ring, RING_SIZE), curvature_tol,
    )  # fmt: skip


@njit(error_model="numpy", inline="always")
def _trial_point(x, d, alpha, z):
    for i in range(x.size):
        z[i] = x[i] + alpha * d[i]


@njit(error_model="numpy", inline="always")
def _retries(f, s, ring):
    """After a search: whether the update retries along -g (its memory forgotten), as it
    does once when the memory misled the search; else why it took no step, if none."""
    if s[T] != 0.0:
        return False
    if s[F_MIN] - f <= s[NOISE] * abs(f):  # only rounding stood in the way
        ring[STALLED] = 1
    elif ring[USED]:
        ring[FIRST], ring[K] = 0, 0
        return True
    else:
        ring[STALLED] = 2
    return False


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
