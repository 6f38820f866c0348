"""What every optimizer shares: a learning rate (number or schedule) and clipping.

An optimizer is hyperparameters plus two pure functions: ``init(x) -> state`` makes a
fresh state for the point ``x``; ``update(grad, state, x=None, fun=None, f=None) ->
(step, new_state)`` returns the step to add to ``x`` and a new state, leaving the old one
untouched. Optimizers know nothing about stopping, data or history: the loop in
:func:`descend.minimize` owns those.

Every state is a named tuple with ``t`` (updates done so far) and ``lr`` (the step size
of the last update; the first one's before any update), plus the arrays the rule keeps,
each shaped like ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate

__all__ = ["Optimizer"]


@dataclass(frozen=True)
class Optimizer:
    """Base class: a learning rate (number or schedule) and optional gradient clipping.

    >>> from descend import GD, schedules
    >>> GD(lr=schedules.step(0.1, every=2)).rate(3)
    0.05

    Parameters
    ----------
    lr : float or callable
        Learning rate, or a schedule ``t -> lr`` evaluated at the ``t``-th update
        (``t = 0, 1, ...``); see :mod:`descend.schedules`.
    clip_norm : float, optional
        If given, a gradient longer than this is scaled down to this Euclidean
        norm before the rule sees it (Pascanu et al., 2013).
    """

    name: ClassVar[str] = ""
    # When to use it, in one line: the CLI's method list and the README's table show it.
    when: ClassVar[str] = ""
    # Whether update() evaluates fun (a line search): in data mode it then gets the batch's.
    uses_fun: ClassVar[bool] = False
    # Whether the fun that update() is handed returns (f, gradient), not f alone: a line
    # search with a curvature condition. The loop then reuses the pair at the point the
    # search accepted instead of evaluating it again.
    trial_gradients: ClassVar[bool] = False
    # Whether the rule needs the full-data gradient (curvature pairs from noisy batch
    # gradients mislead it): minimize then refuses batch_size.
    full_batch_only: ClassVar[bool] = False

    lr: LearningRate = 0.01
    clip_norm: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if callable(self.lr):
            self.rate(0)  # a bad schedule fails here, before any work
        else:
            _validate.positive("lr", self.lr, "; pass a number such as 0.01 or a schedule")
        if self.clip_norm is not None:
            _validate.positive("clip_norm", self.clip_norm, "; use None for no clipping")

    def rate(self, t: int) -> float:
        """The learning rate for update ``t`` (counted from 0)."""
        if not callable(self.lr):
            return self.lr
        try:
            lr = self.lr(t)
        except Exception as error:
            raise ValueError(f"lr schedule {self.lr!r} failed at t={t}: {error!r}") from error
        if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
            raise ValueError(
                f"lr schedule {self.lr!r} returned {lr!r} at t={t}; "
                "a schedule must return a finite number > 0 for every update"
            )
        return float(lr)

    def clip(self, grad: Array) -> Array:
        """``grad`` scaled to norm at most ``clip_norm`` (unchanged when it is shorter)."""
        if self.clip_norm is None:
            return grad
        norm = math.sqrt(float(np.vdot(grad, grad)))
        return grad * (self.clip_norm / norm) if norm > self.clip_norm else grad

    def init(self, x: Array) -> Any:
        """Return the state for starting at ``x``."""
        raise NotImplementedError

    def constrained(self, project: Callable[[Array], Array]) -> Optimizer:
        """This optimizer for a run with ``project=``: by default itself, the loop projecting
        every ``x + step``. A rule whose search must see the feasible set returns a copy
        that holds ``project``; a rule that cannot honour a projection raises ValueError."""
        return self

    def stall(self, state: Any) -> str:
        """Why the update that made ``state`` took no step, "" when it took one: "rounding"
        when the decrease it could promise is below f's rounding, "no_decrease" when no
        trial lowered f. Only a line search reports one (with ``state.lr == 0``); the loop
        then ends the run, as converged or stopped."""
        return ""

    def solution(self, x: Array, state: Any) -> Array:
        """The point a run reports as its answer when it stands at ``x``: ``x`` itself, but
        for rules whose gradients are taken away from the point they converge (the
        schedule-free methods answer with their average)."""
        return x

    def update(
        self,
        grad: Array,
        state: Any,
        x: Array | None = None,
        fun: Callable[..., Any] | None = None,
        f: float | None = None,
    ) -> tuple[Array, Any]:
        """Return ``(step, new_state)``: the next point is ``x + step``."""
        raise NotImplementedError
