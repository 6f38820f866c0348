"""Minimum-variance portfolios against closed forms, SciPy's SLSQP and linprog, and KKT."""

from __future__ import annotations

import os
import runpy
from itertools import product

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from descend.models._feasible_set import _FeasibleSet
from descend.models.portfolio import (
    Frontier,
    Portfolio,
    _Problem,
    efficient_frontier,
    min_variance_portfolio,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Our variance may exceed SLSQP's by this much, relative: rounding in w'Σw, summed in
# another order, and SLSQP's slack in the equalities (about 1e-12 here; on a covariance
# scaled by 1e4 it misses sum(w) = 1 by 1e-9, which buys it 4e-8 of variance).
VARIANCE_RTOL = 1e-10
FEASIBLE_ATOL = 1e-10


def covariance(n, kind, seed):
    """A seeded covariance: a 3-factor model, or a Wishart sample with few observations
    (condition numbers about 1e2 and 1e3 to 1e4)."""
    rng = np.random.default_rng(seed)
    if kind == "factor":
        loadings = rng.normal(size=(n, 3))
        return loadings @ np.diag([0.04, 0.01, 0.005]) @ loadings.T + np.diag(
            rng.uniform(0.01, 0.05, n)
        )
    returns = rng.normal(size=(n + 5, n)) * rng.uniform(0.1, 0.4, n)
    return returns.T @ returns / (n + 5)


def expected_returns(n, seed):
    return np.random.default_rng(seed + 100).normal(0.06, 0.03, n)


def slsqp(cov, lower, upper, mu=None, target=None):
    """The same problem for SciPy's SLSQP, with a tight tolerance."""
    n = len(cov)
    constraints = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}]
    if target is not None:
        constraints.append({"type": "eq", "fun": lambda w: mu @ w - target, "jac": lambda w: mu})
    result = minimize(
        lambda w: w @ cov @ w,
        np.full(n, 1.0 / n),
        jac=lambda w: 2.0 * cov @ w,
        method="SLSQP",
        bounds=scipy_bounds(lower, upper),
        constraints=constraints,
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    assert result.status in (0, 8), result.message  # 8: at the optimum, cannot improve
    return result.x


def scipy_bounds(lower, upper):
    """SciPy's form of the bounds: (lower, upper) pairs, None where unbounded."""
    return [(None if lo == -np.inf else lo, None if up == np.inf else up)
            for lo, up in zip(lower, upper, strict=True)]  # fmt: skip


def assert_feasible(w, lower, upper, mu=None, target=None):
    assert abs(w.sum() - 1.0) <= FEASIBLE_ATOL
    assert np.all(w >= lower - FEASIBLE_ATOL) and np.all(w <= upper + FEASIBLE_ATOL)
    if target is not None:
        assert abs(mu @ w - target) <= FEASIBLE_ATOL


def return_range(mu, lower, upper):
    """min and max of mu @ w by SciPy's linprog (HiGHS), an independent oracle."""
    bounds = scipy_bounds(lower, upper)
    ends = []
    for sign in (1.0, -1.0):
        res = linprog(sign * mu, A_eq=np.ones((1, len(mu))), b_eq=[1.0], bounds=bounds)
        ends.append(sign * res.fun if res.status == 0 else -sign * np.inf)
    return tuple(ends)


# Closed forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "kind", "seed"), [(5, "factor", 0), (20, "wishart", 1), (50, "factor", 2)]
)
def test_global_minimum_variance_closed_form(n, kind, seed):
    cov = covariance(n, kind, seed)
    inverse = np.linalg.solve(cov, np.ones(n))
    expected = inverse / inverse.sum()  # inv(Σ) 1 / 1' inv(Σ) 1
    p = min_variance_portfolio(cov, long_only=False)
    assert p.result.success
    np.testing.assert_allclose(p.weights, expected, atol=1e-8)
    assert p.variance == pytest.approx(1.0 / inverse.sum(), rel=1e-10)
    assert p.volatility == pytest.approx(np.sqrt(p.variance))
    assert p.expected_return is None


