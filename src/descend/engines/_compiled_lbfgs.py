"""L-BFGS in the compiled loop: :class:`descend.core.optimizers.quasi_newton.LBFGS` and
its strong Wolfe search (:mod:`descend.core.optimizers.wolfe`) written out for Numba,
operation for operation, so that a compiled run's iterates are the Python engine's.

The update (:data:`UPDATE`, written into :data:`~descend.engines._compiled_source.LOOP`)
keeps the last ``memory`` pairs in a ring, newest at ``(first + k - 1) % memory``, and
takes the same steps: the two-loop direction, the memory dropped when it is not a descent
direction, a step of length ``lr`` while there is no curvature, the rounding test, the
search, one retry along -g when the memory misled it, and the pair kept unless it would
make H indefinite. Every evaluation, of the search's trials and of the loop's new point,
goes through :func:`remembered`, the compiled ``Remembering`` of the Python loop: the
point evaluated last is answered again without a call, so the counts are the same too.
A trial keeps only its step, f and slope: the accepted one's gradient is that of the
new point, the same sum ``x + t d`` evaluated again or remembered. Nothing here imports
Numba; the generated module does.
"""

from __future__ import annotations

from descend.core.optimizers.quasi_newton import _NOISE, _ROUNDING
from descend.core.optimizers.wolfe import _GROWTH, _SAFEGUARD

__all__ = ["CONSTANTS", "FUNCTIONS", "SETUP", "STATE", "UPDATE"]

# The thresholds of LBFGS.update, as the generated module's constants.
CONSTANTS = f"ROUNDING = {_ROUNDING!r}\nNOISE = {_NOISE!r}\n"

# The state vectors the loop allocates: the direction, a trial point (then y), and the
# remembered point and its gradient.
STATE = ("d", "z", "lx", "lg")

