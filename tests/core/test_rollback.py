"""on_divergence="rollback", the best point so far, keep= and callback_every=."""

import numpy as np
import pytest

import descend as dd

QUADRATIC = "x**2 + 10*y**2"  # L = 20: gd is stable for lr < 0.1
RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 3))
Y = X @ np.array([1.0, -2.0, 0.5])


def mse(w, X, y):
    return 0.5 * np.mean((X @ w - y) ** 2)


def mse_grad(w, X, y):
    return X.T @ (X @ w - y) / len(y)


def test_a_blown_up_run_rolls_back_halves_the_lr_and_converges():
    stopped = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=1.0)
    assert stopped.status == "diverged"
    res = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=1.0, on_divergence="rollback")
    assert res.status == "converged" and np.allclose(res.x, 0, atol=1e-8)
    lrs = [(e.lr_before, e.lr_after) for e in res.events]
    assert lrs == [(1.0, 0.5), (0.5, 0.25), (0.25, 0.125), (0.125, 0.0625)]
    assert all(e.kind == "rollback" and e.to_nit <= e.nit for e in res.events)
    assert res.optimizer.lr == 0.0625  # below 2 / L: |1 - 20 lr| = 0.25
    # Each rollback went back to the best point: the next point is one step from it.
    first = res.events[0]
    np.testing.assert_array_equal(res.history.x[first.nit + 1], [0.0, -9.0])  # (1, 1) - 0.5 g


def test_non_finite_values_roll_back_too():
    def fun(x):
        return float(np.sum(np.exp(x**2)))  # overflows to inf long before f is huge

    res = dd.minimize(fun, [1.0], "gd", grad=lambda x: 2 * x * np.exp(x**2), lr=1.0,
                      on_divergence="rollback")  # fmt: skip
    assert res.status == "converged" and abs(res.x[0]) < 1e-6
    assert res.events and np.isfinite(res.fun)


# Learning rates that do not diverge, on the quadratic and on Rosenbrock.
SAFE = [("gd", 0.05, 1e-3), ("momentum", 0.01, 1e-3), ("nesterov", 0.01, 1e-3),
        ("adam", 0.1, 0.05), ("rmsprop", 0.01, 1e-3), ("adagrad", 0.5, 0.1), (None, None, None),
        ("bb", None, None), ("armijo", None, None), ("dog", None, None),
        ("schedulefree_sgd", 0.05, 1e-3),
        ("momentum", dd.schedules.cosine(0.02, steps=500),
         dd.schedules.cosine(1e-3, steps=500))]  # fmt: skip


@pytest.mark.parametrize(("method", "lr_quadratic", "lr_rosenbrock"), SAFE)
def test_runs_that_never_diverge_are_bit_identical_with_rollback(
    method, lr_quadratic, lr_rosenbrock
):
    problems = ((QUADRATIC, [1.0, 1.0], lr_quadratic),
                (dd.functions.rosenbrock, [-1.2, 1.0], lr_rosenbrock))  # fmt: skip
    for fun, x0, lr in problems:
        plain = dd.minimize(fun, x0, method, lr=lr, max_iter=500)
        assert plain.status != "diverged"
        res = dd.minimize(fun, x0, method, lr=lr, max_iter=500, on_divergence="rollback")
        assert res.events == ()
        np.testing.assert_array_equal(res.history.f, plain.history.f)
        np.testing.assert_array_equal(res.history.x, plain.history.x)


def test_momentum_velocity_shrinks_with_the_lr():
    res = dd.minimize(QUADRATIC, [1.0, 1.0], "momentum", lr=0.5, on_divergence="rollback",
                      max_iter=3000)  # fmt: skip
    assert res.status == "converged" and res.events


def test_a_schedule_is_multiplied_as_a_whole():
    schedule = dd.schedules.exponential(1.0, 0.999)
    res = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=schedule, on_divergence="rollback")
    assert res.status == "converged"
    e = res.events[-1]
    assert e.lr_after == pytest.approx(e.lr_before / 2, rel=1e-15)
    assert res.optimizer.lr(0) == pytest.approx(0.5 ** len(res.events))
    assert "exponential" in repr(res.optimizer.lr)


def test_rollbacks_run_out_and_the_run_ends_as_diverged():
    res = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=100.0, on_divergence="rollback",
                      max_rollbacks=2)  # fmt: skip
    assert res.status == "diverged" and len(res.events) == 2
    assert "2 rollbacks (max_rollbacks=2)" in res.message
    never = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=100.0, on_divergence="rollback",
                        max_rollbacks=0)  # fmt: skip
    plain = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=100.0)
    assert never.message == plain.message and never.events == ()


