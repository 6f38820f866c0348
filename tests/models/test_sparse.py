"""SciPy sparse input to every public function of descend.models and to minimize's data
mode: a table of cases, each accepted and equal to its dense equivalent to 1e-12 (for
every sparse format it takes), or refused with the word "sparse" and the fix; and the
sparse fits against scikit-learn where the dense ones are compared with it."""

import warnings
from typing import Any, NamedTuple

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.linear_model as sk
from scipy import sparse

import descend as dd
from descend import models
from descend.models import (
    LinearClassifier,
    LinearRegression,
    LogisticRegression,
    MatrixFactorization,
)

RNG = np.random.default_rng(0)
# Two thirds zeros, off-centre columns and one column of zeros alone.
X = RNG.normal(1.0, 1.0, (90, 5)) * (RNG.random((90, 5)) < 0.35)
X[:, 3] = 0.0
Y = X @ [1.0, -2.0, 0.5, 0.0, 3.0] + 0.1 * RNG.normal(size=90)
LABELS = np.digitize(Y, np.quantile(Y, [0.5]))  # two classes
CLASSES = np.digitize(Y, np.quantile(Y, [0.3, 0.6]))  # three
TARGETS = np.column_stack([Y, -Y + RNG.normal(size=90)])
# A ratings matrix, 30 users x 20 items, about 30% of its entries stored, from 1 to 5.
RATINGS = sparse.csr_array(RNG.integers(1, 6, (30, 20)) * (RNG.random((30, 20)) < 0.3) * 1.0)

CSR = {"csr_matrix": sparse.csr_matrix, "csr_array": sparse.csr_array}
OTHERS = {
    "coo_array": sparse.coo_array,
    "csc_matrix": sparse.csc_matrix,
    "lil_array": sparse.lil_array,
}


class Case(NamedTuple):
    """One public function on sparse input.

    ``run(to)`` returns the numbers that come of it, with its matrix made by ``to`` (a
    SciPy constructor), or by None for the dense equivalent. ``formats`` are the sparse
    formats tried; ``refused`` the error and a regex of its message, None when each
    format is accepted and must match the dense run.
    """

    name: str
    run: Any
    formats: dict[str, Any]
    refused: tuple[type[Exception], str] | None = None


