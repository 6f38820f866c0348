"""MatrixFactorization and its kernels against independent truth: minimize's own loop,
the NumPy references, a dense objective written out here and minimised by SciPy, a
noiseless low-rank matrix, and hand-checkable behaviour (unknown ids, recommend,
early stopping, bad input)."""

import os
import runpy
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from descend.datasets import make_ratings, rmse
from scipy.optimize import minimize as scipy_minimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import cross_val_score

import descend as dd
from descend.models import _factorization_kernels
from descend.models._factorization_kernels import (
    factorization_epoch,
    factorization_epoch_reference,
    factorization_loss,
    factorization_loss_reference,
    factorization_predict,
    factorization_predict_reference,
)
from descend.models.factorization import MatrixFactorization, _Objective

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RTOL = 1e-12


def problem(n_users=7, n_items=5, n=30, k=3, reg=0.1, seed=0):
    """Distinct random (user, item) pairs with 1..5 ratings, the objective, and a start."""
    rng = np.random.default_rng(seed)
    users, items = np.divmod(rng.choice(n_users * n_items, n, replace=False), n_items)
    ratings = rng.integers(1, 6, n).astype(float)
    objective = _Objective(n_users, n_items, k, float(ratings.mean()), reg)
    x0 = rng.normal(0.0, 0.3, (n_users + n_items) * (k + 1))
    return users, items, ratings, objective, x0


def small_ratings(seed=0):
    """Ratings of rank 5, a size that 53 ratings a user can pin down."""
    data = make_ratings(300, 200, 20_000, n_factors=5, min_user_ratings=10, seed=seed)
    return data.split(0.2, seed=seed)


@pytest.fixture(scope="module")
def fitted():
    train, test = small_ratings()
    model = MatrixFactorization(n_factors=10, random_state=0)
    return model.fit(train.users, train.items, train.ratings), train, test


# The kernels against their references and minimize's loop ----------------------------------


@pytest.fixture
def numba_kernels():
    pytest.importorskip("numba")
    kernels = _factorization_kernels._compiled_factorization()
    assert kernels is not None
    return kernels


ORDERS = {
    "permutation": lambda n, rng: rng.permutation(n),
    "in order": lambda n, rng: np.arange(n),
    "with repeats": lambda n, rng: rng.integers(0, n, size=n + n // 2),
}


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("batch_size", [1, 3, 8, 30])
@pytest.mark.parametrize("lr, reg", [(0.05, 0.0), (0.2, 0.3)])
def test_compiled_epoch_matches_the_reference(numba_kernels, order, batch_size, lr, reg):
    users, items, ratings, objective, x0 = problem(reg=reg)
    rows = ORDERS[order](len(ratings), np.random.default_rng(1))
    want, got = x0.copy(), x0.copy()
    factorization_epoch_reference(
        users, items, ratings, *objective.unpack(want), objective.mean, rows, batch_size, lr, reg
    )
    numba_kernels[1](
        users, items, ratings, *objective.unpack(got), objective.mean, rows, batch_size, lr, reg
    )
    assert not np.array_equal(want, x0)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL)


def test_compiled_loss_and_predict_match_the_references(numba_kernels):
    users, items, ratings, objective, x0 = problem(n_users=40, n_items=30, n=500, k=6)
    U, V = objective.unpack(x0)
    want = factorization_loss_reference(users, items, ratings, U, V, 3.2, 0.4)
    got = numba_kernels[0](users, items, ratings, U, V, 3.2, 0.4)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=RTOL)
    users[::7], items[::5] = -1, -1  # unknown
    np.testing.assert_allclose(
        numba_kernels[2](users, items, U, V, 3.2),
        factorization_predict_reference(users, items, U, V, 3.2),
        rtol=RTOL,
    )