def test_max_iter_bounds_the_whole_run_rollbacks_included():
    res = dd.minimize(QUADRATIC, [1.0, 1.0], "gd", lr=1.0, on_divergence="rollback",
                      max_iter=5, gtol=0)  # fmt: skip
    assert res.nit == 5 and len(res.history) == 6


def test_mini_batch_rollback_restores_the_batch_stream_and_resumes_bit_exact(tmp_path):
    settings = dict(grad=mse_grad, data=(X, Y), batch_size=8, epochs=30, seed=4, lr=2.5,
                    on_divergence="rollback", gtol=0)  # fmt: skip
    full = dd.minimize(mse, np.zeros(3), "gd", **settings)
    assert full.events and np.allclose(full.x, [1.0, -2.0, 0.5], atol=1e-6)
    assert all(e.nepoch is not None for e in full.events)
    again = dd.minimize(mse, np.zeros(3), "gd", **settings)
    np.testing.assert_array_equal(again.history.x, full.history.x)
    # Interrupted after the first rollback, then resumed: the same run, bit for bit.
    path = tmp_path / "run.npz"
    stop_at = full.events[0].nepoch + 2

    def interrupt(info):
        if info.nepoch == stop_at:
            raise KeyboardInterrupt

    first = dd.minimize(mse, np.zeros(3), "gd", checkpoint=path, callback=interrupt, **settings)
    assert first.status == "interrupted" and first.events
    resumed = dd.minimize(mse, np.zeros(3), "gd", checkpoint=path, resume=True, **settings)
    np.testing.assert_array_equal(resumed.history.x, full.history.x)
    assert resumed.events == full.events and resumed.best_nit == full.best_nit


def test_resume_is_bit_exact_across_rollbacks_without_data(tmp_path):
    settings = dict(lr=1.0, on_divergence="rollback", gtol=0, max_iter=60)
    full = dd.minimize(dd.functions.rosenbrock, [-1.2, 1.0], "momentum", **settings)
    assert full.events
    path = tmp_path / "run.npz"

    def interrupt(info):
        if info.nit == full.events[-1].nit + 3:
            raise KeyboardInterrupt

    dd.minimize(dd.functions.rosenbrock, [-1.2, 1.0], "momentum", checkpoint=path,
                callback=interrupt, **settings)  # fmt: skip
    resumed = dd.minimize(dd.functions.rosenbrock, [-1.2, 1.0], "momentum", checkpoint=path,
                          resume=True, **settings)  # fmt: skip
    np.testing.assert_array_equal(resumed.history.x, full.history.x)
    assert resumed.events == full.events


def test_the_best_point_is_on_every_result_and_keep_best_returns_it():
    # gd with lr = 1 on x**2 bounces between 5 and -5; a start of 5.5 shrinks once.
    res = dd.minimize(lambda x: (x - 0.5) ** 2, 5.5, grad=lambda x: 2 * (x - 0.5), lr=0.9,
                      max_iter=3, gtol=0)  # fmt: skip
    f = res.history.f
    assert res.best_fun == f.min() and res.best_nit == int(np.argmin(f))
    assert res.best_x == res.history.x[res.best_nit]
    kept = dd.minimize(lambda x: (x - 0.5) ** 2, 5.5, grad=lambda x: 2 * (x - 0.5), lr=0.9,
                       max_iter=3, gtol=0, keep="best")  # fmt: skip
    assert kept.x == res.best_x and kept.fun == res.best_fun and kept.nit == res.nit
    bouncing = dd.minimize("x**2", 5.0, "gd", lr=1.01, max_iter=20, gtol=0)
    assert bouncing.best_nit == 0 and bouncing.best_fun == 25.0


def test_best_when_maximising_is_the_highest():
    res = dd.maximize("-(x - 1)**2", 4.0, "gd", lr=0.9, max_iter=4, gtol=0)
    assert res.best_fun == res.history.f.max()


def test_best_in_data_mode_is_per_epoch_on_all_the_data():
    res = dd.minimize(mse, np.zeros(3), "gd", grad=mse_grad, data=(X, Y), batch_size=8,
                      epochs=5, seed=0, lr=0.1, gtol=0)  # fmt: skip
    epoch = int(np.argmin(res.history.f))
    assert res.best_fun == res.history.f[epoch]
    np.testing.assert_array_equal(res.best_x, res.history.x[epoch])
    assert res.best_nit == epoch * 8


