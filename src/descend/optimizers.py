"""The optimizer family: each is hyperparameters plus two pure functions.

``init(x) -> state`` makes a fresh state for the point ``x``; ``update(grad, state,
x=None, fun=None, f=None) -> (step, new_state)`` returns the step to add to ``x``
and a new state, leaving the old one untouched. Optimizers know nothing about
stopping, data or history: the loop in :func:`descend.minimize` owns those.

Every update reads the gradient ``grad``; AdamW also needs the point ``x`` for its
decoupled decay, BB needs ``x`` for its secant, and Armijo needs ``x``, the
objective ``fun`` and its value ``f`` for the line search. The others ignore them.

Every state is a named tuple with ``t`` (updates done so far) and ``lr`` (the
step size of the last update; the first one's before any update), plus the
arrays the rule keeps, each shaped like ``x``.

They are ordered simple to complex, so each reads as a small change to the last.

Examples
--------
>>> import numpy as np
>>> from descend import Adam
>>> opt = Adam(lr=0.1)
>>> state = opt.init(np.array([1.0, -2.0]))
>>> step, state = opt.update(np.array([0.5, -4.0]), state)
>>> step
array([-0.1,  0.1])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

import numpy as np

from . import _validate
from ._types import Array, LearningRate

__all__ = [
    "BB",
    "GD",
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Armijo",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "make_optimizer",
]

# Elementwise rules run block by block on long vectors so that their temporaries
# stay in cache: main memory then sees each array read or written once, not once
# per NumPy operation (Adam is about a dozen). 8,192 doubles (64 KiB) keep a rule's
# half-dozen live blocks inside a 512 KiB L2 cache and each temporary below glibc's
# 128 KiB mmap threshold, above which every allocation would fault in fresh pages.
_BLOCK = 1 << 13


def _elementwise(rule: Callable[..., tuple[Array, ...]], *arrays: Array) -> tuple[Array, ...]:
    """Apply ``rule`` to same-shaped arrays, in cache-sized blocks when they are long."""
    if arrays[0].size <= 2 * _BLOCK:
        return rule(*arrays)
    flat = [np.ravel(a) for a in arrays]
    outputs: list[Array] = []
    for start in range(0, flat[0].size, _BLOCK):
        parts = rule(*(a[start : start + _BLOCK] for a in flat))
        if not outputs:
            outputs = [np.empty(flat[0].size) for _ in parts]
        for out, part in zip(outputs, parts, strict=True):
            out[start : start + _BLOCK] = part
    return tuple(out.reshape(arrays[0].shape) for out in outputs)


# eps keeps g / (sqrt(v) + eps) finite where a coordinate's gradient has always been 0.
EPS_FIX = "; eps guards the division where the gradient is 0: 1e-8 is customary"


@dataclass(frozen=True)
class Optimizer:
    """Base class: a learning rate (number or schedule) and optional gradient clipping.

    >>> from descend import GD, schedules
    >>> GD(lr=schedules.step(0.1, every=2)).rate(3)
    0.05

    Parameters
    ----------
    lr : float or callable
        Learning rate, or a schedule ``t -> lr`` evaluated at the ``t``-th update
        (``t = 0, 1, ...``); see :mod:`descend.schedules`.
    clip_norm : float, optional
        If given, a gradient longer than this is scaled down to this Euclidean
        norm before the rule sees it (Pascanu et al., 2013).
    """

    name: ClassVar[str] = ""
    # Whether update() evaluates fun (a line search): in data mode it then gets the batch's.
    uses_fun: ClassVar[bool] = False

    lr: LearningRate = 0.01
    clip_norm: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if callable(self.lr):
            self.rate(0)  # a bad schedule fails here, before any work
        else:
            _validate.positive("lr", self.lr, "; pass a number such as 0.01 or a schedule")
        if self.clip_norm is not None:
            _validate.positive("clip_norm", self.clip_norm, "; use None for no clipping")

    def rate(self, t: int) -> float:
        """The learning rate for update ``t`` (counted from 0)."""
        if not callable(self.lr):
            return self.lr
        try:
            lr = self.lr(t)
        except Exception as error:
            raise ValueError(f"lr schedule {self.lr!r} failed at t={t}: {error!r}") from error
        if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
            raise ValueError(
                f"lr schedule {self.lr!r} returned {lr!r} at t={t}; "
                "a schedule must return a finite number > 0 for every update"
            )
        return float(lr)

    def clip(self, grad: Array) -> Array:
        """``grad`` scaled to norm at most ``clip_norm`` (unchanged when it is shorter)."""
        if self.clip_norm is None:
            return grad
        norm = math.sqrt(float(np.vdot(grad, grad)))
        return grad * (self.clip_norm / norm) if norm > self.clip_norm else grad

    def init(self, x: Array) -> Any:
        """Return the state for starting at ``x``."""
        raise NotImplementedError

    def update(
        self,
        grad: Array,
        state: Any,
        x: Array | None = None,
        fun: Callable[[Array], float] | None = None,
        f: float | None = None,
    ) -> tuple[Array, Any]:
        """Return ``(step, new_state)``: the next point is ``x + step``."""
        raise NotImplementedError


class GDState(NamedTuple):
    t: int
    lr: float


@dataclass(frozen=True)
class GD(Optimizer):
    """Gradient descent: x <- x - lr * g.

    >>> import numpy as np
    >>> GD(lr=0.1).update(np.array([10.0]), GD(lr=0.1).init(np.array([5.0])))[0]
    array([-1.])
    """

    name: ClassVar[str] = "gd"

    def init(self, x: Array) -> GDState:
        return GDState(0, self.rate(0))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr = self.rate(state.t)
        return -lr * self.clip(grad), GDState(state.t + 1, lr)


class MomentumState(NamedTuple):
    t: int
    lr: float
    v: Array


@dataclass(frozen=True)
class Momentum(Optimizer):
    """Heavy-ball momentum (Polyak, 1964): v <- momentum * v - lr * g;  x <- x + v.

    The velocity starts at zero. PyTorch's ``SGD(momentum=...)`` keeps
    ``b <- momentum * b + g`` and steps ``-lr * b`` instead; the two agree for a
    constant learning rate and differ under a schedule, where here the rate
    scales each gradient as it enters the velocity.

    >>> import numpy as np
    >>> opt = Momentum(lr=0.1, momentum=0.5)
    >>> state = opt.init(np.zeros(1))
    >>> step, state = opt.update(np.array([1.0]), state)
    >>> step, state = opt.update(np.array([1.0]), state)
    >>> step  # 0.5 * (-0.1) - 0.1
    array([-0.15])
    """

    name: ClassVar[str] = "momentum"
    momentum: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("momentum", self.momentum)

    def init(self, x: Array) -> MomentumState:
        return MomentumState(0, self.rate(0), np.zeros_like(x, dtype=float))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, mu = self.rate(state.t), self.momentum

        def rule(g, v):
            v = mu * v - lr * g
            return (v,)

        (v,) = _elementwise(rule, self.clip(grad), state.v)
        return v, MomentumState(state.t + 1, lr, v)


@dataclass(frozen=True)
class Nesterov(Momentum):
    """Nesterov momentum: v <- momentum * v - lr * g;  x <- x + momentum * v - lr * g.

    This is the look-ahead step (Sutskever et al., 2013) rewritten so that the
    gradient is taken at the current point, as in PyTorch's ``nesterov=True``.

    >>> import numpy as np
    >>> opt = Nesterov(lr=0.1, momentum=0.5)
    >>> opt.update(np.array([1.0]), opt.init(np.zeros(1)))[0]  # 0.5 * (-0.1) - 0.1
    array([-0.15])
    """

    name: ClassVar[str] = "nesterov"

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, mu = self.rate(state.t), self.momentum

        def rule(g, v):
            v = mu * v - lr * g
            return mu * v - lr * g, v

        step, v = _elementwise(rule, self.clip(grad), state.v)
        return step, MomentumState(state.t + 1, lr, v)


class AdaGradState(NamedTuple):
    t: int
    lr: float
    G: Array


@dataclass(frozen=True)
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al., 2011): G <- G + g**2;  x <- x - lr * g / (sqrt(G) + eps).

    G starts at zero; ``eps`` sits outside the square root, as in PyTorch.

    >>> import numpy as np
    >>> AdaGrad(lr=0.5, eps=1e-300).update(np.array([3.0]), AdaGrad().init(np.zeros(1)))[0]
    array([-0.5])
    """

    name: ClassVar[str] = "adagrad"
    lr: LearningRate = 0.1
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.positive("eps", self.eps, EPS_FIX)

    def init(self, x: Array) -> AdaGradState:
        return AdaGradState(0, self.rate(0), np.zeros_like(x, dtype=float))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, eps = self.rate(state.t), self.eps

        def rule(g, G):
            G = G + g**2
            return -lr * g / (np.sqrt(G) + eps), G

        step, G = _elementwise(rule, self.clip(grad), state.G)
        return step, AdaGradState(state.t + 1, lr, G)


