"""Learning-rate-free rules: DoG, Prodigy, and schedule-free SGD and AdamW.

DoG and Prodigy estimate the step size from the distance travelled from ``x0``: their
``lr`` multiplies that estimate (1.0 is the method as published). The schedule-free rules
(:mod:`descend.core.optimizers.schedule_free`, whose names this module gives too) average
instead of decaying. Each follows its authors' PyTorch code (``dog-optimizer`` 1.0.3,
``prodigyopt`` 1.1.2, ``schedulefree`` 1.4.1; see ``benchmarks/free_conformance.py``);
Notes say where it departs from the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import copy, dot, namespace, vector_norm, zeros_like

from .base import Optimizer
from .first_order import DECAY_FIX, EPS_FIX
from .schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD

__all__ = ["DoG", "Prodigy", "ScheduleFreeAdamW", "ScheduleFreeSGD"]


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
