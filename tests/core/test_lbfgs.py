"""L-BFGS and its strong Wolfe line search, against the textbook formulas and SciPy."""

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

import descend as dd
from descend.core.optimizers.wolfe import strong_wolfe

RNG = np.random.default_rng(0)


def random_spd(n, condition, rng=RNG):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q @ np.diag(np.geomspace(1.0, condition, n)) @ q.T


class Counted:
    """f and g that count their calls, as a user's would be counted."""

    def __init__(self, f, g):
        self.f, self.g, self.nf, self.ng = f, g, 0, 0

    def fun(self, x):
        self.nf += 1
        return self.f(x)

    def grad(self, x):
        self.ng += 1
        return self.g(x)


def test_the_two_loop_recursion_applies_the_bfgs_inverse_hessian():
    # H_{k+1} = (I - rho s y') H_k (I - rho y s') + rho s s', from H_0 = gamma I.
    n, k = 5, 4
    A = random_spd(n, 50.0)
    s = RNG.standard_normal((k, n))
    y = s @ A  # exact curvature pairs of a quadratic
    rho = 1.0 / np.einsum("ij,ij->i", s, y)
    gamma = s[-1] @ y[-1] / (y[-1] @ y[-1])
    H = gamma * np.eye(n)
    for si, yi, ri in zip(s, y, rho, strict=True):
        V = np.eye(n) - ri * np.outer(yi, si)
        H = V.T @ H @ V + ri * np.outer(si, si)
    g = RNG.standard_normal(n)
    np.testing.assert_allclose(dd.LBFGS.direction(g, s, y, rho), -H @ g, rtol=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_the_accepted_step_satisfies_the_strong_wolfe_conditions(seed):
    rng = np.random.default_rng(seed)
    A = random_spd(6, 1e3, rng)
    x, d = rng.standard_normal(6), rng.standard_normal(6)

    def pair(z):  # a quartic bowl: curvature that changes along the line
        return 0.5 * z @ A @ z + 0.25 * (z @ z) ** 2, A @ z + (z @ z) * z

    f0, g0 = pair(x)
    slope0 = g0 @ d
    if slope0 > 0:
        d = -d
        slope0 = -slope0
    alpha0 = float(10.0 ** rng.uniform(-4, 2))  # far too short to far too long
    trial, evals, _ = strong_wolfe(pair, x, d, f0, slope0, alpha0, c1=1e-4, c2=0.9)
    assert trial is not None and evals <= 20
    f, g = pair(x + trial.alpha * d)
    assert f <= f0 + 1e-4 * trial.alpha * slope0
    assert abs(g @ d) <= 0.9 * abs(slope0)
    assert (f, trial.f) == (trial.f, f) and np.array_equal(g, trial.g)


def test_a_search_that_meets_infinities_backs_off():
    def pair(z):  # f is finite only for z < 2: a long step overflows
        return (z[0] ** 2 if z[0] < 2 else np.inf), np.array([2 * z[0]])

    trial, _, _ = strong_wolfe(pair, np.array([1.0]), np.array([-1.0]), 1.0, -2.0, alpha0=50.0)
    assert trial is not None and trial.f < 1.0


@pytest.mark.parametrize("condition", [10.0, 1e4, 1e6])
def test_ill_conditioned_quadratics_end_as_close_as_scipys_lbfgs(condition):
    # In float64, f's rounding (its terms grow with the condition number) limits how close
    # any f-based line search can get; the solution's error is held to SciPy's own.
    rng = np.random.default_rng(int(np.log10(condition)))
    A = random_spd(20, condition, rng)
    b = rng.standard_normal(20)
    solution = np.linalg.solve(A, b)

    def f(x):
        return 0.5 * x @ A @ x - b @ x

    def g(x):
        return A @ x - b

    res = dd.minimize(f, np.zeros(20), "lbfgs", grad=g, gtol=1e-10, max_iter=5000)
    options = dict(gtol=1e-10, ftol=0, maxiter=5000)
    reference = scipy_minimize(f, np.zeros(20), jac=g, method="L-BFGS-B", options=options)
    assert res.status == "converged", res.message
    error, reference_error = (np.abs(x - solution).max() for x in (res.x, reference.x))
    # Both stop at that rounding limit, whose size varies by a few times with the last step.
    assert error <= max(4 * reference_error, 1e-8)
    assert res.ngev <= 1.2 * reference.njev
    if condition <= 10:
        assert error <= 1e-7


def test_rosenbrock_matches_scipys_lbfgs_minimum_in_as_few_evaluations():
    f = dd.functions.rosenbrock
    counted = Counted(f, f.grad)
    res = dd.minimize(counted.fun, f.x0, "lbfgs", grad=counted.grad, gtol=1e-8)
    reference = scipy_minimize(f, f.x0, jac=f.grad, method="L-BFGS-B",
                               options=dict(gtol=1e-8, ftol=0))  # fmt: skip
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(res.x, reference.x, atol=1e-7)
    # Every call the user's functions received is counted, none twice: the loop reuses
    # the line search's pair at the accepted point.
    assert (res.nfev, res.ngev) == (counted.nf, counted.ng)
    assert res.ngev <= reference.njev + 5


def test_an_update_costs_its_line_search_only():
    f = dd.functions.rosenbrock
    seen = []
    res = dd.minimize(f, f.x0, "lbfgs", gtol=1e-8,
                      callback=lambda info: seen.append(info.nit))  # fmt: skip
    lbfgs = dd.LBFGS()
    state, x = lbfgs.init(f.x0), np.array(f.x0, dtype=float)
    evals = 0

    def pair(z):
        return f(z), f.grad(z)

    for _ in range(res.nit):
        step, state = lbfgs.update(f.grad(x), state, x, pair, f(x))
        x, evals = x + step, evals + state.evals
    np.testing.assert_array_equal(x, res.x)  # the loop's run is the rule's own
    assert res.ngev == 1 + evals  # the start, then only line-search trials
    assert seen == list(range(1, res.nit + 1))


def test_maximize_and_a_schedule_as_the_first_trial():
    res = dd.maximize(lambda x: -((x - 3.0) ** 2).sum(), [0.0, 0.0], "lbfgs",
                      grad=lambda x: -2 * (x - 3.0))  # fmt: skip
    np.testing.assert_allclose(res.x, [3.0, 3.0])
    assert res.fun == pytest.approx(0.0, abs=1e-20)
    scheduled = dd.minimize("(x-1)**2 + 10*(y+2)**2", [0.0, 0.0], "lbfgs",
                            lr=dd.schedules.exponential(0.5, 0.9))  # fmt: skip
    assert scheduled.status == "converged"
    np.testing.assert_allclose(scheduled.x, [1.0, -2.0], atol=1e-9)


@pytest.mark.parametrize("gtol", [1e-8, 1e-10, 1e-12])
def test_a_gradient_above_gtol_is_followed_where_f_is_flat_to_rounding(gtol):
    # Near the minimum f changes by less than its rounding while the gradient is still
    # about sqrt(eps): the search cannot see a decrease, the slope can (approximate Wolfe).
    formula = "log(1 + exp(x)) - 0.3*x + cosh(y - 2)"
    res = dd.minimize(formula, [0.0, 0.0], "lbfgs", gtol=gtol)
    assert res.status == "converged" and np.linalg.norm(res.grad) <= gtol, res.message
    np.testing.assert_allclose(res.x, [np.log(3 / 7), 2.0], rtol=0, atol=2 * gtol)


def test_gtol_0_runs_the_budget_once_the_gradient_is_exactly_0():
    formula = "log(1 + exp(x)) - 0.3*x + cosh(y - 2)"
    res = dd.minimize(formula, [0.0, 0.0], "lbfgs", gtol=0, max_iter=300)
    assert res.status == "max_iter" and res.nit == 300, res.message
    assert np.all(res.grad == 0)


def test_a_direction_that_is_not_downhill_restarts_from_steepest_descent():
    opt = dd.LBFGS()
    x = np.array([1.0, 1.0])
    state = opt.init(x)
    # A corrupt pair (negative curvature) turns -H g uphill; the update must notice.
    s, y = np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])
    state = state._replace(s=s, y=y, rho=np.array([-1.0]))
    g = np.array([2.0, 2.0])
    assert g @ opt.direction(g, s, y, state.rho) > 0

    def pair(z):
        return float(z @ z), 2 * z

    step, new = opt.update(g, state, x, pair, 2.0)
    assert np.all(step < 0) and step[0] == step[1]  # along -g
    assert len(new.s) == 1 and new.s[0] @ new.y[0] > 0  # the corrupt pair is gone


