"""dd.sweep: every combination equals its own minimize run, best and table agree."""

from __future__ import annotations

import builtins
import dataclasses

import numpy as np
import pytest

import descend as dd
from descend.analysis.sweep import best_key
from descend.core.result import Status

FORMULA = "x**2 + 10*y**2"  # curvature 20: plain GD is stable for lr < 0.1


def test_each_combination_is_the_run_minimize_makes() -> None:
    grid = dd.sweep(FORMULA, [1.0, 1.0], "momentum", lr=[0.01, 0.05, 0.2], momentum=[0.0, 0.9],
                    max_iter=150)  # fmt: skip
    assert grid.names == ("lr", "momentum")
    assert grid.grid == {"lr": (0.01, 0.05, 0.2), "momentum": (0.0, 0.9)}
    assert list(grid.results) == [(a, b) for a in (0.01, 0.05, 0.2) for b in (0.0, 0.9)]
    for (lr, momentum), res in grid.results.items():
        alone = dd.minimize(FORMULA, [1.0, 1.0], "momentum", lr=lr, momentum=momentum,
                            max_iter=150)  # fmt: skip
        np.testing.assert_array_equal(res.x, alone.x)
        assert (res.nit, res.status, res.fun) == (alone.nit, alone.status, alone.fun)
    assert grid.fixed == {"method": "momentum", "max_iter": 150}


def test_best_is_the_fewest_updates_among_converged_runs_not_the_rounding_of_f() -> None:
    grid = dd.sweep(FORMULA, [1.0, 1.0], lr=[0.01, 0.03, 0.2], max_iter=5000)
    slow, fast, wild = (grid.results[lr,] for lr in (0.01, 0.03, 0.2))
    assert (str(slow.status), str(fast.status), str(wild.status)) == (
        "converged", "converged", "diverged")  # fmt: skip
    # Both end at f ~ 2.4e-17, the rounding of a minimum at 0: the slow run's f is lower
    # by 6e-19, noise that picked it (947 updates) over the run of 309.
    assert slow.fun < fast.fun and fast.nit < slow.nit
    assert grid.best is fast and grid.best_params == {"lr": 0.03}


def test_best_breaks_a_tie_in_updates_by_f_and_needs_a_converged_run() -> None:
    runs = {lr: dd.minimize(FORMULA, [1.0, 1.0], "gd", lr=lr) for lr in (0.03, 0.07)}
    assert all(res.status == "converged" for res in runs.values())
    tied = {lr: dataclasses.replace(res, nit=100) for lr, res in runs.items()}
    lower = min(runs, key=lambda lr: runs[lr].fun)
    assert best_key(tied) == lower
    stopped = {lr: dataclasses.replace(res, status=Status.MAX_ITER, nit=10 if lr == lower else 1)
               for lr, res in runs.items()}  # fmt: skip
    assert best_key(stopped) == lower  # none converged: the lowest f, whatever the updates
    assert best_key({**stopped, "fast": runs[0.07]}) == "fast"  # a converged run comes first


def test_without_a_converged_run_best_is_the_lowest_f_that_did_not_diverge() -> None:
    grid = dd.sweep(FORMULA, [1.0, 1.0], lr=[0.01, 0.05, 0.2], max_iter=100)
    statuses = {key[0]: str(res.status) for key, res in grid.results.items()}
    assert statuses == {0.01: "max_iter", 0.05: "max_iter", 0.2: "diverged"}
    funs = {key: res.fun for key, res in grid.results.items() if key != (0.2,)}
    assert grid.best is grid.results[min(funs, key=funs.__getitem__)]
    assert grid.best_params == {"lr": 0.05}


def test_maximize_takes_the_largest_f_as_best() -> None:
    grid = dd.sweep("-(x-1)**2", [0.0], lr=[0.01, 0.3], max_iter=20, maximize=True)
    assert grid.best_params == {"lr": 0.3}
    assert grid.best.fun == max(res.fun for res in grid.results.values())


def test_every_run_diverged_gives_no_best() -> None:
    grid = dd.sweep(FORMULA, [1.0, 1.0], lr=[0.5, 1.0], max_iter=100)
    assert grid.best is None and grid.best_params is None
    assert "every run diverged" in repr(grid)


def test_method_and_arrays_can_be_grids_and_data_never_is() -> None:
    X = np.arange(8.0).reshape(4, 2)
    y = X @ [1.0, -2.0]
    grid = dd.sweep(
        lambda w, X, y: 0.5 * np.mean((X @ w - y) ** 2),
        np.zeros(2),
        ["gd", "adam"],
        grad=lambda w, X, y: X.T @ (X @ w - y) / len(y),
        lr=np.array([0.01, 0.02]),
        data=(X, y),
        epochs=5,
    )
    assert grid.names == ("method", "lr")
    assert set(grid.results) == {(m, lr) for m in ("gd", "adam") for lr in (0.01, 0.02)}
    assert all(res.nepoch == 5 for res in grid.results.values())


