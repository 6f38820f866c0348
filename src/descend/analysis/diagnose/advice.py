"""The diagnosis as the loop's adviser: what ends a failed run's message.

Registered with :func:`descend.core.extensions.register_adviser` when this package is
imported, so that core calls it without importing upward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from descend.core.extensions import register_adviser
from descend.core.result import Result

from .findings import diagnose
from .trials import quiet_now

__all__ = ["advice"]


def advice(result: Result, fun: Callable[..., Any] | None, grad: Any) -> str:
    """The main finding of :func:`~descend.diagnose` and its suggestion, in one phrase.

    A learning rate in it has been tried (:mod:`.trials`). Without ``fun`` and ``grad``
    (the run ended below its start) it reads the history alone and offers no number.
    Inside a trial run it says nothing (it raises), so that advice never recurses.

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 1.0, grad=lambda x: 2 * x, lr=1.5)
    >>> print(advice(res, lambda x: x**2, lambda x: 2 * x))  # doctest: +NORMALIZE_WHITESPACE
    lr=1.5 is too large: f rose from 1 to 1.04858e+06 in 10 updates and the run diverged,
    with a correct gradient (checked at x0 = [1.]); the curvature is about L ≈ 2
    (Hessian-vector products at x0), and gd is stable only for lr < 2/L = 1;
    lr=0.5 (tried: f fell from 1 to 0 in 1 update, converged)
    """
    if quiet_now():
        raise RuntimeError("no advice inside a trial run")
    main = diagnose(result, fun, grad).main
    return f"{main.message}; {main.suggestion}"


register_adviser(advice)
