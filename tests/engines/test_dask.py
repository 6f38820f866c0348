"""Dask data: per-block sums reduced over the blocks give NumPy's trajectory."""

from __future__ import annotations

import numpy as np
import pytest

import descend as dd

da = pytest.importorskip("dask.array")
from descend.engines.dask import block_sums  # noqa: E402

rng = np.random.default_rng(0)
X_np = rng.standard_normal((300, 4))
y_np = X_np @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(300)
N = len(y_np)


def fun(w, X, y):
    return 0.5 * np.sum((X @ w - y) ** 2) / N


def grad(w, X, y):
    return X.T @ (X @ w - y) / N


def tree(part, w, rows=70):
    level = [part(w, X_np[i : i + rows], y_np[i : i + rows]) for i in range(0, N, rows)]
    while len(level) > 1:
        level = [a + b for a, b in zip(level[::2], level[1::2], strict=False)] + level[
            len(level) & ~1 :
        ]
    return level[0]


@pytest.mark.parametrize(
    "method, lr", [("gd", 0.1), ("armijo", None), ("bb", None), ("lbfgs", None)]
)
def test_full_batch_trajectory_equals_numpy(method, lr):
    X, y = da.from_array(X_np, chunks=(70, 2)), da.from_array(y_np, chunks=70)
    f, g = block_sums(fun, grad, X, y)
    kwargs = dict(method=method, max_iter=20, gtol=0, record_x=True)
    if lr is not None:
        kwargs["lr"] = lr
    on_dask = dd.minimize(f, np.zeros(4), grad=g, **kwargs)
    # The same sums in NumPy: the blocks of 70 rows, added pairwise as the tree adds them
    # (summing all rows at once rounds differently, and Armijo's backtracking amplifies
    # that to ~1e-10 in 20 updates).
    on_numpy = dd.minimize(lambda w: tree(fun, w), np.zeros(4), grad=lambda w: tree(grad, w),
                           **kwargs)  # fmt: skip
    assert on_dask.nit == on_numpy.nit
    np.testing.assert_allclose(on_dask.history.x, on_numpy.history.x, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(on_dask.history.x, on_numpy.history.x)
    np.testing.assert_allclose(on_dask.history.f, on_numpy.history.f, rtol=1e-12)


def test_one_pass_per_point():
    X, y = da.from_array(X_np, chunks=(100, 4)), da.from_array(y_np, chunks=100)
    calls = []
    f, g = block_sums(lambda w, X, y: calls.append(1) or fun(w, X, y), grad, X, y)
    w = np.ones(4)
    f(w), g(w)
    assert len(calls) == 3  # one per block, for f and g together


def test_unknown_chunk_sizes_say_what_to_call():
    y = da.from_array(y_np, chunks=100)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        block_sums(fun, grad, y[y > 0])


def test_row_chunks_must_match():
    X, y = da.from_array(X_np, chunks=(100, 4)), da.from_array(y_np, chunks=70)
    with pytest.raises(ValueError, match="share their row chunks"):
        block_sums(fun, grad, X, y)
