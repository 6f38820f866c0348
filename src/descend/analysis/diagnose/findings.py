"""Why a run failed and what to do about it.

:func:`diagnose` reads a :class:`~descend.Result` (its status, optimizer and history)
and returns findings a person can act on, most important first:

- ``wrong_gradient_sign``, ``gradient_scale``, ``gradient_mismatch``: ``grad`` disagrees
  with central differences of ``fun`` at a visited point (needs ``fun`` and ``grad``);
- ``nan_at_nondifferentiable_point``: f or the gradient became NaN or infinite while f
  was still falling: a kink (``abs``, ``sqrt(x**2)`` at 0) or the edge of f's domain;
- ``unbounded_below``: f fell to -inf, a millionfold, or steadily along a fixed
  direction: it has no minimum along the path (:mod:`.unbounded`);
- ``lr_too_large``: f blew up or rose; with a curvature estimate L the advice is
  lr < 2/L for gradient descent (2(1 + mu)/L with heavy-ball momentum mu);
- ``f_rising``: f rose from the first update though lr looks small: suspect the gradient;
- ``schedule_ended``: the lr schedule reached its floor and the run slowed (:mod:`.schedule`);
- ``oscillation``: successive steps point against each other, update after update;
- ``plateau``: the budget ran out while f crept down;
- ``max_iter``, ``stopped``, ``converged``: how the run ended, when nothing above applies.

Curvature, the number behind every learning-rate suggestion, is estimated in
:mod:`descend.analysis.diagnose.curvature`: by power iteration on the Hessian at the start
(and along the run) when a trusted gradient function is at hand, else by secants along
the first steps. A learning rate is offered only once a short trial run with it has made
progress (:mod:`.trials`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.result import Result, Status
from descend.gradients.numeric import numeric_grad

from .curvature import GRAD_CHECK_MAX_SIZE, Curvature, trusted_gradient
from .diagnosis import Diagnosis, Finding
from .evidence import FAILURES, MOMENTUM, Run
from .schedule import schedule_ended
from .trials import Offer, trial_updates
from .unbounded import falling_steadily, falling_without_bound, to_infinity

__all__ = ["Diagnosis", "Finding", "diagnose"]

# check_grad's scale: a correct gradient gives ~1e-9 with central differences, a wrong
# one 1e-2 or more; 1e-3 leaves room for badly scaled or nearly non-smooth functions.
GRAD_RTOL = 1e-3
# cos(grad, finite differences) below -0.9: the gradient points uphill (a flipped sign
# gives -1); above 0.99 it points the right way and only its length is wrong.
WRONG_SIGN_COSINE = -0.9
PARALLEL_COSINE = 0.99
# Trends (oscillation, slow progress) are read over the last RECENT updates.
RECENT = 10
# Gradient descent reverses its step every update only while lr * L > 1 in the direction
# that dominates the step, i.e. lr is past half its stability limit; a damped zigzag
# or underdamped momentum reverses far less often than 8 times in 10.
OSCILLATION_SHARE = 0.8
# Under 1% of f per update: halving f would take about 70 more updates, slow for a
# first-order method whose budget has just run out.
SLOW_RATE = 1e-2
# A gradient a million times smaller than at the start is nearly stationary, not stuck.
NEAR_STATIONARY = 1e-6


def diagnose(
    result: Result,
    fun: Callable[..., Any] | None = None,
    grad: Callable[..., Any] | str | None = None,
    *,
    maximize: bool | None = None,
) -> Diagnosis:
    r"""Explain how a run ended and what to change, from its status and history.

    The checks, in order of importance:

    1. With ``fun`` and a callable ``grad``: at a visited point (x0 when the history
       holds the iterates) compare g = grad(x) with central differences g~ of ``fun``:
       cos(g, g~) < -0.9 means the sign is wrong, a parallel g with ||g|| / ||g~|| away
       from 1 a missing factor, and a relative error ||g - g~|| / max(||g||, ||g~||) above
       1e-3 a wrong component.
    2. f or the gradient became NaN or infinite while f was not rising: a kink or the
       edge of f's domain, to be guarded with an epsilon.
    3. f blew up or ended above its start: the learning rate is too large. With the
       local curvature L, gradient descent on f is stable only for

       .. math::

           \text{lr} < \frac{2}{L}, \qquad \text{momentum } \mu:\ \text{lr} < \frac{2(1+\mu)}{L},
           \qquad \text{Nesterov}:\ \text{lr} < \frac{2(1+\mu)}{(1+2\mu) L},

       and half the bound (1/L for gradient descent) is suggested. A rise from the
       first update at lr below half the bound points at the gradient instead.
    4. Successive steps reversing direction (s_k . s_(k-1) < 0) in 8 of the last 10
       updates: oscillation.
    5. The budget ran out while f fell by under 1% per update: slow progress.

    Every learning rate offered is tried first: a short run from x0 with the same method
    (at most 200 updates, and a tenth of the run's but at least 10), offered when f fell
    clearly without diverging or bouncing, else halved and tried again (at most 5 trials).
    ``Finding.lr`` is that tried rate, and the suggestion says what its trial did.

    Parameters
    ----------
    result : Result
        What :func:`descend.minimize` returned.
    fun : callable, optional
        The objective, called as ``fun(x)`` with ``x`` shaped like ``x0``; with ``grad``
        it lets the gradient be checked (when x has at most 100 elements), and alone it
        gives the curvature by finite differences.
    grad : callable or "numeric", optional
        The gradient the run used. ``"numeric"`` says the run used finite differences,
        which are then trusted.
    maximize : bool, optional
        Whether the run maximised ``fun``; by default what the result records.

    Returns
    -------
    Diagnosis
        ``.findings`` (at least one), ``.main``, and a readable ``str``.

    Raises
    ------
    TypeError
        If ``result`` is not a Result, or ``fun`` or ``grad`` is not callable.

    Notes
    -----
    Conventions. ``fun`` and ``grad`` are evaluated only when given: about 2n + 2
    evaluations for the gradient check, up to 100 gradients for each curvature probe
    (at x0, and halfway and at the end of a run that did not diverge) and the trials.
    Without ``fun``, or without recorded iterates (the trials start from x0), or in data
    mode (the trials would not run on the same batches), no trial can run, and the
    suggestion names the direction ("a smaller lr") without a number: an untried number
    is a guess (1/L from a secant at an inflection point can be 200 times too large).
    The failed run's message is such a case when the run ended below its start: its
    adviser gets no ``fun``; ``dd.diagnose(res, fun, grad)`` tries one.
    Without them, the curvature comes from secants along the recorded iterates, whose
    gradients are recovered from the steps of gradient descent, line searches and
    momentum (not of the adaptive methods, and not under ``clip_norm``). A secant sees
    the curvature along the path only, so it is a lower bound on the largest one.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
    ch. 3 (step lengths) and 8 (derivative checks).

    B. T. Polyak, "Some methods of speeding up the convergence of iteration methods",
    *USSR Comp. Math. and Math. Phys.* 4(5), 1-17, 1964 (the momentum bound).

    Examples
    --------
    >>> import descend as dd
    >>> from descend.analysis.diagnose import diagnose
    >>> res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=1.1)
    >>> finding = diagnose(res, lambda x: x**2, lambda x: 2 * x).main
    >>> finding.kind, finding.lr   # L = 2: stable for lr < 1, 1/L = 0.5
    ('lr_too_large', 0.5)
    >>> print(finding.suggestion)
    lr=0.5 (tried: f fell from 25 to 0 in 1 update, converged)
    >>> print(diagnose(res).main.suggestion)   # without fun, no trial: no number
    a smaller lr (dd.diagnose(res, fun, grad) tries one)
    """
    if not isinstance(result, Result):
        raise TypeError(
            f"result must be the Result that descend.minimize returns, got "
            f"{type(result).__name__} {result!r:.60}"
        )
    if fun is not None and not callable(fun):
        raise TypeError(f"fun must be callable as fun(x) or None, got {fun!r:.60}")
    if grad is not None and not callable(grad) and grad != "numeric":
        raise TypeError(f"grad must be callable, 'numeric' or None, got {grad!r:.60}")
    run = Run.of(result, result.maximize if maximize is None else maximize)
    offer = Offer(run, fun, grad if callable(grad) else None, trial_updates(run.nit))
    findings: list[Finding] = []
    check = _check_gradient(run, fun, grad) if fun is not None and callable(grad) else None
    if check is not None and check.finding is not None:
        findings.append(check.finding)
    blowup = _non_finite(run, offer) or falling_without_bound(run) or falling_steadily(run)
    findings += [blowup] if blowup is not None else []
    if check is None or check.finding is None:  # a wrong gradient explains everything else
        curvature = Curvature(run, trusted_gradient(run, fun, grad))
        verified = "" if check is None else f", with a correct gradient (checked at {check.where})"
        rising = None if blowup is not None else _rising(run, curvature, verified, offer)
        findings += [rising] if rising is not None else []
        if rising is None and blowup is None:  # bouncing explains slow progress: one or other
            trend = (
                schedule_ended(run)
                or _oscillation(run, curvature, offer)
                or _plateau(run, curvature, offer)
            )
            findings += [trend] if trend is not None else []
    return Diagnosis(tuple(findings) or (_ending(run),))


# ---------------------------------------------------------------- the gradient check


@dataclass(frozen=True)
class _GradientCheck:
    finding: Finding | None  # None: grad agrees with finite differences
    where: str


def _check_gradient(
    run: Run, fun: Callable[..., Any], grad: Callable[..., Any]
) -> _GradientCheck | None:
    """Compare grad with central differences at the first usable visited point."""
    if run.x_final.size > GRAD_CHECK_MAX_SIZE:
        return None
    candidates = [] if run.x is None else [(0, run.x[0]), (1, run.x[min(1, run.nit)])]
    candidates.append((run.nit, run.x_final))
    for index, point in candidates:
        user = point.reshape(run.shape)
        try:
            with np.errstate(all="ignore"):
                g = np.asarray(grad(user.copy()), dtype=float).reshape(-1)
                g_fd = numeric_grad(fun, user).reshape(-1)
        except FAILURES:
            continue
        if g.shape != g_fd.shape or not (np.isfinite(g).all() and np.isfinite(g_fd).all()):
            continue
        norm, norm_fd = float(np.linalg.norm(g)), float(np.linalg.norm(g_fd))
        if max(norm, norm_fd) == 0.0:
            continue  # a stationary point tells nothing about the gradient
        where = f"{'x0' if index == 0 else f'the point after update {index}'} = {_fmt(point)}"
        return _GradientCheck(_gradient_finding(g, g_fd, norm, norm_fd, where), where)
    return None


def _gradient_finding(
    g: Array, g_fd: Array, norm: float, norm_fd: float, where: str
) -> Finding | None:
    error = float(np.linalg.norm(g - g_fd)) / max(norm, norm_fd)
    cosine = float(g @ g_fd) / (norm * norm_fd) if norm * norm_fd > 0 else 0.0
    ratio = norm / norm_fd if norm_fd > 0 else math.inf
    if cosine < WRONG_SIGN_COSINE:
        scale = "" if 0.9 < ratio < 1.1 else f", and {ratio:.3g} times as long"
        return Finding(
            "wrong_gradient_sign",
            f"the gradient has the wrong sign: at {where}, grad returns approximately -∇f "
            f"(cosine {cosine:.3f} with central differences of fun{scale}), so each update "
            "climbs f",
            "negate grad (return the negative of what it returns now); to climb f on "
            "purpose, keep the true gradient and pass maximize=True",
        )
    if error <= GRAD_RTOL:
        return None
    if cosine > PARALLEL_COSINE:
        return Finding(
            "gradient_scale",
            f"the gradient is off by a factor of about {ratio:.3g}: at {where}, grad "
            f"returns {ratio:.3g} times ∇f from central differences (cosine {cosine:.4f}), "
            f"so every step is {ratio:.3g} times the intended lr * ∇f",
            f"find the extra factor in grad (a missing 1/2 or 1/n, a term counted twice) "
            f"or divide grad by {ratio:.3g}",
        )
    worst = int(np.argmax(np.abs(g - g_fd)))
    return Finding(
        "gradient_mismatch",
        f"grad disagrees with central differences of fun at {where}: relative error "
        f"{error:.2g}, worst in component {worst} (grad {g[worst]:.6g}, finite "
        f"differences {g_fd[worst]:.6g})",
        "fix that component of grad; check it with dd.check_grad(fun, grad, x)",
    )


# ---------------------------------------------------------------- the findings


def _non_finite(run: Run, offer: Offer) -> Finding | None:
    """NaN or inf in f or the gradient while f was not rising: a kink or a domain edge."""
    if run.status is not Status.DIVERGED or run.nit < 1:
        return None
    f_last, g_last = run.f[-1], run.grad_norm[-1]
    x_last = None if run.x is None else run.x[-1]
    if math.isfinite(f_last) and math.isfinite(g_last):
        return None  # f grew: a blow-up, not a bad point
    if x_last is not None and not np.isfinite(x_last).all():
        return None  # x itself overflowed: a blow-up
    if run.f[-2] > run.f[0]:
        return None  # f was climbing before it broke: the step size is to blame
    at = f"at update {run.nit}" + ("" if x_last is None else f" (x = {_fmt(x_last)})")
    guard = "np.sqrt(x**2 + 1e-12) instead of abs(x) or np.sqrt(x**2)"
    if f_last == -math.inf and run.f[-2] < run.f[0]:
        return to_infinity(run, at)
    if not math.isfinite(f_last):
        smaller, lr = offer(run.lr_used / 10, "smaller")
        return Finding(
            "nan_at_nondifferentiable_point",
            f"{run.name} became {f_last} {at}, just after {run.name} = {run.f[-2]:.6g}: "
            "the step left fun's domain (sqrt or log of a negative number, a division by 0)",
            "keep x inside the domain: project it (project=dd.projections.nonnegative() or "
            "dd.projections.box(lower, upper)), guard the formula with an epsilon "
            "(np.sqrt(np.maximum(x, 0)), np.log(np.maximum(x, 1e-12))), or take smaller "
            f"steps: {smaller}",
            lr,
        )
    return Finding(
        "nan_at_nondifferentiable_point",
        f"the gradient became {g_last} {at}, where {run.name} = {f_last:.6g} is finite: "
        "f is not differentiable there (abs, sqrt(x**2) or x**0.5 at 0, norm(x) at x = 0)",
        f"use an epsilon guard, e.g. {guard}, or return a subgradient (0) at the kink",
    )


def _last_finite(f: Array) -> float:
    """The last finite value of a run's f (f[0] is finite): f[-1] itself, unless the run
    ended on a non-finite f, without a pass over a long run's f."""
    if math.isfinite(f[-1]):
        return float(f[-1])
    finite = np.isfinite(f)  # a mask, not a copy of f
    return float(f[len(finite) - 1 - finite[::-1].argmax()])


