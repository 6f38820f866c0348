"""minimize against closed forms: trajectories, stopping rules, statuses, history."""

import csv
import math
import time

import numpy as np
import pytest

import descend as dd
from descend import projections


def parabola(x):
    return x**2


def parabola_grad(x):
    return 2 * x


def test_gd_on_a_parabola_follows_5_times_0_8_to_the_k():
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1, max_iter=50, gtol=0)
    k = np.arange(51)
    np.testing.assert_allclose(res.history.x, 5 * 0.8**k, rtol=1e-13)
    np.testing.assert_allclose(res.history.f, 25 * 0.64**k, rtol=1e-13)
    np.testing.assert_allclose(res.history.grad_norm, 10 * 0.8**k, rtol=1e-13)
    assert res.x.shape == () and res.grad.shape == ()
    assert res.nit == 50 and res.status == "max_iter" and not res.success


def test_shifted_parabola_from_3_converges_to_1():
    res = dd.minimize(lambda x: (x - 1) ** 2, 3.0, grad=lambda x: 2 * (x - 1), lr=0.1)
    assert res.status == "converged" and res.success
    assert abs(res.x - 1) < 1e-8
    # gtol fires at the first k with |g_k| = 4 * 0.8**k <= 1e-8
    assert res.nit == math.ceil(math.log(1e-8 / 4) / math.log(0.8))


def test_gtol_zero_runs_exactly_max_iter_updates():
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1, max_iter=137, gtol=0)
    assert res.nit == 137 and len(res.history) == 138
    assert res.ngev == 138 and res.nfev == 138  # once each per point: x0 checked on its one call


@pytest.mark.parametrize(
    ("rule", "value", "expected_nit"),
    [
        # |f_k - f_(k-1)| = 25 * 0.64**(k-1) * 0.36 < ftol
        ("ftol", 1e-6, math.floor(math.log(1e-6 / 9) / math.log(0.64)) + 2),
        # |x_k - x_(k-1)| = 5 * 0.8**(k-1) * 0.2 <= xtol
        ("xtol", 1e-6, math.ceil(math.log(1e-6) / math.log(0.8)) + 1),
        # |g_k| = 10 * 0.8**k <= gtol
        ("gtol", 1e-6, math.ceil(math.log(1e-7) / math.log(0.8))),
    ],
)
def test_each_tolerance_fires_at_the_hand_computed_update(rule, value, expected_nit):
    kwargs = {"gtol": None, rule: value}
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1, max_iter=10_000, **kwargs)
    assert res.status == "converged"
    assert res.nit == expected_nit
    assert rule in res.message


def test_converged_at_the_start_makes_no_update():
    res = dd.minimize(parabola, 0.0, grad=parabola_grad)
    assert res.nit == 0 and res.status == "converged" and len(res.history) == 1


def test_lr_one_on_a_parabola_cycles_until_max_iter_not_divergence():
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=1.0, max_iter=500)
    assert res.status == "max_iter"
    assert set(np.abs(res.history.x)) == {5.0}


def test_lr_1_1_diverges_with_a_stable_rate_estimated():
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=1.1, max_iter=10_000)
    assert res.status == "diverged" and not res.success
    assert np.isfinite(res.x) and np.isfinite(res.fun)
    # curvature of x**2 is 2, so GD is stable for lr < 2/2 = 1
    assert "lr < 2/L = 1" in res.message
    assert res.nit < 100


def test_nan_returns_the_last_finite_point():
    def fun(x):
        return np.nan if x > 40 else x**2

    res = dd.minimize(fun, 5.0, grad=parabola_grad, lr=1.5, max_iter=100)
    assert res.status == "diverged"
    assert "non-finite" in res.message and f"update {res.nit}" in res.message
    assert np.isfinite(res.x) and abs(res.x) <= 40 and res.fun == pytest.approx(res.x**2)
    assert np.isnan(res.history.f[-1])


def test_non_finite_gradient_is_divergence():
    res = dd.minimize(parabola, 5.0, grad=lambda x: 2 * x if abs(x) > 3 else np.inf, lr=0.1)
    assert res.status == "diverged" and "gradient" in res.message


def test_time_limit_stops_a_slow_run():
    def slow(x):
        time.sleep(0.002)
        return float(x @ x)

    res = dd.minimize(slow, [1.0, 1.0], grad=lambda x: 2 * x, lr=1e-4, time_limit=0.05)
    assert res.status == "time_limit"
    assert 0 < res.nit < 1000
    assert res.history.time[-1] >= 0.05


