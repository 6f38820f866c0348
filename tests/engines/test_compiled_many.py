"""sweep and multistart with engine="numba": all their runs in one parallel compiled call.

Each run of the one call must be the run that minimize makes alone, with either engine:
the same iterates bit for bit, history, status, message and counts.
"""

from __future__ import annotations

import numpy as np
import pytest

import descend as dd

numba = pytest.importorskip("numba")
from descend.engines import _compiled_run  # noqa: E402

HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """A fresh cache folder for the generated modules of this file."""
    monkeypatch.setenv("DESCEND_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "many-cache"))


@pytest.fixture
def calls(monkeypatch):
    """The number of runs in each parallel call of run_many."""
    sizes = []
    together = _compiled_run.together
    monkeypatch.setattr(_compiled_run, "together", lambda starts: sizes.append(len(starts))
                        or together(starts))  # fmt: skip
    return sizes


def same(got, want):
    """got is want's run: the same ending, counts, iterates and history, bit for bit."""
    assert (got.status, got.message, got.nit) == (want.status, want.message, want.nit)
    assert (got.nfev, got.ngev, got.best_nit) == (want.nfev, want.ngev, want.best_nit)
    for name in ("x", "fun", "grad", "best_x", "best_fun"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    for name in ("f", "grad_norm", "lr", "x"):
        got_column, want_column = getattr(got.history, name), getattr(want.history, name)
        if want_column is None:
            assert got_column is None, name
        else:
            np.testing.assert_array_equal(got_column, want_column, err_msg=name)


def test_a_sweep_is_one_parallel_call_and_each_run_is_the_one_made_alone(calls):
    settings = dict(max_iter=600)
    grid = dd.sweep(HIMMELBLAU, [0.5, 0.5], "momentum", lr=[1e-3, 5e-3, 0.05],
                    momentum=[0.0, 0.5, 0.9], engine="numba", **settings)  # fmt: skip
    assert calls == [9]
    statuses = set()
    for (lr, momentum), res in grid.results.items():
        alone = dd.minimize(HIMMELBLAU, [0.5, 0.5], "momentum", lr=lr, momentum=momentum,
                            **settings)  # fmt: skip
        same(res, alone)
        statuses.add(str(res.status))
    assert {"converged", "diverged"} <= statuses  # runs of one call end apart
    assert grid.best_params == {"lr": 5e-3, "momentum": 0.5}


def test_a_zoo_function_with_scratch_arrays_gets_one_per_run(calls):
    # Rosenbrock's kernel writes its intermediate vectors into scratch arrays, and the
    # quadratic reads the A and b it carries: in parallel each run needs its own scratch.
    quadratic = dd.functions.quadratic(np.diag(np.arange(1.0, 6.0)), np.ones(5))
    for fun, x0 in [(dd.functions.rosenbrock, np.full(6, -0.5)), (quadratic, np.zeros(5))]:
        calls.clear()
        grid = dd.sweep(fun, x0, "adam", lr=[1e-3, 3e-3, 1e-2, 3e-2], max_iter=400,
                        engine="numba")  # fmt: skip
        assert calls == [4]
        for (lr,), res in grid.results.items():
            same(res, dd.minimize(fun, x0, "adam", lr=lr, max_iter=400))


def test_multistart_runs_every_start_in_one_call(calls):
    kwargs = dict(method="adam", lr=0.05, max_iter=800, n_starts=12, seed=3)
    bounds = [(-5, 5), (-5, 5)]
    fast = dd.multistart(dd.functions.himmelblau, bounds, engine="numba", **kwargs)
    slow = dd.multistart(dd.functions.himmelblau, bounds, **kwargs)
    assert calls == [12]
    for got, want in zip(fast.results, slow.results, strict=True):
        same(got, want)
    assert len(fast.minima) == len(slow.minima) == 4  # Himmelblau's four minima


def test_runs_that_cannot_share_a_call_are_grouped_apart(calls):
    # A schedule and a constant rate, two numbers of updates, or clipping and none cannot
    # share the loop's settings (two clip_norm values can): each set of runs that can goes
    # in a call of its own.
    schedule = dd.schedules.exponential(0.01, 0.999)
    grid = dd.sweep(HIMMELBLAU, [0.5, 0.5], "gd", lr=[0.01, 0.005, schedule],
                    max_iter=[300, 500], clip_norm=[None, 5.0, 2.0], engine="numba")  # fmt: skip
    # By max_iter: the 2 lrs unclipped, the 2 lrs x 2 clips, the schedule's 2 clips (its
    # unclipped run goes alone).
    assert sorted(calls) == [2, 2, 2, 2, 4, 4]
    for (lr, max_iter, clip), res in grid.results.items():
        same(res, dd.minimize(HIMMELBLAU, [0.5, 0.5], "gd", lr=lr, max_iter=max_iter,
                              clip_norm=clip))  # fmt: skip


def test_a_run_that_ends_at_its_start_and_maximize_in_a_batch(calls):
    # The start is the minimum for one of the runs: it ends there, outside the call.
    grid = dd.sweep("-(x-1)**2 - (y+2)**2", [1.0, -2.0], "nesterov", lr=[0.01, 0.1],
                    maximize=True, max_iter=200, engine="numba")  # fmt: skip
    assert calls == [] and all(res.nit == 0 for res in grid.results.values())
    grid = dd.sweep("-(x-1)**2 - (y+2)**2", [3.0, 0.0], "nesterov", lr=[0.01, 0.1],
                    maximize=True, max_iter=200, record_x=False, engine="numba")  # fmt: skip
    assert calls == [2]
    for (lr,), res in grid.results.items():
        assert res.history.x is None
        same(res, dd.minimize("-(x-1)**2 - (y+2)**2", [3.0, 0.0], "nesterov", lr=lr,
                              maximize=True, max_iter=200, record_x=False))  # fmt: skip


def test_many_runs_share_the_memory_bound(calls, monkeypatch):
    # Runs whose histories together pass MANY_BYTES go in several calls.
    per_run = (200 + 1) * (3 + 2) * 8
    monkeypatch.setattr(_compiled_run, "MANY_BYTES", 3 * per_run)
    grid = dd.sweep(HIMMELBLAU, [0.5, 0.5], "adam", lr=list(np.linspace(0.01, 0.1, 7)),
                    max_iter=200, gtol=0, engine="numba")  # fmt: skip
    assert calls == [3, 3, 1]
    assert all(res.nit == 200 and len(res.history.f) == 201 for res in grid.results.values())
