"""The digits classifier: the figures our code computes, and facts derived without it."""

import inspect
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

import descend as dd
from descend.problems import digits
from descend.viz import demo

HAS_DATA_MODE = "data" in inspect.signature(dd.minimize).parameters
needs_data_mode = pytest.mark.skipif(not HAS_DATA_MODE, reason="minimize has no data mode yet")


@pytest.fixture(scope="module")
def split():
    return digits.load()


@pytest.fixture(scope="module")
def batch_run(split):
    return digits.batch(split, digits.start(digits.START_SEED))


def heavy_ball(X, y, w0, momentum, ftol, max_iter):
    """An independent oracle: the textbook loop, written out with NumPy alone."""
    w, v = w0.copy(), np.zeros_like(w0)
    f = 0.5 * np.sum((X @ w - y) ** 2)
    for k in range(1, max_iter + 1):
        v = momentum * v - digits.LR * (X.T @ (X @ w - y))
        w = w + v
        f_new = 0.5 * np.sum((X @ w - y) ** 2)
        if abs(f_new - f) < ftol:
            return w, k
        f = f_new
    return w, max_iter


# The data and the objective, checked from first principles.


def test_split_is_288_train_72_test_with_a_ones_column(split):
    assert split.X_train.shape == (288, 65) and split.X_test.shape == (72, 65)
    assert split.y_train.shape == (288,) and split.y_test.shape == (72,)
    assert (split.X_train[:, 0] == 1).all() and (split.X_test[:, 0] == 1).all()
    labels = np.concatenate([split.y_train, split.y_test])
    assert set(labels) == {0.0, 1.0} and labels.sum() == 182  # 178 zeros, 182 ones


def test_start_is_tiny_and_repeatable():
    w0 = digits.start(19)
    assert w0.shape == (65,) and np.abs(w0).max() < 1e-6
    np.testing.assert_array_equal(w0, np.random.RandomState(19).uniform(-1, 1, 65) * 1e-6)


def test_loss_at_the_start_is_half_the_count_of_ones(split):
    # With w ~ 1e-6 every prediction is ~0, so f ~ 1/2 * sum(y**2) = (number of ones) / 2.
    f0 = digits.loss(digits.start(19), split.X_train, split.y_train)
    assert f0 == pytest.approx(split.y_train.sum() / 2, rel=1e-3)


def test_gradient_matches_finite_differences(split):
    w = np.random.default_rng(0).normal(size=65) * 1e-3
    assert dd.check_grad(digits.loss, digits.loss_grad, w, split.X_train, split.y_train) < 1e-6


def test_least_squares_solution_classifies_both_sets_perfectly(split):
    # Context for the descent's figures: the exact minimiser makes no errors, and its
    # loss is a floor that 100 updates at lr 1e-6 do not reach.
    w, *_ = np.linalg.lstsq(split.X_train, split.y_train, rcond=None)
    assert digits.error_rate(w, split.X_train, split.y_train) == 0.0
    assert digits.error_rate(w, split.X_test, split.y_test) == 0.0
    f_min = digits.loss(w, split.X_train, split.y_train)
    assert f_min == pytest.approx(0.9192, abs=1e-4)


def test_predict_thresholds_at_one_half():
    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(digits.predict(np.array([0.0, 0.5]), X), [0.0, 0.0, 1.0])
    assert digits.error_rate(np.array([0.0, 0.5]), X, np.array([0.0, 1.0, 1.0])) == 1 / 3


# The batch run: the figures of the issue.


def test_batch_run_gives_12_updates_and_error_rates_of_0_69_and_1_39_percent(batch_run):
    assert batch_run.iterations == batch_run.epochs == 12
    assert batch_run.result.status == "converged"
    assert batch_run.train_error == 2 / 288  # 0.69 %
    assert batch_run.test_error == 1 / 72  # 1.39 %
    assert f"{batch_run.train_error:.2%} {batch_run.test_error:.2%}" == "0.69% 1.39%"


def test_batch_run_agrees_with_a_hand_written_loop(split, batch_run):
    w, nit = heavy_ball(split.X_train, split.y_train, digits.start(19), 0.7, 0.1, 100)
    assert nit == batch_run.iterations
    np.testing.assert_allclose(batch_run.result.x, w, rtol=1e-12, atol=1e-18)


def test_batch_loss_falls_overall_and_the_last_change_is_below_ftol(batch_run):
    f = batch_run.result.history.f
    assert len(f) == 13 and f[-1] < f[0] / 20
    assert abs(f[-1] - f[-2]) < 0.1 <= np.abs(np.diff(f[:-1])).min()