@pytest.mark.parametrize("batch_size", [1, 4, 30])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("lr, reg", [(0.05, 0.0), (0.2, 0.3)])
def test_the_compiled_epoch_makes_minimizes_own_updates(monkeypatch, batch_size, shuffle, lr, reg):
    users, items, ratings, objective, x0 = problem(reg=reg)
    settings = dict(
        grad=objective.grad, lr=lr, data=(users, items, ratings), batch_size=batch_size,
        shuffle=shuffle, epochs=3, seed=1, gtol=None,
    )  # fmt: skip
    # Without epoch_kernel (a plain function), minimize runs its own loop, batch by batch.
    loop = dd.minimize(lambda x, *batch: objective(x, *batch), x0, "gd", **settings)
    epochs = []
    monkeypatch.setattr(
        _factorization_kernels,
        "factorization_epoch",
        lambda *a: epochs.append(factorization_epoch(*a)),
    )
    compiled = dd.minimize(objective, x0, "gd", **settings)
    assert len(epochs) == 3
    assert compiled.nit == loop.nit == 3 * -(-30 // batch_size)
    np.testing.assert_allclose(compiled.x, loop.x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled.history.f, loop.history.f, rtol=1e-9)


def test_other_optimizers_run_minimizes_loop(monkeypatch):
    users, items, ratings, objective, x0 = problem()
    monkeypatch.setattr(_factorization_kernels, "factorization_epoch", None)  # never called
    for method in (dd.Momentum(lr=0.05), dd.GD(lr=lambda t: 0.05), dd.GD(lr=0.05, clip_norm=1.0)):
        res = dd.minimize(
            objective, x0, method, grad=objective.grad, data=(users, items, ratings),
            batch_size=2, epochs=2, seed=0,
        )  # fmt: skip
        assert res.fun < objective(x0, users, items, ratings)


def test_the_loss_is_the_mean_of_the_per_rating_formula():
    users, items, ratings, objective, x0 = problem(reg=0.3)
    U, V = objective.unpack(x0)
    # Dense: every (user, item) prediction, then the observed ones.
    predicted = objective.mean + U[:, :1] + V[:, 0] + U[:, 1:] @ V[:, 1:].T
    e = predicted[users, items] - ratings
    norms = (U**2).sum(axis=1)[users] + (V**2).sum(axis=1)[items]
    want = np.mean(0.5 * e**2 + 0.5 * 0.3 * norms)
    assert objective(x0, users, items, ratings) == pytest.approx(want, rel=1e-13)
    for loss in (factorization_loss, factorization_loss_reference):
        total, _, _ = loss(users, items, ratings, U, V, objective.mean, 0.3)
        assert total / len(ratings) == pytest.approx(want, rel=1e-13)


def test_the_gradient_passes_check_grad():
    users, items, ratings, objective, x0 = problem(reg=0.3)
    assert dd.check_grad(objective, objective.grad, x0, users, items, ratings) < 1e-7
    for batch in (slice(0, 1), slice(3, 11)):
        args = (users[batch], items[batch], ratings[batch])
        assert dd.check_grad(objective, objective.grad, x0, *args) < 1e-7


def test_one_rating_step_is_funks_update():
    # Surprise's SVD update for one rating, written out: e = r - r_hat (its sign).
    users, items, ratings, objective, x0 = problem(n=1, reg=0.02)
    lr, reg, (u,), (i,), (r,) = 0.005, 0.02, users, items, ratings
    U, V = objective.unpack(x0.copy())
    err = r - (objective.mean + U[u, 0] + V[i, 0] + U[u, 1:] @ V[i, 1:])
    b_u, b_i = U[u, 0] + lr * (err - reg * U[u, 0]), V[i, 0] + lr * (err - reg * V[i, 0])
    p_u = U[u, 1:] + lr * (err * V[i, 1:] - reg * U[u, 1:])
    q_i = V[i, 1:] + lr * (err * U[u, 1:] - reg * V[i, 1:])
    x = x0.copy()
    factorization_epoch(
        users, items, ratings, *objective.unpack(x), objective.mean, [0], 1, lr, reg
    )
    U, V = objective.unpack(x)
    np.testing.assert_allclose([U[u, 0], V[i, 0]], [b_u, b_i], rtol=1e-14)
    np.testing.assert_allclose(U[u, 1:], p_u, rtol=1e-14)
    np.testing.assert_allclose(V[i, 1:], q_i, rtol=1e-14)


def test_without_numba_the_references_run(monkeypatch):
    train, _ = small_ratings()
    settings = dict(n_factors=4, epochs=2, batch_size=16, random_state=0)
    compiled = MatrixFactorization(**settings).fit(train.users, train.items, train.ratings)
    monkeypatch.setattr(_factorization_kernels, "_compiled_factorization", lambda: None)
    numpy = MatrixFactorization(**settings).fit(train.users, train.items, train.ratings)
    np.testing.assert_allclose(numpy.user_factors_, compiled.user_factors_, rtol=1e-9)


def test_kernel_bad_input_is_refused_in_words():
    users, items, ratings, objective, x0 = problem()
    U, V = objective.unpack(x0)
    with pytest.raises(ValueError, match=r"users must hold indices in \[0, 7\), got 0\.\.7"):
        factorization_loss(np.append(users[1:], 7), items, ratings, U, V, 3.0, 0.1)
    with pytest.raises(ValueError, match=r"order must hold indices in \[0, 30\)"):
        factorization_epoch(users, items, ratings, U, V, 3.0, [30], 1, 0.1, 0.1)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        factorization_epoch(users, items, ratings, U, V, 3.0, [0], 0, 0.1, 0.1)
    with pytest.raises(ValueError, match="the same number of columns"):
        factorization_predict(users, items, U, V[:, :2], 3.0)


# The estimator against independent truth ----------------------------------------------------


def dense_fit(users, items, ratings, shape, k, reg, seed):
    """SciPy's L-BFGS-B on the same objective written out densely: mean over the ratings
    of e**2/2 + reg/2 (|U_u|**2 + |V_i|**2), with the gradient by hand. The completed
    matrix of predictions."""
    (n_users, n_items), n, mean = shape, len(ratings), ratings.mean()
    mask, R = np.zeros(shape), np.zeros(shape)
    mask[users, items], R[users, items] = 1.0, ratings
    count_u, count_i = mask.sum(axis=1), mask.sum(axis=0)

    def unpack(z):
        b_u, b_i = z[:n_users], z[n_users : n_users + n_items]
        P = z[n_users + n_items : n_users + n_items + n_users * k].reshape(n_users, k)
        return b_u, b_i, P, z[n_users + n_items + n_users * k :].reshape(n_items, k)

    def predict(z):
        b_u, b_i, P, Q = unpack(z)
        return mean + b_u[:, None] + b_i + P @ Q.T

    def f(z):
        b_u, b_i, P, Q = unpack(z)
        E = (predict(z) - R) * mask
        value = 0.5 * (E**2).sum() + 0.5 * reg * (
            count_u @ (b_u**2 + (P**2).sum(axis=1)) + count_i @ (b_i**2 + (Q**2).sum(axis=1))
        )
        grad = np.concatenate([
            E.sum(axis=1) + reg * count_u * b_u,
            E.sum(axis=0) + reg * count_i * b_i,
            (E @ Q + reg * count_u[:, None] * P).ravel(),
            (E.T @ P + reg * count_i[:, None] * Q).ravel(),
        ])  # fmt: skip
        return value / n, grad / n

    z0 = np.random.default_rng(seed).normal(0.0, 0.1, (n_users + n_items) * (k + 1))
    res = scipy_minimize(
        f, z0, jac=True, method="L-BFGS-B", options=dict(gtol=1e-12, ftol=1e-15, maxiter=10_000)
    )
    return predict(res.x), res.fun


TEACHING = np.array([[5, 3, np.nan, 1], [4, np.nan, 1, 1], [1, 1, 5, np.nan]])


@pytest.mark.parametrize("method, lr", [("bb", None), ("gd", 0.5)])
def test_full_batch_converges_to_the_regularised_optimum(method, lr):
    users, items = np.nonzero(~np.isnan(TEACHING))
    ratings = TEACHING[users, items]
    model = MatrixFactorization(
        n_factors=2, reg=0.1, batch_size=None, method=method, lr=lr, tol=1e-10,
        epochs=20_000, rating_scale=(-10, 10), random_state=0,
    ).fit(users, items, ratings)  # fmt: skip
    assert model.result_.status == "converged"
    want, fun = dense_fit(users, items, ratings, (3, 4), 2, 0.1, seed=1)
    assert model.result_.fun == pytest.approx(fun, rel=1e-9)
    got = model.predict(np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3))
    np.testing.assert_allclose(got, want.ravel(), atol=1e-6)


