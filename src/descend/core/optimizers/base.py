"""What every optimizer shares: a learning rate (number or schedule) and clipping.

An optimizer is hyperparameters plus two pure functions: ``init(x) -> state`` makes a
fresh state for the point ``x``; ``update(grad, state, x=None, fun=None, f=None) ->
(step, new_state)`` returns the step to add to ``x`` and a new state, leaving the old one
untouched. Optimizers know nothing about stopping, data or history: the loop in
:func:`descend.minimize` owns those.

Every state is a named tuple with ``t`` (updates done so far) and ``lr`` (the step size
of the last update; the first one's before any update), plus the arrays the rule keeps,
each shaped like ``x``.

A third function, ``parts(grad, state, new_state, step, x=x, trials=trials) -> dict``,
names the parts of one update, for ``explain=True`` and whatever shows a run: it takes
the update's arguments and results, and ``trials``, the ``(z, f(z))`` pairs of the
evaluations of ``fun`` the update made, in call order. It returns floats for scalars,
1-D arrays shaped like ``x`` for per-coordinate parts, and 1-D arrays of any length for
lists (the trial steps of a line search); it never calls ``fun``, changes nothing, and
costs a few microseconds on a small ``x``. The names every rule uses where they apply:

- ``lr``: the step size the update used (``new_state.lr``);
- ``grad``: the gradient the rule used: after ``clip_norm``, and with a weight decay
  added where the rule adds it to the gradient (DoG, Prodigy with ``decouple=False``);
- ``effective_lr``: the per-coordinate step size of an adaptive rule;
- ``first_moment``, ``second_moment``: Adam-style running averages of g and g**2;
- ``trial_lr``, ``trial_f``: a line search's trial steps, in order, and f at each.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.namespaces import namespace

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
        if not isinstance(grad, np.ndarray):  # on its device, without reading the norm
            xp, c = namespace(grad), self.clip_norm
            return grad * (c / xp.maximum(xp.sqrt(grad @ grad), c))
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

    def rescaled(self, state: Any, factor: float) -> Any:
        """``state`` carried over to a learning rate ``factor`` times this one's (what a
        rollback of ``on_divergence="rollback"`` does): unchanged by default, for a rule
        whose state does not scale with the learning rate (Adam's moments, L-BFGS's pairs)."""
        return state

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

    def parts(
        self,
        grad: Array,
        state: Any,
        new_state: Any,
        step: Array,
        x: Array | None = None,
        trials: tuple[tuple[Array, float], ...] = (),
    ) -> dict[str, float | Array]:
        """The named parts of the update that turned ``state`` into ``new_state``.

        Every rule in the registry defines its own; this default, for a subclass that
        does not, reports the step size alone.

        Parameters
        ----------
        grad : ndarray
            The gradient handed to ``update`` (flat, before clipping).
        state, new_state : NamedTuple
            The state before and after the update.
        step : ndarray
            The step ``update`` returned.
        x : ndarray, optional
            The flat point the update started from; rules that read it raise
            TypeError without it.
        trials : tuple of (ndarray, float)
            One ``(z, f(z))`` pair per evaluation of ``fun`` the update made, in call
            order (empty for rules that call no ``fun``). A line search's trials are its
            own when ``update`` was given ``f``, as the loop gives it.

        Returns
        -------
        dict of str to float or ndarray
            Floats for scalars, 1-D arrays shaped like ``x`` for per-coordinate parts,
            1-D arrays of any length for lists; the names are in the module docstring
            and each rule's ``parts``. Arrays may be the state's own: read them, do not
            write to them.

        Notes
        -----
        ``parts`` never calls ``fun`` and mutates nothing; it reads the states and
        recomputes little, so that a run can record it at every update.

        Examples
        --------
        >>> import numpy as np
        >>> from descend import Momentum
        >>> opt, x, g = Momentum(lr=0.1, momentum=0.5), np.array([1.0]), np.array([2.0])
        >>> state = opt.init(x)
        >>> step, new_state = opt.update(g, state, x)
        >>> opt.parts(g, state, new_state, step, x=x)
        {'lr': 0.1, 'grad': array([2.]), 'velocity': array([-0.2])}
        """
        return {"lr": float(new_state.lr)}


def trial_values(trials: tuple[tuple[Array, float], ...]) -> Array:
    """The f of each trial, in order: a line search's ``trial_f``."""
    return np.array([f for _, f in trials], dtype=float)
