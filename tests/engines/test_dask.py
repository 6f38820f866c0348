"""Dask data: per-block sums reduced over the blocks give NumPy's trajectory.

The runs go to a real ``distributed.LocalCluster`` (two workers of one thread, in this
process: ``processes=False``, as worker processes cost seconds to start on two cores);
the tests that count block reads use Dask's threads, where a counter can see them.
"""

from __future__ import annotations

import numpy as np
import pytest

import descend as dd

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from descend.engines.dask import block_sums  # noqa: E402

rng = np.random.default_rng(0)
X_np = rng.standard_normal((300, 4))
y_np = X_np @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(300)
N = len(y_np)
ROWS = (70, 70, 70, 70, 20)  # the row blocks of chunks=70


@pytest.fixture
def threads():
    """Dask's threads in this process, even with the cluster up: a counter sees the calls."""
    import dask

    with dask.config.set(scheduler="threads"):
        yield


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


def dask_data(x_chunks=(70, 2), y_chunks=70):
    return da.from_array(X_np, chunks=x_chunks), da.from_array(y_np, chunks=y_chunks)


METHODS = [("gd", 0.1), ("armijo", None), ("bb", None), ("lbfgs", None)]


def settings(method, lr, **more):
    kwargs = dict(method=method, max_iter=12, gtol=0, record_x=True, **more)
    if lr is not None:
        kwargs["lr"] = lr
    return kwargs


@pytest.mark.parametrize("method, lr", METHODS)
def test_block_sums_trajectory_equals_numpy(method, lr):
    X, y = dask_data()
    f, g = block_sums(fun, grad, X, y)
    on_dask = dd.minimize(f, np.zeros(4), grad=g, **settings(method, lr))
    # The same sums in NumPy: the blocks of 70 rows, added pairwise as the tree adds them.
    on_numpy = dd.minimize(lambda w: tree(fun, w), np.zeros(4), grad=lambda w: tree(grad, w),
                           **settings(method, lr))  # fmt: skip
    assert on_dask.nit == on_numpy.nit
    np.testing.assert_array_equal(on_dask.history.x, on_numpy.history.x)
    np.testing.assert_allclose(on_dask.history.f, on_numpy.history.f, rtol=1e-12)


