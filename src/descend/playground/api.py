"""What the playground's JSON API answers, as plain Python: requests in, JSON-ready dicts out.

- :func:`run`: ``{"objective", "x0", "runs": [{"method", "lr", "hyperparameters"}],
  "max_iter", "explain"}`` -> ``{"variables", "runs": [{"method", "x", "f", "status",
  "message", "nit", "parts", "diagnosis"}]}``. Every run is :func:`descend.minimize` with
  the same arguments and ``record_x=True``, so every number is the one it returned;
  ``time_limit`` bounds each run, which then ends with status ``"time_limit"``. The runs
  take ``engine="auto"``: the compiled engine, all of a request's runs of one method in
  one parallel call, when it is installed and expected to repay its start-up (a long run;
  a shorter one once the method's loop is cached, when a new formula compiles only its
  own function; any run of a formula and method this server has compiled already), else
  the Python loop.
- :func:`contours`: ``{"objective", "bounds", "n"}`` -> the objective on an ``n`` x ``n``
  grid (``f[i][j]`` at ``(xs[j], ys[i])``, to :data:`GRID_DIGITS` significant digits) and
  contour levels, as the plots pick them.
- :func:`functions` and :func:`methods`: the test functions and the methods, for the
  page's inputs.

Non-finite numbers (a diverged run's last f, a grid point where f overflows) are
``None``, JSON's null; every other float round-trips exactly through JSON.

>>> answer = run({"objective": "x**2 + 10*y**2", "x0": [1.0, 1.0],
...               "runs": [{"method": "gd", "lr": 0.05}], "max_iter": 2})
>>> answer["variables"], answer["runs"][0]["x"]
(['x', 'y'], [[1.0, 1.0], [0.9, 0.0], [0.81, 0.0]])
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from descend.analysis.diagnose import diagnose
from descend.core.engines import deferred, finish
from descend.core.minimize import build_optimizer, minimize
from descend.core.optimizers import OPTIMIZERS
from descend.core.result import Result, Status
from descend.problems.functions import ZOO
from descend.viz._contours import GRID, LEVELS, _evaluate, _levels

from . import checks
from .checks import BadRequest, named
from .objectives import Problem, resolve, zoo_variables

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "contours",
    "finite_or_null",
    "functions",
    "methods",
    "run",
    "significant",
]

DEFAULT_TIME_LIMIT = 2.0  # seconds per run
RUN_FIELDS = ("objective", "x0", "runs", "max_iter", "explain")
CONTOUR_FIELDS = ("objective", "bounds", "n")
# Significant digits of the contour grid's f: a relative error of 5e-7 is far below what
# a colour band shows, and the shorter numbers halve the time to write and read the grid.
GRID_DIGITS = 7
# Endings worth a diagnosis (and perhaps a learning rate to try): the run blew up or used
# its budget. A converged run needs none, and one cut by the time limit has not finished.
DIAGNOSED = (Status.DIVERGED, Status.MAX_ITER)


def finite_or_null(values: Any) -> Any:
    """A number or array as (nested) lists of floats, with None where it is not finite.

    >>> finite_or_null(np.array([[1.5, np.inf], [np.nan, -2.0]]))
    [[1.5, None], [None, -2.0]]
    """
    array = np.asarray(values, dtype=float)
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()
    shown = array.astype(object)  # Python floats, which can sit beside None
    shown[~finite] = None
    return shown.tolist()


def significant(values: Any, digits: int) -> Any:
    """``values`` rounded to ``digits`` significant digits (zeros, NaN and infinities, and
    numbers whose scale overflows, as they are).

    >>> significant(np.array([123.456789, -0.000123456789, 0.0, np.nan]), 4).tolist()
    [123.5, -0.0001235, 0.0, nan]
    """
    with np.errstate(all="ignore"):
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values))))
        rounded = np.round(values * scale) / scale
    return np.where(np.isfinite(rounded), rounded, values)


def run(request: Any, time_limit: float = DEFAULT_TIME_LIMIT) -> dict[str, Any]:
    """The runs a request asks for, side by side from one start point.

    Raises
    ------
    BadRequest
        A field is missing, unknown or wrong; every run's settings are checked before the
        first one starts.
    """
    body = checks.fields(request, "the request", RUN_FIELDS, required=("objective", "x0", "runs"))
    x0 = checks.finite_numbers(body["x0"], "x0")
    problem = resolve(checks.text(body["objective"], "objective"), len(x0))
    specs = checks.run_specs(body["runs"])
    max_iter = body.get("max_iter")
    if max_iter is not None:
        max_iter = checks.whole_number(max_iter, "max_iter", 1, checks.MAX_ITER)
    explain = checks.flag(body.get("explain", False), "explain")
    for i, spec in enumerate(specs):
        with named(f"runs[{i}]"):
            build_optimizer(spec.method, spec.lr, max_iter, **spec.hyperparameters)
    # errstate is per thread: overflow far from the minimum is the run's own business
    # (its status says so), and concurrent requests do not see each other's settings.
    with np.errstate(all="ignore"):
        with deferred():  # compiled runs wait for finish(), to run together
            outcomes = []
            for i, spec in enumerate(specs):
                with named(f"runs[{i}]"):
                    res = minimize(problem.fun, x0, spec.method, lr=spec.lr, max_iter=max_iter,
                                   explain=explain, record_x=True, time_limit=time_limit,
                                   engine="auto", **spec.hyperparameters)  # fmt: skip
                outcomes.append(res)
        results = finish(outcomes)
        answers = [_answer(res, problem, explain, f"runs[{i}]") for i, res in enumerate(results)]
    return {"variables": list(problem.variables), "runs": answers}


def _answer(res: Result, problem: Problem, explain: bool, field: str) -> dict[str, Any]:
    """One run's part of the answer."""
    with named(field):
        answer: dict[str, Any] = {
            "method": res.method,
            "x": finite_or_null(res.history.x),
            "f": finite_or_null(res.history.f),
            "status": str(res.status),
            "message": res.message,
            "nit": res.nit,
        }
        if explain:
            parts = res.history.explanation or {}
            answer["parts"] = {name: finite_or_null(parts[name]) for name in sorted(parts)}
        if res.status in DIAGNOSED:
            answer["diagnosis"] = _diagnosis(res, problem)
    return answer