FUNCTIONS = f"""

@njit(**_JIT)
def direction(g, S, Y, RHO, A, first, k, d):
    # LBFGS.direction: d = -H g by the two-loop recursion over the k newest pairs
    n, m = g.size, S.shape[0]
    for i in range(n):
        d[i] = g[i]
    if k > 0:
        for j in range(k - 1, -1, -1):  # newest to oldest
            row = (first + j) % m
            A[j] = RHO[row] * dot(S[row], d)
            for i in range(n):
                d[i] -= A[j] * Y[row, i]
        newest = (first + k - 1) % m
        gamma = dot(S[newest], Y[newest]) / dot(Y[newest], Y[newest])  # H_0 = gamma I
        for i in range(n):
            d[i] = d[i] * gamma
        for j in range(k):  # oldest to newest
            row = (first + j) % m
            b = RHO[row] * dot(Y[row], d)
            for i in range(n):
                d[i] += S[row, i] * (A[j] - b)
    for i in range(n):
        d[i] = -d[i]


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


@njit(**_JIT)
def trial_at(alpha, x, d, z, lx, lg, memo, params):
    # strong_wolfe's at: f and the slope at x + alpha d
    for i in range(x.size):
        z[i] = x[i] + alpha * d[i]
    f = remembered(z, lx, lg, memo, params)
    return f, (dot(lg, d) if math.isfinite(f) else math.nan)


@njit(**_JIT)
def interpolate(a, f_a, s_a, b, f_b, s_b):
    # wolfe._interpolate: the safeguarded cubic's minimiser, else the midpoint
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
    low, high = a + {_SAFEGUARD!r} * width, b - {_SAFEGUARD!r} * width
    if high < low:
        low, high = high, low
    return alpha if low <= alpha <= high else middle


@njit(**_JIT)
def zoom(lo_a, lo_f, lo_s, hi_a, hi_f, hi_s, f0, slope0, c1, c2, budget, f_min, x, d, z,
         lx, lg, memo, params):
    # wolfe._zoom: the accepted step (0: none) and the lowest f of the search
    for _ in range(budget):
        alpha = interpolate(lo_a, lo_f, lo_s, hi_a, hi_f, hi_s)
        f, slope = trial_at(alpha, x, d, z, lx, lg, memo, params)
        if f < f_min:
            f_min = f
        if not f <= f0 + c1 * alpha * slope0 or f >= lo_f:
            hi_a, hi_f, hi_s = alpha, f, slope
        else:
            if abs(slope) <= -c2 * slope0:
                return alpha, f_min
            if slope * (hi_a - lo_a) >= 0:
                hi_a, hi_f, hi_s = lo_a, lo_f, lo_s
            lo_a, lo_f, lo_s = alpha, f, slope
        if abs(hi_a - lo_a) <= 1e-16 * max(lo_a, hi_a, 1.0):
            break
    return (lo_a if lo_a > 0 else 0.0), f_min


@njit(**_JIT)
def strong_wolfe(f0, slope0, alpha0, c1, c2, max_evals, x, d, z, lx, lg, memo, params):
    # wolfe.strong_wolfe: the accepted step (0: none) and the lowest f of its trials
    evals, f_min = 0, math.inf
    p_a, p_f, p_s, alpha = 0.0, f0, slope0, alpha0
    while evals < max_evals:
        f, slope = trial_at(alpha, x, d, z, lx, lg, memo, params)
        evals += 1
        if f < f_min:
            f_min = f
        if not f <= f0 + c1 * alpha * slope0 or (p_a > 0 and f >= p_f):
            return zoom(p_a, p_f, p_s, alpha, f, slope, f0, slope0, c1, c2,
                        max_evals - evals, f_min, x, d, z, lx, lg, memo, params)
        if abs(slope) <= -c2 * slope0:
            return alpha, f_min
        if slope >= 0:  # past a minimum along d
            return zoom(alpha, f, slope, p_a, p_f, p_s, f0, slope0, c1, c2,
                        max_evals - evals, f_min, x, d, z, lx, lg, memo, params)
        p_a, p_f, p_s, alpha = alpha, f, slope, alpha * {_GROWTH!r}
    return (p_a if p_a > 0 else 0.0), f_min
"""

# Set up before the loop: LBFGS's pairs, newest at (first + k - 1) % memory, and the
# search's memo (Remembering's f, whether it holds one, the evaluations made).
SETUP = """\
    S, Y = np.empty((int(memory), n)), np.empty((int(memory), n))
    RHO, A = np.empty(int(memory)), np.empty(int(memory))
    memo, first, k = np.zeros(3), 0, 0
"""

UPDATE = """\
        t, retry, evaluated = 0.0, True, True  # LBFGS.update, with its one retry along -g
        while retry:
            retry = False
            direction(g, S, Y, RHO, A, first, k, d)
            slope = dot(g, d)
            if not slope < 0:  # not a descent direction: forget the curvature
                first, k = 0, 0
                for i in range(n):
                    d[i] = -g[i]
                slope = -dot(g, g)
            used, alpha0 = k, lr
            if used == 0:
                alpha0 /= max(1.0, math.sqrt(-slope))
            if -slope * alpha0 <= ROUNDING * abs(f):
                stalled = 1
            else:
                t, f_min = strong_wolfe(f, slope, alpha0, c1, c2, int(max_linesearch), x, d,
                                        z, lx, lg, memo, params)
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
        evaluations += int(memo[2])
        memo[2] = 0.0
        if not stalled:
            sy = dot(diff, z)
            if sy > curvature_tol * math.sqrt(dot(diff, diff) * dot(z, z)):
                if k == int(memory):  # the oldest pair goes
                    first, k = (first + 1) % int(memory), k - 1
                newest = (first + k) % int(memory)
                for i in range(n):
                    S[newest, i], Y[newest, i] = diff[i], z[i]
                RHO[newest], k = 1.0 / sy, k + 1
        step_lr = t
"""