@pytest.mark.parametrize("how", ["return True", "raise StopIteration"])
def test_callback_can_stop_the_run(how):
    seen = []

    def callback(info):
        seen.append((info.nit, float(info.x), info.fun, float(info.grad)))
        if info.nit == 3:
            if how == "return True":
                return True
            raise StopIteration

    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1, callback=callback)
    assert res.status == "stopped" and res.nit == 3
    expected = [(k, 5 * 0.8**k, 25 * 0.64**k, 10 * 0.8**k) for k in (1, 2, 3)]
    np.testing.assert_allclose(seen, expected, rtol=1e-14)


def test_keyboard_interrupt_returns_the_result_so_far():
    def grad(x):
        if abs(x) < 5 * 0.8**4 + 1e-9:
            raise KeyboardInterrupt
        return 2 * x

    res = dd.minimize(parabola, 5.0, grad=grad, lr=0.1)
    assert res.status == "interrupted"
    assert res.x == pytest.approx(5 * 0.8**3)
    assert len(res.history) == res.nit + 1 == 4


def test_maximize_ascends_and_reports_the_true_values():
    fun, grad = (lambda x: 3 - (x - 2) ** 2), (lambda x: -2 * (x - 2))
    res = dd.minimize(fun, 0.0, grad=grad, lr=0.1, maximize=True)
    also = dd.maximize(fun, 0.0, grad=grad, lr=0.1)
    assert res.status == "converged" and abs(res.x - 2) < 1e-8
    assert res.fun == pytest.approx(3.0)
    assert res.grad == pytest.approx(0.0, abs=1e-8)
    assert np.all(np.diff(res.history.f) >= 0) and res.history.f[-1] > res.history.f[0]  # f rises
    np.testing.assert_array_equal(res.history.x, also.history.x)


def test_projection_onto_the_simplex_gives_the_minimum_variance_weights():
    cov = np.array([[0.04, 0.01, 0.02], [0.01, 0.09, 0.03], [0.02, 0.03, 0.16]])
    res = dd.minimize(
        lambda w: w @ cov @ w,
        np.ones(3) / 3,
        grad=lambda w: 2 * cov @ w,
        lr=2.0,
        project=projections.simplex(),
        gtol=None,  # the default 1e-8 on the projected gradient stops 5e-8 away; 1e-12 is asked
        xtol=1e-15,
        max_iter=20_000,
    )
    np.testing.assert_allclose(res.x, [11 / 16, 1 / 4, 1 / 16], atol=1e-12)
    assert res.x.sum() == pytest.approx(1.0)


def test_projection_onto_a_box_keeps_every_iterate_inside():
    res = dd.minimize(
        lambda x: np.sum((x - 3) ** 2),
        [0.0, 0.0],
        grad=lambda x: 2 * (x - 3),
        lr=0.1,
        project=projections.box(-1.0, [1.0, 2.0]),
        xtol=1e-12,
    )
    np.testing.assert_allclose(res.x, [1.0, 2.0])
    assert np.all(res.history.x <= [1.0, 2.0])


def test_shapes_follow_x0():
    res = dd.minimize(
        lambda x: np.sum(x**2),
        [[1.0, 2.0], [3.0, 4.0]],
        grad=lambda x: 2 * x,
        lr=0.25,
        max_iter=3,
        gtol=0,
    )
    assert res.x.shape == res.grad.shape == (2, 2)
    assert res.history.x.shape == (4, 2, 2)
    np.testing.assert_allclose(res.x, np.array([[1.0, 2.0], [3.0, 4.0]]) * 0.5**3)


def test_integer_and_list_starts_are_promoted_to_float():
    res = dd.minimize(lambda x: x @ x, [3, 4], grad=lambda x: 2 * x, lr=0.25, max_iter=1, gtol=0)
    np.testing.assert_array_equal(res.x, [1.5, 2.0])


def test_callers_arrays_are_never_modified():
    x0 = np.array([3.0, 4.0])
    lower = np.array([-10.0, -10.0])
    kept = x0.copy()

    def grad(x):
        return 2 * x

    res = dd.minimize(lambda x: x @ x, x0, grad=grad, lr=0.1, project=projections.box(lower, 10.0))
    np.testing.assert_array_equal(x0, kept)
    np.testing.assert_array_equal(lower, [-10.0, -10.0])
    assert not np.shares_memory(res.x, x0)
    assert not np.shares_memory(res.history.x, x0)


