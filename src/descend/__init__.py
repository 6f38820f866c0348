"""descend: gradient-based optimisation you can read.

>>> import descend as dd
>>> res = dd.minimize(lambda x: (x[0] - 1) ** 2 + 3 * x[1] ** 2, [3.0, 4.0],
...                   grad=lambda x: [2 * (x[0] - 1), 6 * x[1]], method="adam", lr=0.1)
>>> res.status, res.x.round(6)
(<Status.CONVERGED: 'converged'>, array([1., 0.]))
"""

from . import datasets, functions, projections, schedules
from .diagnose import Diagnosis, Finding, diagnose
from .differentiate import check_grad, numeric_grad
from .expressions import Formula, parse
from .lr_finder import LRFinderResult, find_lr
from .minimize import Iteration, maximize, minimize
from .optimizers import (
    BB,
    GD,
    OPTIMIZERS,
    AdaGrad,
    Adam,
    AdamW,
    Armijo,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
)
from .restarts import Minimum, MultistartResult, multistart
from .result import History, Result, Status
from .sweep import SweepResult, sweep

__version__ = "0.1.0"

__all__ = [
    "BB",
    "GD",
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Armijo",
    "Diagnosis",
    "Finding",
    "Formula",
    "History",
    "Iteration",
    "LRFinderResult",
    "Minimum",
    "Momentum",
    "MultistartResult",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "Result",
    "Status",
    "SweepResult",
    "check_grad",
    "datasets",
    "diagnose",
    "find_lr",
    "functions",
    "maximize",
    "minimize",
    "multistart",
    "numeric_grad",
    "parse",
    "projections",
    "schedules",
    "sweep",
]