def test_a_noiseless_low_rank_matrix_is_recovered():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    P, Q = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    full = 3.0 + rng.normal(0, 0.5, (n_users, 1)) + rng.normal(0, 0.5, n_items) + P @ Q.T
    seen = rng.random((n_users, n_items)) < 0.6
    users, items = np.nonzero(seen)
    # Per-rating SGD without a penalty, at the default lr: exact to rounding.
    model = MatrixFactorization(n_factors=2, reg=0.0, epochs=200, rating_scale=(-99, 99))
    model.fit(users, items, full[users, items])
    missing_users, missing_items = np.nonzero(~seen)
    predicted = model.predict(missing_users, missing_items)
    assert rmse(predicted, full[missing_users, missing_items]) < 1e-9 * full.std()


def test_defaults_learn_synthetic_ratings(fitted):
    model, train, test = fitted
    score = -model.score(test.users, test.items, test.ratings)
    baseline = rmse(np.full(len(test), train.ratings.mean()), test.ratings)
    assert test.floor < score < 0.7 * baseline
    # Train RMSE of the raw predictions, as recorded, against a direct computation.
    U = np.column_stack([model.user_bias_, model.user_factors_])
    V = np.column_stack([model.item_bias_, model.item_factors_])
    raw = factorization_predict(
        np.searchsorted(model.user_ids_, train.users),
        np.searchsorted(model.item_ids_, train.items),
        U, V, model.global_mean_,
    )  # fmt: skip
    assert model.history_["train_rmse"][-1] == pytest.approx(rmse(raw, train.ratings), rel=1e-9)
    # No validation: the run ends when the training objective stalls, and keeps the last.
    assert len(model.history_["train_rmse"]) == model.n_iter_ == model.best_epoch_ < 100
    assert model.result_.status == "stopped"
    assert np.all(np.diff(model.history_["time"]) > 0)