def test_table_has_one_row_per_run_and_falls_back_to_dicts_without_pandas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grid = dd.sweep(FORMULA, [1.0, 1.0], lr=[0.01, 0.05], max_iter=50)
    frame = grid.table()
    assert list(frame.columns) == ["lr", "fun", "nit", "status", "seconds"]
    assert frame["fun"].tolist() == [res.fun for res in grid.results.values()]
    real_import = builtins.__import__

    def no_pandas(name: str, *args: object, **kwargs: object) -> object:
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    rows = grid.table()
    assert [row["lr"] for row in rows] == [0.01, 0.05]
    assert rows[0]["status"] == str(grid.results[0.01,].status)
    text = repr(grid)
    assert text.startswith("SweepResult: 2 runs, best {'lr': 0.05}")
    assert "status" in text and "max_iter" in text


def test_a_bad_value_anywhere_fails_before_any_run() -> None:
    calls = []

    def fun(x: np.ndarray) -> float:
        calls.append(1)
        return float(x @ x)

    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        dd.sweep(fun, [1.0], lr=[0.1, -1], grad=lambda x: 2 * x)
    with pytest.raises(TypeError, match="'momentm' is not a hyperparameter of Momentum"):
        dd.sweep(fun, [1.0], "momentum", lr=[0.1], momentm=0.9, grad=lambda x: 2 * x)
    assert calls == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.1}, "sweep needs at least one grid"),
        ({"lr": []}, "lr is an empty grid"),
    ],
)
def test_grids_must_exist_and_be_non_empty(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dd.sweep(FORMULA, [1.0, 1.0], **kwargs)


def test_processes_give_the_same_runs_and_a_lambda_falls_back_with_a_warning() -> None:
    serial = dd.sweep(FORMULA, [1.0, 1.0], "momentum", lr=[0.01, 0.05], momentum=[0.0, 0.9],
                      max_iter=100)  # fmt: skip
    parallel = dd.sweep(FORMULA, [1.0, 1.0], "momentum", lr=[0.01, 0.05], momentum=[0.0, 0.9],
                        max_iter=100, n_jobs=2)  # fmt: skip
    for key, res in serial.results.items():
        np.testing.assert_array_equal(parallel.results[key].x, res.x)
        assert parallel.results[key].nit == res.nit
    assert parallel.fun == FORMULA
    with pytest.warns(UserWarning, match="sweep makes its runs one after another"):
        fallback = dd.sweep(lambda x: float(x @ x), [1.0], lr=[0.1, 0.2], grad=lambda x: 2 * x,
                            n_jobs=2)  # fmt: skip
    assert all(res.success for res in fallback.results.values())
    with pytest.raises(ValueError, match="n_jobs must be a positive number"):
        dd.sweep(FORMULA, [1.0, 1.0], lr=[0.1], n_jobs=0)


def test_sweep_and_multistart_pass_explain_and_rollback_to_every_run():
    grid = dd.sweep("x**2 + 10*y**2", [1.0, 1.0], method="momentum", lr=[0.01, 1.0],
                    explain=True, on_divergence="rollback", max_iter=50)  # fmt: skip
    runs = list(grid.results.values())
    assert all(res.history.parts("velocity").shape == (res.nit, 2) for res in runs)
    assert [bool(res.events) for res in runs] == [False, True]
    found = dd.multistart("x**2 + 10*y**2", [(-2, 2), (-2, 2)], n_starts=3, method="gd",
                          lr=0.01, explain=True, max_iter=20, seed=0)  # fmt: skip
    assert all(res.history.parts("lr").shape == (20,) for res in found.results)


@pytest.mark.parametrize(
    ("grid", "words"),
    [(dict(gtol=[1e-8, -1.0]), "gtol"), (dict(max_iter=[10, 2.5]), "max_iter"),
     (dict(on_divergence=["stop", "rolback"]), "on_divergence"),
     (dict(time_limit=[1.0, 0.0]), "time_limit")],
)  # fmt: skip
def test_every_combination_is_checked_before_any_run(grid, words):
    calls = []

    def fun(x):
        calls.append(x)
        return float(x @ x)

    with pytest.raises((ValueError, TypeError), match=words):
        dd.sweep(fun, [1.0], method="gd", grad=lambda x: 2 * x, lr=0.1, **grid)
    assert calls == []


def test_ctrl_c_stops_the_whole_sweep_and_keeps_the_grid_so_far():
    seen = []

    def interrupt_the_third_run(info):
        if len(seen) == 2 and info.nit == 1:
            raise KeyboardInterrupt
        if info.nit == 1:
            seen.append(info)

    with pytest.raises(KeyboardInterrupt) as stop:
        dd.sweep("(x-1)**2", [3.0], "gd", lr=[0.1, 0.2, 0.3, 0.4], max_iter=50,
                 callback=interrupt_the_third_run)  # fmt: skip
    partial = stop.value.partial
    assert list(partial.results) == [(0.1,), (0.2,), (0.3,)]
    assert [str(r.status) for r in partial.results.values()] == ["max_iter", "converged",
                                                                 "interrupted"]  # fmt: skip
    alone = dd.minimize("(x-1)**2", [3.0], "gd", lr=0.2, max_iter=50)
    assert partial.results[0.2,].fun == alone.fun
    assert repr(partial).startswith("SweepResult: 3 runs")
