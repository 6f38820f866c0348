"""descend: gradient-based optimisation you can read.

>>> import descend as dd
>>> res = dd.minimize(lambda x: (x[0] - 1) ** 2 + 3 * x[1] ** 2, [3.0, 4.0],
...                   grad=lambda x: [2 * (x[0] - 1), 6 * x[1]], method="adam", lr=0.1)
>>> res.status, res.x.round(6)
(<Status.CONVERGED: 'converged'>, array([1., 0.]))

The package is layered (see the README's "Layout"): ``core`` (the loop), ``gradients``,
``analysis``, ``problems``, ``models``, ``viz`` and the ``cli`` on top. The public names
below are the contract; the heavy parts (``plot``, ``models``, ``report``) load on first
use, so ``import descend`` needs NumPy alone.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

from .analysis.diagnose import Diagnosis, Finding, diagnose
from .analysis.lr_finder import LRFinderResult, find_lr
from .analysis.restarts import Minimum, MultistartResult, multistart
from .analysis.sweep import SweepResult, sweep
from .core import projections, schedules
from .core.engines import register_engine
from .core.loop import Iteration
from .core.minimize import maximize, minimize
from .core.optimizers import (
    BB,
    GD,
    LBFGS,
    OPTIMIZERS,
    AdaGrad,
    Adam,
    AdamW,
    Armijo,
    DoG,
    Momentum,
    Nesterov,
    Optimizer,
    Prodigy,
    RMSProp,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
)
from .core.optimizers.fused import register_fused
from .core.result import History, Result, Status
from .engines import dask as _dask_engine  # noqa: F401  (registers itself; imports no Dask)
from .gradients.formulas import Formula, parse
from .gradients.numeric import check_grad, numeric_grad
from .problems import datasets, functions

__version__ = "0.1.0"

__all__ = [
    "BB",
    "GD",
    "LBFGS",
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Armijo",
    "Diagnosis",
    "DoG",
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
    "Prodigy",
    "RMSProp",
    "Result",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
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

# Public modules by their short names, as users import them (``import descend.plot``,
# ``from descend.datasets import make_ratings``), and where each now lives.
_MODULES = {
    "datasets": "descend.problems.datasets",
    "functions": "descend.problems.functions",
    "models": "descend.models",
    "plot": "descend.viz.plot",
    "projections": "descend.core.projections",
    "report": "descend.viz.report",
    "schedules": "descend.core.schedules",
}

# engine="numba": the compiled loop, loaded (with Numba) only when a run asks for it.
register_engine("numba", lambda: importlib.import_module("descend.engines.compiled").ENGINE)
# Long vectors: each elementwise rule's fused kernel, loaded (with Numba) on first need.
register_fused(lambda: importlib.import_module("descend.engines.fused").KERNELS)


def __getattr__(name: str) -> ModuleType:
    """Load a heavy public module on first use: ``dd.plot`` imports matplotlib only then."""
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'descend' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


class _ShortNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Lets ``import descend.plot`` find ``descend.viz.plot``: the statement then binds the
    real module (the same object as ``dd.plot``), so nothing is loaded twice."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        package, _, short = fullname.rpartition(".")
        if package != __name__ or short not in _MODULES or _MODULES[short] == fullname:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module, replaced in exec_module

    def exec_module(self, module: ModuleType) -> None:
        # The import system reads sys.modules back after exec_module, so the alias
        # binds the real module without touching its own name or spec.
        sys.modules[module.__name__] = __getattr__(module.__name__.rpartition(".")[2])


if not any(isinstance(finder, _ShortNames) for finder in sys.meta_path):
    sys.meta_path.append(_ShortNames())