def test_predictions_stay_on_the_scale_and_unknown_ids_fall_back(fitted):
    model, _, _ = fitted
    mu, b_u, b_i = model.global_mean_, model.user_bias_, model.item_bias_
    unknown = 10**9
    got = model.predict([0, unknown, 0, unknown], [unknown, 0, 0, unknown])
    assert np.all(np.isfinite(got)) and np.all((got >= 1) & (got <= 5))
    np.testing.assert_allclose(got[:2], np.clip([mu + b_u[0], mu + b_i[0]], 1, 5))
    assert got[3] == pytest.approx(mu)
    everything = model.predict(np.repeat(model.user_ids_, 200), np.tile(model.item_ids_, 300))
    assert everything.min() >= 1.0 and everything.max() <= 5.0
    assert model.predict([], []).shape == (0,)


def test_recommend_ranks_unseen_items(fitted):
    model, train, _ = fitted
    assert list(model.item_ids_) == list(range(200))  # ids are rows here
    seen = set(train.items[train.users == 5])
    top = model.recommend(5, k=15)
    assert len(top) == 15 and not seen & set(top)
    scores = model.predict(np.full(200, 5), model.item_ids_)
    unclipped = model.item_bias_ + model.item_factors_ @ model.user_factors_[5]
    assert list(top) == [i for i in np.argsort(-unclipped, kind="stable") if i not in seen][:15]
    assert scores[top[0]] >= scores[top[-1]]
    with_seen = model.recommend(5, k=200, exclude_seen=False)
    assert sorted(with_seen) == list(range(200))
    assert len(model.recommend(5, k=1000)) == 200 - len(seen)
    # A user never seen: the items of highest bias.
    highest = np.argsort(-model.item_bias_, kind="stable")[:5]
    np.testing.assert_array_equal(model.recommend(10**9, k=5), highest)


