"""BB with project=: the spectral projected gradient (Birgin, Martínez & Raydan, 2000).

Oracles: SciPy's L-BFGS-B on boxes, the KKT conditions on the simplex, the line search's
own condition checked trial by trial, hand-computed BB steps, and an uninterrupted run
for checkpoint and resume.
"""

from itertools import pairwise

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

import descend as dd
from descend.core.optimizers.line_search import BBState, SPGState


def spd(n, condition, seed):
    """A symmetric positive definite matrix with random eigenvectors and this condition."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.logspace(0, -np.log10(condition), n)) @ q.T


def quadratic_in_a_box(n, condition, seed):
    """f = ½ xᵀAx − bᵀx with its unconstrained minimum outside [lower, upper]."""
    A = spd(n, condition, seed)
    rng = np.random.default_rng(seed + 1)
    b = A @ rng.normal(scale=2.0, size=n)  # x* = A⁻¹b ~ N(0, 4): many coordinates outside
    lower, upper = np.full(n, -1.0), np.full(n, 1.0)
    return dd.functions.quadratic(A, b), lower, upper


# Against references --------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "seed"), [(1e1, 0), (1e3, 1), (1e4, 2)])
def test_box_constrained_quadratic_matches_lbfgsb(condition, seed):
    n = 20
    f, lower, upper = quadratic_in_a_box(n, condition, seed)
    res = dd.minimize(f, np.zeros(n), "bb", grad=f.grad, project=dd.projections.box(lower, upper),
                      gtol=None, xtol=1e-13, max_iter=20_000)  # fmt: skip
    reference = scipy_minimize(f, np.zeros(n), jac=f.grad, method="L-BFGS-B",
                               bounds=list(zip(lower, upper, strict=True)),
                               options=dict(ftol=0, gtol=1e-14, maxiter=50_000)).x  # fmt: skip
    assert res.success, res.message
    assert np.all((res.x >= lower) & (res.x <= upper))
    active = (res.x == lower) | (res.x == upper)
    assert active.any() and not active.all()  # the box matters, and not everywhere
    assert f(res.x) <= f(reference) + 1e-12 * abs(f(reference))
    np.testing.assert_allclose(res.x, reference, atol=1e-6 * condition**0.5)
    # KKT: zero gradient on the free coordinates, pointing out of the box at the bounds.
    g = f.grad(res.x)
    scale = np.abs(g).max()
    assert np.all(np.abs(g[~active]) <= 1e-7 * scale)
    assert np.all(g[res.x == lower] >= 0) and np.all(g[res.x == upper] <= 0)


def test_separable_box_problem_end_to_end_is_the_clipped_minimum():
    # f = Σ dᵢ (xᵢ − cᵢ)²: on [0, 1]ⁿ the minimiser is clip(c, 0, 1).
    d = np.array([1.0, 10.0, 100.0, 0.5])
    c = np.array([-0.5, 0.3, 2.0, 0.8])
    res = dd.minimize(lambda x: float(d @ (x - c) ** 2), np.full(4, 0.5), method="bb",
                      grad=lambda x: 2 * d * (x - c), project=dd.projections.box(0, 1),
                      gtol=None, xtol=1e-12)  # fmt: skip
    assert res.status == "converged" and res.optimizer.project is not None
    np.testing.assert_allclose(res.x, np.clip(c, 0, 1), atol=1e-12)
    assert res.nit < 20
    np.testing.assert_array_equal(res.x[[0, 2]], [0.0, 1.0])  # exactly on the bounds


@pytest.mark.parametrize("seed", range(4))
def test_least_squares_on_the_simplex_meets_the_kkt_conditions(seed):
    # min ½||Cx − d||² over the probability simplex: at the minimiser the gradient g has
    # gᵢ = ν where xᵢ > 0 and gᵢ >= ν where xᵢ = 0, for one multiplier ν.
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(30, 12))
    d = C @ rng.normal(size=12) + 0.1 * rng.normal(size=30)  # a fit with negative weights
    res = dd.minimize(lambda x: 0.5 * float(np.sum((C @ x - d) ** 2)), np.full(12, 1 / 12),
                      "bb", grad=lambda x: C.T @ (C @ x - d), project=dd.projections.simplex(),
                      gtol=None, xtol=1e-14, max_iter=5000)  # fmt: skip
    x = res.x
    assert res.success, res.message
    assert abs(x.sum() - 1) <= 1e-12 and np.all(x >= 0)
    g = C.T @ (C @ x - d)
    support = x > 0
    assert 0 < support.sum() < 12  # some weights are 0, some are not
    nu = g[support].mean()
    scale = np.abs(g).max() + 1
    assert np.all(np.abs(g[support] - nu) <= 1e-9 * scale)
    assert np.all(g[~support] >= nu - 1e-9 * scale)
    # The projected gradient, the measure the state records, vanishes there.
    opt = res.optimizer
    _, state = opt.update(g, opt.init(x), x, lambda z: 0.5 * float(np.sum((C @ z - d) ** 2)))
    assert isinstance(state, SPGState)
    assert state.projected_grad_norm <= 1e-9 * scale < np.linalg.norm(g)


# The non-monotone line search ----------------------------------------------------------


def test_the_line_search_accepts_only_points_that_meet_its_condition():
    # Rosenbrock in a box, whose minimum there is the corner-side point (0.8, 0.64); a
    # short memory makes the search nearly monotone, so BB's long steps are often cut.
    # Every trial z of update k from x_k is accepted exactly when
    # f(z) <= max(f of the last M iterates) + c gᵀ(z − x_k).
    rosen = dd.functions.rosenbrock
    project = dd.projections.box(-1.5, 0.8)
    opt = dd.BB(lr=1.0, memory=3).constrained(project)
    trials = []

    def fun(z):
        trials.append(z.copy())
        return rosen(z)

    x = project(np.array([-1.2, 1.0]))
    state, f_seen, rejected = opt.init(x), [], 0
    for _ in range(150):
        g, f = rosen.grad(x), rosen(x)
        f_seen.append(f)
        f_max = max(f_seen[-opt.memory :])
        trials.clear()
        step, state = opt.update(g, state, x, fun, f)
        tests = [rosen(z) <= f_max + opt.c * float(g @ (z - x)) for z in trials]
        assert tests[-1] and not any(tests[:-1])
        np.testing.assert_array_equal(trials[-1], x + step)  # the step is the accepted trial
        # Backtracking cuts lambda to between 0.1 and 0.9 of itself (or by shrink).
        d = trials[0] - x
        lams = [float((z - x) @ d / (d @ d)) for z in trials] if d @ d > 0 else [1.0]
        for before, after in pairwise(lams):
            assert 0.1 * before * (1 - 1e-12) <= after <= 0.9 * before * (1 + 1e-12)
        rejected += len(trials) - 1
        x = project(x + step)
        assert np.all((x >= -1.5) & (x <= 0.8))
    assert rejected > 20  # the search was exercised
    np.testing.assert_allclose(x, [0.8, 0.64], atol=1e-12)


def test_the_spg_step_is_the_projected_chord_and_lr_is_lambda_times_t():
    # On f = ½(x² + 10 y²) in [0.5, 2]², from (1, 1) with t = 1: P(x − g) = (0.5, 0.5),
    # d = (−0.5, −0.5), and λ = 1 passes, so lr = λ t = 1.
    fun = lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)  # noqa: E731
    grad = lambda x: np.array([1.0, 10.0]) * x  # noqa: E731
    opt = dd.BB(lr=1.0).constrained(dd.projections.box(0.5, 2.0))
    x = np.array([1.0, 1.0])
    step, state = opt.update(grad(x), opt.init(x), x, fun, fun(x))
    np.testing.assert_array_equal(step, [-0.5, -0.5])
    assert state.lr == 1.0 and state.t == 1
    # At the corner (0.5, 0.5) the gradient (0.5, 5) points out of the box: the projected
    # gradient vanishes, ||g|| does not.
    x = x + step
    step, state = opt.update(grad(x), state, x, fun, fun(x))
    np.testing.assert_array_equal(step, [0.0, 0.0])
    assert state.projected_grad_norm == 0.0 and np.linalg.norm(grad(x)) > 5


# BB without a projection is unchanged ---------------------------------------------------


def test_bb_without_project_takes_the_hand_computed_steps():
    # f = ½(x² + 10 y²) from (1, 1), lr = 0.1, g = (1, 10): step 1 is −0.1 g = (−0.1, −1)
    # (f drops from 5.5 to 0.405, so the first trial passes). At (0.9, 0): s = (−0.1, −1),
    # y = (−0.1, −10), t = s.s / s.y = 1.01 / 10.01, step 2 = −t (0.9, 0).
    fun = lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)  # noqa: E731
    grad = lambda x: np.array([1.0, 10.0]) * x  # noqa: E731
    opt, x = dd.BB(lr=0.1), np.array([1.0, 1.0])
    state = opt.init(x)
    assert type(state) is BBState and opt.project is None
    step, state = opt.update(grad(x), state, x, fun, fun(x))
    np.testing.assert_array_equal(step, [-0.1, -1.0])
    x = x + step
    step, state = opt.update(grad(x), state, x, fun, fun(x))
    t = 1.01 / 10.01
    np.testing.assert_allclose(step, [-t * 0.9, 0.0], rtol=1e-15, atol=0)
    assert state.lr == pytest.approx(t, rel=1e-15) and type(state) is BBState


def test_bb_without_project_matches_the_rule_written_out():
    # The unconstrained rule, transcribed from its docstring, against minimize's run.
    rosen = dd.functions.rosenbrock
    res = dd.minimize(rosen, rosen.x0, "bb", grad=rosen.grad, gtol=0, max_iter=80)
    x, x_prev, g_prev, f_recent, xs = rosen.x0.copy(), None, None, [], [rosen.x0.copy()]
    for k in range(80):
        g, f = rosen.grad(x), rosen(x)
        t = 1.0
        if k > 0:
            s, y = x - x_prev, g - g_prev
            if s @ y > 0:
                t = min(max((s @ s) / (s @ y), 1e-10), 1e10)
        f_recent = ([*f_recent, f])[-10:]
        for _ in range(50):
            if rosen(x - t * g) <= max(f_recent) - 1e-4 * t * (g @ g):
                break
            t *= 0.5
        x_prev, g_prev, x = x, g, x - t * g
        xs.append(x)
    np.testing.assert_array_equal(res.history.x, np.array(xs))


def test_constrained_returns_a_copy_that_holds_the_projection():
    opt = dd.BB(lr=0.5, memory=7)
    project = dd.projections.box(0, 1)
    spg = opt.constrained(project)
    assert spg is not opt and opt.project is None and spg.project is project
    assert (spg.lr, spg.memory) == (0.5, 7) and spg == opt  # the projection is not a setting
    assert "project" not in repr(spg)
    assert type(spg.init(np.zeros(2))) is SPGState
    with pytest.raises(TypeError, match="project must be a callable"):
        dd.BB(project=1.0)


# End to end: minimize, maximize, checkpoint and resume --------------------------------


class Interrupt:
    """A gradient that raises KeyboardInterrupt on its n-th call."""

    def __init__(self, function, n):
        self.function, self.n, self.calls = function, n, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.function(*args)


def test_minimize_with_a_box_resumes_bit_for_bit(tmp_path):
    # Rosenbrock keeps SPG moving for all 40 updates (a box quadratic is solved exactly in a
    # few, after which x stands still and costs no more evaluations).
    f = dd.functions.rosenbrock
    x0 = np.array([-1.2, 1.0])
    settings = dict(project=dd.projections.box(-1.5, 0.9), gtol=None, xtol=None, max_iter=40)
    full = dd.minimize(f, x0, "bb", grad=f.grad, **settings)
    assert full.ngev > 30
    path = tmp_path / "spg.ckpt"
    part = dd.minimize(f, x0, "bb", grad=Interrupt(f.grad, 25), checkpoint=path,
                       checkpoint_every=7, **settings)  # fmt: skip
    assert part.status == "interrupted" and 0 < part.nit < full.nit
    resumed = dd.minimize(f, x0, "bb", grad=f.grad, checkpoint=path, resume=True,
                          **settings)  # fmt: skip
    np.testing.assert_array_equal(resumed.x, full.x)
    assert (resumed.nit, resumed.status, resumed.fun) == (full.nit, full.status, full.fun)
    for name in ("f", "grad_norm", "lr", "x"):
        np.testing.assert_array_equal(getattr(resumed.history, name), getattr(full.history, name))
    assert np.all((full.x >= 0) & (full.x <= 1))


def test_maximize_with_a_projection():
    # max −(x − 2)² − (y + 1)² on [0, 1]²: the corner (1, 0).
    res = dd.maximize(lambda x: -((x[0] - 2) ** 2) - (x[1] + 1) ** 2, [0.5, 0.5], "bb",
                      grad=lambda x: np.array([-2 * (x[0] - 2), -2 * (x[1] + 1)]),
                      project=dd.projections.box(0, 1), gtol=None, xtol=1e-12)  # fmt: skip
    assert res.success
    np.testing.assert_array_equal(res.x, [1.0, 0.0])
    assert res.fun == -2.0