def _rising(run: Run, curvature: Curvature, verified: str, offer: Offer) -> Finding | None:
    """f blew up or ends above its start: lr too large, or a gradient to suspect."""
    rose = run.nit >= 1 and _last_finite(run.f) > run.f[0]
    if not (run.status is Status.DIVERGED or rose):
        return None
    lr, f0 = run.lr_used, run.f[0]
    highest = np.max(run.f, where=np.isfinite(run.f), initial=-np.inf)
    seen = f"{run.name} rose from {f0:.6g} to {highest:.6g} in {run.nit} {run.steps}"
    seen += " and the run diverged" if run.status is Status.DIVERGED else ""
    factor, estimate = run.stability_factor(), curvature.value
    first = run.f[min(1, run.nit)] > f0
    if factor is not None and estimate is not None:
        L, how = estimate
        limit = factor / L
        if lr < limit / 2 and first and not verified:
            return Finding(
                "f_rising",
                f"{seen}, from the first update on, although lr={lr:g} is well below "
                f"the stability limit {limit:.3g} (L ≈ {L:.3g} from {how}): the gradient "
                "is probably wrong (its sign?)",
                "check it: dd.check_grad(fun, grad, x0), or dd.diagnose(res, fun, grad)",
            )
        # Half the limit (1/L for gradient descent), or a tenth of an lr already below it.
        smaller, tried = offer(limit / 2 if lr > limit else lr / 10, "smaller")
        bound = {"gd": "2/L", "momentum": "2(1+mu)/L", "nesterov": "2(1+mu)/((1+2mu)L)"}
        formula = bound.get(run.method, "2/L")
        return Finding(
            "lr_too_large",
            f"lr={lr:g} is too large: {seen}{verified}; the curvature is about L ≈ {L:.3g} "
            f"({how}), and {run.method} is stable only for lr < {formula} = {limit:.3g}",
            smaller,
            tried,
        )
    smaller, tried = offer(lr / 10, "smaller")
    if first and not verified:
        return Finding(
            "f_rising",
            f"{seen}, from the first update on: lr={lr:g} is too large, or the gradient is wrong",
            f"try {smaller}; check the gradient with dd.check_grad(fun, grad, x0) "
            "or dd.diagnose(res, fun, grad)",
            tried,
        )
    return Finding(
        "lr_too_large",
        f"lr={lr:g} is too large for {run.method}: {seen}{verified}",
        f"{smaller}, or a decaying schedule (dd.schedules.exponential)",
        tried,
    )


