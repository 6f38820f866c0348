"""Data mode: batches, epochs, shuffling and seeds, checked against hand-written loops."""

import numpy as np
import pytest
from scipy import sparse

import descend as dd

RNG = np.random.default_rng(0)
X = RNG.standard_normal((103, 3))
W_TRUE = np.array([1.0, -2.0, 3.0])
Y = X @ W_TRUE + 0.01 * RNG.standard_normal(103)


def mse(w, X, y):
    return 0.5 * np.mean((X @ w - y) ** 2)


def mse_grad(w, X, y):
    return X.T @ (X @ w - y) / len(y)


def hand_sgd(batches_of_epoch, epochs, lr=0.05, momentum=0.0):
    """Heavy-ball mini-batch descent written out, as a textbook would."""
    w, v = np.zeros(3), np.zeros(3)
    for epoch in range(epochs):
        for rows in batches_of_epoch(epoch):
            v = momentum * v - lr * mse_grad(w, X[rows], Y[rows])
            w = w + v
    return w


def fit(**options):
    settings = dict(grad=mse_grad, data=(X, Y), lr=0.05, gtol=0) | options
    return dd.minimize(mse, np.zeros(3), settings.pop("method", "gd"), **settings)


@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_shuffled_mini_batches_match_a_hand_written_loop_bit_for_bit(momentum):
    rng = np.random.default_rng(1)

    def batches(epoch):
        order = rng.permutation(103)
        return [order[i : i + 10] for i in range(0, 103, 10)]

    expected = hand_sgd(batches, 5, momentum=momentum)
    res = fit(method="momentum", momentum=momentum, batch_size=10, epochs=5, seed=1)
    np.testing.assert_array_equal(res.x, expected)
    assert (res.nit, res.nepoch, len(res.history)) == (55, 5, 6)


def test_rows_in_order_without_shuffle_and_the_last_short_batch_is_kept():
    seen = []

    def grad(w, Xb, yb):
        seen.append(yb.copy())
        return mse_grad(w, Xb, yb)

    res = dd.minimize(mse, np.zeros(3), grad=grad, data=(X, Y), batch_size=10, shuffle=False,
                      epochs=1, lr=0.05, gtol=0)  # fmt: skip
    batches = seen[1:-1]  # the first and last calls are the full-data evaluations
    assert [len(b) for b in batches] == [10] * 10 + [3]
    np.testing.assert_array_equal(np.concatenate(batches), Y)
    expected = hand_sgd(lambda e: [slice(i, i + 10) for i in range(0, 103, 10)], 1)
    np.testing.assert_array_equal(res.x, expected)


def test_sampling_with_replacement_draws_rows_from_the_seeded_generator():
    rng = np.random.default_rng(4)

    def batches(epoch):
        order = rng.integers(0, 103, size=103)
        return [order[i : i + 8] for i in range(0, 103, 8)]

    expected = hand_sgd(batches, 3)
    res = fit(batch_size=8, epochs=3, sampling="replacement", seed=4)
    np.testing.assert_array_equal(res.x, expected)


