"""The linear models' defaults: standardised features (``scale=True``), the choice of
method, and the warnings of unscaled fits, against closed forms and scikit-learn."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.linear_model as sk
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning

import descend as dd
from descend.models import LinearClassifier, LinearRegression, LogisticRegression, _losses

STANDARDISE = (
    r"features differ in scale by a factor of [\d,]+; standardise them "
    r"\(sklearn.preprocessing.StandardScaler\) or use scale=True"
)
# Columns in units a million times apart, as raw data have (grams and tonnes).
UNITS = np.array([1e-6, 1.0, 1e3, 1e-2])


def regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) + rng.normal(size=4)
    return X, X @ [1.0, -2.0, 0.5, 3.0] + 4.0 + 0.1 * rng.normal(size=n)


def closed_form(X, y, alpha=0.0):
    """Ridge on the user's coefficients: (Xc^T Xc / n + alpha I) w = Xc^T yc / n."""
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(X) + alpha * np.eye(X.shape[1]), Xc.T @ yc / len(X))
    return w, y.mean() - X.mean(axis=0) @ w


def r2(X, y, coef, intercept):
    r = y - X @ coef - intercept
    return 1 - (r @ r) / np.sum((y - y.mean()) ** 2)


# scale=True: any units, the same fit ------------------------------------------------------


@pytest.mark.parametrize("units", [1e-6, 1.0, 1e6, UNITS], ids=["1e-6", "1", "1e6", "mixed"])
def test_standardised_fits_reach_the_closed_form_in_any_units(units):
    X, y = regression()
    X = X * units
    w, b = closed_form(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression().fit(X, y)
    assert model.result_.status == "converged" and model.result_.method == "lbfgs"
    assert model.score(X, y) == pytest.approx(r2(X, y, w, b), abs=1e-9)  # 0.9996
    tight = LinearRegression(tol=1e-9).fit(X, y)  # the gradient in standardised units
    np.testing.assert_allclose(tight.coef_ * units, w * units, rtol=1e-6)
    np.testing.assert_allclose(tight.predict(X), X @ w + b, rtol=1e-6, atol=1e-6)


def test_the_issues_example_no_longer_converges_to_nothing():
    # X * 1e-6 made every gradient tiny: the fit "converged" at once with R^2 = 0.
    X, y = regression()
    w, b = closed_form(X * 1e-6, y)
    assert LinearRegression().fit(X * 1e-6, y).score(X * 1e-6, y) > r2(X * 1e-6, y, w, b) - 1e-9
    with pytest.warns(ConvergenceWarning, match=STANDARDISE):
        unscaled = LinearRegression(scale=False).fit(X * 1e-6, y)
    assert_no_false_convergence(unscaled, X * 1e-6, y)


def assert_no_false_convergence(model, X, y):
    """A fit that says it converged is at the optimum: R^2 that of the closed form."""
    if model.result_.status == "converged":
        assert model.score(X, y) == pytest.approx(r2(X, y, *closed_form(X, y)), abs=1e-6)


@pytest.mark.parametrize("scale", [True, False])
def test_ridge_penalises_the_users_coefficients_as_sklearn_does(scale):
    X, y = regression()
    X = X * [0.1, 1.0, 10.0, 1.0]  # differences a first-order method can still cross
    alpha = 0.05
    w, b = closed_form(X, y, alpha)
    # BB: L-BFGS stops at f's rounding, short of tol=1e-10 (see EXACT in test_linear.py).
    model = LinearRegression(alpha=alpha, scale=scale, method="bb", tol=1e-10, epochs=20_000)
    model.fit(X, y)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-6)
    assert model.intercept_ == pytest.approx(b, rel=1e-6)
    ridge = sk.Ridge(alpha=alpha * len(X)).fit(X, y)  # its alpha weighs the summed loss
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-6)


def test_logistic_penalty_is_on_the_users_coefficients():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3)) * [0.1, 1.0, 10.0]
    y = rng.random(300) < 1 / (1 + np.exp(-(X @ [5.0, -1.0, 0.1] + 0.3)))
    alpha = 0.01
    theirs = sk.LogisticRegression(C=1 / (alpha * len(X)), tol=1e-12, max_iter=100_000).fit(X, y)
    model = LogisticRegression(alpha=alpha, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-5)
    np.testing.assert_allclose(model.intercept_, theirs.intercept_, rtol=1e-5)