def test_history_x_is_recorded_for_small_problems_only_unless_asked():
    def run(n, **kw):
        return dd.minimize(
            lambda x: x @ x, np.ones(n), grad=lambda x: 2 * x, lr=0.1, max_iter=2, gtol=0, **kw
        )

    assert run(1000).history.x.shape == (3, 1000)
    assert run(1001).history.x is None
    assert run(1001, record_x=True).history.x.shape == (3, 1001)
    assert run(3, record_x=False).history.x is None


def test_history_starts_at_the_start_point():
    res = dd.minimize(
        lambda x: (x - 1) ** 2, 3.0, grad=lambda x: 2 * (x - 1), lr=0.1, max_iter=5, gtol=0
    )
    h = res.history
    assert h.x[0] == 3.0 and h.f[0] == 4.0 and h.grad_norm[0] == 4.0 and h.time[0] == 0.0
    assert np.all(np.diff(h.time) >= 0)
    np.testing.assert_array_equal(h.lr, np.full(6, 0.1))
    assert h.f[-1] == res.fun and h.x[-1] == res.x


def test_history_exports(tmp_path):
    res = dd.minimize(lambda x: x @ x, [1.0, 2.0], grad=lambda x: 2 * x, lr=0.1, max_iter=4, gtol=0)
    d = res.history.to_dict()
    assert set(d) == {"f", "grad_norm", "lr", "time", "x"}
    path = tmp_path / "h.csv"
    res.history.to_csv(path)
    with open(path) as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["iteration", "f", "grad_norm", "lr", "time", "x_0", "x_1"]
    assert len(rows) == 6
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], res.history.f)
    np.testing.assert_allclose([float(r[6]) for r in rows[1:]], res.history.x[:, 1])
    frame = res.history.to_frame()
    assert list(frame.columns) == ["f", "grad_norm", "lr", "time", "x_0", "x_1"]
    np.testing.assert_array_equal(frame["f"].to_numpy(), res.history.f)


def test_numeric_gradient_matches_the_analytic_run():
    exact = dd.minimize(
        lambda x: (x[0] - 1) ** 2 + 3 * x[1] ** 2,
        [3.0, 4.0],
        grad=lambda x: np.array([2 * (x[0] - 1), 6 * x[1]]),
        lr=0.1,
    )
    numeric = dd.minimize(
        lambda x: (x[0] - 1) ** 2 + 3 * x[1] ** 2, [3.0, 4.0], grad="numeric", lr=0.1
    )
    assert numeric.status == "converged"
    np.testing.assert_allclose(numeric.x, exact.x, atol=1e-7)
    assert numeric.nfev == 1 + numeric.ngev * (1 + 2 * 2)


def test_missing_gradient_warns_once_and_names_the_cost():
    def untraceable(x):  # float() and np.asarray hide x from autograd
        return float(np.sum((np.asarray(x) - 1) ** 2))

    with pytest.warns(UserWarning, match="4 evaluations of fun per step") as record:
        res = dd.minimize(untraceable, [3.0, 4.0], lr=0.1)
    assert len(record) == 1
    # It points at the caller's line, so that Python's default filter shows it once per
    # call site, not once per process for descend's own line.
    assert record[0].filename == __file__
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)


def test_one_element_results_are_accepted_like_scipy():
    res = dd.minimize(lambda x: x**2, [5.0], grad=lambda x: 2 * x, lr=0.1)
    assert res.status == "converged" and res.x.shape == (1,)


def test_armijo_counts_its_trial_evaluations():
    res = dd.minimize(lambda x: x @ x, [1.0, 1.0], "armijo", grad=lambda x: 2 * x, max_iter=5)
    assert res.nfev > res.ngev == res.nit + 1


def test_result_prints_like_scipy():
    res = dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1)
    text = repr(res)
    for key in (
        "status: converged",
        "success: True",
        "message:",
        "x:",
        "fun:",
        "nit:",
        "nfev:",
        "method: GD(lr=0.1",
    ):
        assert key in text
    assert res.method == "gd"


