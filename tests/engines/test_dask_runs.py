"""Runs on a Dask cluster: sweep and multistart as tasks, and a worker lost mid-fit.

The cluster is a real ``distributed.LocalCluster`` of two worker *processes* of one
thread each (a worker must be a process to die), with no retries of a task whose worker
died, so that the loss surfaces at once.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import descend as dd

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from descend.engines.dask import WorkerLost  # noqa: E402

rng = np.random.default_rng(0)
X_np = rng.standard_normal((200, 3))
y_np = X_np @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(200)


@pytest.fixture(scope="module")
def client():
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: None still takes 8787
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def fun(w, X, y):
    return 0.5 * np.mean((X @ w - y) ** 2)


def grad(w, X, y):
    return X.T @ (X @ w - y) / len(y)


def summed(w, X, y):  # per-block sums, as Dask data wants them
    return 0.5 * np.sum((X @ w - y) ** 2) / len(y_np)


def summed_grad(w, X, y):
    return X.T @ (X @ w - y) / len(y_np)


def same(a, b):
    assert a.status == b.status and a.nit == b.nit
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history.f, b.history.f)


def test_a_sweep_on_a_cluster_equals_the_serial_one(client):
    kwargs = dict(method=["gd", "momentum"], lr=[0.01, 0.1, 0.5], max_iter=200)
    serial = dd.sweep(dd.functions.rosenbrock, [-1.0, 1.0], **kwargs)
    tasks = dd.sweep(lambda x: dd.functions.rosenbrock(x), [-1.0, 1.0],
                     grad=dd.functions.rosenbrock.grad, n_jobs=client, **kwargs)  # fmt: skip
    assert list(tasks.results) == list(serial.results)
    for key in serial.results:
        same(tasks.results[key], serial.results[key])


def test_a_multistart_with_data_on_a_cluster_equals_the_serial_one(client):
    kwargs = dict(grad=grad, data=(X_np, y_np), method="adam", lr=0.05, batch_size=20,
                  epochs=3, seed=4)  # fmt: skip
    serial = dd.multistart(fun, [(-3, 3)] * 3, n_starts=3, **kwargs)
    tasks = dd.multistart(fun, [(-3, 3)] * 3, n_starts=3, n_jobs=client, **kwargs)
    for a, b in zip(tasks.results, serial.results, strict=True):
        same(a, b)
    np.testing.assert_array_equal(tasks.best.x, serial.best.x)


def test_n_jobs_names_the_client_among_its_choices():
    with pytest.raises(
        TypeError, match=r"n_jobs must be None or an integer.*or a distributed\.Client"
    ):
        dd.sweep(lambda x: x**2, [3.0], grad=lambda x: 2 * x, lr=[0.1], n_jobs="cluster")


def dying_data(tmp_path):
    """X and y whose blocks kill the worker reading them once the flag file exists, and
    a callback that makes the flag after update 3: the fourth point's pass loses a worker."""
    flag = str(tmp_path / "die")

    def block(b):
        if os.path.exists(flag):
            os._exit(1)
        return b

    def raise_flag(info):
        if info.nit == 3:
            open(flag, "w").close()

    # Task names of each test's own: the scheduler keeps another test's failed tasks failed.
    X = da.from_array(X_np, chunks=(50, 3), name=f"X-{tmp_path.name}")
    y = da.from_array(y_np, chunks=50, name=f"y-{tmp_path.name}")
    return (X.map_blocks(block, dtype=float), y), raise_flag


def test_a_worker_lost_mid_fit_names_the_pass_and_the_updates_made(client, tmp_path):
    data, raise_flag = dying_data(tmp_path)
    with pytest.raises(WorkerLost) as lost:
        dd.minimize(summed, np.zeros(3), grad=summed_grad, data=data, method="gd", lr=0.1,
                    max_iter=10, gtol=0, callback=raise_flag)  # fmt: skip
    assert re.search(r"lost a worker during pass 5 over the data.*KilledWorker", str(lost.value))
    assert str(lost.value).endswith("; the run had made 3 updates")


def test_a_worker_lost_mid_fit_saves_where_to_resume_from(client, tmp_path):
    data, raise_flag = dying_data(tmp_path)
    path = tmp_path / "run.npz"
    # No checkpoint_every: the one save before the end is the one made at the loss.
    with pytest.raises(WorkerLost) as lost:
        dd.minimize(summed, np.zeros(3), grad=summed_grad, data=data, method="gd", lr=0.1,
                    max_iter=10, gtol=0, callback=raise_flag, checkpoint=path)  # fmt: skip
    assert str(lost.value).endswith(
        f"; the run had made 3 updates, saved in {str(path)!r}: resume=True continues from there"
    )
    # The same data under new task names: the scheduler may take a moment to forget the
    # tasks that failed, and meanwhile fails them again.
    X, y = (da.from_array(a, chunks=50, name=f"again-{i}") for i, a in enumerate((X_np, y_np)))
    seen: list[int] = []
    saved = dd.minimize(summed, np.zeros(3), grad=summed_grad, data=(X, y), method="gd", lr=0.1,
                        max_iter=10, gtol=0, checkpoint=path, resume=True,
                        callback=lambda info: seen.append(info.nit))  # fmt: skip
    whole = dd.minimize(fun, np.zeros(3), grad=grad, data=(X_np, y_np), method="gd", lr=0.1,
                        max_iter=10, gtol=0)  # fmt: skip
    assert seen == list(range(4, 11)) and saved.nit == 10  # on from the 3 updates made
    np.testing.assert_allclose(saved.x, whole.x, rtol=0, atol=1e-14)
    np.testing.assert_allclose(saved.history.f, whole.history.f, rtol=1e-12)