def _oscillation(run: Run, curvature: Curvature, offer: Offer) -> Finding | None:
    """Successive steps (or changes of f) reversing, update after update."""
    if run.status in (Status.CONVERGED, Status.DIVERGED) or run.nit < 5:
        return None
    if run.method in ("armijo", "bb"):
        return None  # they choose their own steps; BB zigzags by design
    if run.x is not None:
        steps = np.diff(run.x[-RECENT - 2 :], axis=0)
        turns = np.einsum("ij,ij->i", steps[1:], steps[:-1]) < 0
        what = "the steps reversed direction"
    else:
        changes = np.diff(run.f[-RECENT - 2 :])
        turns = changes[1:] * changes[:-1] < 0
        what = f"{run.name} alternately rose and fell"
    flips, n = int(turns.sum()), len(turns)
    if flips < OSCILLATION_SHARE * n:
        return None
    lr, factor, estimate = run.lr_used, run.stability_factor(), curvature.value
    seen = (
        f"{what} in {flips} of the last {n} {run.steps} ({run.name}: {run.f[-n - 2]:.6g} -> "
        f"{run.f[-1]:.6g}): the iterates bounce across a valley"
    )
    if run.method in MOMENTUM:
        smaller, tried = offer(lr / 2, "smaller")
        return Finding(
            "oscillation",
            f"{seen}; momentum={run.momentum:g} with lr={lr:g} is underdamped",
            f"lower momentum (e.g. momentum={run.momentum / 2:g}) or {smaller}",
            tried,
        )
    if factor is not None and estimate is not None:
        L, how = estimate
        smaller, tried = offer(factor / (2 * L), "smaller")  # about 1/L
        return Finding(
            "oscillation",
            f"{seen}; lr={lr:g} is near the stability limit 2/L = {factor / L:.3g} "
            f"(L ≈ {L:.3g} from {how})",
            f"{smaller}, or a smaller lr with momentum",
            tried,
        )
    smaller, tried = offer(lr / 3, "smaller")
    return Finding(
        "oscillation",
        f"{seen}; lr={lr:g} is too large for a steady descent",
        f"{smaller}, or a decaying schedule (dd.schedules.exponential)",
        tried,
    )


