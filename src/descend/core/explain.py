"""``explain=True``: the named parts of every update, as the optimizer defines them.

After each update the loop hands the optimizer's :meth:`~descend.Optimizer.parts` the
gradient, the states before and after, the step, the point and the trial points its
search evaluated, and adds what every rule has:

- ``step_norm``: ‖step‖;
- ``angle``: the angle in degrees between the step and −∇f (0: steepest descent; above
  90: the step climbs; NaN when the step or the gradient is zero);
- ``predicted_decrease``: −∇f · step, the decrease of f that the gradient promises for
  the step (first order);
- ``actual_decrease``: f before the update less f after it.

Everything is in the minimised objective's terms: when maximising, f is −fun and the
gradient −∇fun. In data mode with mini-batches, f and the gradient are the batch's, the
actual decrease taking one more evaluation of f on the batch per update.

:class:`Explainer` collects the parts, one row per update, and freezes them into arrays
(iterations × coordinates): a scalar part is one column, a per-coordinate part one
column per coordinate, and a list (the trial steps of a line search) is padded with NaN
to the longest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.optimizers import Optimizer

__all__ = ["GENERIC_PARTS", "Explainer"]

_sqrt, _acos, _degrees, _nan = math.sqrt, math.acos, math.degrees, math.nan  # per update

GENERIC_PARTS = ("step_norm", "angle", "predicted_decrease", "actual_decrease")


class Explainer:
    """The parts of every update of one run, row by row."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {}
        self.updates = 0
        self.trials: list[tuple[Array, float]] = []

    def watch(self, fun: Callable[..., Any]) -> Callable[..., Any]:
        """``fun`` that also notes every point it is asked for and f there: the trials of
        a line search, handed to ``parts``."""
        trials = self.trials

        def watched(z: Array, *args: Any, **kwargs: Any) -> Any:
            out = fun(z, *args, **kwargs)
            trials.append((z, float(out[0] if isinstance(out, tuple) else out)))
            return out

        return watched

    def record(
        self,
        optimizer: Optimizer,
        grad: Array,
        state: Any,
        new_state: Any,
        step: Array,
        x: Array,
    ) -> None:
        """Note the parts of the update that turned ``state`` into ``new_state``."""
        parts = optimizer.parts(grad, state, new_state, step, x=x, trials=tuple(self.trials))
        self.trials.clear()
        step_norm, grad_norm = _sqrt(step.dot(step)), _sqrt(grad.dot(grad))
        slope = float(grad.dot(step))
        scale = step_norm * grad_norm
        parts["step_norm"] = step_norm
        parts["angle"] = _degrees(_acos(min(1.0, max(-1.0, -slope / scale)))) if scale else _nan
        parts["predicted_decrease"] = -slope
        rows = self.rows
        for name, value in parts.items():
            column = rows.get(name)
            if column is None:  # a part this update has and the ones before did not
                column = rows[name] = [_nan] * self.updates
            column.append(value)
        self.updates += 1
        if len(rows) != len(parts) + ("actual_decrease" in rows):  # a part this one lacked
            for column in rows.values():
                column.extend([_nan] * (self.updates - len(column)))

    def decrease(self, f_before: float, f_after: float) -> None:
        """Note the actual decrease of the update just recorded."""
        column = self.rows.setdefault("actual_decrease", [])
        column.extend([math.nan] * (self.updates - 1 - len(column)))
        column.append(f_before - f_after)

    def table(self) -> dict[str, Array]:
        """The parts as arrays, one row per update (a part an update lacked is NaN)."""
        return {name: _stack(column, self.updates) for name, column in self.rows.items()}

    def restore(self, table: dict[str, Array]) -> None:
        """Take up the parts of a saved run (rows as :meth:`table` gives them)."""
        for name, values in table.items():
            self.rows[name] = list(values)
            self.updates = max(self.updates, len(values))


def _stack(column: list[Any], updates: int) -> Array:
    """One part's rows as an array: (updates,) for numbers, (updates, width) for arrays,
    shorter rows padded with NaN."""
    column = column + [math.nan] * (updates - len(column))
    if all(np.ndim(value) == 0 for value in column):
        return np.array(column, dtype=float)
    rows = [np.atleast_1d(np.asarray(value, dtype=float)).ravel() for value in column]
    width = max(len(row) for row in rows)
    table = np.full((updates, width), math.nan)
    for i, row in enumerate(rows):
        if np.ndim(column[i]) or len(row) != 1 or not math.isnan(row[0]):
            table[i, : len(row)] = row
    return table
