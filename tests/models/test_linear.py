"""descend.models against independent truth: closed forms, scikit-learn's own solvers,
hand-computed gradient steps, and scikit-learn's estimator checks."""

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.linear_model as sk
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import descend as dd
from descend.models import (
    LinearClassifier,
    LinearRegression,
    LogisticRegression,
    _linear_base,
    _losses,
)

HAS_DATA_MODE = "data" in inspect.signature(dd.minimize).parameters
needs_kernel_hook = pytest.mark.skipif(
    not HAS_DATA_MODE,
    reason="needs minimize's data mode, whose loop calls the loss's epoch_kernel",
)

QUIET = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
MODELS = (LinearRegression, LogisticRegression, LinearClassifier)
# Converge to rounding, for closed-form comparisons. BB, not the default L-BFGS: L-BFGS
# ends when f can no longer show the decrease its next step promises (a gradient near
# sqrt(eps f), 1e-9 here, some coefficients 2e-7 off), while BB's steps read gradients
# only and go on to tol.
EXACT = dict(method="bb", tol=1e-10, epochs=5000)


def design(n=80, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)  # off-centre columns, as real data has
    return X, rng


def with_ones(X):
    return np.column_stack([X, np.ones(len(X))])


# scikit-learn's conformance suite: every check passes, none is marked expected-failed.


# Data centred at 100 (check_fit_idempotent) is ill-conditioned for any first-order
# method: 1,000 epochs end a hair short of tol, and say so.
@QUIET
@parametrize_with_checks([LinearRegression(), LogisticRegression(), LinearClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# LinearRegression: the normal equations.


def test_linear_regression_matches_lstsq_with_intercept():
    X, rng = design()
    y = X @ [1.0, -2.0, 0.5, 3.0] + 4.0 + rng.normal(size=len(X))
    w = np.linalg.lstsq(with_ones(X), y, rcond=None)[0]
    model = LinearRegression(**EXACT).fit(X, y)
    np.testing.assert_allclose(model.coef_, w[:-1], rtol=1e-7)
    np.testing.assert_allclose(model.intercept_, w[-1], rtol=1e-7)
    assert isinstance(model.intercept_, float) and model.result_.status == "converged"


def test_linear_regression_matches_lstsq_without_intercept():
    X, rng = design()
    y = X @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=len(X))
    model = LinearRegression(fit_intercept=False, **EXACT).fit(X, y)
    np.testing.assert_allclose(model.coef_, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7)
    assert model.intercept_ == 0.0
    assert model.history_.x.shape == (model.n_iter_ + 1, 4)  # no intercept is packed


def test_ridge_matches_the_closed_form_on_centred_data():
    # min (1/2n)||X w + b - y||^2 + (alpha/2)||w||^2: b is free, so centre, then
    # (Xc^T Xc / n + alpha I) w = Xc^T yc / n and b = mean(y) - mean(X) w.
    X, rng = design()
    y = X @ [1.0, -2.0, 0.5, 3.0] + 4.0 + rng.normal(size=len(X))
    n, alpha = len(X), 0.3
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / n + alpha * np.eye(4), Xc.T @ yc / n)
    model = LinearRegression(alpha=alpha, **EXACT).fit(X, y)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-7)
    np.testing.assert_allclose(model.intercept_, y.mean() - X.mean(axis=0) @ w, rtol=1e-7)
    # scikit-learn's Ridge penalises the summed loss: its alpha is n times ours.
    ridge = sk.Ridge(alpha=alpha * n).fit(X, y)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-7)


def test_several_targets_match_lstsq_column_by_column():
    X, rng = design()
    Y = X @ rng.normal(size=(4, 3)) + [1.0, 2.0, 3.0] + rng.normal(size=(len(X), 3))
    W = np.linalg.lstsq(with_ones(X), Y, rcond=None)[0]
    model = LinearRegression(**EXACT).fit(X, Y)
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    np.testing.assert_allclose(model.coef_, W[:-1].T, rtol=1e-7)
    np.testing.assert_allclose(model.intercept_, W[-1], rtol=1e-7)
    assert model.predict(X).shape == (len(X), 3)


