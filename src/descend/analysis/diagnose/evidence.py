"""What a diagnosis reads from a run: the result flattened, with f in the sign that was
minimised, and the facts about its method that the findings and the curvature share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.result import Result, Status

__all__ = ["FAILURES", "GD_LIKE", "MOMENTUM", "Run", "stability_factor"]

GD_LIKE = ("gd", "armijo", "bb")  # step = -t * g
MOMENTUM = ("momentum", "nesterov")
FAILURES = (ValueError, TypeError, ArithmeticError)  # a probe point fun or grad rejects


@dataclass(frozen=True)
class Run:
    """What diagnose reads from a result, flattened, with f in the sign that was minimised."""

    f: Array  # sign * history.f: the loop always descends
    grad_norm: Array
    lr: Array
    x: Array | None  # shape (k + 1, n), or None when not recorded
    x_final: Array
    grad_final: Array  # sign * res.grad, flat
    shape: tuple[int, ...]
    status: Status
    method: str
    momentum: float
    clipped: bool
    name: str  # "f" or "-f": what the messages call the minimised objective
    message: str
    steps: str = "updates"  # what a history point follows: "epochs" in data mode
    maximize: bool = False  # messages about f itself (unbounded) speak in the user's sign
    optimizer: Any = None  # the optimizer object: trials rerun it with another lr

    @classmethod
    def of(cls, result: Result, maximize: bool) -> Run:
        sign = -1.0 if maximize else 1.0
        history, shape = result.history, np.shape(result.x)
        x = None if history.x is None else np.asarray(history.x, float).reshape(len(history), -1)
        optimizer = result.optimizer
        return cls(
            f=-history.f if maximize else history.f,  # no copy of a long run's f to minimise
            grad_norm=np.asarray(history.grad_norm, float),
            lr=np.asarray(history.lr, float),
            x=x,
            x_final=np.asarray(result.x, float).reshape(-1),
            grad_final=sign * np.asarray(result.grad, float).reshape(-1),
            shape=shape,
            status=Status(result.status),
            method=str(result.method),
            momentum=float(getattr(optimizer, "momentum", 0.0)),
            clipped=getattr(optimizer, "clip_norm", None) is not None,
            name="-f" if maximize else "f",
            message=result.message,
            steps="updates" if result.nepoch is None else "epochs",
            maximize=maximize,
            optimizer=optimizer,
        )

    @property
    def nit(self) -> int:
        return len(self.f) - 1

    @property
    def lr_used(self) -> float:
        return float(self.lr[-1])

    def start(self) -> Array:
        """x0 when the iterates were recorded, else the final point."""
        return self.x[0] if self.x is not None else self.x_final

    def stability_factor(self) -> float | None:
        """c in "stable only for lr < c / L" for this method (None: no such bound)."""
        return stability_factor(self.method, self.momentum)


def stability_factor(method: str, momentum: float = 0.0) -> float | None:
    """c in "stable only for lr < c / L" for ``method`` (None: no such bound).

    >>> stability_factor("gd"), stability_factor("momentum", 0.5), stability_factor("adam")
    (2.0, 3.0, None)
    """
    mu = momentum
    if method in GD_LIKE:
        return 2.0
    if method == "momentum":
        return 2.0 * (1 + mu)
    if method == "nesterov":
        return 2.0 * (1 + mu) / (1 + 2 * mu)
    return None  # adaptive methods rescale each coordinate: no single L sets the limit
