"""Limited-memory BFGS: curvature learned from the last few steps, a Wolfe line search."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import device, dot, namespace, zeros_like

from .base import Optimizer, trial_values
from .wolfe import Search, Trial, strong_wolfe

__all__ = ["LBFGS", "LBFGSState"]

# A first trial whose predicted decrease -α gᵀd (twice the decrease of a Newton step) is
# below f's rounding, ~eps |f|, cannot show in f: the search would bisect in noise, so the
# trial is judged by its slope instead (LBFGS._rounded). A
# failed search whose trials all stayed within sqrt(eps) |f| of f met noise too: f's
# rounding error scales with its terms (x'Ax and b'x of a quadratic), which can be far
# larger than f itself, while a wrong gradient raises f by far more at its first trials.
_ROUNDING = 8 * float(np.finfo(np.float64).eps)
_NOISE = math.sqrt(float(np.finfo(np.float64).eps))


class LBFGSState(NamedTuple):
    t: int
    lr: float  # the step length α the line search took (0: it found no lower f)
    s: Array  # (k, n): the last k steps x_(i+1) - x_i, oldest first (k <= memory)
    y: Array  # (k, n): the matching gradient changes g_(i+1) - g_i
    rho: Array  # (k,): 1 / (y_i . s_i)
    evals: int  # f and gradient evaluations of the last line search
    d: Array  # (n,): the direction it searched along, -H g (or -g without curvature pairs)
    used: int  # the curvature pairs d was built from (0 once the memory was dropped)
    retried: int = 0  # evals of a failed search along the memory's d before the retry
    stalled: str = ""  # why the last update took no step: "rounding" or "no_decrease"


@dataclass(frozen=True)
class LBFGS(Optimizer):
    """Limited-memory BFGS (Nocedal, 1980; Liu & Nocedal, 1989) with a strong Wolfe search.

    The direction is d = -H g, where H, an approximation of the inverse Hessian built from
    the last ``memory`` pairs s_i = x_(i+1) - x_i, y_i = g_(i+1) - g_i, is applied by the
    two-loop recursion (Nocedal & Wright, Algorithm 7.4) from H_0 = γ I, γ = sᵀy / yᵀy of
    the newest pair. The step x <- x + α d takes α from a line search for the strong Wolfe
    conditions (:mod:`~descend.core.optimizers.wolfe`), trying ``lr`` first (1, the
    quasi-Newton step, unless a schedule says otherwise; the very first update, with no
    curvature yet, tries a step of length ``lr``). A pair with yᵀs <= ``curvature_tol``
    ‖s‖‖y‖ is skipped: it would make H indefinite. When d is not a descent direction
    (gᵀd >= 0, after rounding), the memory is dropped and the step is steepest descent.

    >>> import numpy as np
    >>> import descend as dd
    >>> f = dd.functions.rosenbrock
    >>> res = dd.minimize(f, f.x0, method="lbfgs")
    >>> res.status, res.x.round(8), res.nit < 50
    (<Status.CONVERGED: 'converged'>, array([1., 1.]), True)

    Parameters
    ----------
    lr : float or callable
        The first step length each line search tries (default 1.0).
    memory : int
        Curvature pairs kept (default 10).
    c1, c2 : float
        The Wolfe constants, 0 < c1 < c2 < 1: sufficient decrease and curvature
        (defaults 1e-4 and 0.9, Nocedal & Wright's for quasi-Newton methods).
    max_linesearch : int
        Most evaluations of f and its gradient in one line search (default 20, SciPy's).
    curvature_tol : float
        ε in the skip test yᵀs <= ε ‖s‖‖y‖ (default 1e-8).

    Notes
    -----
    Every trial of the line search evaluates f and the gradient together; the loop reuses
    the pair at the accepted step, so an update costs what its line search costs, one
    evaluation when the quasi-Newton step is accepted at once. When no step lowers f, even
    along steepest descent (the gradient is wrong), the update takes no step and reports
    ``lr = 0``; minimize then stops with a message that says so. When the decrease the step
    promises is below f's rounding, a search could only bisect noise: the step is taken if f
    stays within its rounding and the slope falls as the strong Wolfe condition asks (Hager
    and Zhang's approximate Wolfe conditions), so the gradient keeps falling from about
    sqrt(eps) towards eps of its scale; else f and its slope are at their minimum to
    rounding and the update takes no step, as above. L-BFGS needs the gradient on all the
    data (``batch_size`` is refused) and cannot follow a projection (``project=`` is
    refused: use ``"bb"``, which becomes the spectral projected gradient). ``clip_norm``
    does not apply: the search sets the length.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
    Algorithms 3.5, 3.6 (the line search) and 7.4, 7.5 (L-BFGS).

    W. W. Hager and H. Zhang, "A new conjugate gradient method with guaranteed descent and
    an efficient line search", *SIAM Journal on Optimization* 16, 170-192, 2005 (the
    approximate Wolfe conditions).

    D. C. Liu and J. Nocedal, "On the limited memory BFGS method for large scale
    optimization", *Mathematical Programming* 45, 503-528, 1989.
    """

    name: ClassVar[str] = "lbfgs"
    when: ClassVar[str] = "smooth deterministic problems: the default, fewest evaluations"
    uses_fun: ClassVar[bool] = True
    trial_gradients: ClassVar[bool] = True
    full_batch_only: ClassVar[bool] = True

    lr: LearningRate = 1.0
    memory: int = 10
    c1: float = 1e-4
    c2: float = 0.9
    max_linesearch: int = 20
    curvature_tol: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clip_norm is not None:
            raise ValueError(
                f"clip_norm does not apply to LBFGS (got {self.clip_norm!r}): its line search "
                "sets the step length; leave clip_norm=None"
            )
        _validate.count("memory", self.memory, minimum=1)
        c1 = _validate.positive("c1", self.c1)
        c2 = _validate.positive("c2", self.c2)
        if not c1 < c2 < 1:
            raise ValueError(
                f"the Wolfe constants must satisfy 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}; "
                "1e-4 and 0.9 are customary"
            )
        _validate.count("max_linesearch", self.max_linesearch, minimum=1)
        tol = _validate.nonnegative("curvature_tol", self.curvature_tol)
        if tol >= 1:
            raise ValueError(f"curvature_tol must be in [0, 1), got {tol!r}; 1e-8 is customary")

    def init(self, x: Array) -> LBFGSState:
        xp = namespace(x)
        if xp is np:
            n = np.size(x)
            empty = np.empty((0, n))
            return LBFGSState(0, self.rate(0), empty, empty, np.empty(0), 0, np.zeros(n), 0)
        # Another namespace: the pairs stay on x's device, their 1 / (y . s) on the host.
        empty = xp.empty((0, x.shape[0]), dtype=x.dtype, device=device(x))
        return LBFGSState(0, self.rate(0), empty, empty, np.empty(0), 0, zeros_like(x), 0)

    def constrained(self, project: Any) -> Optimizer:
        raise ValueError(
            "method 'lbfgs' cannot follow project=: its steps leave the feasible set and its "
            "curvature pairs assume they do not; use method='bb', which with project= is the "
            "spectral projected gradient method"
        )

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None or fun is None:
            raise TypeError("LBFGS.update needs the point x and fun returning (f, gradient)")
        g = np.asarray(grad, dtype=float) if isinstance(grad, np.ndarray) else grad
        f = fun(x)[0] if f is None else f
        s, y, rho = state.s, state.y, state.rho
        d = self.direction(g, s, y, rho)
        slope = dot(g, d)
        if not slope < 0:  # not a descent direction: forget the curvature, go downhill
            s, y, rho = s[:0, ...], y[:0, ...], rho[:0]
            d, slope = -g, -dot(g, g)
        used = s.shape[0]

        def no_step(evals: int, why: str) -> tuple[Array, LBFGSState]:
            return zeros_like(g), LBFGSState(
                state.t + 1, 0.0, s, y, rho, evals, d, used, stalled=why
            )

        alpha0 = self.rate(state.t)
        if used == 0:  # no curvature yet: a step of length lr
            alpha0 /= max(1.0, math.sqrt(-slope))
        if -slope * alpha0 <= _ROUNDING * abs(f):  # no step can lower f visibly
            trial = self._rounded(fun, x, d, f, slope, alpha0)
            if trial is None:
                return no_step(1, "rounding")
            search = Search(trial, 1, trial.f)
        else:
            search = strong_wolfe(
                fun, x, d, f, slope, alpha0, self.c1, self.c2, self.max_linesearch
            )
        trial, evals = search.trial, search.evals
        if trial is None:
            if search.f_min - f <= _NOISE * abs(f):  # only rounding stood in the way
                return no_step(evals, "rounding")
            if used:  # the memory misled the search: retry along steepest descent once
                forget = state._replace(s=s[:0, ...], y=y[:0, ...], rho=rho[:0])
                retry = self.update(grad, forget, x, fun, f)
                return retry[0], retry[1]._replace(evals=retry[1].evals + evals, retried=evals)
            return no_step(evals, "no_decrease")
        step = trial.alpha * d
        s_new, y_new = step, trial.g - g
        sy = dot(s_new, y_new)
        if sy > self.curvature_tol * math.sqrt(dot(s_new, s_new) * dot(y_new, y_new)):
            first = max(0, used + 1 - self.memory)  # the oldest pair kept
            s, y = _appended(s[first:, ...], s_new), _appended(y[first:, ...], y_new)
            rho = np.append(rho[first:], 1.0 / sy)
        return step, LBFGSState(state.t + 1, trial.alpha, s, y, rho, evals, d, used)

    def _rounded(self, fun, x, d, f, slope, alpha) -> Trial | None:
        """The step ``alpha`` when f's rounding hides its decrease but the slope shows it:
        Hager and Zhang's approximate Wolfe conditions, f no higher than f's rounding above
        ``f`` and the strong curvature condition. Where f is flat to rounding its gradient
        is not: this takes the gradient from about sqrt(eps) to eps of its scale."""
        f_z, g_z = fun(x + alpha * d)  # the very sum the caller's step reproduces
        slope_z = dot(g_z, d)
        if f_z <= f + _ROUNDING * abs(f) and abs(slope_z) <= -self.c2 * slope:
            return Trial(alpha, f_z, slope_z, g_z)
        return None

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (the accepted alpha; 0 when no step was taken), memory (the curvature pairs
        the direction was built from: those of ``state``, or 0 when they were dropped),
        direction (d: step = lr * direction), retried (the trials of a failed search along
        the memory's direction before the retry along -g; 0 when none), trial_lr (the
        alphas tried, in order) and trial_f (f at each).

        The search's alphas come from its trial points z = x + alpha d as
        (z - x) . d / (d . d), exact to rounding: the error of each is about
        eps ||x|| / ||d||. The accepted trial's entry is lr itself.
        """
        if x is None:
            raise TypeError("LBFGS.parts needs the point x the update started from")
        d, k, lr = new_state.d, new_state.retried, new_state.lr
        z = np.array([z for z, _ in trials], dtype=float).reshape(len(trials), d.size)
        with np.errstate(invalid="ignore"):  # d = 0 at a stationary point: lr, below
            alphas = (z[k:] - x) @ d / d.dot(d)
        if k:  # the failed search went along the memory's direction: computed again
            d_memory = self.direction(np.asarray(grad, dtype=float), state.s, state.y, state.rho)
            alphas = np.concatenate([(z[:k] - x) @ d_memory / d_memory.dot(d_memory), alphas])
        if lr:
            alphas[(z == x + step).all(axis=1)] = lr
        return {
            "lr": lr,
            "memory": float(new_state.used),
            "direction": d,
            "retried": float(k),
            "trial_lr": alphas,
            "trial_f": trial_values(trials),
        }

    def stall(self, state: LBFGSState) -> str:
        return state.stalled

    @staticmethod
    def direction(g: Array, s: Array, y: Array, rho: Array) -> Array:
        """d = -H g by the two-loop recursion over the pairs (oldest first in s, y)."""
        if s.shape[0] == 0:
            return -g
        if not isinstance(g, np.ndarray):  # on g's device: the products stay 0-D arrays
            a = [0.0] * s.shape[0]
            for i in range(s.shape[0] - 1, -1, -1):  # newest to oldest
                a[i] = float(rho[i]) * (s[i, :] @ g)
                g = g - a[i] * y[i, :]
            r = g * ((s[-1, :] @ y[-1, :]) / (y[-1, :] @ y[-1, :]))  # H_0 = γ I
            for i in range(s.shape[0]):  # oldest to newest
                r = r + s[i, :] * (a[i] - float(rho[i]) * (y[i, :] @ r))
            return -r
        q = g.copy()
        a = np.empty(len(s))
        for i in range(len(s) - 1, -1, -1):  # newest to oldest
            a[i] = rho[i] * s[i].dot(q)
            q -= a[i] * y[i]
        r = q * (s[-1].dot(y[-1]) / y[-1].dot(y[-1]))  # H_0 = γ I
        for i in range(len(s)):  # oldest to newest
            b = rho[i] * y[i].dot(r)
            r += s[i] * (a[i] - b)
        return -r


def _appended(pairs: Array, row: Array) -> Array:
    """``pairs`` with ``row`` as a new last row, in their namespace."""
    if isinstance(pairs, np.ndarray):
        return np.concatenate([pairs, row[None]])
    xp = namespace(pairs)
    return xp.concat([pairs, xp.expand_dims(row, axis=0)])
