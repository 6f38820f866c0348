"""The best point so far, and ``on_divergence="rollback"``: back to it with a smaller step.

The loop keeps the best point it has evaluated (the lowest f; in data mode the lowest
f on all the data, once per epoch) as a :class:`Best`: references only, since iterates
and optimizer states are never mutated, so keeping it costs a tuple per improvement.

With rollback the best point is also the last good position. When f, x or the gradient
goes non-finite, or f rises above the best by more than ``rise_factor - 1`` times the
larger of ``|best|`` and the progress made (``f0 - best``), the loop restores it (x,
the optimizer's state with its schedule step, and in data mode the batch stream's order
and random state), multiplies the learning rate by ``lr_factor`` (a schedule is
multiplied as a whole; a velocity shrinks with it), records an
:class:`~descend.core.result.Event` and goes on. A step too large can also bounce without
blowing up (gradient descent past 2/L on a curved valley, Adam hovering at a large lr):
three steps in a row that each reverse the last while f stays above its best, or no new
best for longer than the run took to reach it (at least 100 updates, or 5 epochs), roll
back too, while rollbacks are left; a run at its floor (f within 2^-26 of its scale of the
best) is not bouncing. The update and epoch counts keep counting the work done, so
``max_iter`` and ``epochs`` bound the whole run, rollbacks included.

A run whose data goes away mid-run (a Dask worker died: a
:class:`~descend.core.batches.DataLost`) cannot go on; :func:`lost` is the error it
ends with, saying how far it got and where its checkpoint, when it has one, was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from descend import _validate
from descend._types import Array, LearningRate
from descend.core.batches import DataLost
from descend.core.namespaces import dot
from descend.core.optimizers import Optimizer
from descend.core.result import Event, Status
from descend.core.stopping import Ending

__all__ = ["Best", "Rollback", "Scaled", "lost"]

ON_DIVERGENCE = ("stop", "rollback")
# A run that has not improved on its best for this many updates (epochs in data mode), and
# for longer than it took to reach it, is bouncing: its steps are too large to settle.
STALL = (100, 5)
# Passes in a row whose step reversed the last one with f above its best: a bounce.
BOUNCE = 3
# f within this share of its scale of the best is rounding, not a bounce: a run at its floor.
NOISE = 2**-26


class Best(NamedTuple):
    """The best point evaluated so far, and where the run stood there."""

    x: Array
    f: float
    g: Array
    nit: int
    nepoch: int
    state: Any
    # The batch stream at that point (order, drawn, random state): kept with rollback only.
    stream: tuple[Any, bool, Any] | None = None


@dataclass(frozen=True)
class Scaled:
    """A learning-rate schedule multiplied by ``factor``: what a rollback makes of one."""

    schedule: Any
    factor: float

    def __call__(self, t: int) -> float:
        return self.factor * self.schedule(t)

    def __repr__(self) -> str:
        return f"{self.factor:g} * {self.schedule!r}"


class Rollback:
    """The rollback settings, checked, and the rollbacks made so far."""

    def __init__(self, lr_factor: Any, rise_factor: Any, max_rollbacks: Any) -> None:
        self.lr_factor = _validate.positive("lr_factor", lr_factor)
        if self.lr_factor >= 1:
            raise ValueError(
                f"lr_factor must be in (0, 1), got {lr_factor!r}: it multiplies the learning "
                "rate after each rollback; 0.5 halves it"
            )
        self.rise_factor = _validate.positive("rise_factor", rise_factor)
        if self.rise_factor <= 1:
            raise ValueError(
                f"rise_factor must be > 1, got {rise_factor!r}: a rise of f above rise_factor "
                "times its best counts as divergence; 10 is the default"
            )
        self.max_rollbacks = _validate.count("max_rollbacks", max_rollbacks)
        self.events: list[Event] = []
        # The bounce test's memory: the last pass's step, and how many passes in a row
        # reversed it without a new best.
        self.step: Array | None = None
        self.reversals = 0

    def restart(self) -> None:
        """Forget the bounce test's memory: a rollback has moved the run."""
        self.step, self.reversals = None, 0

    def settings(self) -> dict[str, Any]:
        """What a checkpoint must match to resume."""
        return dict(lr_factor=self.lr_factor, rise_factor=self.rise_factor,
                    max_rollbacks=self.max_rollbacks)  # fmt: skip

    def unstable(
        self,
        f: float,
        step: Array,
        best: Best,
        f0: float,
        sign: float,
        nit: int,
        nepoch: int,
        data_mode: bool,
        settles: bool = True,
    ) -> Ending | None:
        """The ending for a run whose step is too large though f is finite, else None: f
        has risen far above its best; or each of the last :data:`BOUNCE` steps reversed
        the one before while f stayed above its best (the two-cycle of a step past the
        stability limit); or f has stayed above its best for longer than the run took to
        reach it, and at least :data:`STALL` updates (epochs in data mode). The last two
        apply when the iterates ``settles`` (not for rules that answer with an average)."""
        if f - best.f > (self.rise_factor - 1) * max(abs(best.f), f0 - best.f):
            return Ending(
                Status.DIVERGED,
                f"diverged: f rose to {sign * f:.6g} at update {nit}, from a best of "
                f"{sign * best.f:.6g} (rise_factor={self.rise_factor:g})",
            )
        if not settles:
            return None
        # The clock restarts at the best point or the last rollback; in data mode it
        # counts epochs, the points f is known at.
        last = self.events[-1] if self.events else None
        if data_mode:
            at_best, done, least = best.nepoch, nepoch, STALL[1]
            start = max(at_best, last.nepoch or 0) if last else at_best
        else:
            at_best, done, least = best.nit, nit, STALL[0]
            start = max(at_best, last.nit) if last else at_best
        settled = f - best.f <= NOISE * (abs(best.f) + f0 - best.f)  # at its floor
        turned = self.step is not None and dot(step, self.step) < 0
        self.step = step
        self.reversals = self.reversals + 1 if turned and not settled and f > best.f else 0
        # A bounce is not a blow-up: with no rollbacks left, the run goes on as it is.
        left = len(self.events) < self.max_rollbacks
        if left and self.reversals >= BOUNCE:
            return Ending(
                Status.DIVERGED,
                f"diverged: each of the last {BOUNCE} steps reversed the one before while f "
                f"stayed above its best ({sign * best.f:.6g}, at update {best.nit}): the "
                "steps bounce across a valley",
            )
        if left and not settled and done - start > max(least, at_best):
            return Ending(
                Status.DIVERGED,
                f"diverged: f has stayed above its best ({sign * best.f:.6g}, at update "
                f"{best.nit}) for {nit - best.nit} updates, longer than the run took to reach "
                "it: the steps are too large to settle",
            )
        return None

    def optimizer(self, base: Optimizer, rollbacks: int) -> Optimizer:
        """``base`` as it runs after ``rollbacks`` rollbacks: its learning rate multiplied by
        ``lr_factor`` for each."""
        if not rollbacks:
            return base
        return replace(base, lr=scaled(base.lr, self.lr_factor**rollbacks))

    @staticmethod
    def rescaled(optimizer: Optimizer, state: Any, factor: float) -> Any:
        """``state`` for a learning rate ``factor`` times smaller: a velocity, which the
        learning rate scales, shrinks with it."""
        return optimizer.rescaled(state, factor)


def scaled(lr: LearningRate, factor: float) -> LearningRate:
    """``lr`` times ``factor``: a number, or the schedule wrapped once."""
    return lr * factor if not callable(lr) else Scaled(lr, factor)


def lost(error: DataLost, nit: int, saved: Path | None) -> DataLost:
    """``error`` again, of its own type, saying the run had made ``nit`` updates and, when
    the run was ``saved`` there, that ``resume=True`` continues from that file."""
    where = f", saved in {str(saved)!r}: resume=True continues from there" if saved else ""
    return type(error)(f"{error}; the run had made {nit} updates{where}")