def test_the_history_and_partial_fit_speak_the_users_units():
    X, y = regression()
    X = X * UNITS
    model = LinearRegression().fit(X, y)
    np.testing.assert_array_equal(model.history_.x[-1], np.append(model.coef_, model.intercept_))
    coef = model.coef_.copy()
    model.partial_fit(X, y)  # continues from coef_, converted into the kept units
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-4)


def test_constant_columns_are_left_alone():
    X, y = regression()
    X = np.column_stack([X, np.full(len(X), 7.0), np.zeros(len(X))])
    model = LinearRegression(tol=1e-9).fit(X, y)
    assert model.result_.status == "converged"
    np.testing.assert_allclose(model.coef_[4:], 0.0, atol=1e-12)
    w, _ = closed_form(X[:, :4], y)
    np.testing.assert_allclose(model.coef_[:4], w, rtol=1e-5)


# scale=False: today's optimisation, with a warning where the units make it fail ------------


def test_unscaled_fits_of_mixed_units_warn_and_never_claim_to_converge():
    X, y = regression()
    status = {}
    for method in ("lbfgs", "bb", "gd"):
        with pytest.warns(ConvergenceWarning, match=STANDARDISE):
            model = LinearRegression(method=method, scale=False).fit(X * UNITS, y)
        assert_no_false_convergence(model, X * UNITS, y)
        status[method] = model.result_.status
    # L-BFGS gets there (and still warns); BB runs out of epochs; GD at lr=0.01 diverges.
    assert status == {"lbfgs": "converged", "bb": "max_iter", "gd": "diverged"}


def test_unscaled_logistic_regression_says_standardise():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -1.0, 0.5] + rng.normal(size=200) > 0
    with pytest.warns(ConvergenceWarning, match=STANDARDISE):
        LogisticRegression(scale=False).fit(X * [1e-4, 1.0, 1e3], y)


def test_unscaled_well_scaled_data_fits_quietly_to_tol():
    X, y = regression()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(scale=False).fit(X, y)
    assert model.result_.status == "converged"
    assert np.linalg.norm(model.result_.grad) <= model.tol


# The method: L-BFGS on the full batch, compiled SGD on mini-batches -----------------------


def test_lbfgs_needs_fewer_gradients_than_bb_for_the_same_fit():
    X_d, y_d = load_diabetes(return_X_y=True)
    X_g, y_g = load_digits(return_X_y=True)
    for Model, X, y in ((LinearRegression, X_d, y_d), (LogisticRegression, X_g[:600], y_g[:600])):
        lbfgs, bb = Model().fit(X, y), Model(method="bb").fit(X, y)
        assert lbfgs.result_.method == "lbfgs" and lbfgs.result_.status == "converged"
        assert lbfgs.result_.ngev < bb.result_.ngev
        assert lbfgs.score(X, y) == pytest.approx(bb.score(X, y), abs=2e-3)


@pytest.mark.parametrize("Model", [LinearRegression, LinearClassifier])
def test_a_batch_size_alone_runs_compiled_sgd(monkeypatch, Model):
    X, y = regression()
    y = y > np.median(y) if Model is LinearClassifier else y
    calls = []
    kernel = _losses._Squared.epoch_kernel

    def counted(self, *args):
        done = kernel(self, *args)
        calls.append(done is not None)
        return done

    monkeypatch.setattr(_losses._Squared, "epoch_kernel", counted)
    model = Model(batch_size=20, epochs=3, tol=None, random_state=0).fit(X, y)
    assert model.result_.method == "gd" and calls == [True] * 3
    assert LinearRegression(lr=0.1, tol=None, epochs=2).fit(X, y).result_.method == "gd"


@pytest.mark.parametrize("method", ["bb", "armijo", dd.BB()])
def test_a_line_search_on_mini_batches_warns_of_batch_noise(method):
    X, y = regression()
    with pytest.warns(UserWarning, match="is a line search: .*chase batch noise"):
        LinearRegression(method=method, batch_size=20, epochs=2, tol=None).fit(X, y)


def test_lbfgs_on_mini_batches_is_refused():
    X, y = regression()
    with pytest.raises(ValueError, match="needs the gradient on all the data"):
        LinearRegression(method="lbfgs", batch_size=20).fit(X, y)
