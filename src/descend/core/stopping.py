"""Stopping rules and divergence detection: when a run ends, and the words for why.

The rules never touch the learning rate or the point; they only read what the
loop measured and name the rule that fired, with its values:

- ``gtol``: ||g_k|| <= gtol (Euclidean norm) -> converged
- ``ftol``: |f_k - f_(k-1)| < ftol -> converged
- ``xtol``: ||x_k - x_(k-1)|| <= xtol -> converged
- divergence: a non-finite f, x or gradient, or f above f_0 + GROWTH * max(|f_0|, 1)
- ``time_limit`` (seconds), ``max_iter`` (updates) and, in data mode, ``epochs`` (passes)

A tolerance of ``None`` or ``0`` disables its rule. :func:`norm` and :func:`inspect` are
the loop's measurements of a gradient and of what went non-finite.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from descend._types import Array
from descend.core.namespaces import namespace
from descend.core.result import Status

# f above its start by a million times its scale is divergence, not a bumpy descent:
# momentum and BB may raise f by orders of magnitude transiently, never by 1e6.
GROWTH = 1e6


class Ending(NamedTuple):
    """A status and the message that explains it."""

    status: Status
    message: str


@dataclass
class Rules:
    """The run's stopping rules, checked once after every update."""

    max_iter: int
    f0: float
    ftol: float | None = None
    gtol: float | None = None
    xtol: float | None = None
    time_limit: float | None = None
    sign: float = 1.0  # -1 when maximising: f here is the negated objective
    epochs: int | None = None  # data mode: passes over the data
    gradient: str = "gradient norm"  # what grad_norm is: "projected gradient norm" with project=

    def __post_init__(self) -> None:
        # Thresholds that a disabled rule can never meet, so that check() is one test.
        self.reset_start(self.f0)
        self._ftol = self.ftol or 0.0
        self._gtol = self.gtol or -1.0
        self._xtol = self.xtol or -1.0
        self._time_limit = self.time_limit or math.inf
        self._epochs = sys.maxsize if self.epochs is None else self.epochs

    def reset_start(self, f0: float) -> None:
        """Measure divergence from ``f0`` (a resumed run keeps its original start)."""
        self.f0 = f0
        self.f_limit = f0 + GROWTH * max(abs(f0), 1.0)

    def at_start(self, grad_norm: float) -> Ending | None:
        """An ending before any update: the start is already stationary, or no budget."""
        if self.gtol is not None and grad_norm <= self.gtol:
            return Ending(
                Status.CONVERGED,
                f"converged: {self.gradient} {grad_norm:.3g} <= gtol={self.gtol:g} at the start",
            )
        return self.budget(0, 0.0, grad_norm)

    def check(
        self,
        nit: int,
        f: float,
        f_change: float,
        grad_norm: float,
        step_norm: float,
        elapsed: float,
        nepoch: int = 0,
    ) -> Ending | None:
        """The ending after update ``nit`` (and epoch ``nepoch``), or None to go on."""
        if (
            f <= self.f_limit
            and grad_norm > self._gtol
            and f_change >= self._ftol
            and step_norm > self._xtol
            and elapsed < self._time_limit
            and nit < self.max_iter
            and nepoch < self._epochs
        ):
            return None
        if f > self.f_limit:
            return Ending(
                Status.DIVERGED,
                f"diverged: f {'fell' if self.sign < 0 else 'grew'} from "
                f"{self.sign * self.f0:.6g} to {self.sign * f:.6g} "
                f"(x{abs(f) / max(abs(self.f0), 1.0):.2g}) in {nit} updates",
            )
        if self.gtol is not None and grad_norm <= self.gtol:
            return Ending(
                Status.CONVERGED,
                f"converged: {self.gradient} {grad_norm:.3g} <= gtol={self.gtol:g} "
                f"after {self._done(nit, nepoch)}",
            )
        if self.ftol is not None and f_change < self.ftol:
            return Ending(
                Status.CONVERGED,
                f"converged: |f change| {f_change:.3g} < ftol={self.ftol:g} "
                f"after {self._done(nit, nepoch)}",
            )
        if self.xtol is not None and step_norm <= self.xtol:
            return Ending(
                Status.CONVERGED,
                f"converged: step length {step_norm:.3g} <= xtol={self.xtol:g} "
                f"after {self._done(nit, nepoch)}",
            )
        return self.budget(nit, elapsed, grad_norm, nepoch)

    def _done(self, nit: int, nepoch: int) -> str:
        """The work done so far, in words: updates, and epochs in data mode."""
        return f"{nit} updates" if self.epochs is None else f"{nepoch} epochs ({nit} updates)"

    def budget(self, nit: int, elapsed: float, grad_norm: float, nepoch: int = 0) -> Ending | None:
        """The ending when time, updates or epochs have run out, else None."""
        if self.time_limit is not None and elapsed >= self.time_limit:
            return Ending(
                Status.TIME_LIMIT,
                f"time_limit: stopped after {elapsed:.3g} s (time_limit={self.time_limit:g}) "
                f"and {nit} updates, {self.gradient} {grad_norm:.3g}",
            )
        if nepoch >= self._epochs or nit >= self.max_iter:
            unmet = (
                f" with {self.gradient} {grad_norm:.3g} > gtol={self.gtol:g}" if self.gtol else ""
            )
            reached = (
                f"epochs={self.epochs} passes over the data ({nit} updates)"
                if nepoch >= self._epochs
                else f"max_iter={self.max_iter} updates"
            )
            return Ending(Status.MAX_ITER, f"max_iter: reached {reached}{unmet}")
        return None