def test_diabetes_r2_reaches_the_closed_form_with_defaults():
    X, y = load_diabetes(return_X_y=True)
    w = np.linalg.lstsq(with_ones(X), y, rcond=None)[0]
    r = y - with_ones(X) @ w
    r2_closed = 1 - (r @ r) / np.sum((y - y.mean()) ** 2)  # 0.5177
    model = LinearRegression().fit(X, y)
    assert abs(model.score(X, y) - r2_closed) < 0.005
    assert model.result_.status == "converged"


# LogisticRegression: scikit-learn's lbfgs on the same objective.


def digits_split():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_digits_accuracy_is_within_1_5_points_of_sklearn_with_defaults():
    X_train, X_test, y_train, y_test = digits_split()
    theirs = sk.LogisticRegression(max_iter=5000).fit(X_train, y_train).score(X_test, y_test)
    model = LogisticRegression().fit(X_train, y_train)
    assert model.result_.status == "converged"
    assert model.coef_.shape == (10, 64)
    assert abs(model.score(X_test, y_test) - theirs) <= 0.015


def logistic_problem(classes=2, seed=1):
    X, rng = design(n=120, d=3, seed=seed)
    scores = X @ rng.normal(size=(3, classes))
    y = np.array([rng.choice(classes, p=np.exp(s) / np.exp(s).sum()) for s in scores])
    return X, y


def sklearn_logistic(X, y, alpha):
    # C * sum(loss) + ||W||^2 / 2 has the minimiser of mean(loss) + alpha/2 ||W||^2 when
    # C = 1 / (alpha n).
    return sk.LogisticRegression(C=1 / (alpha * len(X)), tol=1e-12, max_iter=10_000).fit(X, y)


def test_binary_logistic_matches_sklearn_with_matching_penalty():
    X, y = logistic_problem()
    theirs = sklearn_logistic(X, y, alpha=0.01)
    model = LogisticRegression(alpha=0.01, **EXACT).fit(X, y)
    assert model.coef_.shape == (1, 3) and model.intercept_.shape == (1,)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-5)
    np.testing.assert_allclose(model.intercept_, theirs.intercept_, rtol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), atol=1e-7)


def test_multinomial_logistic_matches_sklearn_with_matching_penalty():
    X, y = logistic_problem(classes=4)
    theirs = sklearn_logistic(X, y, alpha=0.01)
    model = LogisticRegression(alpha=0.01, **EXACT).fit(X, y)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-5, atol=1e-7)
    # The intercepts are free up to a common shift; the probabilities are not.
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("classes", [2, 4])
def test_probabilities_are_rows_that_sum_to_one_and_agree_with_predict(classes):
    X, y = logistic_problem(classes)
    model = LogisticRegression().fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-10)


# LinearClassifier: least squares on 0/1 targets, thresholded at 0.5.


def test_linear_classifier_is_lstsq_on_0_1_targets_thresholded_at_half():
    X, y = logistic_problem()
    labels = np.where(y == 1, "spam", "ham")
    w = np.linalg.lstsq(with_ones(X), (y == 1).astype(float), rcond=None)[0]
    model = LinearClassifier(**EXACT).fit(X, labels)
    np.testing.assert_allclose(model.coef_, [w[:-1]], rtol=1e-7)
    np.testing.assert_allclose(model.intercept_, [w[-1]], rtol=1e-7)
    z = with_ones(X) @ w
    np.testing.assert_array_equal(model.predict(X), np.where(z > 0.5, "spam", "ham"))
    np.testing.assert_allclose(model.decision_function(X), z - 0.5, atol=1e-9)


def test_linear_classifier_with_more_classes_is_the_indicator_regression():
    X, y = logistic_problem(classes=3)
    W = np.linalg.lstsq(with_ones(X), np.eye(3)[y], rcond=None)[0]
    model = LinearClassifier(**EXACT).fit(X, y)
    np.testing.assert_allclose(model.coef_, W[:-1].T, rtol=1e-7)
    np.testing.assert_array_equal(model.predict(X), (with_ones(X) @ W).argmax(axis=1))


