"""Many runs of ``minimize`` at once: in worker processes, as tasks on a Dask cluster
(``n_jobs=client``, a ``distributed.Client``), or one after another.

Shared by :func:`descend.multistart` and :func:`descend.sweep`. In this process, the runs
of an engine that runs many at once (the compiled engine) go to it in one call: see
:func:`descend.core.engines.deferred`.
"""

from __future__ import annotations

import numbers
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from descend.core.engines import deferred, finish
from descend.core.result import Result, Status


def workers(n_jobs: Any, n_runs: int) -> Any:
    """The number of processes: 1 for None, all cores for -1, never more than the runs;
    or a ``distributed.Client``, as it is, whose cluster runs the runs as tasks."""
    if n_jobs is None:
        return 1
    if _is_client(n_jobs):
        return n_jobs
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"n_jobs must be None or an integer, got {n_jobs!r:.60}; or a distributed.Client "
            "to run the runs as tasks on its cluster"
        )
    n_jobs = int(n_jobs)
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"n_jobs must be a positive number of processes, or -1 for one per core, got "
            f"{n_jobs}; None or 1 runs them in this process"
        )
    cores = os.cpu_count() or 1
    return min(cores if n_jobs == -1 else n_jobs, n_runs)


def parsed(fun: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A formula parsed once for all the runs (its Formula, not its text, goes to each).

    With ``grad`` given the string goes to ``minimize`` as it is, which raises its own
    error for that combination.
    """
    if not isinstance(fun, str) or "grad" in kwargs:
        return fun, kwargs
    from descend.gradients.formulas import parse_cached

    kwargs = dict(kwargs)
    return parse_cached(fun, kwargs.pop("variables", None)), kwargs


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a batch of runs: ``results`` holds the runs that finished, in order,
    the interrupted one last; ``partial`` what the caller made of them (a sweep's grid)."""

    def __init__(self, results: list[Result], total: int) -> None:
        super().__init__(f"interrupted after {len(results)} of {total} runs")
        self.results, self.total = results, total
        self.partial: Any = None


def _is_client(n_jobs: Any) -> bool:
    distributed = sys.modules.get("distributed")  # a Client exists only once it is imported
    return distributed is not None and isinstance(n_jobs, distributed.Client)


def run_all(
    run: Callable[..., Result], tasks: Sequence[tuple[Any, ...]], workers: Any, caller: str
) -> list[Result]:
    """``run(*task)`` for every task, in order, in ``workers`` processes when ``run`` pickles,
    or as tasks of the cluster when ``workers`` is a ``distributed.Client``.

    A run that ends "interrupted" (Ctrl-C), or Ctrl-C while waiting for the processes,
    stops them all with :class:`Interrupted` (a KeyboardInterrupt) holding what finished.
    """
    if _is_client(workers):
        return _on_cluster(workers, run, tasks)
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
    if workers == 1:  # the runs of an engine that runs many at once: one call
        try:
            with deferred():
                outcomes = _gathered((run(*task) for task in tasks), len(tasks))
        except Interrupted as stop:
            stop.results = finish(stop.results)
            raise
        return finish(outcomes)
    from concurrent.futures import ProcessPoolExecutor  # 15 ms to import: only when used

    pool = ProcessPoolExecutor(workers)
    try:
        chunk = max(1, len(tasks) // (4 * workers))  # a few chunks each, to balance the load
        return _gathered(pool.map(run, *zip(*tasks, strict=True), chunksize=chunk), len(tasks))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the workers had Ctrl-C too


def _on_cluster(
    client: Any, run: Callable[..., Result], tasks: Sequence[tuple[Any, ...]]
) -> list[Result]:
    """The runs as tasks of ``client``'s cluster (cloudpickle sends lambdas too), their
    results taken in order; those not done are cancelled when the batch stops early."""
    futures = client.map(run, *zip(*tasks, strict=True), pure=False)
    try:
        return _gathered((future.result() for future in futures), len(tasks))
    finally:
        client.cancel([future for future in futures if not future.done()])


def _gathered(runs: Iterable[Result], total: int) -> list[Result]:
    """The results one by one, until a run ends "interrupted" (Ctrl-C means all of it)."""
    results: list[Result] = []
    try:
        for res in runs:
            results.append(res)
            if getattr(res, "status", None) is Status.INTERRUPTED:  # not a deferred Job
                raise Interrupted(results, total)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(results, total) from None
    return results
