"""The per-epoch callback of :class:`descend.models.MatrixFactorization`'s fit.

:class:`_Monitor` is what ``fit`` hands :func:`descend.minimize` as ``callback``: it
records the training (and validation) RMSE of every epoch for ``history_``, and stops
the run early, by validation RMSE or by the training objective's stall.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from descend.core.loop import Iteration
from descend.problems import datasets

from . import _factorization_kernels

if TYPE_CHECKING:  # the objective's module imports this one
    from .factorization import _Objective

__all__: list[str] = []

Array = np.ndarray


class _Monitor:
    """minimize's callback after each epoch: the RMSEs for ``history_``, and early stopping.

    The training RMSE comes from f itself, less the penalty: mean(e**2) =
    2 f - (reg / n) (sum_u n_u ||U[u]||**2 + sum_i n_i ||V[i]||**2) (raw predictions,
    not clipped). The validation RMSE is of ``predict``'s clipped predictions. The run
    stops after ``patience`` epochs in a row without a new lowest validation RMSE or,
    without validation, without a training objective f below (1 - ``min_improvement``)
    times its lowest; ``why`` then says which.
    """

    def __init__(
        self,
        objective: _Objective,
        counts: tuple[Array, Array],
        validation: tuple[Array, Array, Array] | None,
        scale: tuple[float, float],
        patience: int | None,
        min_improvement: float | None,
    ) -> None:
        self.objective, self.counts, self.validation = objective, counts, validation
        self.scale, self.patience, self.min_improvement = scale, patience, min_improvement
        self.history: dict[str, list[float]] = {"train_rmse": [], "time": []}
        if validation is not None:
            self.history["validation_rmse"] = []
        self.best, self.best_x, self.best_epoch, self.stalled = math.inf, None, 0, 0
        self.why = ""

    def __call__(self, info: Iteration) -> bool:
        objective = self.objective
        U, V = objective.unpack(info.x)
        n = self.counts[0].sum()
        penalty = self.counts[0] @ np.einsum("ij,ij->i", U, U)
        penalty += self.counts[1] @ np.einsum("ij,ij->i", V, V)
        self.history["train_rmse"].append(
            math.sqrt(max(0.0, 2 * info.fun - objective.reg * penalty / n))
        )
        self.history["time"].append(info.elapsed)
        if self.validation is None:
            return self._training_stalled(info.fun, info.nepoch or 0)
        users, items, ratings = self.validation
        predicted = _factorization_kernels.factorization_predict(users, items, U, V, objective.mean)
        rmse = datasets.rmse(np.clip(predicted, *self.scale), ratings)
        self.history["validation_rmse"].append(rmse)
        if rmse < self.best:
            self.best, self.best_x, self.stalled = rmse, info.x.copy(), 0
            self.best_epoch = info.nepoch or 0  # always set in data mode
        else:
            self.stalled += 1
        if self.patience is None or self.stalled < self.patience:
            return False
        self.why = (
            f"stopped: no lower validation RMSE in {self.stalled} epochs after epoch "
            f"{self.best_epoch} ({self.best:.4f}), whose parameters are kept"
        )
        return True

    def _training_stalled(self, f: float, epoch: int) -> bool:
        """Whether f has not fallen below (1 - min_improvement) times its lowest for
        ``patience`` epochs in a row (never, when either is None)."""
        if self.min_improvement is None or self.patience is None:
            return False
        if f < self.best * (1.0 - self.min_improvement):
            self.best, self.stalled = f, 0
        else:
            self.stalled += 1
        if self.stalled < self.patience:
            return False
        self.why = (
            f"stopped: the training objective fell by less than min_improvement="
            f"{self.min_improvement:g} of its lowest ({self.best:.6g}) in {self.stalled} epochs "
            f"in a row, after {epoch} epochs"
        )
        return True