class RMSPropState(NamedTuple):
    t: int
    lr: float
    v: Array


@dataclass(frozen=True)
class RMSProp(Optimizer):
    """RMSProp (Hinton, 2012): v <- rho * v + (1 - rho) * g**2;  x <- x - lr * g / (sqrt(v) + eps).

    v starts at zero and ``eps`` sits outside the square root. ``rho=0.9`` is
    Hinton's (and Keras's) default; PyTorch calls it ``alpha`` and uses 0.99.

    >>> import numpy as np
    >>> opt = RMSProp(lr=0.1, rho=0.75, eps=1e-300)
    >>> opt.update(np.array([2.0]), opt.init(np.zeros(1)))[0]
    array([-0.2])
    """

    name: ClassVar[str] = "rmsprop"
    rho: float = 0.9
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("rho", self.rho)
        _validate.positive("eps", self.eps, EPS_FIX)

    def init(self, x: Array) -> RMSPropState:
        return RMSPropState(0, self.rate(0), np.zeros_like(x, dtype=float))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, rho, eps = self.rate(state.t), self.rho, self.eps

        def rule(g, v):
            v = rho * v + (1 - rho) * g**2
            return -lr * g / (np.sqrt(v) + eps), v

        step, v = _elementwise(rule, self.clip(grad), state.v)
        return step, RMSPropState(state.t + 1, lr, v)