# partial_fit: exactly one epoch, continuing.


def test_partial_fit_takes_one_gradient_step_and_continues():
    X, _ = design()
    y = X @ [1.0, -2.0, 0.5, 3.0] + 4.0
    A, lr = with_ones(X), 0.05

    def step(w):  # one full-batch GD step on (1/2n)||A w - y||^2, by hand
        return w - lr * A.T @ (A @ w - y) / len(X)

    model = LinearRegression(method="gd", lr=lr, scale=False)
    w1 = step(np.zeros(5))
    model.partial_fit(X, y)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), w1, rtol=1e-12)
    assert model.n_iter_ == 1 and len(model.history_) == 2
    model.partial_fit(X, y)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), step(w1), rtol=1e-12)
    assert model.n_iter_ == 2


def test_partial_fit_steps_in_the_first_calls_standardised_units():
    # GD on w' for the columns (x - mean) / std of the first call's X, by hand; the
    # user's coef = w'[:d] / std and intercept = w'[d] - coef . mean.
    X, _ = design()
    y = X @ [1.0, -2.0, 0.5, 3.0] + 4.0
    mean, std, lr = X.mean(axis=0), X.std(axis=0), 0.05
    A = with_ones((X - mean) / std)

    def step(w, A=A, y=y):
        return w - lr * A.T @ (A @ w - y) / len(A)

    def user(w):
        return np.append(w[:4] / std, w[4] - (w[:4] / std) @ mean)

    model = LinearRegression(method="gd", lr=lr)
    w1 = step(np.zeros(5))
    model.partial_fit(X, y)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), user(w1), rtol=1e-12)
    half = slice(0, 40)  # the later call's own mean and std are not used
    model.partial_fit(X[half], y[half])
    want = user(step(w1, A[half], y[half]))
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), want, rtol=1e-12)


def test_classifier_partial_fit_needs_classes_first_and_then_keeps_them():
    X, y = logistic_problem(classes=3)
    model = LogisticRegression()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[:10], y[:10], classes=[0, 1, 2, 3])  # 3 never seen yet: fine
    assert model.coef_.shape == (4, 3)
    losses = [model.result_.history.f[-1]]
    for _ in range(5):
        model.partial_fit(X, y)
        losses.append(model.result_.history.f[-1])
    assert model.n_iter_ == 6 and losses[-1] < losses[1]
    with pytest.raises(ValueError, match="differs from the first call's"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"not in classes \[0, 1, 2, 3\]: \[7\]"):
        model.partial_fit(X[:3], [0, 7, 1])


def test_mini_batch_partial_fit_approaches_the_least_squares_solution():
    X, _ = design(n=200)
    y = X @ [1.0, -2.0, 0.5, 3.0] + 4.0
    model = LinearRegression(method="momentum", lr=0.02, batch_size=20, random_state=0)
    for _ in range(100):
        model.partial_fit(X, y)
    assert model.n_iter_ == 100 and model.result_.nit == 10  # 200 / 20 updates per epoch
    np.testing.assert_allclose(model.coef_, [1.0, -2.0, 0.5, 3.0], atol=1e-3)


# Early stopping.


def test_early_stopping_stops_before_overfitting_a_noisy_problem():
    # 40 noise features on 120 samples: the training fit keeps improving long after the
    # held-out score has peaked.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 40))
    y = X[:, 0] + 3 * rng.normal(size=120)
    kwargs = dict(method="gd", lr=0.05, epochs=500, random_state=0)
    model = LinearRegression(early_stopping=True, validation_fraction=0.25, **kwargs).fit(X, y)
    assert model.result_.status == "stopped" and model.n_iter_ < 500
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_
    assert model.best_validation_score_ == max(scores)
    assert max(scores[-5:]) < model.best_validation_score_ + model.tol  # 5 epochs stalled
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol=None asks for every epoch: no warning
        full = LinearRegression(tol=None, **kwargs).fit(X, y)
    assert full.n_iter_ == 500 and full.validation_scores_ is None


