"""What the loop hands a callback after an update (:class:`Iteration`), and what a run
does besides descending (:class:`Extras`)."""

from __future__ import annotations

from typing import NamedTuple

from descend._types import Array
from descend.core.recovery import Rollback

__all__ = ["NO_EXTRAS", "Extras", "Iteration"]


class Iteration(NamedTuple):
    """What ``callback`` receives after every update (read-only views of x and grad).

    In data mode it comes after every epoch, with f and the gradient on all the data; with
    ``callback_every="update"`` after every batch update instead, with the batch's f and
    gradient at the point the update started from (``batch`` is then True) and ``x`` the
    point it reached.

    >>> import descend as dd
    >>> seen = []
    >>> _ = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=0.1, max_iter=2, gtol=0,
    ...                 callback=lambda info: seen.append((info.nit, float(info.x))))
    >>> seen
    [(1, 4.0), (2, 3.2)]
    """

    nit: int
    x: Array
    fun: float
    grad: Array
    grad_norm: float
    lr: float
    elapsed: float
    nepoch: int | None = None
    batch: bool = False


class Extras(NamedTuple):
    """What a run does besides descending: record the parts of each update, roll back a
    divergence, answer with the best point, call back after every batch update."""

    explain: bool = False
    rollback: Rollback | None = None
    keep: str = "last"
    callback_every: str = "epoch"


NO_EXTRAS = Extras()