def test_early_stopping_keeps_the_best_epoch():
    train, test = small_ratings(seed=1)
    validation = (test.users, test.items, test.ratings)
    # No penalty and large steps: the validation RMSE soon turns up.
    model = MatrixFactorization(
        n_factors=30, lr=0.1, reg=0.0, epochs=100, n_iter_no_change=3, random_state=0
    ).fit(train.users, train.items, train.ratings, validation=validation)
    curve = model.history_["validation_rmse"]
    assert model.result_.status == "stopped"
    assert model.n_iter_ == len(curve) == model.best_epoch_ + 3 < 100
    assert curve[model.best_epoch_ - 1] == curve.min() < curve[-1]
    assert -model.score(*validation) == pytest.approx(curve.min(), rel=1e-12)
    monitored = MatrixFactorization(
        n_factors=30, lr=0.1, reg=0.0, epochs=model.n_iter_, n_iter_no_change=None, random_state=0
    ).fit(train.users, train.items, train.ratings, validation=validation)
    np.testing.assert_array_equal(monitored.history_["validation_rmse"], curve)
    np.testing.assert_array_equal(monitored.user_factors_, model.user_factors_)


def test_random_state_makes_fits_repeatable():
    train, _ = small_ratings()

    def fit(seed):
        model = MatrixFactorization(n_factors=5, epochs=2, random_state=seed)
        return model.fit(train.users, train.items, train.ratings)

    a, b, c = fit(3), fit(3), fit(4)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_ids_may_be_any_integers_or_strings_and_X_works_too():
    train, test = small_ratings()
    settings = dict(n_factors=5, epochs=2, random_state=0)
    plain = MatrixFactorization(**settings).fit(train.users, train.items, train.ratings)
    # Ids in the same order, far apart: the same fit.
    spread = MatrixFactorization(**settings).fit(
        train.users * 1000 - 5, train.items * 7 + 10**12, train.ratings
    )
    np.testing.assert_array_equal(spread.user_factors_, plain.user_factors_)
    np.testing.assert_array_equal(
        spread.predict(test.users * 1000 - 5, test.items * 7 + 10**12),
        plain.predict(test.users, test.items),
    )
    X = np.column_stack([train.users, train.items])
    as_X = MatrixFactorization(**settings).fit(X, train.ratings)
    np.testing.assert_array_equal(as_X.user_factors_, plain.user_factors_)
    assert as_X.score(np.column_stack([test.users, test.items]), test.ratings) == plain.score(
        test.users, test.items, test.ratings
    )
    names = np.array([f"user {u}" for u in train.users])
    titles = np.array([f"film {i}" for i in train.items])
    named = MatrixFactorization(**settings).fit(names, titles, train.ratings)
    assert named.recommend("user 3", k=3).dtype.kind == "U"
    assert np.isfinite(named.predict(["user 3", "nobody"], ["film 1", "film 1"])).all()


def test_scikit_learn_tools_work_on_the_X_form():
    train, _ = small_ratings()
    X = np.column_stack([train.users, train.items])
    model = MatrixFactorization(n_factors=5, epochs=2, random_state=0)
    assert clone(model).get_params() == model.get_params()
    scores = cross_val_score(model, X, train.ratings, cv=3)
    assert scores.shape == (3,) and np.all((scores > -1.2) & (scores < -0.5))


def test_the_data_are_not_modified():
    train, test = small_ratings()
    arrays = [train.users, train.items, train.ratings, test.users, test.items, test.ratings]
    copies = [a.copy() for a in arrays]
    model = MatrixFactorization(n_factors=3, epochs=2, random_state=0)
    model.fit(
        train.users, train.items, train.ratings, validation=(test.users, test.items, test.ratings)
    )
    model.predict(test.users, test.items)
    model.score(test.users, test.items, test.ratings)
    for a, copy in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, copy)


