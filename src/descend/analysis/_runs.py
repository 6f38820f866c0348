"""Many runs of ``minimize`` at once: in worker processes, or one after another.

Shared by :func:`descend.multistart` and :func:`descend.sweep`.
"""

from __future__ import annotations

import numbers
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from descend.core.result import Result, Status


def workers(n_jobs: Any, n_runs: int) -> int:
    """The number of processes: 1 for None, all cores for -1, never more than the runs."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or an integer, got {n_jobs!r}")
    n_jobs = int(n_jobs)
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"n_jobs must be a positive number of processes, or -1 for one per core, got "
            f"{n_jobs}; None or 1 runs them in this process"
        )
    cores = os.cpu_count() or 1
    return min(cores if n_jobs == -1 else n_jobs, n_runs)


def parsed(fun: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A formula parsed once for all the runs rather than once per run (~16 ms each).

    With ``grad`` given the string goes to ``minimize`` as it is, which raises its own
    error for that combination.
    """
    if not isinstance(fun, str) or "grad" in kwargs:
        return fun, kwargs
    from descend.gradients.formulas import parse

    kwargs = dict(kwargs)
    return parse(fun, kwargs.pop("variables", None)), kwargs


def run_all(
    run: Callable[..., Result], tasks: Sequence[tuple[Any, ...]], workers: int, caller: str
) -> list[Result]:
    """``run(*task)`` for every task, in order, in ``workers`` processes when ``run`` pickles.

    Serially, a run that ends "interrupted" (Ctrl-C) stops them all with KeyboardInterrupt.
    """
    if workers > 1:
        try:
            pickle.dumps(run)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            warnings.warn(
                f"{caller} makes its runs one after another, not in {workers} processes: fun "
                f"or a keyword cannot be sent to another process ({error}); define fun (and "
                "grad, callback, ...) with def at the top level of a module to run them in "
                "parallel",
                UserWarning,
                stacklevel=3,
            )
            workers = 1
    if workers == 1:
        results = []
        for task in tasks:
            results.append(run(*task))
            if results[-1].status is Status.INTERRUPTED:  # Ctrl-C means all of it
                raise KeyboardInterrupt
        return results
    from concurrent.futures import ProcessPoolExecutor  # 15 ms to import: only when used

    with ProcessPoolExecutor(workers) as pool:
        chunk = max(1, len(tasks) // (4 * workers))  # a few chunks each, to balance the load
        return list(pool.map(run, *zip(*tasks, strict=True), chunksize=chunk))
