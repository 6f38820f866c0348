"""Step sizes found by trying f: Armijo backtracking and Barzilai-Borwein (with a
projection, the spectral projected gradient).

These rules evaluate the objective at trial points, so ``update`` is handed the point
``x``, the objective ``fun`` and its value ``f`` there (``uses_fun = True`` tells the
loop to pass them; in data mode they are the batch's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import copy, dot, zeros_like

from .base import Optimizer, trial_values
from .first_order import GDState

__all__ = ["BB", "Armijo", "SPGState"]


@dataclass(frozen=True)
class Armijo(Optimizer):
    """Gradient descent with backtracking line search (Armijo, 1966).

    Start from t = lr and shrink t <- shrink * t until the sufficient-decrease
    condition f(x - t g) <= f(x) - c * t * ||g||**2 holds; then x <- x - t g.
    Each trial costs one evaluation of f; ``lr`` is the first trial at every
    update (it resets, so steps can grow again), and ``c`` is the
    sufficient-decrease constant (Nocedal & Wright, Algorithm 3.1). After
    ``max_backtracks`` shrinks the last trial is taken anyway.

    With ``project=`` (``minimize`` hands the projection P over through
    :meth:`constrained`) the search runs along the projection arc instead
    (Bertsekas, *Nonlinear Programming*, 3rd ed., section 2.3): the trials are
    x(t) = P(x - t g), accepted when f(x(t)) <= f(x) + c g.(x(t) - x), and the step is
    x(t) - x. Testing x - t g before projecting, as before, can accept a step that the
    projection undoes, and stall away from the constrained minimum.

    >>> import numpy as np
    >>> fun = lambda x: float(x @ x)
    >>> x = np.array([1.0])
    >>> opt = Armijo()
    >>> opt.update(2 * x, opt.init(x), x, fun, fun(x))[0]  # t = 1 overshoots to -1, t = 0.5 lands
    array([-1.])
    """

    name: ClassVar[str] = "armijo"
    when: ClassVar[str] = "deterministic problems with no known lr: steps found by backtracking"
    uses_fun: ClassVar[bool] = True
    lr: LearningRate = 1.0
    c: float = 1e-4
    shrink: float = 0.5
    max_backtracks: int = 50
    # The projection of a constrained run (None: plain backtracking); set by constrained().
    project: Callable[[Array], Array] | None = field(
        default=None, kw_only=True, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        c = _validate.positive("c", self.c)
        if c >= 1:
            raise ValueError(f"c must be in (0, 1), got {c!r}; 1e-4 is customary")
        shrink = _validate.positive("shrink", self.shrink)
        if shrink >= 1:
            raise ValueError(f"shrink must be in (0, 1), got {shrink!r}; 0.5 halves the step")
        _validate.count("max_backtracks", self.max_backtracks, minimum=1)

    def constrained(self, project: Callable[[Array], Array]) -> Armijo:
        """A copy that searches along the projection arc P(x - t g)."""
        return replace(self, project=project)

    def init(self, x: Array) -> GDState:
        return GDState(0, self.rate(0))

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None or fun is None:
            raise TypeError(f"{type(self).__name__}.update needs the point x and the objective fun")
        g = self.clip(grad)
        f = fun(x) if f is None else f
        together = self._together(state) if hasattr(fun, "many") else 1
        if self.project is not None:
            t, step = self._arc(self.project, fun, x, g, self.rate(state.t), f, together)
            return step, GDState(state.t + 1, t)
        t = self.search(fun, x, g, self.rate(state.t), f, together)
        return -t * g, GDState(state.t + 1, t)

    def _together(self, state: GDState) -> int:
        """How many trials to evaluate at once where ``fun.many`` takes several in one go
        (Dask data: one pass over the blocks for all of them): one more than the last
        update tried, at most 8. t restarts from ``lr`` at every update, so that count
        changes slowly. It never changes which t is accepted, only how many are computed."""
        first = self.rate(state.t - 1) if state.t > 0 else 0.0
        if not (state.lr > 0 and first > 0):
            return 4
        tried = round(math.log(state.lr / first) / math.log(self.shrink)) + 1
        return min(max(tried, 1) + 1, 8)

    def _arc(
        self, project: Callable[[Array], Array], fun: Callable[[Array], float], x: Array,
        g: Array, t: float, f: float, together: int = 1,
    ) -> tuple[float, Array]:  # fmt: skip
        """The first t in t, shrink * t, ... with f(P(x - t g)) <= f + c g.(P(x - t g) - x),
        and its step P(x - t g) - x."""
        if together > 1:
            ts = self._backtracks(t, self.max_backtracks + 1)
            steps: dict[int, Array] = {}

            def trial(j: int) -> Array:
                steps[j] = project(x - ts[j] * g) - x
                return x + steps[j]

            def accepted(j: int, f_trial: float) -> bool:
                return f_trial <= f + self.c * dot(g, steps[j])

            many = fun.many  # type: ignore[attr-defined]
            j = _first_accepted(many, trial, accepted, self.max_backtracks, together)
            j_step = min(j, self.max_backtracks - 1)  # none accepted: the last one tried
            return float(ts[j]), steps[j_step]
        for _ in range(self.max_backtracks):
            step = project(x - t * g) - x
            if fun(x + step) <= f + self.c * dot(g, step):
                break
            t *= self.shrink
        return t, step

    def search(
        self, fun: Callable[[Array], float], x: Array, g: Array, t: float, f_ref: float,
        together: int = 1,
    ) -> float:  # fmt: skip
        """The first t in t, shrink * t, ... with fun(x - t g) <= f_ref - c t ||g||**2;
        ``together`` trials at a time through ``fun.many`` when it is more than 1."""
        slope = dot(g, g)
        if together > 1:
            ts = self._backtracks(t, self.max_backtracks + 1)  # as the loop below makes them

            def accepted(j: int, f_trial: float) -> bool:
                return f_trial <= f_ref - self.c * ts[j] * slope

            many = fun.many  # type: ignore[attr-defined]
            trial = lambda j: x - ts[j] * g  # noqa: E731
            return float(ts[_first_accepted(many, trial, accepted, self.max_backtracks, together)])
        for _ in range(self.max_backtracks):
            if fun(x - t * g) <= f_ref - self.c * t * slope:
                break
            t *= self.shrink
        return t

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (the accepted t), grad (clipped), trial_lr (the t's tried: lr, lr * shrink,
        ..., one per trial) and trial_f (f at each): step = -lr * grad, or with a
        projection P(x - lr * grad) - x."""
        return {
            "lr": new_state.lr,
            "grad": self.clip(grad),
            "trial_lr": self._backtracks(self.rate(state.t), len(trials)),
            "trial_f": trial_values(trials),
        }

    def _backtracks(self, t: float, n: int) -> Array:
        """The first ``n`` steps ``search`` tries from ``t``, multiplied as it multiplies them."""
        factors = np.full(n, self.shrink)
        factors[:1] = t
        return np.multiply.accumulate(factors)