def test_a_generator_seed_is_used_as_is_and_an_int_seed_repeats():
    by_int = fit(batch_size=5, epochs=2, seed=7)
    by_generator = fit(batch_size=5, epochs=2, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(by_int.x, by_generator.x)
    np.testing.assert_array_equal(fit(batch_size=5, epochs=2, seed=7).x, by_int.x)
    assert not np.array_equal(fit(batch_size=5, epochs=2, seed=8).x, by_int.x)


def test_full_batch_data_mode_is_plain_descent_with_one_update_per_epoch():
    res = fit(epochs=30)
    plain = dd.minimize(lambda w: mse(w, X, Y), np.zeros(3), grad=lambda w: mse_grad(w, X, Y),
                        lr=0.05, max_iter=30, gtol=0)  # fmt: skip
    np.testing.assert_array_equal(res.x, plain.x)
    np.testing.assert_array_equal(res.history.f, plain.history.f)
    assert (res.nit, res.nepoch, plain.nepoch) == (30, 30, None)
    assert res.message.startswith("max_iter: reached epochs=30 passes over the data")


def test_history_holds_one_point_per_epoch_on_all_the_data():
    res = fit(batch_size=1, epochs=4, seed=0)
    assert len(res.history) == 5 and res.nit == 4 * 103
    for x, f, g in zip(res.history.x, res.history.f, res.history.grad_norm, strict=True):
        assert f == mse(x, X, Y)
        assert g == pytest.approx(np.linalg.norm(mse_grad(x, X, Y)), rel=1e-14)
    assert res.fun == mse(res.x, X, Y)


def test_single_sample_sgd_reaches_the_least_squares_solution():
    res = fit(batch_size=1, epochs=30, seed=0, lr=schedules_decay())
    exact = np.linalg.lstsq(X, Y, rcond=None)[0]
    np.testing.assert_allclose(res.x, exact, atol=2e-3)


def schedules_decay():
    return dd.schedules.inverse_time(0.05, decay=1e-3)


def test_ftol_is_judged_per_epoch_on_the_full_objective():
    res = fit(batch_size=10, epochs=200, seed=0, ftol=1e-7, gtol=None)
    assert res.status == "converged" and res.nepoch < 200
    changes = np.abs(np.diff(res.history.f))
    assert changes[-1] < 1e-7 and (changes[:-1] >= 1e-7).all()
    assert res.nit == res.nepoch * 11


def test_max_iter_bounds_updates_inside_an_epoch():
    res = fit(batch_size=10, epochs=5, max_iter=25, seed=0)
    assert (res.nit, res.nepoch) == (25, 2)
    assert res.status == "max_iter" and "max_iter=25" in res.message
    assert res.fun == mse(res.x, X, Y) and len(res.history) == 4


def test_line_searches_and_adaptive_methods_run_on_batches():
    exact = np.linalg.lstsq(X, Y, rcond=None)[0]
    for method in ("armijo", "bb", "adam"):
        res = fit(method=method, batch_size=20, epochs=60, seed=0, lr=0.05)
        np.testing.assert_allclose(res.x, exact, atol=0.05, err_msg=method)


def test_automatic_and_numeric_gradients_take_the_batch():
    exact = np.linalg.lstsq(X, Y, rcond=None)[0]
    by_autograd = dd.minimize(mse, np.zeros(3), data=(X, Y), batch_size=20, epochs=80, lr=0.1,
                              seed=0, gtol=0)  # fmt: skip
    with pytest.warns(UserWarning, match="central differences"):
        by_numeric = dd.minimize(lambda w, X, y: float(mse(w, X, y)), np.zeros(3), data=(X, Y),
                                 batch_size=20, epochs=80, lr=0.1, seed=0, gtol=0)  # fmt: skip
    np.testing.assert_allclose(by_autograd.x, exact, atol=5e-3)
    np.testing.assert_allclose(by_numeric.x, by_autograd.x, atol=1e-6)


def test_maximize_with_data_ascends():
    res = dd.maximize(lambda w, X, y: -mse(w, X, y), np.zeros(3),
                      grad=lambda w, X, y: -mse_grad(w, X, y),
                      data=(X, Y), batch_size=10, epochs=40, lr=0.05, seed=0)  # fmt: skip
    np.testing.assert_allclose(res.x, np.linalg.lstsq(X, Y, rcond=None)[0], atol=5e-3)
    assert res.fun == -mse(res.x, X, Y) and res.history.f[-1] > res.history.f[0]


def test_the_callback_comes_once_per_epoch_with_full_data_values():
    seen = []
    fit(batch_size=10, epochs=3, seed=0, callback=lambda info: seen.append(info))
    assert [(i.nit, i.nepoch) for i in seen] == [(11, 1), (22, 2), (33, 3)]
    assert seen[0].fun == mse(seen[0].x, X, Y)


def test_memmaps_and_read_only_arrays_work_and_data_is_never_written(tmp_path):
    mm = np.memmap(tmp_path / "X.dat", dtype=float, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    X_ro = np.memmap(tmp_path / "X.dat", dtype=float, mode="r", shape=X.shape)
    y_ro = Y.copy()
    y_ro.flags.writeable = False
    res = dd.minimize(mse, np.zeros(3), grad=mse_grad, data=(X_ro, y_ro), batch_size=10,
                      epochs=3, lr=0.05, seed=0, gtol=0)  # fmt: skip
    np.testing.assert_array_equal(res.x, fit(batch_size=10, epochs=3, seed=0).x)
    np.testing.assert_array_equal(np.asarray(X_ro), X)


def densified(function):
    """``function`` of a batch whose X is handed over as a SciPy sparse matrix."""
    return lambda w, X, y: function(w, X.toarray(), y)


@pytest.mark.parametrize("make", [sparse.csr_matrix, sparse.csr_array])
@pytest.mark.parametrize(
    "options",
    [dict(batch_size=10, shuffle=False), dict(batch_size=10, seed=1),
     dict(batch_size=8, sampling="replacement", seed=3), dict()],
)  # fmt: skip
def test_a_csr_matrix_is_batched_by_rows_as_csr_and_never_written(make, options):
    X_sparse = make(np.where(np.abs(X) < 0.7, 0.0, X))
    before, seen = X_sparse.copy(), []

    def grad(w, X, y):
        seen.append(type(X))
        return densified(mse_grad)(w, X, y)

    dense = fit(data=(X_sparse.toarray(), Y), epochs=3, **options)
    res = fit(data=(X_sparse, Y), epochs=3, grad=grad, **options)
    # The same rows in the same order: the run is the dense one, bit for bit.
    np.testing.assert_array_equal(res.x, dense.x)
    assert set(seen) == {make}
    assert (X_sparse != before).nnz == 0


def test_data_mode_messages_speak_of_epochs():
    res = fit(batch_size=10, epochs=2, seed=0, lr=1e-4)
    assert res.message.startswith("max_iter: reached epochs=2 passes over the data (22 updates)")
    assert "per epoch over the last 2 epochs" in res.message


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        (dict(data=(X, Y[:-1])), ValueError, "share their first dimension"),
        (dict(data=(X[:0], Y[:0])), ValueError, "empty"),
        (dict(data=(np.where(X > 2, np.nan, X), Y)), ValueError, "data[0] holds NaN"),
        (dict(data=(X, np.where(Y > 2, np.inf, Y))), ValueError, "data[1] holds NaN or infinite"),
        (dict(data=X), TypeError, "tuple of arrays"),
        (dict(data=()), ValueError, "at least one array"),
        (dict(data=(X, np.array(["a"] * 103))), TypeError, "data[1] must hold numbers"),
        (
            dict(data=(sparse.coo_array(X), Y)),
            TypeError,
            "data[0] is a SciPy sparse matrix in COO format; data mode takes each batch's rows, "
            "which needs CSR: pass data[0].tocsr()",
        ),
        (dict(data=(sparse.csc_matrix(X), Y)), TypeError, "matrix in CSC format"),
        (
            dict(data=(sparse.csr_array(np.where(X > 2, np.nan, X)), Y)),
            ValueError,
            "data[0] holds NaN",
        ),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(batch_size=104), ValueError, "batch_size must be at most the number of samples"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
        (dict(epochs=0), ValueError, "epochs must be an integer >= 1"),
        (dict(sampling="bootstrap"), ValueError, "sampling must be None"),
        (dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
        (dict(seed="abc"), TypeError, "seed must be None, an int"),
        (dict(seed=-1), ValueError, "seed must be a non-negative int"),
    ],
)
def test_bad_data_settings_are_named(options, error, words):
    with pytest.raises(error, match=None) as raised:
        fit(**({"batch_size": 10} | options))
    assert words in str(raised.value)


@pytest.mark.parametrize("name", ["batch_size", "epochs", "sampling", "seed"])
def test_data_mode_keywords_need_data(name):
    with pytest.raises(TypeError, match=f"{name} goes with data"):
        dd.minimize(
            lambda x: x @ x, np.ones(2), **{name: 1 if name != "sampling" else "replacement"}
        )


def test_a_formula_cannot_take_data():
    with pytest.raises(TypeError, match="formula has no data"):
        dd.minimize("x**2 + y**2", [1.0, 1.0], data=(X, Y))


@pytest.mark.parametrize("batch_size", [1, 3, 7, 40])
def test_a_block_stream_holds_the_blocks_of_a_batch_and_resumes_anywhere(batch_size):
    from descend.core.batches import Batches

    blocks = (10, 3, 12, 1, 9)
    starts = np.cumsum([0, *blocks[:-1]])
    rng = np.random.default_rng(5)  # the documented layout, written out
    expected = []
    for _ in range(2):
        visit = rng.permutation(len(blocks))
        expected.append(np.concatenate([starts[b] + rng.permutation(blocks[b]) for b in visit]))
    batches = Batches(35, batch_size, blocks=blocks, rng=np.random.default_rng(5))
    for epoch in range(2):
        batches.start_epoch()
        saved = batches.position()
        rows = [batches.rows(i) for i in range(batches.per_epoch)]
        np.testing.assert_array_equal(np.concatenate(rows), expected[epoch])
        # Only the blocks of the last batch are held, never a number per row of the epoch.
        assert sum(map(len, batches.stream.kept.values())) < batch_size + max(blocks) * 2
        # A restored stream gives every batch's rows again, asked in any order.
        again = Batches(35, batch_size, blocks=blocks)
        again.restore(*saved)
        for i in np.random.default_rng(epoch).permutation(batches.per_epoch):
            np.testing.assert_array_equal(again.rows(int(i)), rows[i])
        batches.drawn = False  # as the loop marks an epoch's end