def _plateau(run: Run, curvature: Curvature, offer: Offer) -> Finding | None:
    """The budget ran out while f crept down and the gradient was still far from 0."""
    if run.status not in (Status.MAX_ITER, Status.TIME_LIMIT) or run.nit < 2:
        return None
    w = min(RECENT, run.nit)
    drop = run.f[-w - 1] - run.f[-1]
    rate = drop / w / max(abs(run.f[-w - 1]), abs(run.f[-1]), np.finfo(float).tiny)
    shrink = run.grad_norm[-1] / max(run.grad_norm[0], np.finfo(float).tiny)
    if not (0 <= rate < SLOW_RATE and shrink > NEAR_STATIONARY):
        return None
    lr, raise_lr, suggested = run.lr_used, "a larger lr", None
    estimate = curvature.value if run.method == "gd" else None
    if estimate is not None and lr < 0.5 / estimate[0]:
        # 1/L, tried; never below the lr that was too slow
        raise_lr, suggested = offer(1 / estimate[0], "larger", floor=lr)
    return Finding(
        "plateau",
        f"slow progress: {run.name} fell by only {rate:.2g} of its value per {run.steps[:-1]} over "
        f"the last {w} {run.steps} ({run.f[-w - 1]:.6g} -> {run.f[-1]:.6g}) while the gradient "
        f"norm is still {run.grad_norm[-1]:.3g}",
        f"try {_other_methods(run.method)}, or {raise_lr}",
        suggested,
    )


