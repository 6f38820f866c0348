"""L-BFGS in the compiled loop: :class:`descend.core.optimizers.quasi_newton.LBFGS` and
its strong Wolfe search (:mod:`descend.core.optimizers.wolfe`) for Numba, operation for
operation, so that a compiled run's iterates are the Python engine's.

The update (:data:`UPDATE`, written into :data:`~descend.engines._compiled_source.LOOP`)
keeps the last ``memory`` pairs in a ring, newest at ``(first + k - 1) % memory``, and takes
the same steps: the two-loop direction, the memory dropped when it is not a descent
direction, a step of length ``lr`` while there is no curvature, the rounding test with its
approximate Wolfe step, the search, one retry along -g when the memory misled it, and the
pair kept unless it would make H indefinite. All of that is the kernels of
:mod:`descend.engines._compiled_search`, compiled once for all loops and called through
their addresses (the loop's arguments :data:`KERNELS`): the update asks the loop for f
and the gradient at each trial point, so that a loop compiles only its evaluations. Called
by name, the kernels' code would be linked into each loop and optimised again there: a
first compile of loop and formula took 2.2 s here that way and takes 1.6 s by address
(GD's 1.0 s; a new process's first compile, excluding SymPy's import and Numba's
set-up, min of 5). Every evaluation,
of the search's trials and of the loop's new point, goes through :func:`remembered`, the
compiled ``Remembering`` of the Python loop: the point evaluated last is answered again
without a call, so the counts are the same too. A trial keeps only its step, f and
slope: the accepted one's gradient is that of the new point, the same sum ``x + t d``
evaluated again or remembered. Nothing here imports Numba; the generated module does.
"""

from __future__ import annotations

from descend.core.optimizers.quasi_newton import _NOISE, _ROUNDING
from descend.core.optimizers.wolfe import _GROWTH, _SAFEGUARD

__all__ = ["CONSTANTS", "FUNCTIONS", "KERNELS", "SETUP", "STATE", "UPDATE"]

# The thresholds of LBFGS.update, as the generated module's constants.
CONSTANTS = (
    f"ROUNDING = {_ROUNDING!r}\nNOISE = {_NOISE!r}\nGROWTH = {_GROWTH!r}\n"
    f"SAFEGUARD = {_SAFEGUARD!r}\n"
)

# The loop's arguments that are L-BFGS's kernels, lbfgs_begin, lbfgs_next and lbfgs_keep of
# _compiled_search, called through their addresses (three arguments, not a tuple: Numba
# would warn on every call, as it types a tuple of them, that such functions are
# experimental).
KERNELS = "begin, ask, keep, "

# The state vectors the loop allocates: the direction, a trial point (then y), and the
# remembered point and its gradient.
STATE = ("d", "z", "lx", "lg")

FUNCTIONS = """
from descend.engines._compiled_search import STALLED, T, lbfgs_arrays


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

# Set up before the loop: LBFGS's pairs, the search's memo (Remembering's f, whether it
# holds one, the evaluations made), the search's state and the update's integers.
SETUP = """\
    pairs = np.int64(memory)  # a cast (int() would compile a function of its own)
    S, Y, RHO, A, memo, search, ring = lbfgs_arrays(
        pairs, n, c1, c2, max_linesearch, ROUNDING, NOISE, GROWTH, SAFEGUARD, TAIL)
"""

UPDATE = """\
        # LBFGS.update, its kernels given each array's address where it is used, so that
        # every array lives as long as the loop (Numba frees one after its last use)
        asks = begin(data(x), data(g), f, lr, data(d), data(z), data(S), data(Y), data(RHO),
                     data(A), data(search), data(ring), n, pairs)
        while asks:  # its trials (z), evaluated here
            f_z = remembered(z, lx, lg, memo, params)
            asks = ask(data(x), data(g), f, lr, f_z, data(lg), data(d), data(z), data(S),
                       data(Y), data(RHO), data(A), data(search), data(ring), n, pairs)
        t, stalled = search[T], ring[STALLED]  # the step along d (0: none), why none
        for i in range(n):  # the step, t d, into diff
            diff[i] = t * d[i]
            x_new[i] = x[i] + diff[i]
        f_new = remembered(x_new, lx, lg, memo, params)
        for i in range(n):
            g_new[i] = lg[i]
        evaluations += np.int64(memo[2])
        memo[2] = 0.0
        keep(data(diff), data(g), data(g_new), data(z), data(S), data(Y), data(RHO), data(ring),
             curvature_tol, n, pairs)  # the pair kept (y in z)
        step_lr = t
"""