def test_callback_every_update_sees_each_batch():
    seen = []
    res = dd.minimize(mse, np.zeros(3), "gd", grad=mse_grad, data=(X, Y), batch_size=16,
                      epochs=2, shuffle=False, lr=0.1, gtol=0, callback_every="update",
                      callback=lambda info: seen.append(info))  # fmt: skip
    assert [i.nit for i in seen] == list(range(1, 9)) and all(i.batch for i in seen)
    # The first call: the first batch's f and gradient at the start, x after the update.
    assert seen[0].fun == mse(np.zeros(3), X[:16], Y[:16])
    np.testing.assert_array_equal(seen[0].grad, mse_grad(np.zeros(3), X[:16], Y[:16]))
    np.testing.assert_array_equal(seen[0].x, -0.1 * mse_grad(np.zeros(3), X[:16], Y[:16]))
    assert res.nit == 8
    epochs = []
    dd.minimize(mse, np.zeros(3), "gd", grad=mse_grad, data=(X, Y), batch_size=16, epochs=2,
                lr=0.1, gtol=0, callback=lambda info: epochs.append(info.batch))  # fmt: skip
    assert epochs == [False, False]


def test_a_per_update_callback_can_stop_inside_an_epoch():
    res = dd.minimize(mse, np.zeros(3), "gd", grad=mse_grad, data=(X, Y), batch_size=16,
                      epochs=3, lr=0.1, callback_every="update",
                      callback=lambda info: info.nit == 6)  # fmt: skip
    assert res.status == "stopped" and res.nit == 6 and res.nepoch == 1
    assert res.fun == pytest.approx(mse(res.x, X, Y), rel=1e-15)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (dict(on_divergence="rollbak"), "on_divergence must be 'stop' or 'rollback'.*'rollback'"),
        (dict(on_divergence=None), "on_divergence"),
        (dict(lr_factor=1.0), "lr_factor must be in \\(0, 1\\)"),
        (dict(lr_factor=0.0), "lr_factor"),
        (dict(rise_factor=1.0), "rise_factor must be > 1"),
        (dict(max_rollbacks=-1), "max_rollbacks"),
        (dict(keep="worst"), "keep must be 'last' or 'best'"),
        (dict(callback_every="batch"), "callback_every must be 'epoch' or 'update'"),
        (dict(explain="yes"), "explain"),
    ],
)
def test_bad_settings_are_refused_before_any_work(options, words):
    calls = []

    def fun(x):
        calls.append(x)
        return float(x @ x)

    with pytest.raises(ValueError, match=words):
        dd.minimize(fun, [1.0], "gd", grad=lambda x: 2 * x, lr=0.1, **options)
    assert calls == []


def _first_reach(res, f_star):
    hits = np.flatnonzero(res.history.f - f_star <= 1e-6 * max(1.0, abs(f_star)))
    return int(hits[0]) if len(hits) else None


@pytest.mark.parametrize("method", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("problem", ["booth", "logistic"])
def test_rollback_from_ten_times_the_largest_stable_lr_costs_at_most_3x_a_tuned_run(
    method, problem
):
    """The acceptance figure of benchmarks/rollback.py on its two cheapest problems, with
    a coarser grid (4 lrs per decade) and budget (3,000 updates)."""
    if problem == "booth":
        fun, grad, x0 = dd.functions.booth, dd.functions.booth.grad, dd.functions.booth.x0
    else:
        y = np.where(X @ np.array([1.0, -1.0, 0.5]) > 0, 1.0, -1.0)

        def fun(w):
            return float(np.mean(np.logaddexp(0, -y * (X @ w))) + 0.005 * w @ w)

        def grad(w):
            return X.T @ (-y / (1 + np.exp(y * (X @ w)))) / len(y) + 0.01 * w

        x0 = np.zeros(3)
    f_star = dd.minimize(fun, x0, "lbfgs", grad=grad).fun
    settings = dict(grad=grad, max_iter=3000, gtol=0)
    reach = {}
    for lr in 10.0 ** np.arange(-3, 2.01, 0.25):
        reach[lr] = _first_reach(dd.minimize(fun, x0, method, lr=lr, **settings), f_star)
    converging = [lr for lr, k in reach.items() if k is not None]
    tuned = min(reach[lr] for lr in converging)
    stopped = dd.minimize(fun, x0, method, lr=10 * max(converging), **settings)
    res = dd.minimize(fun, x0, method, lr=10 * max(converging), on_divergence="rollback",
                      **settings)  # fmt: skip
    k = _first_reach(res, f_star)
    assert k is not None and k <= 3 * max(tuned, 1)
    if _first_reach(stopped, f_star) is None:  # Adam on Booth converges even at 10x
        assert res.events