@pytest.mark.parametrize(
    ("n", "kind", "seed"), [(5, "factor", 3), (20, "wishart", 4), (50, "factor", 5)]
)
def test_two_fund_closed_form_with_a_target(n, kind, seed):
    # Merton (1972): w = inv(Σ)(λ 1 + γ μ) with λ = (C - B r) / D, γ = (A r - B) / D,
    # A = 1'inv(Σ)1, B = 1'inv(Σ)μ, C = μ'inv(Σ)μ, D = AC - B².
    cov, mu = covariance(n, kind, seed), expected_returns(n, seed)
    ones_, mus_ = np.linalg.solve(cov, np.ones(n)), np.linalg.solve(cov, mu)
    a, b, c = ones_.sum(), mu @ ones_, mu @ mus_
    target = b / a + 0.03  # above the global minimum-variance portfolio's return
    expected = ((c - b * target) * ones_ + (a * target - b) * mus_) / (a * c - b**2)
    p = min_variance_portfolio(cov, long_only=False, expected_returns=mu, target_return=target)
    np.testing.assert_allclose(p.weights, expected, atol=1e-8)
    assert p.expected_return == pytest.approx(target, abs=1e-12)


# Against SLSQP with active bounds --------------------------------------------------------


def constraints(name, n):
    """(long_only, bounds) of each setting, and the lower and upper bounds they make."""
    long_only, bounds = {
        "long-only capped": (True, (None, 2.0 / n)),
        "long-short boxed": (False, (-0.2 / n, 1.5 / n)),
        "per-asset": (True, (np.linspace(0.0, 0.5 / n, n), np.linspace(1.2 / n, 4.0 / n, n))),
    }[name]
    lower = np.broadcast_to(-np.inf if bounds[0] is None else bounds[0], (n,))
    upper = np.broadcast_to(bounds[1], (n,))
    return long_only, bounds, (np.maximum(lower, 0.0) if long_only else lower), upper


@pytest.mark.parametrize(
    ("n", "kind", "name", "with_target"),
    [
        (n, kind, name, with_target)
        for (n, kind), name, with_target in product(
            [(12, "factor"), (30, "wishart"), (50, "factor")],
            ["long-only capped", "long-short boxed", "per-asset"],
            [False, True],
        )
    ],
)
def test_matches_slsqp_with_active_bounds(n, kind, name, with_target):
    seed = n + len(name)
    cov, mu = covariance(n, kind, seed), expected_returns(n, seed)
    long_only, bounds, lower, upper = constraints(name, n)
    options = dict(long_only=long_only, bounds=bounds, expected_returns=mu)
    p = min_variance_portfolio(cov, **options)
    target = None
    if with_target:  # halfway from the minimum-variance portfolio's return to the largest
        target = p.expected_return + 0.5 * (return_range(mu, lower, upper)[1] - p.expected_return)
        p = min_variance_portfolio(cov, target_return=target, **options)
    reference = slsqp(cov, lower, upper, mu, target)

    assert p.result.success
    assert_feasible(p.weights, lower, upper, mu, target)
    at_bound = np.isclose(p.weights, lower, atol=1e-9) | np.isclose(p.weights, upper, atol=1e-9)
    assert at_bound.any()  # the bounds matter
    assert p.variance <= reference @ cov @ reference * (1 + VARIANCE_RTOL)
    np.testing.assert_allclose(p.weights, reference, atol=1e-5)  # SLSQP's own accuracy


def test_user_options_reach_minimize():
    cov = covariance(12, "factor", 0)
    capped = dict(bounds=(None, 0.1))  # active bounds, so the finish waits for the iterates
    p = min_variance_portfolio(cov, method="gd", max_iter=20_000, **capped)
    q = min_variance_portfolio(cov, **capped)
    assert p.result.method == "gd" and q.result.method == "bb"
    assert p.result.nit > q.result.nit  # the spectral projected gradient is the faster default
    np.testing.assert_allclose(p.weights, q.weights, atol=1e-7)
    with pytest.warns(RuntimeWarning, match="did not converge: .*max_iter"):
        min_variance_portfolio(cov, max_iter=1)  # the finish needs two updates
    with pytest.raises(TypeError, match="momentm"):
        min_variance_portfolio(cov, momentm=0.5)


def test_repr_and_read_only_weights():
    p = min_variance_portfolio(np.diag([0.04, 0.09]), expected_returns=[0.05, 0.1])
    assert repr(p).startswith("Portfolio(volatility=0.16641, variance=0.0276923, expected_return=")
    assert "converged after" in repr(p)
    assert isinstance(p, Portfolio) and not p.weights.flags.writeable


