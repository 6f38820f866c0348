"""Schedule-free SGD and AdamW: rules that average instead of decaying.

The gradient is taken at ``y``, between an SGD sequence ``z`` and its average ``x``; the
loop moves along ``y`` and the run answers with ``x``. Both follow their authors' PyTorch
code (``schedulefree`` 1.4.1; see ``benchmarks/free_conformance.py``); Notes say where it
departs from the paper. With DoG and Prodigy they are the learning-rate-free family of
:mod:`descend.core.optimizers.free`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import copy, namespace, zeros_like

from .base import Optimizer
from .first_order import DECAY_FIX, check_moments

__all__ = ["ScheduleFreeAdamW", "ScheduleFreeSGD"]


class ScheduleFreeState(NamedTuple):
    t: int
    lr: float  # gamma_t, the last step size after warm-up
    z: Array  # the SGD sequence
    x: Array  # its weighted average: the answer
    lr_max: float
    weight_sum: float


class ScheduleFreeAdamWState(NamedTuple):
    t: int
    lr: float
    z: Array
    x: Array
    lr_max: float
    weight_sum: float
    v: Array


@dataclass(frozen=True)
class _ScheduleFree(Optimizer):
    """The schedule-free frame: warm-up, averaging weights and the step along y (the
    equations are in :class:`ScheduleFreeSGD`); ``update`` returns y_{t+1} - y_t."""

    weight_decay: float = 0.0
    warmup_steps: int = 0
    r: float = 0.0
    weight_lr_power: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.nonnegative("weight_decay", self.weight_decay, DECAY_FIX)
        _validate.count("warmup_steps", self.warmup_steps)
        _validate.nonnegative("r", self.r, "; 0 weights every iterate alike")
        _validate.nonnegative("weight_lr_power", self.weight_lr_power, "; 2 is customary")

    def _beta(self) -> float:
        raise NotImplementedError

    def _direction(self, g: Array, y: Array, state: Any) -> tuple[Array, tuple[Array, ...]]:
        """u_t, the direction z moves against, and the rule's extra state arrays."""
        raise NotImplementedError

    def _gamma(self, t: int) -> float:
        warm = (t + 1) / self.warmup_steps if t < self.warmup_steps else 1.0
        return self.rate(t) * warm

    def constrained(self, project: Callable[[Array], Array]) -> Optimizer:
        raise ValueError(
            f"{type(self).__name__} cannot take project=: it keeps its own sequences z and "
            "x, which projecting y alone would leave behind; use a method such as 'adam' "
            "or 'dog' with project=, or add a penalty to fun"
        )

    def solution(self, x: Array, state: Any) -> Array:
        return state.x

    def update(self, grad, state, x=None, fun=None, f=None):
        t, beta, lr = state.t, self._beta(), self._gamma(state.t)
        lr_max = max(lr, state.lr_max)
        weight = ((t + 1) ** self.r) * (lr_max**self.weight_lr_power)
        weight_sum = state.weight_sum + weight
        c = weight / weight_sum if weight_sum else 0.0
        y = (1 - beta) * state.z + beta * state.x if x is None else x  # where g was taken
        u, extra = self._direction(self.clip(grad), y, state)
        z = state.z - lr * u
        x_avg = (1 - c) * state.x + c * z
        y_next = (1 - beta) * z + beta * x_avg
        return y_next - y, type(state)(t + 1, lr, z, x_avg, lr_max, weight_sum, *extra)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (gamma_t), grad (clipped), direction (u_t), weight (c_{t+1}), z, average (x_{t+1})."""
        weight = ((state.t + 1) ** self.r) * (new_state.lr_max**self.weight_lr_power)
        c = weight / new_state.weight_sum if new_state.weight_sum else 0.0
        g, beta = self.clip(grad), self._beta()
        y = (1 - beta) * state.z + beta * state.x if x is None else x
        parts = {"lr": new_state.lr, "grad": g, "direction": self._direction(g, y, state)[0]}
        return parts | {"weight": c, "z": new_state.z, "average": new_state.x}


@dataclass(frozen=True)
class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-free SGD (Defazio et al., 2024): momentum as interpolation, a schedule as
    averaging. With beta = ``momentum`` and u_t = g_t + weight_decay * y_t:

    y_t = (1 - beta) * z_t + beta * x_t;  z_{t+1} = z_t - gamma_t * u_t;
    x_{t+1} = (1 - c_{t+1}) * x_t + c_{t+1} * z_{t+1},  c_{t+1} = w_{t+1} / sum_{i<=t+1} w_i;
    w_{t+1} = (t + 1)**r * (max_{i<=t} gamma_i)**weight_lr_power,
    gamma_t = lr_t * min(1, (t + 1) / warmup_steps); from z_0 = x_0 = y_0 = x0.

    Parameters
    ----------
    lr : float or callable
        The SGD step gamma on z; 1.0 is ``schedulefree``'s default. On a quadratic of
        curvature L, lr <= 2 / L never overshoots; up to 2 / ((1 - momentum) * L) the
        run converges after a transient that grows with lr; beyond, it diverges.
    momentum : float
        beta: how far y sits from z toward the average x.
    weight_decay : float
        L2 penalty ``weight_decay * y`` added to the gradient.
    warmup_steps : int
        Updates of linear warm-up of gamma (0: none); the averaging weights follow the
        largest gamma so far, raised to ``weight_lr_power``.
    r : float
        Polynomial weighting (t + 1)**r of the average (0: uniform).
    clip_norm : float, optional
        Caps the gradient's norm before the rule sees it.

    Notes
    -----
    The loop's point is y, where gradients are taken: ``history.x``, ``history.f``, the callback
    and the stopping rules see y. ``res.x`` is the average x, the point the paper evaluates,
    with ``res.fun`` and ``res.grad`` evaluated there. gtol on y can fire early or never: on
    Rosenbrock (lr 0.005) y met gtol=1e-6 with x still 2e-3 from the minimum, while AdamW's y
    kept ||g|| near 0.3 as x came within 1e-4; so budget these runs by ``max_iter`` (a larger
    ``r`` helps x keep up), and read ``res.grad``. Follows ``schedulefree`` 1.4.1's
    ``SGDScheduleFree``, which keeps y and z and recovers x in ``eval()``; this keeps z and x,
    the same iterates in exact arithmetic. momentum = 0 is allowed (y = z: SGD with an average);
    the reference, dividing by it in ``eval()``, needs it > 0. A projection is refused.

    References
    ----------
    Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled",
    NeurIPS 2024. Code: https://github.com/facebookresearch/schedule_free

    Examples
    --------
    >>> import numpy as np
    >>> opt, y = ScheduleFreeSGD(lr=0.5), np.array([1.0])
    >>> state = opt.init(y)
    >>> for _ in range(2):  # f = y**2 / 2, g = y: z = 0.5 then 0.25, c = 1 then 1/2
    ...     step, state = opt.update(y, state, y)
    ...     y = y + step
    >>> state.x, y  # x = (0.5 + 0.25) / 2;  y = 0.1 * 0.25 + 0.9 * 0.375
    (array([0.375]), array([0.3625]))
    """

    name: ClassVar[str] = "schedulefree_sgd"
    when: ClassVar[str] = "sgd with no decay schedule to plan: answers with an average"
    lr: LearningRate = 1.0
    momentum: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.in_unit_interval("momentum", self.momentum)

    def _beta(self) -> float:
        return self.momentum

    def init(self, x: Array) -> ScheduleFreeState:
        return ScheduleFreeState(0, self._gamma(0), copy(x), copy(x), 0.0, 0.0)

    def _direction(self, g, y, state):
        return (g + self.weight_decay * y if self.weight_decay else g), ()


