"""L-BFGS in the compiled loop: :class:`descend.core.optimizers.quasi_newton.LBFGS` and
its strong Wolfe search (:mod:`descend.core.optimizers.wolfe`) for Numba, operation for
operation, so that a compiled run's iterates are the Python engine's.

The update (:data:`UPDATE`, written into :data:`~descend.engines._compiled_source.LOOP`)
keeps the last ``memory`` pairs in a ring, newest at ``(first + k - 1) % memory``, and takes
the same steps: the two-loop direction, the memory dropped when it is not a descent
direction, a step of length ``lr`` while there is no curvature, the rounding test with its
approximate Wolfe step, the search, one retry along -g when the memory misled it, and the
pair kept unless it would make H indefinite. The direction and the search's decisions are
the kernels of :mod:`descend.engines._compiled_search`, compiled once for all loops; the
search asks the loop for each trial's f and slope, so that a loop compiles only its
evaluations. Every evaluation, of the search's trials and of the loop's new point, goes
through :func:`remembered`, the compiled ``Remembering`` of the Python loop: the point
evaluated last is answered again without a call, so the counts are the same too. A trial
keeps only its step, f and slope: the accepted one's gradient is that of the new point, the
same sum ``x + t d`` evaluated again or remembered. Nothing here imports Numba; the
generated module does.
"""

from __future__ import annotations

from descend.core.optimizers.quasi_newton import _NOISE, _ROUNDING
from descend.core.optimizers.wolfe import _GROWTH, _SAFEGUARD

__all__ = ["CONSTANTS", "FUNCTIONS", "SETUP", "STATE", "UPDATE"]

# The thresholds of LBFGS.update, as the generated module's constants.
CONSTANTS = (
    f"ROUNDING = {_ROUNDING!r}\nNOISE = {_NOISE!r}\nGROWTH = {_GROWTH!r}\n"
    f"SAFEGUARD = {_SAFEGUARD!r}\n"
)

# The state vectors the loop allocates: the direction, a trial point (then y), and the
# remembered point and its gradient.
STATE = ("d", "z", "lx", "lg")

FUNCTIONS = """
from descend.engines._compiled_search import direction, lbfgs_arrays, wolfe_begin, wolfe_next


@njit(**_JIT)
def remembered(z, lx, lg, memo, params):
    # Remembering: f at z (its gradient in lg), called only when z is not the last point
    same = memo[1] > 0.0
    if same:
        for i in range(z.size):
            if z[i] != lx[i]:
                same = False
                break
    if not same:
        memo[0] = evaluate(z, lg, params)
        memo[1], memo[2] = 1.0, memo[2] + 1.0  # memo[2]: the evaluations made
        for i in range(z.size):
            lx[i] = z[i]
    return memo[0]
"""

# Set up before the loop: LBFGS's pairs, newest at (first + k - 1) % memory, and the
# search's memo (Remembering's f, whether it holds one, the evaluations made).
SETUP = """\
    pairs = np.int64(memory)  # a cast (int() would compile a function of its own)
    S, Y, RHO, A, memo, search = lbfgs_arrays(pairs, n)
    first, k = 0, 0
"""

UPDATE = """\
        t, retry, evaluated = 0.0, True, True  # LBFGS.update, with its one retry along -g
        while retry:
            retry = False
            direction(g, S, Y, RHO, A, first, k, d, TAIL)
            slope = dot(g, d)
            if not slope < 0:  # not a descent direction: forget the curvature
                first, k = 0, 0
                for i in range(n):
                    d[i] = -g[i]
                slope = -dot(g, g)
            used, alpha0 = k, lr
            if used == 0:
                length = math.sqrt(-slope)
                alpha0 /= length if length > 1.0 else 1.0  # max(1.0, length)
            if -slope * alpha0 <= ROUNDING * abs(f):  # LBFGS._rounded: approximate Wolfe
                for i in range(n):
                    z[i] = x[i] + alpha0 * d[i]
                f_z = remembered(z, lx, lg, memo, params)
                if f_z <= f + ROUNDING * abs(f) and abs(dot(lg, d)) <= -c2 * slope:
                    t = alpha0
                else:
                    stalled = 1
            else:
                asks = wolfe_begin(search, f, slope, alpha0, c1, c2, max_linesearch, GROWTH,
                                   SAFEGUARD)
                while asks:  # strong_wolfe, its trials evaluated here
                    alpha = search[0]
                    for i in range(n):
                        z[i] = x[i] + alpha * d[i]
                    f_z = remembered(z, lx, lg, memo, params)
                    asks = wolfe_next(search, f_z, dot(lg, d) if math.isfinite(f_z) else math.nan)
                t, f_min = search[1], search[2]  # the step accepted (0: none), the lowest f
                if t == 0.0:
                    if f_min - f <= NOISE * abs(f):
                        stalled = 1
                    elif used:
                        first, k, retry = 0, 0, True
                    else:
                        stalled = 2
        for i in range(n):  # the step, t d (0 when none), into diff
            diff[i] = t * d[i]
            x_new[i] = x[i] + diff[i]
        f_new = remembered(x_new, lx, lg, memo, params)
        for i in range(n):
            g_new[i] = lg[i]
            z[i] = g_new[i] - g[i]  # y
        evaluations += np.int64(memo[2])
        memo[2] = 0.0
        if not stalled:
            sy = dot(diff, z)
            if sy > curvature_tol * math.sqrt(dot(diff, diff) * dot(z, z)):
                if k == pairs:  # the oldest pair goes
                    first, k = (first + 1) % pairs, k - 1
                newest = (first + k) % pairs
                for i in range(n):
                    S[newest, i], Y[newest, i] = diff[i], z[i]
                RHO[newest], k = 1.0 / sy, k + 1
        step_lr = t
"""
