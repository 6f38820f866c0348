"""The learning-rate range test (Smith, 2017): which step size suits an objective.

Short runs of :func:`descend.minimize` over a log grid of learning rates; the
suggestion is the largest rate that stayed stable, backed off by a safety factor, capped
by the curvature where the method has a stability limit, and tried before it is offered.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array, ArrayLike
from descend.core.batches import as_data
from descend.core.optimizers.registry import OPTIMIZERS
from descend.core.result import Result, Status
from descend.gradients.objective import Objective

from .diagnose.curvature import GRAD_CHECK_MAX_SIZE, power_curvature
from .diagnose.evidence import stability_factor
from .diagnose.trials import judge, phrase, quiet, trial_updates, try_halving

__all__ = ["LRFinderResult", "find_lr"]

# find_lr suggests the largest stable learning rate divided by this (see _suggest).
LR_SAFETY = 2.0
# find_lr stops after this many failed learning rates in a row above a stable one.
STOP_AFTER = 3


@dataclass(frozen=True, repr=False)
class LRFinderResult:
    """What :func:`find_lr` found: a suggested lr and the curve behind it.

    >>> import numpy as np, descend as dd
    >>> found = dd.find_lr(lambda x: x @ x, np.ones(2), grad=lambda x: 2 * x)
    >>> 0.1 < found.lr < 1.0, len(found.lrs) == len(found.losses)
    (True, True)

    Attributes
    ----------
    lr : float or None
        The suggested learning rate; None when no learning rate tried was stable.
    lrs : ndarray
        The learning rates tried, increasing (the test stops early once larger ones fail).
    losses : ndarray
        f after each short run (huge, inf or NaN where it diverged); plot it against
        ``lrs`` on a log x-axis.
    stable : ndarray of bool
        Whether each run decreased f, ended near its best value and did not diverge.
    diverged : ndarray of bool
        Whether each run ended with status ``"diverged"``.
    f0 : float
        f at x0.
    method : str
    message : str
        How the suggestion was chosen, how it was tried, or why there is none.
    curvature : float or None
        L, the largest |eigenvalue| of the Hessian found at x0 and at the ends of the
        runs (None when not estimated: a method without a stability limit, or no gradient).
    """

    lr: float | None
    lrs: Array
    losses: Array
    stable: Array
    diverged: Array
    f0: float
    method: str
    message: str
    curvature: float | None = None

    def __repr__(self) -> str:
        lr = "None" if self.lr is None else f"{self.lr:.3g}"
        return (
            f"LRFinderResult(lr={lr}, method={self.method!r}, {len(self.lrs)} lrs from "
            f"{self.lrs[0]:.3g} to {self.lrs[-1]:.3g}, {int(self.stable.sum())} stable)"
        )


def find_lr(
    fun: Callable[..., Any],
    x0: ArrayLike,
    method: Any = "gd",
    *,
    grad: Callable[..., Any] | str | None = None,
    lr_min: float = 1e-6,
    lr_max: float = 10.0,
    num: int = 60,
    steps: int = 20,
    **minimize_kwargs: Any,
) -> LRFinderResult:
    r"""Learning-rate range test: short runs over a log grid of learning rates.

    For each lr_i = lr_min (lr_max / lr_min)^(i / (num - 1)), run ``steps`` updates of
    :func:`descend.minimize` from ``x0`` (``gtol=0``) and record the final f. A run is
    *stable* when it did not diverge, ended below f(x0) and ended near its own best value
    (within 10% of its decrease). With lr_best the stable rate with the lowest final f and
    lr_edge the largest rate of the unbroken stable stretch above it, the suggestion is

    .. math::

        \text{lr} = \min\left(\text{lr}_\text{edge} / 2,\ \frac{c}{2L}\right),

    where c/L is the method's stability limit (c = 2 for gradient descent, 2(1 + mu) with
    heavy-ball momentum) and L the largest |eigenvalue| of the Hessian, found by power
    iteration with Hessian-vector products (differences of the gradient) at x0 and at the
    end of the best and of the edge run: a short run can be stable at an lr that a longer
    one, reaching a more curved place, is not. Then the suggestion is tried: a run of
    ``min(200, num * steps / 10)`` updates (at least 10) from x0 must lower f clearly
    without diverging or bouncing, else the lr is halved and tried again (5 trials at most).

    Parameters
    ----------
    fun, x0, method, grad
        As in :func:`descend.minimize`, in its order (``method`` third, ``grad`` by name).
    lr_min, lr_max : float
        The range to scan, 0 < lr_min < lr_max.
    num : int
        Learning rates on the grid, at least 3.
    steps : int
        Updates per run (10 to 20 show instability without costing much).
    **minimize_kwargs
        Passed on to :func:`descend.minimize` (``momentum=0.9``, ``maximize=True``, ...);
        not ``lr`` or ``max_iter``, which the test sets.

    Returns
    -------
    LRFinderResult
        ``.lr``, ``.lrs``, ``.losses`` (for plotting), ``.stable``, ``.diverged``.

    Raises
    ------
    ValueError, TypeError
        For a bad range, ``num`` or ``steps``, ``lr``/``max_iter`` in the keywords, or a
        function as the third argument (``method`` comes third, as in minimize).

    Notes
    -----
    Conventions. Smith's test raises lr during one run; here every lr gets its own run
    from x0, which costs ``num * steps`` updates but reads the same on any objective.
    The scan stops after 3 failed rates in a row above a stable one, and its runs get no
    diagnosis of their own. Halving the edge (see the comment in the code) follows the
    theory for gradient descent; for adaptive methods it is a safety margin, and a longer
    run may want less. The curvature cap applies to ``"gd"``, ``"momentum"`` and
    ``"nesterov"``, whose lr is the step size; it costs up to 300 gradients.

    References
    ----------
    L. N. Smith, "Cyclical learning rates for training neural networks", *WACV*, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> import descend as dd
    >>> from descend import find_lr
    >>> A = np.array([1.0, 10.0, 100.0])   # f = x'Ax/2: stable for lr < 2/100
    >>> found = find_lr(lambda x: 0.5 * x @ (A * x), np.ones(3), grad=lambda x: A * x)
    >>> 0.002 < found.lr < 0.02, round(found.curvature)
    (True, 100)
    """
    from descend.core.minimize import (
        minimize,  # here: minimize may import this module for its messages
    )

    lo = _validate.positive("lr_min", lr_min, "; try 1e-6")
    hi = _validate.positive("lr_max", lr_max, "; try 10.0")
    if lo >= hi:
        raise ValueError(
            f"lr_min must be below lr_max, got lr_min={lr_min!r} and lr_max={lr_max!r}; "
            "swap them, or widen the range"
        )
    if callable(method) and not hasattr(method, "update"):
        raise TypeError(
            f"find_lr takes method third, as minimize does, got the function {method!r:.60}; "
            "pass the gradient by name: find_lr(fun, x0, grad=grad)"
        )
    num = _validate.count("num", num, minimum=3)
    steps = _validate.count("steps", steps, minimum=1)
    for taken in ("lr", "max_iter"):
        if taken in minimize_kwargs:
            raise TypeError(
                f"find_lr sets {taken} itself, got {taken}={minimize_kwargs[taken]!r}; "
                "use lr_min and lr_max for the range and steps for the updates per run"
            )
    settings = {"gtol": 0, "record_x": False, **minimize_kwargs}
    sign = -1.0 if settings.get("maximize") else 1.0
    lrs = np.geomspace(lo, hi, num)
    losses, stable, diverged, ends = [], [], [], []
    f0, misses = math.nan, 0
    for i, lr in enumerate(lrs):
        with warnings.catch_warnings(), quiet():  # quiet: no diagnosis of each failed run
            if i > 0:  # a warning about fun or grad is said once, not num times
                warnings.simplefilter("ignore")
            res = minimize(fun, x0, method, grad=grad, lr=float(lr), max_iter=steps, **settings)
        ends.append(np.asarray(res.x, float))
        f = sign * res.history.f
        f0, best = f[0], np.nanmin(f)
        blew = res.status is Status.DIVERGED
        ok = not blew and f[-1] < f[0] and f[-1] <= best + 0.1 * (f[0] - best)
        losses.append(res.history.f[-1])
        stable.append(ok)
        diverged.append(blew)
        misses = misses + 1 if any(stable) and not ok else 0
        if misses >= STOP_AFTER:
            break
    scanned = lrs[: len(losses)]
    stable_array = np.array(stable)
    name = method if isinstance(method, str) else getattr(method, "name", str(method))
    picked = _suggest(scanned, sign * np.array(losses), stable_array, hi, steps)
    lr_suggested, message, curvature = None, picked[1], None
    if picked[0] is not None:
        candidate, basis = picked[0], picked[1]
        ends_at = [np.asarray(x0, float)] + [ends[i] for i in picked[2]]
        capped = _capped(fun, grad, method, name, settings, ends_at, candidate)
        if capped is not None:
            candidate, curvature, basis = capped[0], capped[1], capped[2] + basis
        updates = trial_updates(len(scanned) * steps)  # a tenth of the scan, 10 to 200

        def attempt(lr: float) -> Any:
            """One trial from x0 with the caller's settings (not the scan's gtol=0)."""
            with warnings.catch_warnings(), quiet():
                warnings.simplefilter("ignore")
                trial: Result = minimize(
                    fun, x0, method, grad=grad, lr=lr, max_iter=updates, **minimize_kwargs
                )
            return judge(trial, lr, sign < 0)

        found, trials = try_halving(attempt, float(f"{candidate:.3g}"))
        said = phrase(found, trials, "smaller")
        if found is not None:
            lr_suggested, message = found.lr, f"{said}: {basis}"
        else:
            message = f"no lr offered: the scan gave {candidate:.3g} ({basis}), but {said}"
    return LRFinderResult(
        lr=lr_suggested,
        lrs=scanned,
        losses=np.array(losses),
        stable=stable_array,
        diverged=np.array(diverged),
        f0=sign * f0,
        method=name,
        message=message,
        curvature=curvature,
    )


def _capped(
    fun: Any,
    grad: Any,
    method: Any,
    name: str,
    settings: dict[str, Any],
    points: list[Array],
    lr: float,
) -> tuple[float, float, str] | None:
    """lr capped at half the method's stability limit c/L, with L and the words for it;
    None when the method has no such limit or L cannot be estimated."""
    cls = OPTIMIZERS.get(name)
    momentum = getattr(method, "momentum", settings.get("momentum", getattr(cls, "momentum", 0.0)))
    factor = stability_factor(name, float(momentum)) if name in _STEP_METHODS else None
    gradient = None if factor is None else _gradient(fun, grad, points[0], settings)
    if factor is None or gradient is None:
        return None
    found = [power_curvature(gradient, point.reshape(-1)) for point in points]
    estimates = [estimate for estimate in found if estimate is not None]
    if not estimates:
        return None
    L = max(estimates)
    cap = factor / (2 * L)
    if lr <= cap:
        return lr, L, ""
    words = (
        f"half the stability limit {factor / L:.3g} (L ≈ {L:.3g}, from Hessian-vector "
        f"products at x0 and at the ends of the runs), below the scan's {lr:.3g}: "
    )
    return cap, L, words


# Methods whose lr is the step size, with a stability limit c/L (line searches pick
# their own steps; adaptive methods rescale each coordinate).
_STEP_METHODS = ("gd", "momentum", "nesterov")


def _gradient(
    fun: Any, grad: Any, x0: Array, settings: dict[str, Any]
) -> Callable[[Array], Array] | None:
    """The flat gradient minimize would use (grad, .grad, formula, autodiff), or None
    when only finite differences of a large x are left (too dear for power iteration)."""
    data = settings.get("data")
    try:
        objective = Objective(
            fun,
            grad,
            np.shape(x0),
            variables=settings.get("variables"),
            data=() if data is None else as_data(data),
        )
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            objective.start(np.asarray(x0, float).reshape(-1))
    except (ValueError, TypeError, ArithmeticError):
        return None
    if objective.source == "numeric" and objective.size > GRAD_CHECK_MAX_SIZE:
        return None
    return lambda z: objective.value_and_grad(z)[1]


def _suggest(
    lrs: Array, losses: Array, stable: Array, lr_max: float, steps: int
) -> tuple[float | None, str, tuple[int, ...]]:
    """The scan's lr, the words for how it was chosen, and the indices of the best and
    the edge run (see find_lr)."""
    if not stable.any():
        none = (
            f"no lr in [{lrs[0]:.3g}, {lrs[-1]:.3g}] decreased f over {steps} updates "
            "without diverging: check the gradient (dd.check_grad), or lower lr_min"
        )
        return None, none, ()
    best = int(np.argmin(np.where(stable, losses, np.inf)))
    edge = best
    while edge + 1 < len(lrs) and stable[edge + 1]:
        edge += 1
    # Half the largest stable rate. For gradient descent on a quadratic the edge of
    # stability is 2/L, and 1/L is the classic safe step: the fastest for the stiffest
    # direction, and a guaranteed decrease on any L-smooth f. The grid's largest stable
    # rate lies within one grid ratio below 2/L, so halving it lands between 1/(1.3 L)
    # and 1/L. The edge is taken above the best run, not anywhere, so that a lucky
    # stable rate beyond failing ones is never chosen.
    lr = float(lrs[edge] / LR_SAFETY)
    message = (
        f"half of {lrs[edge]:.3g}, the largest stable lr next to the one that lowered f "
        f"most in {steps} updates ({lrs[best]:.3g})"
    )
    if lrs[edge] >= lr_max:
        message += "; every lr up to lr_max was stable: raise lr_max to look further"
    return lr, message, (best, edge)