@pytest.mark.parametrize("method, lr", METHODS)
def test_data_on_a_cluster_gives_the_numpy_trajectory(client, method, lr):
    on_dask = dd.minimize(fun, np.zeros(4), grad=grad, data=dask_data(), **settings(method, lr))
    # NumPy on all the rows at once: the sums round differently, by ~1e-16 per step.
    on_numpy = dd.minimize(fun, np.zeros(4), grad=grad, data=(X_np, y_np), **settings(method, lr))
    assert on_dask.nit == on_numpy.nit == on_dask.nepoch >= 8
    np.testing.assert_allclose(on_dask.history.x, on_numpy.history.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(on_dask.history.f, on_numpy.history.f, rtol=1e-12)
    x_true = np.linalg.lstsq(X_np, y_np, rcond=None)[0]
    assert np.linalg.norm(on_dask.x - x_true) < np.linalg.norm(x_true)  # it went somewhere


@pytest.mark.parametrize("project", [None, dd.projections.box(-0.5, 0.5)])
def test_armijo_trials_share_passes_and_keep_the_trajectory(threads, monkeypatch, project):
    import descend.engines.dask as engine

    passes = []
    compute = engine._compute
    monkeypatch.setattr(engine, "_compute", lambda *a: passes.append(1) or compute(*a))
    kwargs = settings("armijo", 8.0, project=project)  # t = 8 backtracks a few times
    on_dask = dd.minimize(fun, np.zeros(4), grad=grad, data=dask_data(), **kwargs)
    together = len(passes)
    # One trial per pass, in the same block layout and tree: the same sums, bit for bit.
    X, y = dask_data()
    f, g = block_sums(fun, grad, X, y)
    one_by_one = dd.minimize(f, np.zeros(4), grad=g, **kwargs)
    np.testing.assert_array_equal(on_dask.history.x, one_by_one.history.x)
    np.testing.assert_array_equal(on_dask.history.lr, one_by_one.history.lr)
    tried = np.log2(8.0 / one_by_one.history.lr[1:]) + 1  # the trials of each update
    assert on_dask.nit == 12 and tried.sum() >= 2 * on_dask.nit + 6
    # A pass for x0 and at most two per update, where one trial at a time needs one per
    # distinct trial point (the box makes some of them one corner).
    assert together <= 1 + 2 * on_dask.nit < len(passes) - together


def test_one_pass_per_point(threads):
    X, y = da.from_array(X_np, chunks=(100, 4)), da.from_array(y_np, chunks=100)
    calls = []
    f, g = block_sums(lambda w, X, y: calls.append(1) or fun(w, X, y), grad, X, y)
    w = np.ones(4)
    f(w), g(w)
    assert len(calls) == 3  # one per block, for f and g together


def block_layout(rng, rows=ROWS):
    """The documented epoch: the blocks in a random order, each one's rows shuffled."""
    starts = np.cumsum([0, *rows[:-1]])
    return np.concatenate(
        [starts[b] + rng.permutation(rows[b]) for b in rng.permutation(len(rows))]
    )


@pytest.mark.parametrize("method", ["gd", "adam"])
def test_seeded_sgd_equals_numpy_in_the_block_layout(client, method):
    seen = {"dask": [], "numpy": []}

    def keep(name):
        return lambda info: seen[name].append(np.array(info.x))

    common = dict(grad=grad, method=method, lr=0.05, batch_size=30, gtol=0,
                  callback_every="update")  # fmt: skip
    on_dask = dd.minimize(fun, np.zeros(4), data=dask_data(), epochs=3, seed=7,
                          callback=keep("dask"), **common)  # fmt: skip
    # NumPy, with the rows of the three epochs laid out as the seed lays them out, in order.
    layout = np.random.default_rng(7)
    order = np.concatenate([block_layout(layout) for _ in range(3)])
    on_numpy = dd.minimize(fun, np.zeros(4), data=(X_np[order], y_np[order]), epochs=1,
                           shuffle=False, callback=keep("numpy"), **common)  # fmt: skip
    assert on_dask.nit == on_numpy.nit == 30
    np.testing.assert_array_equal(np.array(seen["dask"]), np.array(seen["numpy"]))
    np.testing.assert_array_equal(on_dask.x, on_numpy.x)


def counted(rows_read):
    """X as a Dask array that notes the first row of every block it reads."""

    def note(block, block_info=None):
        rows_read.append(block_info[0]["array-location"][0][0])
        return block

    return da.from_array(X_np, chunks=(70, 4)).map_blocks(note, dtype=float)


def test_mini_batches_read_each_block_once_per_epoch(threads):
    reads = []
    X, y = counted(reads), da.from_array(y_np, chunks=70)
    res = dd.minimize(fun, np.zeros(4), grad=grad, data=(X, y), method="gd", lr=0.05,
                      batch_size=35, epochs=2, seed=1, gtol=0)  # fmt: skip
    assert res.nepoch == 2
    # Per epoch: each block once for its batches, once for f and g on all the data; and
    # once for f and g at the start.
    assert sorted(reads) == sorted([0, 70, 140, 210, 280] * 5)


def test_a_checkpoint_resumes_mini_batches_bit_for_bit(tmp_path):
    path = tmp_path / "run.npz"
    common = dict(grad=grad, data=dask_data(), method="momentum", lr=0.05, batch_size=40,
                  epochs=3, seed=3, gtol=0)  # fmt: skip
    whole = dd.minimize(fun, np.zeros(4), **common)

    def interrupt(info):
        if info.nit == 13:  # inside the second epoch
            raise KeyboardInterrupt

    cut = dd.minimize(fun, np.zeros(4), checkpoint=path, checkpoint_every=5, callback=interrupt,
                      callback_every="update", **common)  # fmt: skip
    assert cut.status == "interrupted" and cut.nit == 13
    resumed = dd.minimize(fun, np.zeros(4), checkpoint=path, resume=True, **common)
    assert resumed.nit == whole.nit
    np.testing.assert_array_equal(resumed.x, whole.x)
    np.testing.assert_array_equal(resumed.history.f, whole.history.f)


def test_persist_gives_the_same_run(client):
    kwargs = dict(grad=grad, method="lbfgs", max_iter=10, gtol=0)
    kept = dd.minimize(fun, np.zeros(4), data=dask_data(), persist=True, **kwargs)
    read = dd.minimize(fun, np.zeros(4), data=dask_data(), **kwargs)
    np.testing.assert_array_equal(kept.x, read.x)


def test_y_in_memory_is_cut_into_x_blocks():
    X, _ = dask_data()
    kwargs = dict(grad=grad, method="gd", lr=0.1, max_iter=5, gtol=0)
    mixed = dd.minimize(fun, np.zeros(4), data=(X, y_np), **kwargs)
    np.testing.assert_array_equal(
        mixed.x, dd.minimize(fun, np.zeros(4), data=dask_data(), **kwargs).x
    )


# Bad input ------------------------------------------------------------------------------


def test_unknown_chunk_sizes_say_what_to_call():
    y = da.from_array(y_np, chunks=100)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        block_sums(fun, grad, y[y > 0])
    X = da.from_array(X_np, chunks=(100, 4))
    with pytest.raises(ValueError, match=r"data\[0\] has chunks of unknown size.*"
                       r"data\[0\]\.compute_chunk_sizes\(\)"):  # fmt: skip
        dd.minimize(fun, np.zeros(4), grad=grad, data=(X[y > 0], y[y > 0]), lr=0.1)


def test_other_row_chunks_are_rechunked_with_a_warning():
    X, y = dask_data(x_chunks=(70, 4), y_chunks=100)
    kwargs = dict(grad=grad, method="gd", lr=0.1, max_iter=5, gtol=0)
    with pytest.warns(UserWarning, match=r"data\[1\] has other row chunks than data\[0\]"):
        res = dd.minimize(fun, np.zeros(4), data=(X, y), **kwargs)
    np.testing.assert_array_equal(
        res.x, dd.minimize(fun, np.zeros(4), data=dask_data(), **kwargs).x
    )


def test_arrays_of_other_lengths_cannot_be_aligned():
    X = da.from_array(X_np, chunks=(70, 4))
    with pytest.raises(ValueError, match=r"share their first dimension.*\[300, 299\]"):
        dd.minimize(fun, np.zeros(4), grad=grad, data=(X, da.from_array(y_np[:-1], chunks=70)))


def test_dask_data_needs_a_gradient_function():
    with pytest.raises(TypeError, match="fun and grad must both be functions of"):
        dd.minimize(fun, np.zeros(4), data=dask_data(), lr=0.1)


def test_sampling_with_replacement_is_refused_for_blocks():
    with pytest.raises(ValueError, match=r"sampling='replacement'.*sampling=None"):
        dd.minimize(fun, np.zeros(4), grad=grad, data=dask_data(), batch_size=10,
                    sampling="replacement", lr=0.1)  # fmt: skip


def test_persist_goes_with_data():
    with pytest.raises(TypeError, match="persist goes with data="):
        dd.minimize(lambda x: x**2, 1.0, grad=lambda x: 2 * x, persist=True)
    with pytest.raises(TypeError, match="persist must be"):
        dd.minimize(fun, np.zeros(4), grad=grad, data=dask_data(), persist="yes")
