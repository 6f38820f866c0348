"""The curvature L behind every learning-rate suggestion of :func:`~descend.diagnose`.

Gradient descent is stable only for lr < 2/L (2(1 + mu)/L with heavy-ball momentum mu),
L the largest |eigenvalue| of f's Hessian, so a suggested learning rate needs L, which a
run does not record. It is estimated, the more trustworthy way first:

- with a trusted gradient function g (``grad``, or central differences of ``fun``), as
  the largest |eigenvalue| of the Hessian by power iteration with Hessian-vector
  products Hv ~ (g(x + hv) - g(x - hv)) / 2h, at the start and, for a run that did not
  diverge, also halfway and at the end (the largest of them: the step must suit every
  place the run passes, and a start at an inflection, where the Hessian is 0, says
  nothing);
- otherwise as a secant L ~ ||g_k - g_(k-1)|| / ||x_k - x_(k-1)|| along the first
  recorded steps, with the gradients recovered from the steps of gradient descent, line
  searches and momentum (not of the adaptive methods, and not under ``clip_norm``).

Notes
-----
A diverged run is probed near its start only, where the trouble began: it ends far
away, where a non-quadratic f may be far more curved. The start is x0 when the history holds the
iterates, else the final point. A secant sees the curvature along the path only, so it
is a lower bound on the largest one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.result import Status
from descend.gradients.numeric import numeric_grad

from .evidence import FAILURES, GD_LIKE, MOMENTUM, Run

__all__ = [
    "GRAD_CHECK_MAX_SIZE",
    "Curvature",
    "power_curvature",
    "secant_curvature",
    "trusted_gradient",
]

# The gradient is compared with central differences only up to this many coordinates:
# that costs 2n evaluations of fun, small next to a run of hundreds of updates. Above
# it, fun is not differenced for the curvature either.
GRAD_CHECK_MAX_SIZE = 100
# Secants are taken over the first steps only: later points of a diverged run lie far
# away, where a non-quadratic f may be far more curved than where the trouble began.
PROBE_STEPS = 10
# A secant counts only where the step and the change of gradient exceed this share of
# x's and g's size: below it, rounding in x and g is a visible part of the difference.
SECANT_NOISE = 1e-6
# Power iteration converges at the ratio of the two largest |eigenvalues|; 50 rounds
# settle ratios up to ~0.87 to 1e-3, which is all a learning-rate suggestion needs.
POWER_ITERATIONS = 50
POWER_RTOL = 1e-3

_EPS = float(np.finfo(np.float64).eps)


def trusted_gradient(run: Run, fun: Any, grad: Any) -> Callable[[Array], Array] | None:
    """A flat gradient function to difference for curvature, or None."""
    shape = run.shape
    if callable(grad):  # checked and correct, or unchecked and given in good faith
        return lambda z: np.asarray(grad(z.reshape(shape)), dtype=float).reshape(-1)
    if fun is not None and run.x_final.size <= GRAD_CHECK_MAX_SIZE:
        return lambda z: numeric_grad(fun, z.reshape(shape)).reshape(-1)
    return None


class Curvature:
    """L, the local curvature, with how it was found; computed once, on first use."""

    def __init__(self, run: Run, gradient: Callable[[Array], Array] | None) -> None:
        self.run, self.gradient = run, gradient

    @functools.cached_property
    def value(self) -> tuple[float, str] | None:
        if self.gradient is not None:
            run = self.run
            points = [run.start()]
            if run.x is not None and run.status is not Status.DIVERGED and run.nit >= 2:
                points += [run.x[run.nit // 2], run.x_final]  # along the run
            found = [power_curvature(self.gradient, point) for point in points]
            estimates = [estimate for estimate in found if estimate is not None]
            where = "x0" if run.x is not None else "the final point"
            where += " and along the run" if len(points) > 1 else ""
            if estimates:
                return max(estimates), f"Hessian-vector products at {where}"
        estimate = _secant_curvature(self.run)
        return None if estimate is None else (estimate, "secants along the first steps")


def power_curvature(gradient: Callable[[Array], Array], x: Array) -> float | None:
    """max |eigenvalue| of the Hessian at x by power iteration, Hv by central differences.

    ``gradient`` maps a flat x to a flat gradient; None when it fails or the Hessian is 0.

    >>> round(power_curvature(lambda x: [2.0, 20.0] * x, np.ones(2)), 6)
    20.0
    """
    # Central differences of g: truncation O(h^2), rounding O(eps/h); h ~ eps^(1/3)
    # balances them, scaled by max(1, ||x||) like numeric_grad's steps.
    h = _EPS ** (1 / 3) * max(1.0, float(np.linalg.norm(x)))
    v = np.random.default_rng(0).standard_normal(x.size)  # fixed seed: repeatable advice
    v /= np.linalg.norm(v)
    estimate = None
    for _ in range(POWER_ITERATIONS):
        try:
            with np.errstate(all="ignore"):
                hv = (np.asarray(gradient(x + h * v)) - gradient(x - h * v)) / (2 * h)
        except FAILURES:
            return None
        size = float(np.linalg.norm(hv))
        if not (math.isfinite(size) and size > 0):
            return None
        v = hv / size
        if estimate is not None and abs(size - estimate) <= POWER_RTOL * size:
            return size
        estimate = size
    return estimate


def secant_curvature(x0: Array, g0: Array, x1: Array, g1: Array) -> float | None:
    """L ~ ||g1 - g0|| / ||x1 - x0||: the curvature seen along one step (None if unknown)."""
    dx = float(np.linalg.norm(x1 - x0))
    dg = float(np.linalg.norm(g1 - g0))
    return dg / dx if dx > 0 and math.isfinite(dg) and dg > 0 else None


def _secant_curvature(run: Run) -> float | None:
    """The first clear secant ||g_k - g_(k-1)|| / ||x_k - x_(k-1)||.

    The first, because a diverging path soon reaches places far more curved than the
    start; a clear one, whose step and gradient change stand well above rounding
    (SECANT_NOISE relative), because a secant of noise can claim any curvature.
    """
    g = _recovered_gradients(run, PROBE_STEPS + 1)
    if g is None or run.x is None:
        return None
    x = run.x[: len(g)]
    for k in range(1, len(g)):
        dx, dg = np.linalg.norm(x[k] - x[k - 1]), np.linalg.norm(g[k] - g[k - 1])
        clear_x = dx > SECANT_NOISE * max(np.linalg.norm(x[k]), np.finfo(float).tiny)
        clear_g = dg > SECANT_NOISE * max(np.linalg.norm(g[k]), np.finfo(float).tiny)
        estimate = secant_curvature(x[k - 1], g[k - 1], x[k], g[k])
        if clear_x and clear_g and estimate is not None and math.isfinite(estimate):
            return estimate
    return None


def _recovered_gradients(run: Run, count: int) -> Array | None:
    """g_0, g_1, ... (at most ``count``) recovered from the recorded steps, where the
    update rule allows it.

    Gradient descent and the line searches step s_k = x_k - x_(k-1) = -lr_k g_(k-1);
    heavy ball has v_k = s_k = mu v_(k-1) - lr_k g_(k-1); Nesterov steps
    s_k = (1 + mu) v_k - mu v_(k-1) with the same v. The last point's gradient is res.grad.
    """
    if run.x is None or run.nit < 1 or run.clipped:
        return None
    if run.method not in GD_LIKE + MOMENTUM:
        return None
    x = run.x[: count + 1]
    steps, lr, mu = np.diff(x, axis=0), run.lr[1 : count + 1], run.momentum
    with np.errstate(all="ignore"):
        if run.method in GD_LIKE:
            g = -steps / lr[:, None]
        else:
            g, v_prev = np.empty_like(steps), np.zeros(steps.shape[1])
            for k, (s, a) in enumerate(zip(steps, lr, strict=True)):
                v = s if run.method == "momentum" else (s + mu * v_prev) / (1 + mu)
                g[k], v_prev = (mu * v_prev - v) / a, v
    if len(x) == len(run.x) and np.array_equal(x[-1], run.x_final):
        g = np.vstack([g, run.grad_final])
    return g