def test_a_diverging_fit_warns_with_the_runs_message():
    train, _ = small_ratings()
    with pytest.warns(ConvergenceWarning, match="did not converge: diverged"):
        MatrixFactorization(lr=50.0, epochs=3, random_state=0).fit(
            train.users, train.items, train.ratings
        )


U3, I3, R3 = [0, 1, 2], [0, 0, 1], [1.0, 4.0, 5.0]


@pytest.mark.parametrize(
    "args, error, match",
    [
        (([0, 1], I3, R3), ValueError, r"fit: users, items and ratings must have one length"),
        ((U3, I3, [1.0, np.nan, 5.0]), ValueError, "ratings must be finite"),
        (([], [], []), ValueError, "fit needs at least one rating"),
        (
            (U3, I3),
            ValueError,
            r"X of shape \(n, 2\) with columns \[user, item\], got X of shape \(3,\)",
        ),
        (([[0, 1]] * 3, I3, R3), ValueError, r"user ids \(users\) must be a 1-D array of ids"),
        (([0.0, np.nan, 1.0], I3, R3), ValueError, r"user ids \(users\) hold a missing id, nan"),
        ((U3, I3, ["a", "b", "c"]), TypeError, "ratings must be a number or an array of real"),
        ((U3, I3, [[1.0], [2.0], [3.0]]), ValueError, r"ratings must be 1-D, .* shape \(3, 1\)"),
    ],
)
def test_bad_data_is_refused_in_words(args, error, match):
    with pytest.raises(error, match=match):
        MatrixFactorization().fit(*args)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_factors=-1), ValueError, "n_factors must be an integer >= 0, got -1"),
        (dict(n_factors=2.5), TypeError, "n_factors must be an integer"),
        (dict(reg=-0.1), ValueError, "reg must be a finite number >= 0, got -0.1"),
        (dict(lr=0.0), ValueError, "lr must be a finite number > 0, got 0.0"),
        (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
        (dict(init_scale=-1.0), ValueError, "init_scale must be a finite number >= 0"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be an integer >= 1"),
        (dict(rating_scale=(5, 1)), ValueError, r"rating_scale must be \(lowest, highest\)"),
        (dict(rating_scale=5), TypeError, "rating_scale must be a pair"),
        (dict(method="sgd"), ValueError, "method must be one of"),
        (dict(tol=-1.0), ValueError, "gtol must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters_are_refused_in_words(params, error, match):
    with pytest.raises(error, match=match):
        MatrixFactorization(**params).fit(U3, I3, R3)


def test_other_misuse_is_refused_in_words(fitted):
    model, _, _ = fitted
    with pytest.raises(NotFittedError):
        MatrixFactorization().predict([0], [0])
    failed = MatrixFactorization(lr=-1.0)
    with pytest.raises(ValueError, match="lr must be"):
        failed.fit(U3, I3, R3)
    with pytest.raises(NotFittedError):  # a failed fit leaves nothing half-fitted
        failed.recommend(0)
    with pytest.raises(ValueError, match=r"predict: users and items must have one length"):
        model.predict([0, 1], [0])
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        model.recommend(0, k=0)
    with pytest.raises(TypeError, match="validation must be a tuple"):
        MatrixFactorization().fit(U3, I3, R3, validation=np.zeros((3, 3)))


# The example ----------------------------------------------------------------------------------


def test_the_example_completes_the_matrix_at_the_optimum(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the example's fit warns of nothing
        example = runpy.run_path(os.path.join(ROOT, "examples", "recommender.py"))
    out = capsys.readouterr().out
    assert "The run: converged" in out and out.count("*") == 4  # three cells and the note
    users, items = np.nonzero(~np.isnan(TEACHING))
    want, _ = dense_fit(users, items, TEACHING[users, items], (3, 4), 2, 0.1, seed=0)
    np.testing.assert_allclose(example["completed"], np.clip(want, 1, 5), atol=1e-6)
    assert "carol" in out and f"{np.clip(want, 1, 5)[2, 3]:.2f}*" in out
