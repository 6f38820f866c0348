"""The optimizer family, one file per family, and the registry that names them."""

from .base import Optimizer
from .first_order import GD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
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
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "make_optimizer",
]