def test_singular_covariance_and_a_single_asset():
    # Two identical assets: every split has the same variance, and any is a minimum.
    p = min_variance_portfolio(np.full((2, 2), 0.04))
    assert p.variance == pytest.approx(0.04, rel=1e-12) and p.weights.sum() == pytest.approx(1)
    one = min_variance_portfolio([[0.09]])
    assert one.weights.tolist() == [1.0] and one.volatility == pytest.approx(0.3)


# Feasibility checks, before any update ---------------------------------------------------

COV = np.diag([0.04, 0.09, 0.16])
MU = np.array([0.05, 0.08, 0.12])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(cov=np.ones((2, 3))), "square"),
        (dict(cov=[[0.04, 0.01], [0.0, 0.09]]), "symmetric"),
        (dict(cov=[[0.04, 0.1], [0.1, 0.09]]), "positive semi-definite"),
        (dict(cov=[[0.04, np.nan], [np.nan, 0.09]]), "finite"),
        (dict(cov=[[np.inf, 0.0], [0.0, 0.09]]), "finite"),
        (dict(expected_returns=[0.1, 0.2]), r"shape \(3,\)"),
        (dict(expected_returns=[0.1, np.nan, 0.2]), "finite"),
        (dict(target_return=0.1), "needs expected_returns"),
        (dict(bounds=(0.5, 0.2)), "infeasible: asset 0 has lower bound 0.5"),
        (dict(bounds=(None, -0.1)), "long_only=True raises lower bounds to 0"),
        (dict(bounds=(0.4, None)), r"infeasible: the lower bounds sum to 1.2"),
        (dict(bounds=(None, [0.3, 0.3, 0.3])), r"infeasible: the upper bounds sum to 0.9"),
        (dict(bounds=([0.0, np.nan, 0.0], None)), "NaN"),
        (dict(bounds=(None, [0.5, 0.5])), "3 numbers"),
        (
            dict(expected_returns=MU, target_return=0.13),
            r"target_return=0.13 is infeasible: .* ranges over \[0.05\d*, 0.12\d*\]",
        ),
        (
            dict(expected_returns=MU, target_return=0.11, bounds=(0.0, 0.5)),
            r"infeasible: .* ranges over \[0.065\d*, 0.1\d*\]",
        ),
        (dict(expected_returns=MU, target_return=np.inf), "finite"),
    ],
)
def test_bad_problems_are_refused_by_name(kwargs, message):
    kwargs = {"cov": COV, **kwargs}
    with pytest.raises(ValueError, match=message):
        min_variance_portfolio(**kwargs)


def test_bad_kinds_are_type_errors():
    with pytest.raises(TypeError, match="bounds must be a"):
        min_variance_portfolio(COV, bounds=0.5)
    with pytest.raises(TypeError, match="lower must be None or real numbers"):
        min_variance_portfolio(COV, bounds=("none", None))
    with pytest.raises(TypeError, match="long_only"):
        min_variance_portfolio(COV, long_only="no")
    with pytest.raises(TypeError, match="target_return"):
        min_variance_portfolio(COV, expected_returns=MU, target_return="0.1")


def test_inputs_are_not_modified():
    cov, mu = covariance(12, "factor", 7), expected_returns(12, 7)
    lower, upper = np.full(12, -0.1), np.full(12, 0.2)
    copies = [a.copy() for a in (cov, mu, lower, upper)]
    min_variance_portfolio(cov, long_only=True, bounds=(lower, upper), expected_returns=mu,
                           target_return=float(np.median(mu)))  # fmt: skip
    efficient_frontier(cov, mu, 3, long_only=False, bounds=(lower, upper))
    for array, copy in zip((cov, mu, lower, upper), copies, strict=True):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("seed", range(6))
def test_return_range_matches_linprog(seed):
    rng = np.random.default_rng(seed)
    n = 8
    mu = rng.normal(0.05, 0.03, n)
    lower, upper = rng.uniform(-0.3, 0.05, n), rng.uniform(0.15, 0.6, n)
    lower[rng.random(n) < 0.3] = -np.inf  # some assets unbounded on one side
    upper[:2] = np.where(seed % 2, np.inf, upper[:2])
    problem = _Problem(np.eye(n), False, (lower, upper), mu, None)
    np.testing.assert_allclose(problem.return_range(), return_range(mu, lower, upper), rtol=1e-9)


# Ill-conditioned covariances: the spectral projected gradient and the exact finish ------