class BBState(NamedTuple):
    t: int
    lr: float
    x_prev: Array
    g_prev: Array
    f_recent: Array


class SPGState(NamedTuple):
    """BB's state in a run with ``project=``, plus the stationarity measure there."""

    t: int
    lr: float  # lambda * t: the step along -g when no constraint is active, as BB's lr
    x_prev: Array
    g_prev: Array
    f_recent: Array
    # ||P(x - g) - x|| at the point the last update started from (NaN before any): on a
    # convex set it vanishes exactly at a constrained minimum, where ||g|| need not.
    projected_grad_norm: float
    d: Array  # the last search's direction P(x - t g) - x (zeros before any)
    lam: float  # the lambda it accepted (NaN before any)


# Backtracking by quadratic interpolation keeps the new lambda in [SIGMA1, SIGMA2] times
# the old one (Birgin, Martinez & Raydan's values): a poor fit can neither stall the
# search with a cut too small nor waste the step with one too deep.
SIGMA1, SIGMA2 = 0.1, 0.9


@dataclass(frozen=True)
class BB(Armijo):
    r"""Barzilai-Borwein step sizes (Barzilai & Borwein, 1988), safeguarded (Raydan, 1997);
    with ``project=``, the spectral projected gradient method (Birgin, Martínez & Raydan, 2000).

    With s = x_k - x_(k-1) and y = g_k - g_(k-1), the trial step size is
    t = (s . s) / (s . y), the secant estimate of 1 / curvature, kept within
    [``min_step``, ``max_step``]; the first update, and any update that has seen
    no positive curvature (s . y <= 0), tries ``lr`` instead. BB steps are not
    monotone, which is where their speed comes from, but unguarded they can
    blow up (on Rosenbrock, for one); so each trial is shortened by
    ``shrink`` until f(x - t g) <= max(last ``memory`` values of f) - c t ||g||**2,
    the non-monotone line search of Grippo, Lampariello & Lucidi (1986).
    ``update`` needs ``x``, ``fun`` and ``f``.

    With ``project=`` (``minimize`` hands the projection P over through
    :meth:`constrained`) the same t becomes the spectral projected gradient step,
    SPG2 of Birgin, Martínez & Raydan (2000, Algorithm 2.2), which searches along the
    chord to the projected point rather than projecting each trial:

    .. math::

        d_k = P(x_k - t_k g_k) - x_k, \qquad
        f(x_k + \lambda d_k) \le \max_{0 \le j < M} f(x_{k-j}) + c \, \lambda \, g_k^\top d_k,

    trying λ = 1 first and then the minimiser of the quadratic through f(x_k),
    g_kᵀd_k and the rejected trial, when it lies in [0.1 λ, 0.9 λ], else ``shrink`` λ;
    the step is λ d_k (after ``max_backtracks`` cuts the last λ is taken anyway). For a
    convex set x_k + λ d_k lies between two feasible points, so it is feasible and the
    loop's projection of it changes nothing but rounding. M is ``memory`` and c is
    ``c``; the next t uses s = x_(k+1) - x_k and y = g_(k+1) - g_k as above. The
    state's ``lr`` is λ t (BB's step along -g when no constraint binds), and
    ``projected_grad_norm`` is ||P(x_k - g_k) - x_k||, the stationarity measure on the
    set, at one extra projection per update.

    >>> import numpy as np
    >>> opt, x = BB(lr=0.1), np.array([1.0, 1.0])
    >>> fun = lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)
    >>> grad = lambda x: np.array([1.0, 10.0]) * x
    >>> step, state = opt.update(grad(x), opt.init(x), x, fun, fun(x))
    >>> x = x + step
    >>> round(opt.update(grad(x), state, x, fun, fun(x))[1].lr, 4)  # 1 / a weighted mean curvature
    0.1009

    On the box [0.5, 2]²: one SPG step from (1, 1) with t = 1 reaches the corner.

    >>> spg = BB(lr=1.0).constrained(lambda x: np.clip(x, 0.5, 2.0))
    >>> x = np.array([1.0, 1.0])
    >>> spg.update(grad(x), spg.init(x), x, fun, fun(x))[0]
    array([-0.5, -0.5])

    Notes
    -----
    Where the paper sets t = ``max_step`` after s . y <= 0, this tries ``lr``, as
    unconstrained BB does. ``minimize``'s ``gtol`` reads ||g||, which does not vanish
    at a constrained minimum: stop a constrained run by ``xtol`` (or ``ftol``); the
    state's ``projected_grad_norm`` is the measure that does vanish. Start from a feasible x0: from
    an infeasible one the first step's test compares f at an unprojected point.

    References
    ----------
    Birgin, E. G., Martínez, J. M., & Raydan, M. (2000). Nonmonotone spectral projected
    gradient methods on convex sets. *SIAM Journal on Optimization* 10(4), 1196-1211.
    """

    name: ClassVar[str] = "bb"
    when: ClassVar[str] = "smooth problems, and constraints with project= (projected BB: SPG)"
    # Its first trial is accepted at most updates: evaluating the gradient with it lets the
    # loop take the pair there instead of calling f again.
    trial_gradients: ClassVar[bool] = True
    min_step: float = 1e-10
    max_step: float = 1e10
    memory: int = 10
    # The projection of a constrained run (None: plain BB); set by constrained().
    project: Callable[[Array], Array] | None = field(
        default=None, kw_only=True, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        lo = _validate.positive("min_step", self.min_step)
        hi = _validate.positive("max_step", self.max_step)
        if lo > hi:
            raise ValueError(f"min_step ({lo!r}) must not exceed max_step ({hi!r})")
        _validate.count("memory", self.memory, minimum=1)
        if self.project is not None and not callable(self.project):
            raise TypeError(f"project must be a callable x -> x or None, got {self.project!r:.60}")

    def constrained(self, project: Callable[[Array], Array]) -> BB:
        """A copy that searches along the projected arc: the spectral projected gradient."""
        return replace(self, project=project)

    def init(self, x: Array) -> BBState | SPGState:  # type: ignore[override]
        start = (0, self.rate(0), copy(x), zeros_like(x), np.full(self.memory, -np.inf))
        if self.project is None:
            return BBState(*start)
        return SPGState(*start, math.nan, zeros_like(x), math.nan)

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None or fun is None:
            raise TypeError("BB.update needs the point x and the objective fun")
        fun = _value_of(fun)  # the loop hands it (f, gradient) pairs; the searches read f
        g = self.clip(grad)
        f = fun(x) if f is None else f
        t = self._secant(state, x, g)[0]
        f_recent = state.f_recent.copy()
        f_recent[state.t % self.memory] = f
        if self.project is not None:
            return self._spg(self.project, grad, g, state, x, fun, f, t, f_recent)
        t = self.search(fun, x, g, t, float(f_recent.max()))
        return -t * g, BBState(state.t + 1, t, copy(x), g, f_recent)

    def _secant(self, state: Any, x: Array, g: Array) -> tuple[float, Array | None, Array | None]:
        """The first trial step: (s . s) / (s . y) clamped, with the pair s, y it came from,
        or lr and no pair (None, None) on the first update or without positive curvature."""
        if state.t > 0:
            s, y = x - state.x_prev, g - state.g_prev
            sy = dot(s, y)
            if sy > 0:
                return min(max(dot(s, s) / sy, self.min_step), self.max_step), s, y
        return self.rate(state.t), None, None

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (the accepted step along -grad), grad (clipped), bb_lr (the secant step the
        search started from, or lr on the first update or without positive curvature), s
        and y (the secant pair behind bb_lr; zeros when there is none), f_max (the
        non-monotone reference: the largest of the last ``memory`` f), trial_lr (the t's
        tried: bb_lr, bb_lr * shrink, ...) and trial_f (f at each).

        With a projection (SPG) trial_lr holds the lambdas tried along ``direction`` (d =
        P(x - bb_lr grad) - x), ``lam`` is the one accepted (step = lam * d, lr = lam *
        bb_lr), and ``projected_grad_norm`` is ||P(x - g) - x||.
        """
        if x is None:
            raise TypeError("BB.parts needs the point x the update started from")
        g = new_state.g_prev  # the clipped gradient the update used
        t, s, y = self._secant(state, x, g)
        parts = {
            "lr": new_state.lr,
            "grad": g,
            "bb_lr": t,
            "s": zeros_like(g) if s is None else s,
            "y": zeros_like(g) if y is None else y,
            "f_max": float(new_state.f_recent.max()),
            "trial_f": trial_values(trials),
        }
        if self.project is None:
            return parts | {"trial_lr": self._backtracks(t, len(trials))}
        # The lambdas follow from the trials' f exactly as the search chose them.
        d, f = new_state.d, float(new_state.f_recent[state.t % self.memory])
        slope, lams = dot(g, d), [1.0]
        for _, f_trial in trials[:-1]:
            lams.append(_cut(lams[-1], f_trial, f, slope, self.shrink))
        return parts | {
            "trial_lr": np.array(lams[: len(trials)]),
            "direction": d,
            "lam": new_state.lam,
            "projected_grad_norm": new_state.projected_grad_norm,
        }

    def _spg(self, project, grad, g, state, x, fun, f, t, f_recent):
        """SPG2's step from x with spectral step t: lambda d and the new state."""
        f_max = float(f_recent.max())
        d = project(x - t * g) - x
        slope = dot(g, d)  # <= -||d||**2 / t: d descends unless it is 0
        lam = 1.0
        for _ in range(self.max_backtracks):
            f_trial = fun(x + lam * d)
            if f_trial <= f_max + self.c * lam * slope:
                break
            lam = _cut(lam, f_trial, f, slope, self.shrink)
        pg = project(x - grad) - x
        pg_norm = math.sqrt(dot(pg, pg))
        x_prev = copy(x)
        return lam * d, SPGState(state.t + 1, lam * t, x_prev, g, f_recent, pg_norm, d, lam)


def _first_accepted(
    many: Callable[[list[Array]], list[float]], trial: Callable[[int], Array],
    accepted: Callable[[int, float], bool], n: int, together: int,
) -> int:  # fmt: skip
    """The first j in 0 .. n-1 whose trial point is ``accepted``, ``n`` if none is; the
    points are evaluated ``together`` at a time by ``many`` (f at each of a list)."""
    for start in range(0, n, together):
        group = range(start, min(start + together, n))
        values = many([trial(j) for j in group])
        for j, f_trial in zip(group, values, strict=True):
            if accepted(j, f_trial):
                return j
    return n


def _cut(lam: float, f_trial: float, f: float, slope: float, shrink: float) -> float:
    """SPG2's next lambda after a trial at ``lam`` was rejected."""
    # The parabola in lambda through f at 0 with slope g.d there and f_trial at lam
    # has its minimum at lam_q; a concave fit (or a NaN trial) gives no guidance.
    curvature = f_trial - f - lam * slope
    lam_q = -0.5 * lam * lam * slope / curvature if curvature > 0 else -1.0
    return lam_q if SIGMA1 * lam <= lam_q <= SIGMA2 * lam else shrink * lam


def _value_of(fun: Callable[[Array], Any]) -> Callable[[Array], float]:
    """``fun`` as f alone, whether it returns f or an ``(f, gradient)`` pair."""

    def value(z: Array) -> float:
        out = fun(z)
        return out[0] if isinstance(out, tuple) else out

    return value
