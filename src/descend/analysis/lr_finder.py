"""The learning-rate range test (Smith, 2017): which step size suits an objective.

Short runs of :func:`descend.minimize` over a log grid of learning rates; the
suggestion is the largest rate that stayed stable, backed off by a safety factor.
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
from descend.core.result import Status

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
        How the suggestion was chosen, or why there is none.
    """

    lr: float | None
    lrs: Array
    losses: Array
    stable: Array
    diverged: Array
    f0: float
    method: str
    message: str

    def __repr__(self) -> str:
        lr = "None" if self.lr is None else f"{self.lr:.3g}"
        return (
            f"LRFinderResult(lr={lr}, method={self.method!r}, {len(self.lrs)} lrs from "
            f"{self.lrs[0]:.3g} to {self.lrs[-1]:.3g}, {int(self.stable.sum())} stable)"
        )


def find_lr(
    fun: Callable[..., Any],
    x0: ArrayLike,
    grad: Callable[..., Any] | str | None = None,
    method: Any = "gd",
    *,
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

        \text{lr} = \text{lr}_\text{edge} / 2.

    Parameters
    ----------
    fun, x0, grad, method
        As in :func:`descend.minimize`.
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
        For a bad range, ``num`` or ``steps``, or ``lr``/``max_iter`` in the keywords.

    Notes
    -----
    Conventions. Smith's test raises lr during one run; here every lr gets its own run
    from x0, which costs ``num * steps`` updates but reads the same on any objective.
    The scan stops after 3 failed rates in a row above a stable one. Halving the edge
    (see the comment in the code) follows the theory for gradient descent; for adaptive
    methods it is a safety margin, and a longer run may want less.

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
    >>> 0.002 < found.lr < 0.02
    True
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
    losses, stable, diverged = [], [], []
    f0, misses = math.nan, 0
    for i, lr in enumerate(lrs):
        with warnings.catch_warnings():
            if i > 0:  # a warning about fun or grad is said once, not num times
                warnings.simplefilter("ignore")
            res = minimize(fun, x0, method, grad=grad, lr=float(lr), max_iter=steps, **settings)
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
    tried = lrs[: len(losses)]
    lr_suggested, message = _suggest(tried, sign * np.array(losses), np.array(stable), hi, steps)
    return LRFinderResult(
        lr=lr_suggested,
        lrs=tried,
        losses=np.array(losses),
        stable=np.array(stable),
        diverged=np.array(diverged),
        f0=sign * f0,
        method=method if isinstance(method, str) else getattr(method, "name", str(method)),
        message=message,
    )


def _suggest(
    lrs: Array, losses: Array, stable: Array, lr_max: float, steps: int
) -> tuple[float | None, str]:
    """The suggested lr and the words for it (see find_lr)."""
    if not stable.any():
        return None, (
            f"no lr in [{lrs[0]:.3g}, {lrs[-1]:.3g}] decreased f over {steps} updates "
            "without diverging: check the gradient (dd.check_grad), or lower lr_min"
        )
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
        f"lr={lr:.3g}: half of {lrs[edge]:.3g}, the largest stable lr next to the one that "
        f"lowered f most in {steps} updates ({lrs[best]:.3g})"
    )
    if lrs[edge] >= lr_max:
        message += "; every lr up to lr_max was stable: raise lr_max to look further"
    return lr, message
