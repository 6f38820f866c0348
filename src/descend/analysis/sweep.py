"""Hyperparameter grids: one :func:`descend.minimize` run for every combination.

>>> import descend as dd
>>> grid = dd.sweep("x**2 + 10*y**2", [1.0, 1.0], "momentum", lr=[0.01, 0.05],
...                 momentum=[0.0, 0.9], max_iter=200)
>>> grid.names, len(grid.results)
(('lr', 'momentum'), 4)
>>> str(grid.results[0.05, 0.0].status), grid.best_params
('converged', {'lr': 0.05, 'momentum': 0.0})
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from descend._types import ArrayLike
from descend.analysis import _runs
from descend.core.minimize import check_run_settings, minimize
from descend.core.optimizers import Optimizer
from descend.core.result import Result, Status

__all__ = ["SweepResult", "best_key", "sweep"]

Key = TypeVar("Key", bound=Hashable)

# Keywords of minimize that take a sequence as one value, never a grid.
NOT_GRIDS = ("data", "variables")


@dataclass(frozen=True, repr=False)
class SweepResult:
    """Every run of a grid, addressable by its parameter values.

    Attributes
    ----------
    names : tuple of str
        The grid parameters, in the order they were given.
    grid : dict
        Each parameter's values, as given.
    results : dict
        ``results[values]`` is the :class:`~descend.Result` for one combination, a tuple
        of values in the order of ``names`` (``results[0.1, 0.9]``).
    fun : callable or str
        The objective, as given (the plots draw it).
    x0 : array_like
        The start point shared by every run.
    fixed : dict
        The keywords every run shared, ``method`` among them.

    Examples
    --------
    >>> import descend as dd
    >>> grid = dd.sweep("(x-1)**2", [3.0], lr=[0.1, 0.5], max_iter=100)
    >>> grid.results[0.5,].nit, [row["nit"] for row in grid.rows()]
    (1, [89, 1])
    """

    names: tuple[str, ...]
    grid: dict[str, tuple[Any, ...]]
    results: dict[tuple[Any, ...], Result]
    fun: Callable[..., Any] | str
    x0: ArrayLike
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Result | None:
        """The best run (see :func:`best_key`): the fewest updates among the converged runs,
        ties broken by f; the best final f when none converged; None when all diverged."""
        key = self._best_key()
        return None if key is None else self.results[key]

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The parameter values of :attr:`best`, by name."""
        key = self._best_key()
        return None if key is None else dict(zip(self.names, key, strict=True))

    def _best_key(self) -> tuple[Any, ...] | None:
        return best_key(self.results)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per run: the parameter values, final f, updates, status and seconds."""
        return [
            {
                **dict(zip(self.names, key, strict=True)),
                "fun": res.fun,
                "nit": res.nit,
                "status": str(res.status),
                "seconds": res.elapsed,
            }
            for key, res in self.results.items()
        ]

    def table(self) -> Any:
        """:meth:`rows` as a pandas DataFrame, or as the list of dicts without pandas."""
        try:
            import pandas as pd
        except ImportError:
            return self.rows()
        return pd.DataFrame(self.rows())

    def __repr__(self) -> str:
        rows = [
            {**row, "fun": f"{row['fun']:.6g}", "seconds": f"{row['seconds']:.3g}"}
            for row in self.rows()
        ]
        columns = list(rows[0])
        cells = [[str(row[name]) for name in columns] for row in rows]
        widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
        lines = [columns, *cells]
        text = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
                for line in lines]  # fmt: skip
        best = "none (every run diverged)" if self.best_params is None else self.best_params
        return "\n".join([f"SweepResult: {len(rows)} runs, best {best}", *text])


def best_key(results: Mapping[Key, Result]) -> Key | None:
    """The key of the best of ``results``: the run that converged in the fewest updates,
    ties broken by the better f; when no run converged, the best final f among the runs
    that did not diverge; None when every run diverged.

    Among converged runs f differs by rounding (1e-17 on a minimum at 0), so it would
    pick the slowest run as often as the fastest; the updates a run took tell them apart.

    >>> import descend as dd
    >>> runs = {lr: dd.minimize("(x-1)**2", [3.0], "gd", lr=lr) for lr in (0.1, 0.4, 1.5)}
    >>> [(lr, str(r.status), r.nit) for lr, r in runs.items()], best_key(runs)
    ([(0.1, 'converged', 89), (0.4, 'converged', 13), (1.5, 'diverged', 10)], 0.4)
    """

    def f(res: Result) -> float:
        return -res.fun if res.maximize else res.fun

    ranked = {
        key: (res.nit, f(res))
        for key, res in results.items()
        if res.status is Status.CONVERGED and np.isfinite(res.fun)
    }
    if not ranked:
        ranked = {
            key: (0, f(res))
            for key, res in results.items()
            if res.status is not Status.DIVERGED and np.isfinite(res.fun)
        }
    return min(ranked, key=ranked.__getitem__) if ranked else None


def sweep(
    fun: Callable[..., Any] | str,
    x0: ArrayLike,
    method: str | Optimizer | Sequence[str | Optimizer] = "gd",
    *,
    n_jobs: Any = None,
    **parameters: Any,
) -> SweepResult:
    """Run :func:`descend.minimize` for every combination of the parameters given as lists.

    A keyword whose value is a list, tuple or 1-D array is a grid (``lr=[0.01, 0.1]``);
    any other keyword is passed to every run unchanged (``max_iter=500``). ``method``
    may be a list too. Combinations are run in the order of
    ``itertools.product`` over the grids, in the order they were given.

    Parameters
    ----------
    fun, x0, method
        As for :func:`descend.minimize`.
    n_jobs : int, distributed.Client or None
        Processes to run the combinations in: None or 1 for one after another in this
        process, k for k processes, -1 for one per core. ``fun`` and the keywords must
        pickle to go to other processes; when they do not (a lambda), the runs go one
        after another, with a warning. A ``distributed.Client`` sends the runs to its
        cluster as Dask tasks (cloudpickle sends lambdas too). The results are the same
        every way. In this process, with ``engine="numba"`` (or ``"auto"`` when it
        compiles), the combinations run in one parallel compiled call per method and
        set of stopping rules, over every core (so leave ``n_jobs`` at None).
    **parameters
        Grids and fixed keywords of :func:`descend.minimize` (``data`` and ``variables``
        are never grids).

    Returns
    -------
    SweepResult
        ``.results[values]``, ``.best``, ``.best_params`` and ``.table()``.

    Raises
    ------
    ValueError
        When no keyword is a grid, or a grid is empty.
    TypeError, ValueError
        As :func:`descend.minimize` for a bad value in any combination, before any run.
    KeyboardInterrupt
        Ctrl-C stops the whole sweep: the exception's ``partial`` is the SweepResult of
        the runs that finished (the interrupted one among them).

    Examples
    --------
    >>> import descend as dd
    >>> grid = dd.sweep("(x-1)**2", [3.0], "gd", lr=[0.1, 0.5, 1.5], max_iter=100)
    >>> [str(res.status) for res in grid.results.values()], grid.best_params
    (['converged', 'converged', 'diverged'], {'lr': 0.5})
    """
    grid: dict[str, tuple[Any, ...]] = {}
    fixed: dict[str, Any] = {}
    for name, value in {"method": method, **parameters}.items():
        if name not in NOT_GRIDS and _is_grid(value):
            values = (
                tuple(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else tuple(value)
            )
            if not values:
                raise ValueError(f"{name} is an empty grid; give at least one value")
            grid[name] = values
        else:
            fixed[name] = value
    if not grid:
        raise ValueError(
            "sweep needs at least one grid: give a parameter as a list, e.g. lr=[0.01, 0.1]"
        )
    names = tuple(grid)
    keys = list(itertools.product(*grid.values()))
    for values in keys:  # a bad value fails before any run starts
        check_run_settings(**fixed, **dict(zip(names, values, strict=True)))
    objective, shared = _runs.parsed(fun, fixed)
    tasks = [({**shared, **dict(zip(names, values, strict=True))},) for values in keys]
    solve, workers = functools.partial(_solve, objective, x0), _runs.workers(n_jobs, len(keys))
    try:
        runs = _runs.run_all(solve, tasks, workers, "sweep")
    except _runs.Interrupted as stop:  # the grid so far goes with it
        stop.partial = SweepResult(
            names, grid, dict(zip(keys, stop.results, strict=False)), fun, x0, fixed
        )
        raise
    return SweepResult(names, grid, dict(zip(keys, runs, strict=True)), fun, x0, fixed)


def _solve(fun: Any, x0: ArrayLike, settings: dict[str, Any]) -> Result:
    """One combination's run (at module level, so that a process pool can pickle it)."""
    settings = dict(settings)
    return minimize(fun, x0, settings.pop("method"), **settings)


def _is_grid(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 1
    return isinstance(value, (list, tuple))