@dataclass(frozen=True)
class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-free AdamW (Defazio et al., 2024): schedule-free SGD on the gradient
    divided by Adam's bias-corrected root mean square. With beta = ``beta1``:

    v_{t+1} = beta2 * v_t + (1 - beta2) * g_t**2  (v_0 = 0);
    u_t = g_t / (sqrt(v_{t+1} / (1 - beta2**(t+1))) + eps) + weight_decay * y_t;
    then z, x and y move as in :class:`ScheduleFreeSGD`.

    Parameters
    ----------
    lr : float or callable
        The step gamma on z; 0.0025 is ``schedulefree``'s default.
    beta1 : float
        beta, the interpolation weight; there is no first moment.
    beta2 : float
        Decay of the second moment v.
    eps : float
        Added outside the square root of the bias-corrected v.
    weight_decay : float
        Decay ``weight_decay * y``, added after the normalisation (AdamW-style, at y).
    warmup_steps, r, weight_lr_power, clip_norm
        As in :class:`ScheduleFreeSGD`.

    Notes
    -----
    Follows ``schedulefree`` 1.4.1's ``AdamWScheduleFree``: only v is bias-corrected, eps sits
    outside the root, and the decay is taken at y. As with :class:`ScheduleFreeSGD`, the loop
    (history, callback, stopping rules) sees y, ``res.x`` is the average x, evaluated afresh,
    and a projection is refused.

    References
    ----------
    Defazio et al., "The Road Less Scheduled", NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> opt, y = ScheduleFreeAdamW(lr=0.1, eps=1e-300), np.array([2.0, -0.5])
    >>> step, state = opt.update(y, opt.init(y), y)  # u_0 = sign(g_0): z = y - 0.1 sign(g)
    >>> state.x
    array([ 1.9, -0.4])
    """

    name: ClassVar[str] = "schedulefree_adamw"
    when: ClassVar[str] = "adamw with no decay schedule to plan: answers with an average"
    lr: LearningRate = 0.0025
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_moments(self)

    def _beta(self) -> float:
        return self.beta1

    def init(self, x: Array) -> ScheduleFreeAdamWState:
        return ScheduleFreeAdamWState(0, self._gamma(0), copy(x), copy(x), 0.0, 0.0, zeros_like(x))

    def _direction(self, g, y, state):
        v = self.beta2 * state.v + (1 - self.beta2) * (g * g)
        u = g / (namespace(v).sqrt(v / (1 - self.beta2 ** (state.t + 1))) + self.eps)
        return (u + self.weight_decay * y if self.weight_decay else u), (v,)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """ScheduleFreeSGD's parts, plus second_moment (v_{t+1})."""
        return super().parts(grad, state, new_state, step, x) | {"second_moment": new_state.v}