class AdamState(NamedTuple):
    t: int
    lr: float
    m: Array
    v: Array


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with bias correction.

    m <- beta1 * m + (1 - beta1) * g;  v <- beta2 * v + (1 - beta2) * g**2;
    m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t);
    x <- x - lr * m_hat / (sqrt(v_hat) + eps).

    m and v start at zero, t counts from 1, and ``eps`` sits outside the square
    root (as in the paper and PyTorch; Optax's ``eps_root`` goes inside). The
    first step of every coordinate is therefore ``-lr * sign(g)`` (up to eps).

    >>> import numpy as np
    >>> Adam(lr=0.1).update(np.array([3.0, -0.5]), Adam().init(np.zeros(2)))[0]
    array([-0.1,  0.1])
    """

    name: ClassVar[str] = "adam"
    lr: LearningRate = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("beta1", self.beta1)
        _validate.in_unit_interval("beta2", self.beta2)
        _validate.positive("eps", self.eps, EPS_FIX)

    def init(self, x: Array) -> AdamState:
        zeros = np.zeros_like(x, dtype=float)
        return AdamState(0, self.rate(0), zeros, zeros.copy())

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, beta1, beta2, eps = self.rate(state.t), self.beta1, self.beta2, self.eps
        t = state.t + 1
        # The bias corrections, folded into two scalars (Kingma & Ba, end of section 2):
        # lr_t * m / (sqrt(v) + eps_t) equals lr * m_hat / (sqrt(v_hat) + eps) exactly in
        # real arithmetic, and saves three passes over the arrays.
        c1, c2 = 1 - beta1**t, math.sqrt(1 - beta2**t)
        lr_t, eps_t = lr * c2 / c1, eps * c2

        def rule(g, m, v):
            m = beta1 * m + (1 - beta1) * g  # first moment
            v = beta2 * v + (1 - beta2) * (g * g)  # second moment
            return -lr_t * m / (np.sqrt(v) + eps_t), m, v

        step, m, v = _elementwise(rule, self.clip(grad), state.m, state.v)
        return step, AdamState(t, lr, m, v)


@dataclass(frozen=True)
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam's step plus decoupled weight decay.

    x <- x - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * x).

    The decay acts on ``x`` directly instead of entering the gradient, so Adam's
    scaling does not weaken it. It matches PyTorch's ``AdamW`` (decay scaled by lr);
    ``update`` needs the current point ``x``.

    >>> import numpy as np
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> x = np.array([2.0])
    >>> opt.update(np.array([1.0]), opt.init(x), x)[0]  # -0.1 * (1 + 0.5 * 2)
    array([-0.2])
    """

    name: ClassVar[str] = "adamw"
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.nonnegative("weight_decay", self.weight_decay, "; 0 turns the decay off")

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None:
            raise TypeError("AdamW.update needs the current point x for its decoupled decay")
        step, state = super().update(grad, state)
        return step - state.lr * self.weight_decay * x, state


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


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (GD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW, Armijo, BB)
}


def make_optimizer(
    method: str | Optimizer, known: Sequence[str] = (), **settings: Any
) -> Optimizer:
    """The optimizer for ``method`` (a registry name or an object) with ``settings`` applied.

    ``known`` are the caller's own keyword names, suggested when a setting is misspelt.

    Raises
    ------
    ValueError
        ``method`` names no optimizer (the message suggests the closest name).
    TypeError
        A setting that the optimizer does not take.
    """
    if isinstance(method, Optimizer):
        cls = type(method)
    elif isinstance(method, str):
        if method.lower() not in OPTIMIZERS:
            raise ValueError(
                f"method must be one of {', '.join(OPTIMIZERS)}, got {method!r}"
                + _validate.closest(method.lower(), OPTIMIZERS)
            )
        cls = OPTIMIZERS[method.lower()]
    else:
        raise TypeError(
            f"method must be a name such as 'adam' or an optimizer such as descend.Adam(), "
            f"got {method!r}"
        )
    accepted = [f.name for f in fields(cls)]
    for key in settings:
        if key not in accepted:
            raise TypeError(
                f"{key!r} is not a hyperparameter of {cls.__name__}; it takes "
                f"{', '.join(accepted)}" + _validate.closest(key, [*accepted, *known])
            )
    if isinstance(method, Optimizer):
        return dataclasses.replace(method, **settings)  # validated again by __post_init__
    return cls(**settings)