def test_a_wrong_gradient_stops_with_advice_instead_of_looping():
    res = dd.minimize(lambda x: x @ x, [1.0, 2.0], "lbfgs", grad=lambda x: -2 * x)
    assert res.status == "stopped" and not res.success
    assert "found no lower f" in res.message and "dd.check_grad" in res.message
    assert res.nit == 1 and res.nfev < 60


def test_resume_is_bit_exact_with_the_memory(tmp_path):
    f = dd.functions.rosenbrock
    path = tmp_path / "lbfgs.ckpt"
    full = dd.minimize(f, f.x0, "lbfgs", gtol=0, max_iter=30)
    dd.minimize(f, f.x0, "lbfgs", gtol=0, max_iter=12, checkpoint=path)
    resumed = dd.minimize(f, f.x0, "lbfgs", gtol=0, max_iter=30, checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.f, full.history.f)
    assert (resumed.nfev, resumed.ngev) == (full.nfev, full.ngev)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(memory=0), "memory"),
        (dict(memory=2.5), "memory"),
        (dict(c1=0.5, c2=0.1), "0 < c1 < c2 < 1"),
        (dict(c2=1.0), "0 < c1 < c2 < 1"),
        (dict(c1=-1e-4), "c1"),
        (dict(max_linesearch=0), "max_linesearch"),
        (dict(curvature_tol=1.5), "curvature_tol"),
        (dict(clip_norm=1.0), "clip_norm does not apply"),
        (dict(lr=-1.0), "lr"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        dd.LBFGS(**settings)


def test_a_projection_or_mini_batches_are_refused_before_any_work():
    calls = []

    def f(x, *data):
        calls.append(1)
        return float(x @ x)

    with pytest.raises(ValueError, match="use method='bb'"):
        dd.minimize(f, [1.0, 2.0], "lbfgs", grad=lambda x: 2 * x, project=dd.projections.box(0, 1))
    X = np.ones((10, 2))
    with pytest.raises(ValueError, match="'adam', 'dog' or 'prodigy'"):
        dd.minimize(f, [1.0, 2.0], "lbfgs", grad=lambda x, X: 2 * x, data=(X,), batch_size=2)
    assert calls == []
