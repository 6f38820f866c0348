"""The table through which layers above core plug into the loop.

Core imports no layer above it, yet a failed run's message ends with the diagnosis that
:mod:`descend.analysis` makes. So analysis registers an *adviser* here when it is imported
(``import descend`` does that), and the loop calls what is registered, as scikit-learn's
and SciPy's back-end dispatch do. Without an adviser a failed run keeps its plain message.

An adviser is ``adviser(result, fun, grad) -> str``: ``result`` is the finished
:class:`~descend.Result`; ``fun`` and ``grad`` are the user's own functions when the run
ended worse than it started (so the adviser may probe them), else None. It returns the
text appended to the message, or raises to say nothing.

Every call an adviser makes of ``fun`` and ``grad`` is counted: :func:`advise` hands it
counting wrappers and adds what they counted to the result's ``nfev`` and ``ngev`` (and
to ``diagnosis_nfev`` and ``diagnosis_ngev``, so the two can be told apart). A call of
``grad`` counts as one evaluation of each, as the loop counts its own: the gradient the
run used comes with f (``Objective.user_functions``).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from descend.core.result import Result, Status
from descend.gradients.objective import Objective

__all__ = ["Adviser", "advise", "register_adviser"]

Adviser = Callable[[Result, Any, Any], str]

_ADVISERS: list[Adviser] = []

# Endings that need no advice: the run did what was asked of it.
_FINE = (Status.CONVERGED, Status.STOPPED, Status.INTERRUPTED)


def register_adviser(adviser: Adviser) -> None:
    """Have ``adviser`` explain every failed run from now on (once, however often called)."""
    if not callable(adviser):
        raise TypeError(f"adviser must be callable, got {adviser!r:.60}")
    if adviser not in _ADVISERS:
        _ADVISERS.append(adviser)


def advise(result: Result, objective: Objective) -> Result:
    """The result with the registered advice for a failed run appended to its message.

    Only a run that diverged or ended above its start hands the adviser the user's
    functions, and so pays for its probes; other endings are read from the history alone.
    Advice that cannot be given leaves the message as it is: it never fails the run.
    """
    if result.status in _FINE or not _ADVISERS:
        return result
    f = result.history.f
    first, last = objective.sign * f[0], objective.sign * f[-1]  # as minimised
    worse = result.status is Status.DIVERGED or not last <= first
    fun, grad = objective.user_functions() if worse else (None, None)
    counter = _Counter()
    fun, grad = counter.wrap(fun, grad)
    notes = []
    for adviser in _ADVISERS:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # probes far out may overflow; that is expected
                notes.append(adviser(result, fun, grad))
        except Exception:  # advice is advice: without it the result still stands
            continue
    if not notes and not (counter.nfev or counter.ngev):
        return result
    return dataclasses.replace(
        result,
        message="; ".join([result.message, *notes]),
        nfev=result.nfev + counter.nfev,
        ngev=result.ngev + counter.ngev,
        diagnosis_nfev=result.diagnosis_nfev + counter.nfev,
        diagnosis_ngev=result.diagnosis_ngev + counter.ngev,
    )


class _Counter:
    """Counts the advisers' calls of the user's functions, as the loop counts its own."""

    def __init__(self) -> None:
        self.nfev = 0
        self.ngev = 0

    def wrap(self, fun: Any, grad: Any) -> tuple[Any, Any]:
        """Counting versions of ``fun`` and a callable ``grad`` (others pass through)."""
        if fun is None:
            return None, grad

        def counted_fun(*args: Any, **kwargs: Any) -> Any:
            self.nfev += 1
            return fun(*args, **kwargs)

        if not callable(grad):
            return counted_fun, grad  # "numeric": its differences call counted_fun

        def counted_grad(*args: Any, **kwargs: Any) -> Any:
            self.nfev += 1  # the run's gradient comes with f, one call of each
            self.ngev += 1
            return grad(*args, **kwargs)

        return counted_fun, counted_grad
