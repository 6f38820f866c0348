"""Learning-rate-free rules: DoG, Prodigy, and schedule-free SGD and AdamW.

DoG and Prodigy estimate the step size from the distance travelled from ``x0``: their
``lr`` multiplies that estimate (1.0 is the method as published). The schedule-free rules
average instead of decaying: the gradient is taken at ``y``, between an SGD sequence ``z``
and its average ``x``; the loop moves along ``y`` and the run answers with ``x``. Each
follows its authors' PyTorch code (``dog-optimizer`` 1.0.3, ``prodigyopt`` 1.1.2,
``schedulefree`` 1.4.1; see ``benchmarks/free_conformance.py``); Notes say where it departs
from the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import copy, dot, namespace, vector_norm, zeros_like

from .base import Optimizer
from .first_order import EPS_FIX

__all__ = ["DoG", "Prodigy", "ScheduleFreeAdamW", "ScheduleFreeSGD"]

DECAY_FIX = "; 0 turns the decay off"


def _point(opt: Optimizer, x: Array | None) -> Array:
    if x is None:
        raise TypeError(f"{type(opt).__name__} needs the current point x: its step reads x - x0")
    return x


class DoGState(NamedTuple):
    t: int
    lr: float  # eta_t, the last step size (NaN before the first: it needs g_0)
    x0: Array
    rbar: float  # max(r_eps, max_i ||x_i - x0||)
    G: float  # eps + sum_i ||g_i||^2


@dataclass(frozen=True)
class DoG(Optimizer):
    """Distance over Gradients (Ivgi, Hinder & Carmon, 2023): SGD with a step size set by
    the distance travelled over the root sum of squared gradient norms.

    r_eps = r_epsilon * (1 + ||x_0||);  rbar_t = max(r_eps, max_{i<=t} ||x_i - x_0||);
    eta_t = lr * rbar_t / sqrt(eps + sum_{i<=t} ||g_i||**2);  x_{t+1} = x_t - eta_t * g_t.

    Parameters
    ----------
    lr : float or callable
        A multiplier on DoG's step size (c in the paper); 1.0, which the authors advise
        keeping, is DoG itself.
    r_epsilon : float
        The first step's length relative to ``1 + ||x0||``: small, so it cannot diverge
        (the authors suggest 1e-4 for models with batch normalisation).
    eps : float
        Added once to the sum of squared gradient norms: a zero first gradient is safe.
    weight_decay : float
        L2 penalty: ``weight_decay * x`` is added to the (clipped) gradient.
    clip_norm : float, optional
        Caps the gradient's norm before the rule sees it.

    Notes
    -----
    Follows ``dog-optimizer`` 1.0.3's ``DoG`` with all of x as one block, and its
    conventions: r_eps relative to the start, ``reps_rel * (1 + ||x0||)`` (``r_epsilon``
    here), and ``eps``, which the paper's rule lacks, added to the sum of ``||g||**2``
    (``eps=1e-300`` gives the paper's rule). Not offered: ``init_eta`` and the per-layer LDoG. The
    authors recommend averaging the iterates; this rule does not, so the history and
    ``res.x`` are the last iterate x_t. ``history.lr`` holds eta_t; its first entry is
    NaN, as eta_0 needs the first gradient.

    References
    ----------
    Ivgi, Hinder & Carmon, "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
    Size Schedule", ICML 2023. Code: https://github.com/formll/dog

    Examples
    --------
    >>> import numpy as np
    >>> opt, x = DoG(r_epsilon=0.1, eps=1e-300), np.array([3.0, 4.0])
    >>> step, state = opt.update(x, opt.init(x), x)  # eta_0 = 0.1 * (1 + 5) / ||g_0|| = 0.12
    >>> state.lr, step
    (0.12, array([-0.36, -0.48]))
    """

    name: ClassVar[str] = "dog"
    when: ClassVar[str] = "stochastic training with no lr to tune: the mini-batch default"
    lr: LearningRate = 1.0
    r_epsilon: float = 1e-6
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate.positive("r_epsilon", self.r_epsilon, "; 1e-6 is customary (1e-4 with BatchNorm)")
        _validate.positive("eps", self.eps, "; 1e-8 is customary, 1e-300 gives the paper's rule")
        _validate.nonnegative("weight_decay", self.weight_decay, DECAY_FIX)

    def init(self, x: Array) -> DoGState:
        x0 = copy(x)
        return DoGState(0, math.nan, x0, self.r_epsilon * (1 + vector_norm(x0)), self.eps)

    def update(self, grad, state, x=None, fun=None, f=None):
        x = _point(self, x)
        g = self.clip(grad)
        if self.weight_decay:
            g = g + self.weight_decay * x
        rbar = max(state.rbar, vector_norm(x - state.x0))  # the farthest from x0 so far
        G = state.G + dot(g, g)  # eps + sum of ||g_i||^2
        eta = self.rate(state.t) * rbar / math.sqrt(G)
        return -eta * g, DoGState(state.t + 1, eta, state.x0, rbar, G)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (eta_t), grad (clipped, plus weight_decay * x), rbar, grad_sum (G): step -lr grad."""
        g = self.clip(grad)
        g = g + self.weight_decay * _point(self, x) if self.weight_decay else g
        return {"lr": new_state.lr, "grad": g, "rbar": new_state.rbar, "grad_sum": new_state.G}


class ProdigyState(NamedTuple):
    t: int
    lr: float  # d_k * gamma_k: the multiplier of the last step
    d: float  # the distance estimate d_k
    d_max: float  # the largest estimate d_hat so far (or d0)
    r: float  # numerator: discounted sum of weighted <g_i, x0 - x_i>
    x0: Array
    m: Array
    v: Array
    s: Array


@dataclass(frozen=True)
class Prodigy(Optimizer):
    """Prodigy (Mishchenko & Defazio, 2024), Adam version: Adam whose step is scaled by
    d, a lower estimate of the distance to the solution that only grows.

    With gamma_k = lr_k (times sqrt(1 - beta2**(k+1)) / (1 - beta1**(k+1)) if
    ``use_bias_correction``), beta3 = sqrt(beta2) unless given, and delta = d_k * gamma_k
    (d_k alone with ``safeguard_warmup``):

    m <- beta1 * m + (1 - beta1) * d_k * g_k;  v <- beta2 * v + (1 - beta2) * d_k**2 * g_k**2;
    r <- beta3 * r + (d_k / d0) * d_k * gamma_k * <g_k, x_0 - x_k>;
    s <- beta3 * s + (d_k / d0) * delta * g_k;
    d_hat = d_coef * r / ||s||_1;  d_max <- max(d_max, d_hat);
    d_{k+1} = min(d_max, growth_rate * d_k), with d_k first raised to d_hat while it is d0;
    x_{k+1} = x_k - d_k * gamma_k * (m / (sqrt(v) + d_{k+1} * eps) + weight_decay * x_k).

    Parameters
    ----------
    lr : float or callable
        A multiplier on the estimated step d; 1.0 is Prodigy itself.
    beta1, beta2, beta3 : float
        Adam's moment decays (beta1 = 0 steps along g itself), and that of r and s
        (None: sqrt(beta2)).
    eps : float
        Adam's eps, scaled by d, outside the square root.
    weight_decay : float
        Decay of x scaled by d_k * gamma_k; with ``decouple=False``, an L2 term
        ``weight_decay * x`` added to the gradient instead.
    decouple, use_bias_correction, safeguard_warmup : bool
        As in ``prodigyopt``: decoupled decay (True), Adam's bias correction (False), and
        s without lr, against a d that overshoots during a warm-up schedule (False).
    d0 : float
        The first estimate of d, rarely changed.
    d_coef : float
        Scales every estimate d_hat: the knob the authors suggest tuning (0.5 to 2).
    growth_rate : float
        d grows at most by this factor a step (inf: no limit; 1.02 acts as a warm-up).
    clip_norm : float, optional
        Caps the gradient's norm before the rule sees it.

    Notes
    -----
    Follows ``prodigyopt`` 1.1.2 (one parameter group). Against the paper's Adam version: the
    step's eps is scaled by the updated d_{k+1}, not d_k; r and s drop the factor 1 - beta3 and
    carry 1 / d0, common factors that cancel in d_hat; ``d_coef``, ``growth_rate``,
    ``safeguard_warmup``, weight decay and bias correction are the code's additions; with
    beta1 = 0 the step's m is d_{k+1} * g. While every gradient so far is zero (||s||_1 = 0)
    nothing moves and d stays. Not offered: ``slice_p`` and sharded (FSDP) sums. The history
    records the iterates x_k, and ``history.lr`` the multiplier d_k * gamma_k.

    References
    ----------
    Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner",
    ICML 2024. Code: https://github.com/konstmish/prodigy

    Examples
    --------
    >>> import numpy as np
    >>> opt, x = Prodigy(), np.array([1.0, -2.0])
    >>> step, state = opt.update(np.array([0.5, -4.0]), opt.init(x), x)
    >>> np.round(step / state.lr, 4)  # -0.1 g / (sqrt(0.001) |g| + eps): d cancels
    array([-3.1623,  3.1623])
    """

    name: ClassVar[str] = "prodigy"
    when: ClassVar[str] = "adam-style training with no lr to tune: it estimates the distance"
    lr: LearningRate = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    beta3: float | None = None
    eps: float = 1e-8
    weight_decay: float = 0.0
    decouple: bool = True
    use_bias_correction: bool = False
    safeguard_warmup: bool = False
    d0: float = 1e-6
    d_coef: float = 1.0
    growth_rate: float = math.inf

    def __post_init__(self) -> None:
        super().__post_init__()
        for beta in ("beta1", "beta2") + (() if self.beta3 is None else ("beta3",)):
            _validate.in_unit_interval(beta, getattr(self, beta))
        _validate.positive("eps", self.eps, EPS_FIX)
        _validate.nonnegative("weight_decay", self.weight_decay, DECAY_FIX)
        for flag in ("decouple", "use_bias_correction", "safeguard_warmup"):
            _validate.boolean(flag, getattr(self, flag))
        _validate.positive("d0", self.d0, "; 1e-6 is customary: it only sets the first steps")
        _validate.positive("d_coef", self.d_coef, "; 1.0 is Prodigy, 0.5 to 2 are typical")
        if not _validate.real_number("growth_rate", self.growth_rate) >= 1:
            raise ValueError(
                f"growth_rate must be a number >= 1, got {self.growth_rate!r}; use inf for "
                "no limit, or about 1.02 for a warm-up"
            )

    def _bias(self, k: int) -> float:
        """Adam's bias correction for update k (counted from 1), when it is on."""
        if not self.use_bias_correction:
            return 1.0
        return ((1 - self.beta2**k) ** 0.5) / (1 - self.beta1**k)

    def init(self, x: Array) -> ProdigyState:
        x0 = copy(x)
        zeros = zeros_like(x0)
        lr = self.d0 * self.rate(0) * self._bias(1)
        return ProdigyState(0, lr, self.d0, self.d0, 0.0, x0, zeros, zeros, zeros)

    def update(self, grad, state, x=None, fun=None, f=None):
        x = _point(self, x)
        beta1, beta2, d, d0 = self.beta1, self.beta2, state.d, self.d0
        beta3 = math.sqrt(beta2) if self.beta3 is None else self.beta3
        dlr = d * self.rate(state.t) * self._bias(state.t + 1)  # d_k * gamma_k
        g = self.clip(grad)
        if self.weight_decay and not self.decouple:
            g = g + self.weight_decay * x
        r = beta3 * state.r + (d / d0) * dlr * dot(g, state.x0 - x)
        m = beta1 * state.m + (d * (1 - beta1)) * g  # first moment, in units of d
        v = beta2 * state.v + (d * d * (1 - beta2)) * (g * g)  # second moment, of d**2
        s = beta3 * state.s + ((d / d0) * (d if self.safeguard_warmup else dlr)) * g
        xp = namespace(s)
        norm_s = float(xp.sum(xp.abs(s)))
        if norm_s == 0:  # no gradient yet: no estimate and no step, as prodigyopt does
            kept = ProdigyState(state.t + 1, dlr, d, state.d_max, state.r, state.x0, m, v, s)
            return zeros_like(g), kept
        d_hat = self.d_coef * r / norm_s
        if d == d0:
            d = max(d, d_hat)
        d_max = max(state.d_max, d_hat)
        d = min(d_max, d * self.growth_rate)  # d_{k+1}
        denom = xp.sqrt(v) + d * self.eps
        step = -dlr * m / denom if beta1 > 0 else (-dlr * d) * g / denom
        if self.weight_decay and self.decouple:
            step = step - (self.weight_decay * dlr) * x
        return step, ProdigyState(state.t + 1, dlr, d, d_max, r, state.x0, m, v, s)

    def parts(self, grad, state, new_state, step, x=None, trials=()):
        """lr (d_k gamma_k), grad (clipped; plus weight_decay * x unless ``decouple``), d
        (d_{k+1}), d_max, first_moment, second_moment, effective_lr = lr / (sqrt(v) + d eps)
        and decay: step = -effective_lr * first_moment + decay (d * grad for m if beta1 = 0)."""
        x, lr, d, v = _point(self, x), new_state.lr, new_state.d, new_state.v
        g = self.clip(grad)
        g = g + self.weight_decay * x if self.weight_decay and not self.decouple else g
        xp = namespace(v)
        moved = self.decouple and bool(xp.any(new_state.s != 0))  # no step while every g is 0
        decay = -(self.weight_decay * lr) * x if moved else zeros_like(x)
        parts = {"lr": lr, "grad": g, "d": d, "d_max": new_state.d_max, "decay": decay}
        eff = lr / (xp.sqrt(v) + d * self.eps)
        return parts | {"first_moment": new_state.m, "second_moment": v, "effective_lr": eff}


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
        _validate.in_unit_interval("beta1", self.beta1)
        _validate.in_unit_interval("beta2", self.beta2)
        _validate.positive("eps", self.eps, EPS_FIX)

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