# The momentum comparison.


def test_momentum_comparison_figures(split):
    runs = digits.compare_momentum(split, digits.start(digits.COMPARISON_SEED))
    assert [r.label for r in runs] == ["momentum 0", "momentum 0.5", "momentum 0.9"]
    assert [r.iterations for r in runs] == [52, 45, 51]
    assert [r.train_error * 288 for r in runs] == [1, 1, 0]
    assert [r.test_error * 72 for r in runs] == [1, 1, 1]
    assert all(r.result.status == "converged" for r in runs)
    # More momentum ends lower, though not in fewer updates: 0.9 overshoots and rings.
    fs = [r.result.fun for r in runs]
    assert fs == sorted(fs, reverse=True)
    for run in runs:
        w, nit = heavy_ball(split.X_train, split.y_train, digits.start(11), run.momentum, 0.01, 100)
        assert nit == run.iterations
        np.testing.assert_allclose(run.result.x, w, rtol=1e-10, atol=1e-18)


# The single-sample run (minimize's data mode).


@needs_data_mode
def test_single_sample_run_figures(split):
    run = digits.single_sample(split, digits.start(digits.START_SEED))
    assert (run.iterations, run.epochs) == (2592, 9)  # 288 updates per epoch
    assert run.result.nepoch == run.epochs and run.result.status == "converged"
    assert run.train_error == 1 / 288  # 0.35 %
    assert run.test_error == 1 / 72  # 1.39 %
    f = run.result.history.f  # once per epoch, on all 288 rows
    assert len(f) == 10 and abs(f[-1] - f[-2]) < 0.1 <= np.abs(np.diff(f[:-1])).min()


@needs_data_mode
def test_single_sample_run_agrees_with_a_hand_written_loop(split):
    # The documented stream: a fresh permutation of the rows every epoch, drawn from
    # default_rng(seed); the velocity carries over from one epoch to the next.
    X, y = split.X_train, split.y_train
    w, v, rng = digits.start(19), np.zeros(65), np.random.default_rng(digits.SHUFFLE_SEED)
    f = [digits.loss(w, X, y)]
    while len(f) <= 100 and (len(f) < 2 or abs(f[-1] - f[-2]) >= 0.1):
        for i in rng.permutation(len(y)):
            v = 0.7 * v - digits.LR * X[i] * (X[i] @ w - y[i])
            w = w + v
        f.append(digits.loss(w, X, y))
    run = digits.single_sample(split, digits.start(19))
    np.testing.assert_allclose(run.result.history.f, f, rtol=1e-10)
    np.testing.assert_allclose(run.result.x, w, rtol=1e-10, atol=1e-18)
    again = digits.single_sample(split, digits.start(19))
    np.testing.assert_array_equal(run.result.x, again.result.x)  # the seed fixes the order


def test_mini_batch_run_agrees_with_a_hand_written_loop(split):
    # Batches of 16 consecutive rows of each epoch's permutation (288 = 18 x 16).
    X, y = split.X_train, split.y_train
    w, v, rng = digits.start(19), np.zeros(65), np.random.default_rng(digits.SHUFFLE_SEED)
    f = [digits.loss(w, X, y)]
    while len(f) <= 100 and (len(f) < 2 or abs(f[-1] - f[-2]) >= 0.1):
        order = rng.permutation(len(y))
        for rows in order.reshape(-1, 16):
            v = 0.7 * v - digits.LR * X[rows].T @ (X[rows] @ w - y[rows])
            w = w + v
        f.append(digits.loss(w, X, y))
    run = digits.mini_batch(split, digits.start(19), 16)
    assert run.label == "mini-batch 16" and run.iterations == 18 * run.epochs
    np.testing.assert_allclose(run.result.history.f, f, rtol=1e-10)
    np.testing.assert_allclose(run.result.x, w, rtol=1e-10, atol=1e-18)


# The report and the demo.


def test_report_prints_both_tables(split, batch_run):
    single = digits.single_sample(split, digits.start(19)) if HAS_DATA_MODE else batch_run
    comparison = digits.compare_momentum(split, digits.start(11))
    out = "\n".join(digits.report(digits.Experiment(batch_run, single, comparison)))
    assert "batch               0.7      12     12" in out
    assert out.count("converged") >= 4 and "0.69%" in out and "1.39%" in out


def test_demo_skips_the_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import fails
    lines = list(demo.digits_section())
    assert len(lines) == 1 and "skipped" in lines[0] and "scikit-learn" in lines[0]
