"""Step sizes found by trying f: Armijo backtracking and Barzilai-Borwein.

These rules evaluate the objective at trial points, so ``update`` is handed the point
``x``, the objective ``fun`` and its value ``f`` there (``uses_fun = True`` tells the
loop to pass them; in data mode they are the batch's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate

from .base import Optimizer
from .first_order import GDState

__all__ = ["BB", "Armijo"]


@dataclass(frozen=True)
class Armijo(Optimizer):
    """Gradient descent with backtracking line search (Armijo, 1966).

    Start from t = lr and shrink t <- shrink * t until the sufficient-decrease
    condition f(x - t g) <= f(x) - c * t * ||g||**2 holds; then x <- x - t g.
    Each trial costs one evaluation of f; ``lr`` is the first trial at every
    update (it resets, so steps can grow again), and ``c`` is the
    sufficient-decrease constant (Nocedal & Wright, Algorithm 3.1). After
    ``max_backtracks`` shrinks the last trial is taken anyway. With a projection
    the condition is tested before projecting.

    >>> import numpy as np
    >>> fun = lambda x: float(x @ x)
    >>> x = np.array([1.0])
    >>> opt = Armijo()
    >>> opt.update(2 * x, opt.init(x), x, fun, fun(x))[0]  # t = 1 overshoots to -1, t = 0.5 lands
    array([-1.])
    """

    name: ClassVar[str] = "armijo"
    uses_fun: ClassVar[bool] = True
    lr: LearningRate = 1.0
    c: float = 1e-4
    shrink: float = 0.5
    max_backtracks: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        c = _validate.positive("c", self.c)
        if c >= 1:
            raise ValueError(f"c must be in (0, 1), got {c!r}; 1e-4 is customary")
        shrink = _validate.positive("shrink", self.shrink)
        if shrink >= 1:
            raise ValueError(f"shrink must be in (0, 1), got {shrink!r}; 0.5 halves the step")
        _validate.count("max_backtracks", self.max_backtracks, minimum=1)

    def init(self, x: Array) -> GDState:
        return GDState(0, self.rate(0))

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None or fun is None:
            raise TypeError(f"{type(self).__name__}.update needs the point x and the objective fun")
        g = self.clip(grad)
        f = fun(x) if f is None else f
        t = self.search(fun, x, g, self.rate(state.t), f)
        return -t * g, GDState(state.t + 1, t)

    def search(
        self, fun: Callable[[Array], float], x: Array, g: Array, t: float, f_ref: float
    ) -> float:
        """The first t in t, shrink * t, ... with fun(x - t g) <= f_ref - c t ||g||**2."""
        slope = float(np.vdot(g, g))
        for _ in range(self.max_backtracks):
            if fun(x - t * g) <= f_ref - self.c * t * slope:
                break
            t *= self.shrink
        return t


class BBState(NamedTuple):
    t: int
    lr: float
    x_prev: Array
    g_prev: Array
    f_recent: Array


@dataclass(frozen=True)
class BB(Armijo):
    """Barzilai-Borwein step sizes (Barzilai & Borwein, 1988), safeguarded (Raydan, 1997).

    With s = x_k - x_(k-1) and y = g_k - g_(k-1), the trial step size is
    t = (s . s) / (s . y), the secant estimate of 1 / curvature, kept within
    [``min_step``, ``max_step``]; the first update, and any update that has seen
    no positive curvature (s . y <= 0), tries ``lr`` instead. BB steps are not
    monotone, which is where their speed comes from, but unguarded they can
    blow up (on Rosenbrock, for one); so each trial is shortened by
    ``shrink`` until f(x - t g) <= max(last ``memory`` values of f) - c t ||g||**2,
    the non-monotone line search of Grippo, Lampariello & Lucidi (1986).
    ``update`` needs ``x``, ``fun`` and ``f``.

    >>> import numpy as np
    >>> opt, x = BB(lr=0.1), np.array([1.0, 1.0])
    >>> fun = lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)
    >>> grad = lambda x: np.array([1.0, 10.0]) * x
    >>> step, state = opt.update(grad(x), opt.init(x), x, fun, fun(x))
    >>> x = x + step
    >>> round(opt.update(grad(x), state, x, fun, fun(x))[1].lr, 4)  # 1 / a weighted mean curvature
    0.1009
    """

    name: ClassVar[str] = "bb"
    min_step: float = 1e-10
    max_step: float = 1e10
    memory: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        lo = _validate.positive("min_step", self.min_step)
        hi = _validate.positive("max_step", self.max_step)
        if lo > hi:
            raise ValueError(f"min_step ({lo!r}) must not exceed max_step ({hi!r})")
        _validate.count("memory", self.memory, minimum=1)

    def init(self, x: Array) -> BBState:  # type: ignore[override]
        x = np.asarray(x, dtype=float)
        return BBState(0, self.rate(0), x.copy(), np.zeros_like(x), np.full(self.memory, -np.inf))

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None or fun is None:
            raise TypeError("BB.update needs the point x and the objective fun")
        g = self.clip(grad)
        f = fun(x) if f is None else f
        t = self.rate(state.t)
        if state.t > 0:
            s, y = x - state.x_prev, g - state.g_prev
            sy = float(np.vdot(s, y))
            if sy > 0:
                t = min(max(float(np.vdot(s, s)) / sy, self.min_step), self.max_step)
        f_recent = state.f_recent.copy()
        f_recent[state.t % self.memory] = f
        t = self.search(fun, x, g, t, float(f_recent.max()))
        return -t * g, BBState(state.t + 1, t, np.array(x, dtype=float), g, f_recent)