def test_an_optimizer_object_and_a_name_give_the_same_run():
    by_name = dd.minimize(parabola, 5.0, "adam", grad=parabola_grad, lr=0.1, beta1=0.8)
    by_object = dd.minimize(parabola, 5.0, dd.Adam(lr=0.1, beta1=0.8), grad=parabola_grad)
    overridden = dd.minimize(parabola, 5.0, dd.Adam(lr=0.5, beta1=0.8), grad=parabola_grad, lr=0.1)
    np.testing.assert_array_equal(by_name.history.x, by_object.history.x)
    np.testing.assert_array_equal(by_name.history.x, overridden.history.x)


def test_progress_draws_a_line_on_stderr(capsys):
    dd.minimize(parabola, 5.0, grad=parabola_grad, lr=0.1, progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\r[") and "f=" in err and err.endswith("\n")


def test_x_overflowing_is_divergence_even_when_f_and_g_stay_finite():
    res = dd.minimize(lambda x: 0.0, [1.0], grad=lambda x: np.array([1e308]), lr=10.0)
    assert res.status == "diverged" and "x became non-finite at update 1" in res.message
    np.testing.assert_array_equal(res.x, [1.0])


def test_huge_but_finite_gradients_are_not_mistaken_for_divergence():
    # g = 1e200 squares to inf in a dot product; the exact norm is still finite.
    res = dd.minimize(
        lambda x: 1e200 * x[0],
        [0.0],
        grad=lambda x: np.array([1e200]),
        lr=1e-210,
        max_iter=3,
        gtol=0,
    )
    assert res.status == "max_iter"
    np.testing.assert_allclose(res.history.grad_norm, 1e200)
    np.testing.assert_allclose(res.x, [-3e-10])


@pytest.mark.parametrize("name", sorted(dd.functions.ZOO))
def test_every_zoo_function_converges_from_its_customary_start_with_the_defaults(name):
    f = dd.functions.ZOO[name]
    res = dd.minimize(f, f.x0)
    assert res.method == "lbfgs" and res.status == "converged", res.message
    # gtol, or f's rounding first where f* is far from 0 (rastrigin's local minimum, 12.9)
    limit = 1e-6 if "rounding" in res.message else 1e-8
    assert np.linalg.norm(f.grad(res.x)) <= limit
    if name != "rastrigin":  # from its start, rastrigin's nearest minimum is a local one
        assert min(np.abs(res.x - m).max() for m in f.minima) < 1e-7
        assert res.fun == pytest.approx(f.fmin, abs=1e-12)


@pytest.mark.parametrize(
    ("settings", "method"),
    [
        (dict(), "lbfgs"),
        (dict(lr=0.1), "gd"),
        (dict(project=dd.projections.box(-1, 1)), "bb"),
        (dict(data=(np.arange(8.0),), batch_size=2), "dog"),
    ],
)
def test_the_default_method_needs_no_learning_rate_unless_one_is_given(settings, method):
    def f(x, *data):
        return float((x - 0.5) ** 2) if not data else float(np.mean((x - data[0]) ** 2))

    def g(x, *data):
        return 2 * (x - 0.5) if not data else 2 * np.mean(x - data[0])

    res = dd.minimize(f, 0.0, grad=g, **settings)
    assert res.method == method


@pytest.mark.parametrize("bad", [1j, "0.5", None, [1.0, 2.0]])
@pytest.mark.parametrize("data_mode", [False, True])
def test_a_bad_value_after_some_updates_ends_the_run_and_keeps_its_result(bad, data_mode):
    """Each value of fun is checked as the one at x0 is; the run so far is returned."""
    calls = [0]
    y = np.array([1.0, 2.0, 3.0, 4.0])

    def fun(w, *data):
        calls[0] += 1
        value = 0.5 * float(np.mean((w[0] - (data[0] if data else 2.5)) ** 2))
        return bad if calls[0] > 6 else value

    def grad(w, *data):
        return np.array([np.mean(w[0] - (data[0] if data else 2.5))])

    # Armijo calls fun on the batches, inside the epochs; gd once an update.
    settings = dict(data=(y,), batch_size=2, seed=0) if data_mode else dict(lr=0.1)
    res = dd.minimize(fun, [0.0], "armijo" if data_mode else "gd", grad=grad, **settings)
    assert res.status == "stopped" and "fun must return a" in res.message
    assert "the result so far is returned" in res.message and res.nit >= 1
    assert np.isfinite(res.fun) and np.isfinite(res.x).all()
    with pytest.raises(TypeError, match="fun must return"):
        dd.minimize(lambda w: bad, [0.0], "gd", grad=lambda w: w, lr=0.1)
