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

__all__ = ["advice"]


def advice(result: Result, fun: Callable[..., Any] | None, grad: Any) -> str:
    """The main finding of :func:`~descend.diagnose` and its suggestion, in one phrase.

    Without ``fun`` and ``grad`` it reads the history alone (here, secants):

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 1.0, grad=lambda x: 2 * x, lr=1.5)
    >>> print(advice(res, None, None))  # doctest: +NORMALIZE_WHITESPACE
    lr=1.5 is too large: f rose from 1 to 1.04858e+06 in 10 updates and the run diverged;
    the curvature is about L ≈ 2 (secants along the first steps), and gd is stable only
    for lr < 2/L = 1; lr=0.5 (half the limit)
    """
    main = diagnose(result, fun, grad).main
    return f"{main.message}; {main.suggestion}"


register_adviser(advice)