def test_classifier_early_stopping_holds_out_a_stratified_set(monkeypatch):
    X, y = logistic_problem(classes=3)
    held_out = []

    def split(*arrays, **kwargs):
        parts = train_test_split(*arrays, **kwargs)
        held_out.append(parts[3])
        return parts

    monkeypatch.setattr(_linear_base, "train_test_split", split)
    model = LogisticRegression(early_stopping=True, validation_fraction=0.2, random_state=0)
    model.fit(X, y)
    assert model.result_.status == "stopped" and len(model.validation_scores_) == model.n_iter_
    (y_val,) = held_out
    # Stratified: each class's share of the 24 held-out labels is its share of y, rounded.
    np.testing.assert_allclose(np.bincount(y_val) / 24, np.bincount(y) / len(y), atol=1 / 24)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])


# Repeatability, inputs, and errors.


@QUIET
def test_random_state_repeats_mini_batch_runs_and_changes_them():
    X, _ = design()
    y = X @ [1.0, -2.0, 0.5, 3.0]
    kwargs = dict(method="momentum", lr=0.01, batch_size=8, epochs=3)
    a = LinearRegression(random_state=1, **kwargs).fit(X, y).coef_
    b = LinearRegression(random_state=1, **kwargs).fit(X, y).coef_
    c = LinearRegression(random_state=2, **kwargs).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_history_and_result_describe_the_run():
    X, y = logistic_problem()
    model = LogisticRegression().fit(X, y)
    assert isinstance(model.history_, dd.History) and isinstance(model.result_, dd.Result)
    assert model.result_.nepoch == model.n_iter_ == len(model.history_) - 1
    assert model.history_.f[-1] < model.history_.f[0] == pytest.approx(np.log(2))
    np.testing.assert_array_equal(model.history_.x[-1], np.append(model.coef_, model.intercept_))


