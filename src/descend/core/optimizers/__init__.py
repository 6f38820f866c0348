"""The optimizer family, one file per family, and the registry that names them."""

from .base import Optimizer
from .first_order import GD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
from .free import DoG, Prodigy, ScheduleFreeAdamW, ScheduleFreeSGD
from .line_search import BB, Armijo
from .quasi_newton import LBFGS
from .registry import OPTIMIZERS, make_optimizer

__all__ = [
    "BB",
    "GD",
    "LBFGS",
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Armijo",
    "DoG",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "Prodigy",
    "RMSProp",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
    "make_optimizer",
]
