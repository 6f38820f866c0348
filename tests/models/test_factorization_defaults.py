"""MatrixFactorization's defaults against alternating least squares written out here, and
the early stop on the training objective that ends a fit without a validation set."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from descend.datasets import make_ratings, rmse

from descend.models.factorization import MatrixFactorization


def als(users, items, ratings, shape, k, reg, sweeps=20, seed=0):
    """Alternating least squares on MatrixFactorization's own objective, the independent
    truth: with the items fixed, each user's [b_u, p_u] solves the normal equations
    (Z^T Z + reg n_u I) w = Z^T t, Z = [1, q_i] and t = r - mu - b_i over its n_u
    ratings (the penalty counted once per rating); then the items, the same way."""
    mu = ratings.mean()
    rng = np.random.default_rng(seed)
    sides = [np.column_stack([np.zeros(n), rng.normal(0, 0.1, (n, k))]) for n in shape]
    rows = (users, items)
    for _ in range(sweeps):
        for side in (0, 1):
            own, other = rows[side], rows[1 - side]
            B = sides[1 - side]
            for a in range(shape[side]):
                mine = np.flatnonzero(own == a)
                Z = np.column_stack([np.ones(len(mine)), B[other[mine], 1:]])
                t = ratings[mine] - mu - B[other[mine], 0]
                A = Z.T @ Z + reg * len(mine) * np.eye(k + 1)
                sides[side][a] = np.linalg.solve(A, Z.T @ t)
    U, V = sides
    return lambda u, i: np.clip(
        mu + U[u, 0] + V[i, 0] + np.einsum("ij,ij->i", U[u, 1:], V[i, 1:]), 1, 5
    )


@pytest.mark.parametrize("noise, seed", [(0.2, 0), (0.52, 1)])
def test_defaults_come_within_3_percent_of_alternating_least_squares(noise, seed):
    # 400 users x 300 items, 18,000 ratings of true rank 4: the old defaults (10 epochs at
    # lr 0.05) ended 25% above ALS at noise 0.2 (0.512 against 0.409).
    data = make_ratings(400, 300, 18_000, n_factors=4, noise=noise, seed=seed)
    train, test = data.split(0.2, seed=seed)
    truth = als(train.users, train.items, train.ratings, data.shape, k=4, reg=0.02)
    reference = rmse(truth(test.users, test.items), test.ratings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = MatrixFactorization(n_factors=4, random_state=0)
        model.fit(train.users, train.items, train.ratings)
    score = -model.score(test.users, test.items, test.ratings)
    assert score <= 1.03 * reference  # measured: 1.018 of 0.409 and 1.005 of 0.642
    assert test.floor < score
    # It ended by the training objective's stall, well inside the epoch budget.
    assert model.result_.status == "stopped" and model.n_iter_ < model.epochs
    assert "training objective fell by less than min_improvement=0.01" in model.result_.message


def test_the_stall_rule_counts_epochs_without_a_relative_fall():
    data = make_ratings(200, 100, 6_000, n_factors=3, min_user_ratings=10, seed=2)
    model = MatrixFactorization(n_factors=3, random_state=0).fit(*data)
    f = model.result_.history.f[1:]  # one per epoch
    # The rule by hand: an epoch counts as progress when its f is below (1 - 0.01) times
    # the f of the last epoch that counted; the run ends 5 epochs after the last one.
    best, counted = np.inf, []
    for epoch, value in enumerate(f, start=1):
        if value < (1 - model.min_improvement) * best:
            best = value
            counted.append(epoch)
    assert counted[-1] + model.n_iter_no_change == len(f)
    assert np.diff(counted).max() <= model.n_iter_no_change  # no earlier stall was as long
    assert model.best_epoch_ == model.n_iter_ == len(f)


def test_the_stall_rule_is_off_with_tol_validation_or_none():
    data = make_ratings(200, 100, 6_000, n_factors=3, min_user_ratings=10, seed=2)
    train, test = data.split(0.2, seed=0)
    for kwargs in (dict(min_improvement=None), dict(n_iter_no_change=None)):
        model = MatrixFactorization(n_factors=3, epochs=60, random_state=0, **kwargs)
        assert model.fit(*train).n_iter_ == 60 and model.result_.status == "max_iter"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=1e-12 is not reached in 60 SGD epochs
        model = MatrixFactorization(n_factors=3, epochs=60, tol=1e-12, random_state=0)
        assert model.fit(*train).n_iter_ == 60
    model = MatrixFactorization(n_factors=3, random_state=0)
    model.fit(*train, validation=(test.users, test.items, test.ratings))
    assert model.result_.message.startswith("stopped: no lower validation RMSE in 5 epochs")
    assert f"after epoch {model.best_epoch_} (" in model.result_.message


def test_min_improvement_is_checked():
    with pytest.raises(ValueError, match="min_improvement must be a finite number >= 0"):
        MatrixFactorization(min_improvement=-0.1).fit([0, 1], [0, 1], [1.0, 2.0])