@pytest.mark.parametrize("Model", MODELS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_inputs_are_not_modified(Model, early_stopping):
    X, y = logistic_problem()
    X_before, y_before = X.copy(), y.copy()
    model = Model(early_stopping=early_stopping, random_state=0).fit(X, y)
    model.predict(X)
    model.partial_fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(alpha=-1.0), ValueError, r"alpha must be a finite number >= 0, got -1.0"),
        (dict(alpha="big"), TypeError, "alpha must be a real number, got 'big'"),
        (dict(tol=-1e-3), ValueError, "tol must be a number >= 0 or None"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer, got 2.5"),
        (dict(fit_intercept="yes"), TypeError, "fit_intercept must be True or False"),
        (dict(scale="yes"), TypeError, "scale must be True or False"),
        (dict(validation_fraction=1.5), ValueError, r"validation_fraction must be in \(0, 1\)"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be an integer >= 1"),
        (dict(method="sgd"), ValueError, "method must be one of gd, momentum"),
        (dict(lr=-0.1), ValueError, "lr must be a finite number > 0"),
        (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
    ],
)
def test_bad_hyperparameters_are_named_at_fit(kwargs, error, message):
    X, y = logistic_problem()
    with pytest.raises(error, match=message):
        LogisticRegression(**kwargs).fit(X, y)


def test_linear_classifier_has_only_the_squared_loss():
    X, y = logistic_problem()
    with pytest.raises(ValueError, match="loss must be 'squared', got 'hinge'"):
        LinearClassifier(loss="hinge").fit(X, y)


@pytest.mark.parametrize("Model", MODELS)
def test_bad_data_gets_sklearn_errors(Model):
    X, y = logistic_problem()
    with pytest.raises(NotFittedError):
        Model().predict(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        Model().fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Model().fit(X, y[:-1])
    model = Model().fit(X, y)
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 3 features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 3 features"):
        model.partial_fit(X[:, :2], y)


@pytest.mark.parametrize("Model", [LogisticRegression, LinearClassifier])
def test_classifiers_refuse_continuous_targets_and_a_single_class(Model):
    X, _ = logistic_problem()
    with pytest.raises(ValueError, match="Unknown label type"):
        Model().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="at least 2 classes, got one class: 'a'"):
        Model().fit(X, ["a"] * len(X))


def test_non_convergence_warns_with_the_runs_message():
    X, y = logistic_problem()
    with pytest.warns(ConvergenceWarning, match=r"did not converge: max_iter: reached epochs=2"):
        LogisticRegression(epochs=2).fit(X, y)


def test_import_descend_does_not_import_sklearn():
    code = "import sys, descend; assert 'sklearn' not in sys.modules, 'sklearn imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# The compiled epoch: the same updates as minimize's own loop.


def kernel_problem():
    X, rng = design(n=101)  # 101 rows: a short last batch
    return X, X @ [1.0, -2.0, 0.5, 3.0] + 4.0 + rng.normal(size=len(X))


@needs_kernel_hook
@QUIET
@pytest.mark.parametrize("Model", [LinearRegression, LinearClassifier])
@pytest.mark.parametrize("method", ["gd", "momentum"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_compiled_epoch_gives_the_loops_coefficients(monkeypatch, Model, method, fit_intercept):
    X, y = kernel_problem()
    if Model is LinearClassifier:
        y = y > np.median(y)
    kwargs = dict(method=method, lr=0.01, batch_size=10, epochs=7, alpha=0.1, tol=None)
    model = Model(fit_intercept=fit_intercept, random_state=0, **kwargs)
    calls = []
    kernel = _losses._Squared.epoch_kernel

    def counted(self, *args):
        done = kernel(self, *args)
        calls.append(done is not None)
        return done

    monkeypatch.setattr(_losses._Squared, "epoch_kernel", counted)
    with_kernel = model.fit(X, y)
    assert calls == [True] * 7
    monkeypatch.setattr(_losses._Squared, "epoch_kernel", lambda self, *args: None)
    with_loop = Model(fit_intercept=fit_intercept, random_state=0, **kwargs).fit(X, y)
    np.testing.assert_allclose(with_kernel.coef_, with_loop.coef_, rtol=1e-9)
    np.testing.assert_allclose(with_kernel.intercept_, with_loop.intercept_, rtol=1e-9, atol=1e-12)
    assert with_kernel.result_.nit == with_loop.result_.nit == 7 * 11
    np.testing.assert_allclose(with_kernel.history_.f, with_loop.history_.f, rtol=1e-9)


def test_epoch_kernel_declines_what_it_cannot_run_and_never_writes_its_inputs():
    X, y = kernel_problem()
    loss = _losses._Squared(4, 1, 0.1, True)
    x, order = np.ones(5), np.arange(len(X))
    momentum = dd.Momentum(lr=0.01)
    state = momentum.init(x)
    x_new, state_new = loss.epoch_kernel(x, state, momentum, order, 10, X, y)
    assert state_new.t == 11 and state_new.lr == 0.01
    np.testing.assert_array_equal(x, np.ones(5))  # inputs untouched
    np.testing.assert_array_equal(state.v, np.zeros(5))
    assert not np.array_equal(x_new, x) and not np.array_equal(state_new.v, state.v)
    declined = [
        (dd.Adam(lr=0.01), X, y),  # another rule
        (dd.Nesterov(lr=0.01), X, y),  # a subclass of Momentum is not Momentum
        (dd.GD(lr=dd.schedules.exponential(0.1, 0.9)), X, y),  # a schedule
        (dd.GD(lr=0.01, clip_norm=1.0), X, y),  # clipping
        (dd.GD(lr=0.01), np.asfortranarray(X), y),  # not C-contiguous
        (dd.GD(lr=0.01), X.astype(np.float32), y),
        (dd.GD(lr=0.01), X, np.column_stack([y, y])),  # two targets
    ]
    for optimizer, X_, y_ in declined:
        assert loss.epoch_kernel(x, optimizer.init(x), optimizer, order, 10, X_, y_) is None