def _diagnosis(res: Result, problem: Problem) -> dict[str, Any]:
    """``dd.diagnose``'s findings as text, and the first learning rate it tried and offers."""
    found = diagnose(res, problem.fun, problem.fun.grad)
    lrs = [finding.lr for finding in found if finding.lr is not None]
    return {"kind": found.main.kind, "text": str(found), "lr": lrs[0] if lrs else None}


def contours(request: Any) -> dict[str, Any]:
    """The objective on a grid over ``bounds``, and contour levels for it.

    Raises
    ------
    BadRequest
        A field is missing, unknown or wrong, or the objective does not have 2 variables.
    """
    body = checks.fields(request, "the request", CONTOUR_FIELDS, required=("objective", "bounds"))
    objective = checks.text(body["objective"], "objective")
    (x_low, x_high), (y_low, y_high) = checks.window(body["bounds"])
    n = checks.whole_number(body.get("n", GRID), "n", 2, checks.MAX_GRID)
    try:
        problem = resolve(objective, 2)
    except BadRequest as error:
        if error.variables is None:  # a formula that does not parse
            raise
        names = ", ".join(error.variables)
        raise BadRequest(
            f"contours need an objective of 2 variables; this one has {len(error.variables)} "
            f"({names}): its runs are drawn as loss curves only"
        ) from None
    xs, ys = np.linspace(x_low, x_high, n), np.linspace(y_low, y_high, n)
    grid = np.stack(np.meshgrid(xs, ys))
    f = _evaluate(problem.fun, grid, (2,))
    finite = np.isfinite(f).any()
    levels = _levels(f, LEVELS, maximize=False) if finite else np.array([])
    return {
        "variables": list(problem.variables),
        "xs": finite_or_null(xs),
        "ys": finite_or_null(ys),
        "f": finite_or_null(significant(f, GRID_DIGITS)),
        "levels": finite_or_null(np.unique(levels)),
    }


@functools.cache
def functions() -> list[dict[str, Any]]:
    """The test functions of ``dd.functions`` with their formula, minima, start and window
    (for the n = 2 case of those that take any dimension)."""
    return [
        {
            "name": name,
            "formula": function.formula,
            "variables": list(zoo_variables(len(function.x0))),
            "minima": [finite_or_null(m) for m in function.minima],
            "fmin": function.fmin,
            "x0": finite_or_null(function.x0),
            "window": [list(side) for side in function.bounds],
            "dim": function.dim,
        }
        for name, function in ZOO.items()
    ]


@functools.cache
def methods() -> list[dict[str, Any]]:
    """The methods of the registry, each with its default lr and its other hyperparameters
    (name, default and kind: ``"float"``, ``"int"``, ``"bool"`` or ``"optional"``, a
    number or null)."""
    listing = []
    for name, cls in OPTIMIZERS.items():
        settings = [f for f in dataclasses.fields(cls) if f.name not in checks.NOT_HYPERPARAMETERS]
        listing.append(
            {
                "name": name,
                "when": cls.when,
                "lr": finite_or_null(_default(cls, "lr")),
                "hyperparameters": [
                    {"name": f.name, "default": _shown_default(f.default), "kind": _kind(f)}
                    for f in settings
                ],
            }
        )
    return listing


def _default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _kind(field: dataclasses.Field[Any]) -> str:
    if field.default is None:
        return "optional"
    return type(field.default).__name__  # float, int or bool


def _shown_default(value: Any) -> Any:
    """A default as JSON: floats that are not finite (Prodigy's growth_rate=inf) as null."""
    return finite_or_null(value) if isinstance(value, float) else value
