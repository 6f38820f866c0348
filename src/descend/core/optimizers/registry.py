"""The table of optimizers by name, and the one way to build one from a name or object.

Adding an optimizer is one class and one line here: ``minimize``, the CLI's choices, the
conformance tests and the docs pick it up from this table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from descend import _validate

from .base import Optimizer
from .first_order import GD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
from .free import DoG, Prodigy, ScheduleFreeAdamW, ScheduleFreeSGD
from .line_search import BB, Armijo
from .quasi_newton import LBFGS

__all__ = ["OPTIMIZERS", "make_optimizer"]

# Simple to complex: the tutorial rules, the line searches, quasi-Newton, then the rules
# that need no learning rate.
_FAMILY = (
    *(GD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW),
    *(Armijo, BB, LBFGS),
    *(DoG, Prodigy, ScheduleFreeSGD, ScheduleFreeAdamW),
)
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in _FAMILY}


def make_optimizer(
    method: str | Optimizer, known: Sequence[str] = (), **settings: Any
) -> Optimizer:
    """The optimizer for ``method`` (a registry name or an object) with ``settings`` applied.

    ``known`` are the caller's own keyword names, suggested when a setting is misspelt.

    Raises
    ------
    ValueError
        ``method`` names no optimizer (the message suggests the closest name).
    TypeError
        A setting that the optimizer does not take.
    """
    if isinstance(method, Optimizer):
        cls = type(method)
    elif isinstance(method, str):
        if method.lower() not in OPTIMIZERS:
            raise ValueError(
                f"method must be one of {', '.join(OPTIMIZERS)}, got {method!r}"
                + _validate.closest(method.lower(), OPTIMIZERS)
            )
        cls = OPTIMIZERS[method.lower()]
    else:
        raise TypeError(
            f"method must be a name such as 'adam' or an optimizer such as descend.Adam(), "
            f"got {method!r}"
        )
    accepted = [f.name for f in fields(cls)]
    for key in settings:
        if key not in accepted:
            raise TypeError(
                f"{key!r} is not a hyperparameter of {cls.__name__}; it takes "
                f"{', '.join(accepted)}" + _validate.closest(key, [*accepted, *known])
            )
    if isinstance(method, Optimizer):
        return dataclasses.replace(method, **settings)  # validated again by __post_init__
    return cls(**settings)