def conditioned(n, condition, seed):
    """A covariance with random orthogonal eigenvectors and eigenvalues spread evenly, on a
    log scale, from 0.04 down to 0.04 / condition (the docstring's measurements)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return (q * (0.04 * np.logspace(0, -np.log10(condition), n))) @ q.T


def assert_kkt(cov, w, lower, upper, rtol=1e-9):
    """The KKT conditions of min wᵀΣw on {sum(w) = 1, lower <= w <= upper}, checked from
    the weights alone: one multiplier ν with (2Σw)ᵢ = ν on the free weights, >= ν at a
    lower bound and <= ν at an upper one."""
    g = 2.0 * cov @ w
    at_lower, at_upper = w <= lower, w >= upper
    free = ~(at_lower | at_upper)
    nu = g[free].mean()
    tol = rtol * np.abs(g).max()
    assert np.all(np.abs(g[free] - nu) <= tol)
    assert np.all(g[at_lower] >= nu - tol) and np.all(g[at_upper] <= nu + tol)


@pytest.mark.parametrize("condition", [1e4, 1e6])
@pytest.mark.parametrize("seed", range(3))
def test_ill_conditioned_shorts_allowed_reach_the_closed_form(condition, seed):
    n = 50
    cov = conditioned(n, condition, seed)
    inverse = np.linalg.solve(cov, np.ones(n))
    expected = inverse / inverse.sum()
    p = min_variance_portfolio(cov, bounds=None, long_only=False)
    assert p.result.success and p.result.message.startswith("converged: after")
    assert p.result.nit <= 3000
    np.testing.assert_allclose(p.weights, expected, rtol=0, atol=1e-7)
    assert abs(p.weights.sum() - 1.0) <= 1e-12


def polished(cov, w):
    """SLSQP's long-only answer made exact: its zero weights held at 0, the rest from the
    equality-constrained minimum (a linear solve), checked against the KKT conditions.
    SLSQP alone misses by up to 1e-3 at condition number 1e6, along directions in which
    the variance hardly changes."""
    free = w > 1e-9
    k = int(free.sum())
    system = np.block([[2 * cov[np.ix_(free, free)], np.ones((k, 1))], [np.ones((1, k)), 0]])
    exact = np.zeros(len(w))
    exact[free] = np.linalg.solve(system, np.r_[np.zeros(k), 1.0])[:k]
    assert np.all(exact[free] > 0)
    assert_kkt(cov, exact, np.zeros(len(w)), np.full(len(w), np.inf))
    return exact


@pytest.mark.parametrize("condition", [1e2, 1e4, 1e6])
@pytest.mark.parametrize("seed", range(2))
def test_ill_conditioned_long_only_matches_slsqp(condition, seed):
    n = 50
    cov = conditioned(n, condition, seed)
    p = min_variance_portfolio(cov)
    reference = slsqp(cov, np.zeros(n), np.full(n, np.inf))
    assert p.result.success and p.result.nit <= 3000
    assert_feasible(p.weights, np.zeros(n), np.inf)
    assert (p.weights == 0).sum() >= 5  # the bounds matter
    assert_kkt(cov, p.weights, np.zeros(n), np.full(n, np.inf))
    assert p.variance <= reference @ cov @ reference * (1 + VARIANCE_RTOL)
    np.testing.assert_array_equal(p.weights > 0, reference > 1e-9)  # the same active set
    np.testing.assert_allclose(p.weights, polished(cov, reference), rtol=0, atol=1e-7)


@pytest.mark.parametrize("condition", [1e4, 1e6])
def test_ill_conditioned_target_return_reaches_the_two_fund_closed_form(condition):
    n = 50
    cov, mu = conditioned(n, condition, 7), expected_returns(n, 7)
    ones_, mus_ = np.linalg.solve(cov, np.ones(n)), np.linalg.solve(cov, mu)
    a, b, c = ones_.sum(), mu @ ones_, mu @ mus_
    target = b / a + 0.03
    expected = ((c - b * target) * ones_ + (a * target - b) * mus_) / (a * c - b**2)
    p = min_variance_portfolio(cov, long_only=False, expected_returns=mu, target_return=target)
    assert p.result.success and p.result.nit <= 3000
    np.testing.assert_allclose(p.weights, expected, rtol=0, atol=1e-7)
    assert abs(p.expected_return - target) <= 1e-12


def test_the_finish_accepts_only_kkt_points():
    n = 12
    cov = covariance(n, "factor", 5)  # one weight at 0 and two at 0.15 at the minimum
    project = _FeasibleSet(np.zeros(n), np.full(n, 0.15))
    answer = min_variance_portfolio(cov, bounds=(None, 0.15)).weights
    at_lower, at_upper = answer == 0.0, answer == 0.15
    assert at_lower.any() and at_upper.any()
    # The minimiser's own active set gives the minimiser back.
    np.testing.assert_allclose(project.kkt_point(answer, 2 * cov), answer, atol=1e-15)
    # Every weight free: the equality-constrained answer breaks the bounds. One upper
    # bound released, or one free weight pinned to a bound: wrong-signed multipliers or
    # bounds broken. All are refused.
    wrong = [np.full(n, 1.0 / n), np.where(at_upper, 0.1, answer)]
    free = np.flatnonzero(~at_lower & ~at_upper)
    pinned = answer.copy()
    pinned[free[0]] = 0.0
    wrong.append(pinned)
    for w in wrong:
        assert project.kkt_point(w, 2 * cov) is None
    # Run into the finish: it reports the rule that fired, and the weights it returns meet
    # the KKT conditions to rounding.
    p = min_variance_portfolio(cov, bounds=(None, 0.15))
    assert p.result.status == "converged"
    assert f"of {n} weights at a bound) held for two updates" in p.result.message
    assert_kkt(cov, p.weights, np.zeros(n), np.full(n, 0.15))
    assert p.result.fun == pytest.approx(p.variance, rel=1e-15)


def test_a_user_callback_still_runs_and_can_stop_the_run():
    cov = conditioned(20, 1e4, 0)
    seen = []
    p = min_variance_portfolio(cov, callback=lambda info: seen.append(info.nit))
    assert seen == list(range(1, p.result.nit + 1))
    with pytest.warns(RuntimeWarning, match="did not converge: stopped: the callback"):
        q = min_variance_portfolio(cov, callback=lambda info: info.nit == 3)
    assert q.result.nit == 3 and q.result.status == "stopped"
    with pytest.raises(TypeError, match="callback must be callable"):
        min_variance_portfolio(cov, callback=3)


# The projection --------------------------------------------------------------------------


def projection_cases(n, seed):
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.05, 0.03, n)
    sets = {
        "capped": (np.zeros(n), np.full(n, 2.5 / n)),
        "pinned": (np.r_[0.1, np.zeros(n - 1)], np.r_[0.1, np.full(n - 1, 0.5)]),  # asset 0 fixed
        "boxed": (np.full(n, -0.2), np.full(n, np.inf)),
        "affine": (np.full(n, -np.inf), np.full(n, np.inf)),
    }
    cases = {"capped": _FeasibleSet(*sets["capped"])}
    for name, (lower, upper) in sets.items():
        low, high = return_range(mu, lower, upper)
        target = 0.3 * low + 0.7 * high if np.isfinite(high) else mu.max()
        cases[f"{name}+target" if name != "affine" else name] = _FeasibleSet(
            lower, upper, mu, target
        )
    return cases


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "name", ["capped", "capped+target", "pinned+target", "boxed+target", "affine"]
)
def test_projection_is_nearest_feasible_point(name, seed):
    n = 6
    project = projection_cases(n, seed)[name]
    v = np.random.default_rng(seed + 50).normal(scale=0.5, size=n)
    before = v.copy()
    w = project(v)
    np.testing.assert_array_equal(v, before)
    assert_feasible(w, project.lower, project.upper, project.returns, project.target)
    # KKT: v - w = a + b mu on the free weights, <= there at lower, >= at upper bounds.
    mu = np.zeros(n) if project.returns is None else project.returns
    free = (w > project.lower + 1e-12) & (w < project.upper - 1e-12)
    (a, b), *_ = np.linalg.lstsq(np.c_[np.ones(free.sum()), mu[free]], (v - w)[free], rcond=None)
    residual = v - w - a - b * mu
    assert np.all(np.abs(residual[free]) <= 1e-12)
    pinned = project.lower == project.upper
    assert np.all(residual[(w <= project.lower + 1e-12) & ~pinned] <= 1e-12)
    assert np.all(residual[(w >= project.upper - 1e-12) & ~pinned] >= -1e-12)
    # and no point of the set is nearer
    nearest = brute_force_projection(v, project)
    assert np.sum((w - v) ** 2) <= np.sum((nearest - v) ** 2) + 1e-14
    np.testing.assert_allclose(w, nearest, atol=1e-12)
    np.testing.assert_allclose(project(w), w, atol=1e-14)  # idempotent


def brute_force_projection(v, project):
    """The nearest point by trying every weight at its lower bound, free, or at its upper
    bound: on the free weights the nearest point of the equalities alone (least squares),
    kept when it is feasible. The projection is among these candidates."""
    lower, upper, mu, target = project.lower, project.upper, project.returns, project.target
    A, c = np.ones((1, len(v))), np.array([1.0])
    if mu is not None:
        A, c = np.vstack([A, mu]), np.array([1.0, target])
    options = [
        [
            state
            for state, bound in (("lower", lo), ("free", 0), ("upper", up))
            if np.isfinite(bound)
        ]
        for lo, up in zip(lower, upper, strict=True)
    ]
    best, nearest = np.inf, None
    for states in product(*options):
        free = np.array([s == "free" for s in states])
        w = np.where(np.array(states) == "lower", lower, upper)
        w[free] = v[free]
        A_free, residual = A[:, free], c - A[:, ~free] @ w[~free] - A[:, free] @ v[free]
        w[free] += A_free.T @ np.linalg.lstsq(A_free @ A_free.T, residual, rcond=None)[0]
        feasible = np.allclose(A @ w, c, rtol=0, atol=1e-13) and np.all(
            (w >= lower - 1e-13) & (w <= upper + 1e-13)
        )
        if feasible and np.sum((w - v) ** 2) < best:
            best, nearest = np.sum((w - v) ** 2), w
    return nearest


def test_projection_of_far_points_and_of_nan():
    n = 40
    project = projection_cases(n, 0)["capped+target"]
    rng = np.random.default_rng(1)
    for scale in (1e-3, 1.0, 1e3):
        w = project(rng.normal(scale=scale, size=n))
        assert_feasible(w, project.lower, project.upper, project.returns, project.target)
    assert np.isnan(project(np.r_[np.nan, np.zeros(n - 1)])).all()


def test_projection_onto_the_extreme_return_is_the_greedy_fill():
    # At the largest achievable return the set is one point: the best assets filled to
    # their caps, in order of return.
    mu = np.array([0.01, 0.04, 0.03, 0.02])
    project = _FeasibleSet(np.zeros(4), np.full(4, 0.4), mu, 0.4 * 0.04 + 0.4 * 0.03 + 0.2 * 0.02)
    np.testing.assert_allclose(project(np.zeros(4)), [0.0, 0.4, 0.4, 0.2], atol=1e-14)


# The efficient frontier ------------------------------------------------------------------


def test_efficient_frontier_against_slsqp():
    n = 12
    cov, mu = covariance(n, "factor", 11), expected_returns(n, 11)
    frontier = efficient_frontier(cov, mu, n_points=6, bounds=(None, 0.25))
    assert isinstance(frontier, Frontier)
    assert frontier.weights.shape == (6, n) and frontier.returns.shape == (6,)
    assert np.all(np.diff(frontier.returns) > 0)
    assert np.all(np.diff(frontier.volatilities) >= -1e-12)  # the efficient branch rises
    np.testing.assert_allclose(frontier.volatilities**2, frontier.variances)
    gmv = min_variance_portfolio(cov, bounds=(None, 0.25), expected_returns=mu)
    np.testing.assert_allclose(frontier.weights[0], gmv.weights, atol=1e-12)
    assert frontier.returns[-1] == pytest.approx(return_range(mu, np.zeros(n), np.full(n, 0.25))[1])
    for p in frontier.portfolios[1:]:
        reference = slsqp(cov, np.zeros(n), np.full(n, 0.25), mu, p.expected_return)
        assert p.variance <= reference @ cov @ reference * (1 + VARIANCE_RTOL)
    assert repr(frontier).startswith("Frontier(6 points, return ")


def test_efficient_frontier_needs_a_bounded_return():
    with pytest.raises(ValueError, match="returns are unbounded"):
        efficient_frontier(COV, MU, long_only=False)
    with pytest.raises(ValueError, match="n_points must be an integer >= 2"):
        efficient_frontier(COV, MU, n_points=1)


# The example -----------------------------------------------------------------------------


def test_example_runs_and_reports_the_bounds(capsys):
    runpy.run_path(os.path.join(ROOT, "examples", "portfolio.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "The run: converged" in out
    assert "upper" in out and "lower" in out  # active bounds are marked
    assert "Efficient frontier" in out and out.count("%") > 20


def test_the_public_names_live_in_descend_models():
    import descend.models

    assert descend.models.min_variance_portfolio is min_variance_portfolio
    assert descend.models.efficient_frontier is efficient_frontier
