"""The demo: every method of the registry on the classic problems, as one table,
then the digits classifier (:mod:`descend.problems.digits`) when scikit-learn is installed.

Each problem carries the step sizes that suit its scale: ``lr`` for the
gradient-descent family (about 1 / curvature) and ``adaptive_lr`` for the
methods whose steps are about ``lr`` long whatever the gradient's size
(AdaGrad, RMSProp, Adam, AdamW). Armijo and BB choose their own steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend.core import schedules
from descend.core.minimize import minimize
from descend.core.optimizers import OPTIMIZERS
from descend.core.result import Result
from descend.problems import functions


@dataclass(frozen=True)
class Problem:
    """An objective with its gradient, a start, its minimisers and suitable step sizes."""

    name: str
    fun: Callable[[Any], Any]
    grad: Callable[[Any], Any]
    x0: Any
    minima: list[Any]
    lr: float
    adaptive_lr: float
    max_iter: int = 2000


def _bowl(x):
    return (x[0] - 1) ** 2 + 3 * x[1] ** 2


def _bowl_grad(x):
    return np.array([2 * (x[0] - 1), 6 * x[1]])


def _zoo(name: str, lr: float, adaptive_lr: float, max_iter: int) -> Problem:
    f = functions.ZOO[name]
    return Problem(name, f, f.grad, f.x0, f.minima, lr, adaptive_lr, max_iter)


PROBLEMS = (
    Problem("x**2", lambda x: x**2, lambda x: 2 * x, 5.0, [0.0], 0.1, 0.1),
    Problem("(x-1)**2", lambda x: (x - 1) ** 2, lambda x: 2 * (x - 1), 3.0, [1.0], 0.1, 0.1),
    Problem("(x-1)**2 + 3*y**2", _bowl, _bowl_grad, [3.0, 4.0], [[1.0, 0.0]], 0.1, 0.1),
    _zoo("rosenbrock", 1.5e-3, 0.02, 10_000),
    _zoo("beale", 0.01, 0.01, 10_000),
    _zoo("himmelblau", 0.01, 0.05, 5000),
)


def settings(method: str, problem: Problem) -> dict[str, Any]:
    """The step size each method gets on ``problem``."""
    if method == "gd":
        return {"lr": problem.lr}
    if method in ("momentum", "nesterov"):  # momentum 0.9 lengthens steps up to tenfold
        return {"lr": problem.lr / 2}
    if method == "adagrad":
        return {"lr": 10 * problem.adaptive_lr}
    if method == "rmsprop":  # constant-rate RMSProp hovers; a slow decay lets it settle
        return {"lr": schedules.exponential(problem.adaptive_lr, 0.999)}
    if method in ("adam", "adamw", "schedulefree_adamw"):
        return {"lr": problem.adaptive_lr}
    if method == "schedulefree_sgd":  # SGD's step: 1 / curvature, like gd's
        return {"lr": problem.lr}
    return {}  # the line searches and the learning-rate-free rules need none


def run(problems=PROBLEMS, methods=tuple(OPTIMIZERS)) -> Iterator[tuple[Problem, str, Result]]:
    """Yield ``(problem, method, result)`` for every pair."""
    for problem in problems:
        for method in methods:
            result = minimize(
                problem.fun,
                problem.x0,
                method,
                grad=problem.grad,
                max_iter=problem.max_iter,
                **settings(method, problem),
            )
            yield problem, method, result


def distance_to_nearest_minimum(problem: Problem, x: Any) -> float:
    return min(float(np.linalg.norm(np.subtract(x, m))) for m in problem.minima)


def table(rows: Iterable[tuple[Problem, str, Result]]) -> Iterator[str]:
    """Format results as lines of a fixed-width table, one line per run."""
    header = (
        f"{'problem':<18} {'method':<18} {'x':<26} {'f':>10} {'|x - x*|':>9} "
        f"{'iters':>6} {'status':<10} {'time':>7}"
    )
    yield header
    yield "-" * len(header)
    last = None
    for problem, method, res in rows:
        if last is not None and problem is not last:
            yield ""
        last = problem
        x = np.array2string(np.atleast_1d(res.x), precision=5, suppress_small=True, separator=", ")
        error = distance_to_nearest_minimum(problem, res.x)
        yield (
            f"{problem.name:<18} {method:<18} {x:<26} {res.fun:>10.3g} {error:>9.1e} "
            f"{res.nit:>6} {res.status!s:<10} {res.elapsed * 1000:>5.0f}ms"
        )
    yield ""
    yield (
        "|x - x*| is the distance to the nearest known minimiser. AdamW's weight decay "
        "(0.01) pulls x towards 0,\nso it settles near x*, not on it: that is the decay "
        "working, not a failure to converge."
    )


def digits_section() -> Iterator[str]:
    """The digits experiment's tables, or one line saying why they are skipped."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        yield "digits classifier: skipped (needs scikit-learn: pip install 'descend[models]')"
        return
    from descend.problems import digits

    yield from digits.report()


def lines() -> Iterator[str]:
    """The whole demo: the methods table, then the digits classifier."""
    yield from table(run())
    yield ""
    yield from digits_section()