def linear(Model, target, partial=False, **params):
    """A fit (or three calls of partial_fit) of ``Model(**params)`` to X and ``target``."""

    def run(to):
        data = X if to is None else to(X)
        model = Model(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short runs: the warnings are not the point
            if partial:
                labels = {} if Model is LinearRegression else {"classes": np.unique(target)}
                for _ in range(3):
                    model.partial_fit(data, target, **labels)
            else:
                model.fit(data, target)
        out = model.predict(data)
        if hasattr(model, "decision_function"):
            out = model.decision_function(data)
        return [model.coef_, model.intercept_, out, model.n_iter_, model.history_.f]

    return run


def factorization(call):
    """MatrixFactorization's ``call`` ("fit", "validation" or "predict") with the ratings
    matrix, or with its stored entries as (users, items, ratings) for the dense run."""

    def run(to):
        entries = RATINGS.tocoo()
        triplets = (entries.row, entries.col, entries.data)
        model = MatrixFactorization(n_factors=3, epochs=3, random_state=0)
        if call == "predict":
            return model.fit(*triplets).predict(to(RATINGS))
        if call == "validation":
            model.fit(*triplets, validation=triplets if to is None else to(RATINGS))
            return [model.user_factors_, model.history_["validation_rmse"]]
        model.fit(*(triplets if to is None else [to(RATINGS)]))
        return [model.user_ids_, model.user_factors_, model.item_factors_, model.score(*triplets)]

    return run


COV = np.cov(RNG.normal(size=(50, 4)), rowvar=False)


def portfolio(function, *returns):
    """``function`` of the covariance matrix COV (and expected ``returns``)."""

    def run(to):
        return function(COV if to is None else to(COV), *returns)

    return run


def mse(w, X, y):
    r = X @ w - y
    return 0.5 * float(r @ r) / X.shape[0]


def mse_grad(w, X, y):
    return X.T @ (X @ w - y) / X.shape[0]


def data_mode(to):
    """minimize on (X, Y): mini-batch GD, and full-batch BB."""
    data = (X if to is None else to(X), Y)
    settings = dict(grad=mse_grad, data=data, lr=0.1, gtol=0, seed=0)
    mini = dd.minimize(mse, np.zeros(5), batch_size=8, epochs=4, **settings)
    full = dd.minimize(mse, np.zeros(5), "bb", **{**settings, "lr": None, "epochs": 20})
    return [mini.x, mini.history.f, full.x]


SGD = dict(batch_size=8, epochs=4, tol=None, random_state=0)
ALL = CSR | OTHERS
PREDICT_REFUSES = (
    r"predict takes \(users, items\) or X of shape \(n, 2\), got a SciPy sparse matrix; to "
    r"predict its stored entries: R = R\.tocoo\(\); predict\(R\.row, R\.col\)"
)
MINIMIZE_REFUSES = (
    r"data\[0\] is a SciPy sparse matrix in (COO|CSC|LIL) format; data mode takes each "
    r"batch's rows, which needs CSR: pass data\[0\]\.tocsr\(\)"
)
PORTFOLIO_REFUSES = r"sparse matrix; \w+ needs a dense array: pass \w+.toarray\(\)"
CASES = [
    Case("LinearRegression", linear(LinearRegression, Y), ALL),
    Case("LinearRegression", linear(LinearRegression, Y, alpha=0.1, scale=False), CSR),
    Case("LinearRegression", linear(LinearRegression, Y, **SGD), CSR),  # compiled when dense
    Case("LinearRegression", linear(LinearRegression, Y, method="momentum", lr=0.01, **SGD), CSR),
    Case("LinearRegression", linear(LinearRegression, TARGETS), CSR),
    Case("LinearRegression", linear(LinearRegression, Y, early_stopping=True, random_state=0), CSR),
    Case("LinearRegression", linear(LinearRegression, Y, True, random_state=0), CSR),
    Case("LinearRegression", linear(LinearRegression, Y, fit_intercept=False), CSR),
    Case("LogisticRegression", linear(LogisticRegression, LABELS), ALL),
    Case("LogisticRegression", linear(LogisticRegression, CLASSES, alpha=0.01), CSR),
    Case("LogisticRegression", linear(LogisticRegression, LABELS, **SGD), CSR),
    Case("LogisticRegression", linear(LogisticRegression, CLASSES, True, random_state=0), CSR),
    Case("LinearClassifier", linear(LinearClassifier, LABELS), ALL),
    Case("LinearClassifier", linear(LinearClassifier, CLASSES, **SGD), CSR),
    Case("MatrixFactorization", factorization("fit"), ALL),
    Case("MatrixFactorization", factorization("validation"), CSR),
    Case("MatrixFactorization", factorization("predict"), CSR, (TypeError, PREDICT_REFUSES)),
    Case("min_variance_portfolio", portfolio(models.min_variance_portfolio), ALL,
         (TypeError, PORTFOLIO_REFUSES)),
    Case("efficient_frontier", portfolio(models.efficient_frontier, [0.1, 0.2, 0.3, 0.4]), CSR,
         (TypeError, PORTFOLIO_REFUSES)),
    Case("minimize", data_mode, CSR),
    Case("minimize", data_mode, OTHERS, (TypeError, MINIMIZE_REFUSES)),
]  # fmt: skip
# Portfolio and Frontier are results, made by the functions above, never given data.
RESULTS = {"Portfolio", "Frontier"}


TRIED = [
    pytest.param(case, to, id=f"{number}-{case.name}-{name}")
    for number, case in enumerate(CASES)
    for name, to in case.formats.items()
]


def unchanged(to, record):
    """``to``, recording each matrix it makes with a copy, to check it is never written."""

    def make(dense):
        matrix = to(dense)
        record.append((matrix, matrix.copy()))
        return matrix

    return make


@pytest.mark.parametrize("case, to", TRIED)
def test_sparse_input_is_taken_as_dense_or_refused_with_the_fix(case, to):
    made = []
    if case.refused is not None:
        error, match = case.refused
        with pytest.raises(error, match=match):
            case.run(unchanged(to, made))
        return
    dense, got = case.run(None), case.run(unchanged(to, made))
    for want, have in zip(dense, got, strict=True):
        np.testing.assert_allclose(have, want, rtol=1e-12, atol=1e-12)
    for matrix, copy in made:
        assert (matrix != copy).nnz == 0 and matrix.format == copy.format


def test_every_public_function_of_descend_models_is_in_the_table():
    assert {case.name for case in CASES} == set(models.__all__) - RESULTS | {"minimize"}


# Against scikit-learn, as the dense fits are in test_linear.py.

EXACT = dict(method="bb", tol=1e-10, epochs=5000)


def test_sparse_ridge_matches_sklearns_sparse_ridge():
    n, alpha = X.shape[0], 0.3
    model = LinearRegression(alpha=alpha, **EXACT).fit(sparse.csr_array(X), Y)
    ridge = sk.Ridge(alpha=alpha * n, solver="sparse_cg", tol=1e-12).fit(sparse.csr_array(X), Y)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, ridge.intercept_, rtol=1e-7)


@pytest.mark.parametrize("target", [LABELS, CLASSES], ids=["binary", "multinomial"])
def test_sparse_logistic_matches_sklearns(target):
    alpha = 0.01
    theirs = sk.LogisticRegression(C=1 / (alpha * len(X)), tol=1e-12, max_iter=10_000)
    theirs.fit(sparse.csr_array(X), target)
    model = LogisticRegression(alpha=alpha, **EXACT).fit(sparse.csr_array(X), target)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-5, atol=1e-7)
    proba = model.predict_proba(sparse.csr_array(X))
    np.testing.assert_allclose(proba, theirs.predict_proba(X), atol=1e-7)


def test_a_sparse_target_is_taken_as_dense():
    dense = LinearRegression().fit(X, TARGETS)
    given = LinearRegression().fit(sparse.csr_array(X), sparse.csr_array(TARGETS))
    np.testing.assert_allclose(given.coef_, dense.coef_, rtol=1e-12, atol=1e-12)
