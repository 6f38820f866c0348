"""The elementwise rules, from the tutorials: GD, momentum, Nesterov, AdaGrad, RMSProp,
Adam and AdamW.

Each update reads the gradient ``grad``; AdamW also needs the point ``x`` for its
decoupled decay. They are ordered simple to complex, so each reads as a small change to
the last.

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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import namespace, zeros_like

from . import fused
from .base import Optimizer

__all__ = ["GD", "AdaGrad", "Adam", "AdamW", "GDState", "Momentum", "Nesterov", "RMSProp"]

# Each rule is a NumPy closure ``rule(*arrays) -> outputs``, the reference, handed over
# with the name and scalars of its fused kernel (fused.py), which computes the same
# outputs bit for bit in one pass and runs on long float64 vectors where one is loaded.
# Otherwise the closure runs block by block on long vectors, so that its temporaries
# stay in cache: main memory then sees each array read or written once, not once
# per NumPy operation (Adam is about a dozen). 8,192 doubles (64 KiB) keep a rule's
# half-dozen live blocks inside a 512 KiB L2 cache and each temporary below glibc's
# 128 KiB mmap threshold, above which every allocation would fault in fresh pages.
_BLOCK = 1 << 13


def _elementwise(
    name: str,
    scalars: tuple[float, ...],
    rule: Callable[..., tuple[Array, ...]],
    *arrays: Array,
) -> tuple[Array, ...]:
    """Apply ``rule`` to same-shaped arrays: as the fused kernel ``name`` with ``scalars``
    where :func:`fused.kernel` finds one, else in cache-sized blocks when they are long."""
    first = arrays[0]
    if not isinstance(first, np.ndarray) or first.size <= 2 * _BLOCK:
        return rule(*arrays)  # short (fused.MIN_SIZE lies far above) or not NumPy: whole
    kernel = fused.kernel(name, *arrays)
    if kernel is not None:
        fresh = kernel(*(a.reshape(-1) for a in arrays), *(float(c) for c in scalars))
        return tuple(out.reshape(first.shape) for out in fresh)
    flat = [np.ravel(a) for a in arrays]
    outputs: list[Array] = []
    for start in range(0, flat[0].size, _BLOCK):
        parts = rule(*(a[start : start + _BLOCK] for a in flat))
        if not outputs:
            outputs = [np.empty(flat[0].size, part.dtype) for part in parts]
        for out, part in zip(outputs, parts, strict=True):
            out[start : start + _BLOCK] = part
    return tuple(out.reshape(first.shape) for out in outputs)


# eps keeps g / (sqrt(v) + eps) finite where a coordinate's gradient has always been 0.
EPS_FIX = "; eps guards the division where the gradient is 0: 1e-8 is customary"
DECAY_FIX = "; 0 turns the decay off"


def check_moments(opt: Any) -> None:
    """The checks of Adam's ``beta1``, ``beta2`` and ``eps``, which the rules built on its
    moments share (AdamW, schedule-free AdamW)."""
    _validate.in_unit_interval("beta1", opt.beta1)
    _validate.in_unit_interval("beta2", opt.beta2)
    _validate.positive("eps", opt.eps, EPS_FIX)


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
    when: ClassVar[str] = "learning how descent works; smooth problems with known L (lr < 2/L)"

    def init(self, x: Array) -> GDState:
        return GDState(0, self.rate(0))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr = self.rate(state.t)
        # One NumPy operation is one pass already: a fused kernel measured no faster.
        return -lr * self.clip(grad), GDState(state.t + 1, lr)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr and grad, the clipped gradient: step = -lr * grad."""
        return {"lr": new_state.lr, "grad": self.clip(grad)}


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
    when: ClassVar[str] = "long narrow valleys where plain gd zigzags; stochastic training"
    momentum: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("momentum", self.momentum)

    def init(self, x: Array) -> MomentumState:
        return MomentumState(0, self.rate(0), zeros_like(x))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, mu = self.rate(state.t), self.momentum

        def rule(g, v):
            v = mu * v - lr * g
            return (v,)

        (v,) = _elementwise("momentum", (lr, mu), rule, self.clip(grad), state.v)
        return v, MomentumState(state.t + 1, lr, v)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr, grad (clipped) and velocity, the new v = momentum * v - lr * grad; the step
        is velocity (Nesterov: momentum * velocity - lr * grad)."""
        return {"lr": new_state.lr, "grad": self.clip(grad), "velocity": new_state.v}

    def rescaled(self, state, factor):
        """The velocity, a sum of lr-scaled gradients, scaled with the learning rate (as
        PyTorch's buffer of plain gradients times a smaller lr would be)."""
        return state._replace(v=state.v * factor)


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
    when: ClassVar[str] = "as momentum, with a look-ahead that damps the overshoot"

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, mu = self.rate(state.t), self.momentum

        def rule(g, v):
            v = mu * v - lr * g
            return mu * v - lr * g, v

        step, v = _elementwise("nesterov", (lr, mu), rule, self.clip(grad), state.v)
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
    when: ClassVar[str] = "sparse or badly scaled features: a shrinking step per coordinate"
    lr: LearningRate = 0.1
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.positive("eps", self.eps, EPS_FIX)

    def init(self, x: Array) -> AdaGradState:
        return AdaGradState(0, self.rate(0), zeros_like(x))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, eps, sqrt = self.rate(state.t), self.eps, namespace(grad).sqrt

        def rule(g, G):
            G = G + g**2
            return -lr * g / (sqrt(G) + eps), G

        step, G = _elementwise("adagrad", (lr, eps), rule, self.clip(grad), state.G)
        return step, AdaGradState(state.t + 1, lr, G)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr, grad (clipped), accumulator (the new G) and effective_lr = lr / (sqrt(G) +
        eps): step = -effective_lr * grad."""
        lr, G = new_state.lr, new_state.G
        effective_lr = lr / (namespace(G).sqrt(G) + self.eps)
        return {"lr": lr, "grad": self.clip(grad), "accumulator": G, "effective_lr": effective_lr}


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
    when: ClassVar[str] = "noisy or drifting gradients, where adagrad's steps shrink too far"
    rho: float = 0.9
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("rho", self.rho)
        _validate.positive("eps", self.eps, EPS_FIX)

    def init(self, x: Array) -> RMSPropState:
        return RMSPropState(0, self.rate(0), zeros_like(x))

    def update(self, grad, state, x=None, fun=None, f=None):
        lr, rho, eps, sqrt = self.rate(state.t), self.rho, self.eps, namespace(grad).sqrt

        def rule(g, v):
            v = rho * v + (1 - rho) * g**2
            return -lr * g / (sqrt(v) + eps), v

        step, v = _elementwise("rmsprop", (lr, rho, eps), rule, self.clip(grad), state.v)
        return step, RMSPropState(state.t + 1, lr, v)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr, grad (clipped), second_moment (the new v) and effective_lr = lr / (sqrt(v) +
        eps): step = -effective_lr * grad."""
        lr, v = new_state.lr, new_state.v
        effective_lr = lr / (namespace(v).sqrt(v) + self.eps)
        return {"lr": lr, "grad": self.clip(grad), "second_moment": v, "effective_lr": effective_lr}


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
    when: ClassVar[str] = "mini-batch training with a tuned lr: the field's workhorse"
    lr: LearningRate = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_moments(self)

    def init(self, x: Array) -> AdamState:
        return AdamState(0, self.rate(0), zeros_like(x), zeros_like(x))

    def update(self, grad, state, x=None, fun=None, f=None):
        return self._update(grad, state)

    def _update(self, grad, state, x=None, weight_decay=0.0):
        """Adam's update; with ``x``, plus AdamW's decoupled decay -lr * weight_decay * x,
        in the same pass."""
        lr, beta1, beta2, eps = self.rate(state.t), self.beta1, self.beta2, self.eps
        t = state.t + 1
        # The bias corrections, folded into two scalars (Kingma & Ba, end of section 2):
        # lr_t * m / (sqrt(v) + eps_t) equals lr * m_hat / (sqrt(v_hat) + eps) exactly in
        # real arithmetic, and saves three passes over the arrays.
        c1, c2 = 1 - beta1**t, math.sqrt(1 - beta2**t)
        lr_t, eps_t, sqrt = lr * c2 / c1, eps * c2, namespace(grad).sqrt
        decay = lr * weight_decay

        def rule(g, m, v, *x):
            m = beta1 * m + (1 - beta1) * g  # first moment
            v = beta2 * v + (1 - beta2) * (g * g)  # second moment
            step = -lr_t * m / (sqrt(v) + eps_t)
            return (step - decay * x[0] if x else step), m, v

        arrays = (self.clip(grad), state.m, state.v)
        if x is None:
            step, m, v = _elementwise("adam", (lr_t, eps_t, beta1, beta2), rule, *arrays)
        else:
            scalars = (lr_t, eps_t, beta1, beta2, decay)
            step, m, v = _elementwise("adamw", scalars, rule, *arrays, x)
        return step, AdamState(t, lr, m, v)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr, grad (clipped), first_moment and second_moment (the new m and v),
        bias_correction1 = 1 - beta1**t, bias_correction2 = 1 - beta2**t (t the new
        count) and effective_lr = lr / (sqrt(v_hat) + eps): the step is
        -effective_lr * m / bias_correction1."""
        t, lr, v = new_state.t, new_state.lr, new_state.v
        c1, c2 = 1 - self.beta1**t, 1 - self.beta2**t
        # As update folds it, lr sqrt(c2) / (sqrt(v) + eps sqrt(c2)): the same number as
        # lr / (sqrt(v / c2) + eps) in real arithmetic, and the update's to the last bits.
        root = math.sqrt(c2)
        effective_lr = lr * root / (namespace(v).sqrt(v) + self.eps * root)
        return {
            "lr": lr,
            "grad": self.clip(grad),
            "first_moment": new_state.m,
            "second_moment": v,
            "bias_correction1": c1,
            "bias_correction2": c2,
            "effective_lr": effective_lr,
        }


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
    when: ClassVar[str] = "adam with weight decay that the adaptive step does not rescale"
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.nonnegative("weight_decay", self.weight_decay, DECAY_FIX)

    def update(self, grad, state, x=None, fun=None, f=None):
        if x is None:
            raise TypeError("AdamW.update needs the current point x for its decoupled decay")
        return self._update(grad, state, x, self.weight_decay)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """Adam's parts, plus decay = -lr * weight_decay * x, the decoupled part: the step
        is -effective_lr * m / bias_correction1 + decay."""
        if x is None:
            raise TypeError("AdamW.parts needs the point x the update started from")
        decay = -(new_state.lr * self.weight_decay) * x
        return super().parts(grad, state, new_state, step) | {"decay": decay}