def _other_methods(method: str) -> str:
    """The usual cures for slow progress, without the method already in use."""
    cures = {
        "lbfgs": "method='lbfgs' (needs no lr)",
        "momentum": "method='momentum' (momentum=0.9)",
        "adam": "method='adam'",
        "armijo": "a line search (method='armijo')",
    }
    kept = [cure for name, cure in cures.items() if name != method]
    return ", ".join(kept[:-1]) + " or " + kept[-1]


def _ending(run: Run) -> Finding:
    """How the run ended, when nothing went wrong along the way."""
    said = run.message.removeprefix(f"{run.status.value}: ")
    if run.status is Status.CONVERGED:
        return Finding("converged", said, "nothing to do")
    if run.status in (Status.MAX_ITER, Status.TIME_LIMIT):
        budget = "max_iter" if run.status is Status.MAX_ITER else "time_limit"
        if "epochs=" in run.message:
            budget = "epochs"
        shrink = run.grad_norm[-1] / max(run.grad_norm[0], np.finfo(float).tiny)
        if run.nit == 0:
            return Finding(budget, "the budget ran out before the first update", f"raise {budget}")
        if shrink == 0:
            return Finding(
                budget,
                f"the gradient is exactly 0 after {run.nit} {run.steps}",
                "nothing to do: x is a stationary point (a gtol above 0 ends the run there)",
            )
        if shrink <= NEAR_STATIONARY:
            return Finding(
                budget,
                f"the budget ran out after {run.nit} {run.steps} with the gradient norm down "
                f"{1 / shrink:.2g}-fold, at {run.grad_norm[-1]:.3g}: nearly converged",
                f"raise {budget} a little, or loosen gtol",
            )
        return Finding(
            budget,
            f"the budget ran out after {run.nit} {run.steps} ({run.name}: {run.f[0]:.6g} -> "
            f"{run.f[-1]:.6g}, still falling)",
            f"raise {budget}, or try {_other_methods(run.method)}",
        )
    return Finding("stopped", said, "resume or rerun for a diagnosis of the ending")


def _fmt(x: Array) -> str:
    """A short rendering of a point for a message."""
    with np.printoptions(precision=4, threshold=6, edgeitems=2):
        return np.array2string(np.asarray(x), separator=", ")