def non_finite(nit: int, what: str) -> Ending:
    """The ending for a NaN or infinity in f, x or the gradient at update ``nit``."""
    return Ending(
        Status.DIVERGED,
        f"diverged: {what} became non-finite at update {nit}; the last finite point is returned",
    )


def no_step(nit: int, method: str, grad_norm: float, why: str) -> Ending:
    """The ending when a line search took no step at update ``nit``, for the reason ``why``
    that the optimizer gives (see :meth:`descend.Optimizer.stall`)."""
    if why == "rounding":
        return Ending(
            Status.CONVERGED,
            f"converged: f is at its minimum to rounding after {nit} updates (gradient norm "
            f"{grad_norm:.3g}): the decrease a {method} step promises is below f's "
            "floating-point resolution",
        )
    return Ending(
        Status.STOPPED,
        f"stopped: {method}'s line search found no lower f at update {nit}, even along "
        f"steepest descent, with gradient norm {grad_norm:.3g}; the gradient may disagree "
        "with f (check it with dd.check_grad), or f is not smooth here",
    )


def norm(v: Array) -> float:
    """Euclidean norm of a flat array (of any namespace): one dot product, rescaled if
    that overflows."""
    if not isinstance(v, np.ndarray):
        xp = namespace(v)
        norm = math.sqrt(float(v @ v))
        if norm == math.inf and bool(xp.all(xp.isfinite(v))):
            largest = float(xp.max(xp.abs(v)))
            norm = largest * math.sqrt(float((v / largest) @ (v / largest)))
        return norm
    with np.errstate(over="ignore"):
        norm = math.sqrt(v.dot(v))
    if norm == math.inf and np.isfinite(v).all():  # finite entries above ~1e154
        largest = float(np.abs(v).max())
        norm = largest * math.sqrt((v / largest).dot(v / largest))
    return norm


def inspect(f: float, g: Array, x: Array) -> tuple[float, str | None]:
    """The exact gradient norm, and which of f, x or the gradient is not finite (or None)."""
    broke = None
    xp = namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        broke = "x"
    elif not math.isfinite(f):
        broke = "f"
    elif not bool(xp.all(xp.isfinite(g))):
        broke = "the gradient"
    return norm(g), broke
