"""Projections against independent truth: a generic solver, optimality conditions, hand cases."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from descend.projections import ball, box, nonnegative, simplex
from scipy.optimize import minimize

import descend as dd

SEEDS = range(8)


def _sums_to(total):
    return [{"type": "eq", "fun": lambda y: y.sum() - total, "jac": lambda y: np.ones_like(y)}]


def _inside_ball(radius, center):
    return [
        {
            "type": "ineq",
            "fun": lambda y: radius**2 - np.sum((y - center) ** 2),
            "jac": lambda y: -2 * (y - center),
        }
    ]


LOWER, UPPER = np.linspace(-1, 0, 5), np.linspace(0.1, 2, 5)

# Each case: a projection, and the same set for SLSQP as (bounds, constraints) for 5-vectors.
CASES = {
    "simplex": (simplex(), ([(0, None)] * 5, _sums_to(1.0))),
    "simplex(total=3)": (simplex(total=3.0), ([(0, None)] * 5, _sums_to(3.0))),
    "box": (box(-0.5, 0.75), ([(-0.5, 0.75)] * 5, [])),
    "box(array)": (box(LOWER, UPPER), (list(zip(LOWER, UPPER, strict=True)), [])),
    "box(open side)": (box(-np.inf, 0.25), ([(None, 0.25)] * 5, [])),
    "nonnegative": (nonnegative(), ([(0, None)] * 5, [])),
    "ball": (ball(), (None, _inside_ball(1.0, 0.0))),
    "ball(center)": (ball(0.5, np.arange(5.0)), (None, _inside_ball(0.5, np.arange(5.0)))),
}


def slsqp_projection(x, bounds, constraints):
    """The projection as a generic constrained least-squares problem: min ||y - x||^2."""
    result = minimize(
        lambda y: np.sum((y - x) ** 2),
        np.zeros_like(x),
        jac=lambda y: 2 * (y - x),
        method="SLSQP",
        bounds=bounds,
        constraints=constraints,
        options={"ftol": 1e-12, "maxiter": 500},
    )
    # Status 8 ("positive directional derivative") is SLSQP at the optimum, unable to
    # improve further in floating point; the comparison below judges the point itself.
    assert result.status in (0, 8), result.message
    return result.x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CASES)
def test_matches_generic_solver(name, seed):
    project, (bounds, constraints) = CASES[name]
    x = np.random.default_rng(seed).normal(scale=2.0, size=5)
    np.testing.assert_allclose(project(x), slsqp_projection(x, bounds, constraints), atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CASES)
def test_idempotent_and_kind_to_input(name, seed):
    project, _ = CASES[name]
    x = np.random.default_rng(seed).normal(scale=2.0, size=5)
    before = x.copy()
    y = project(x)
    assert y is not x and not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(project(y), y, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_inside_point_is_returned_unchanged_as_a_copy(name):
    project, _ = CASES[name]
    inside = project(np.linspace(-1, 1, 5))
    again = project(inside)
    assert again is not inside
    np.testing.assert_allclose(again, inside, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("total", [1.0, 0.1, 7.0])
def test_simplex_optimality_conditions(seed, total):
    # KKT: y = max(x - tau, 0) for one threshold tau, and sum(y) = total. Equivalently, the
    # variational inequality <x - y, z - y> <= 0 for every z in the set, which, being linear
    # in z, it is enough to check at the vertices z = total * e_i.
    x = np.random.default_rng(seed).normal(scale=3.0, size=20)
    y = simplex(total)(x)
    assert np.all(y >= 0)
    assert y.sum() == pytest.approx(total, rel=1e-14)
    positive = y > 0
    tau = x[positive] - y[positive]
    np.testing.assert_allclose(tau, tau[0], atol=1e-13)
    assert np.all(x[~positive] <= tau[0] + 1e-13)
    vertices = total * np.eye(20)
    assert np.max((vertices - y) @ (x - y)) <= 1e-12


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([0.5, 0.5], [0.5, 0.5]),
        ([1.0, 0.0], [1.0, 0.0]),
        ([2.0, 0.0], [1.0, 0.0]),
        ([0.9, 0.6], [0.65, 0.35]),
        ([0.0, 0.0], [0.5, 0.5]),
        ([-1.0, -1.0, -1.0, -1.0], [0.25, 0.25, 0.25, 0.25]),
        ([5.0, 5.0, -3.0], [0.5, 0.5, 0.0]),
        ([3.0], [1.0]),
    ],
)
def test_simplex_by_hand(x, expected):
    np.testing.assert_allclose(simplex()(x), expected, rtol=1e-15, atol=1e-15)


def test_simplex_treats_any_shape_as_one_vector():
    x = np.array([[0.9, -2.0], [0.6, -1.0]])
    y = simplex()(x)
    assert y.shape == (2, 2)
    np.testing.assert_allclose(y, [[0.65, 0.0], [0.35, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(y.ravel(), simplex()(x.ravel()))


def test_box_by_hand_and_broadcasting():
    np.testing.assert_array_equal(box(0, 1)([-2.0, 0.5, 3.0]), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(box([0.0, -np.inf], [np.inf, 2.0])([-1.0, 5.0]), [0.0, 2.0])
    np.testing.assert_array_equal(box(1.0, 1.0)([3.0, -3.0]), [1.0, 1.0])  # pinned
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(box([1.0, 2.0, 3.0], 4.0)(x), [[1, 2, 3], [3, 4, 4]])
    np.testing.assert_array_equal(box([[0.0], [4.5]], 5.0)(x), [[0, 1, 2], [4.5, 4.5, 5]])


def test_nonnegative_by_hand():
    x = np.array([[-1.0, 2.0], [0.5, -3.0]])
    np.testing.assert_array_equal(nonnegative()(x), [[0.0, 2.0], [0.5, 0.0]])
    np.testing.assert_array_equal(nonnegative()(x), box(0.0, np.inf)(x))


@pytest.mark.parametrize("seed", SEEDS)
def test_ball_outside_lands_on_the_sphere_along_the_ray(seed):
    rng = np.random.default_rng(seed)
    center, radius = rng.normal(size=(2, 3)), 0.7
    x = center + rng.normal(scale=5.0, size=(2, 3))
    y = ball(radius, center)(x)
    assert y.shape == (2, 3)
    assert np.linalg.norm(y - center) == pytest.approx(radius, rel=1e-14)
    direction = (x - center) / np.linalg.norm(x - center)
    np.testing.assert_allclose((y - center) / radius, direction, rtol=1e-13, atol=1e-15)


def test_ball_by_hand():
    np.testing.assert_allclose(ball()([3.0, 4.0]), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(ball(2.0, [1.0, 1.0])([1.0, 5.0]), [1.0, 3.0], rtol=1e-15)
    np.testing.assert_array_equal(ball(2.0)([0.3, -0.4]), [0.3, -0.4])
    np.testing.assert_allclose(ball()([1e300, 1e300]), [0.5**0.5, 0.5**0.5], rtol=1e-15)


@pytest.mark.parametrize("project", [simplex(), box(0, 1), nonnegative(), ball()], ids=repr)
def test_scalar_and_int_inputs_and_nan_refused(project):
    assert project(np.float64(0.25)).shape == ()
    np.testing.assert_array_equal(project([0, 1]), project([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"x must not contain (NaN|non-finite).*\[nan 0.5\]"):
        project([np.nan, 0.5])


def test_infinite_input_is_refused_where_there_is_no_answer():
    for project in (simplex(), ball()):
        with pytest.raises(ValueError, match=r"non-finite values, got \[inf  1.\]"):
            project([np.inf, 1.0])
    np.testing.assert_array_equal(box(0, 1)([np.inf, -np.inf]), [1.0, 0.0])
    np.testing.assert_array_equal(nonnegative()([np.inf, -np.inf]), [np.inf, 0.0])


def _inside(x):
    """Where the iterates from 0 to the minimum at 2 pass, and no point x - g(x) = 4 - x
    that gtol's projected gradient probes does."""
    return 0.3 < x[0] < 1.9


def _nan_inside(x):
    return np.full(x.shape, np.nan) if _inside(x) else x


# A projection's output is checked on every update: (project, method, what the message says).
BAD_PROJECTIONS = [
    (_nan_inside, "gd", r"project returned \[nan nan\] for the finite point \[0.4 0.4\]"),
    (_nan_inside, "bb", r"project returned \[nan nan\] for the finite point"),
    (_nan_inside, "adam", r"project returned .*nan.* for the finite point"),
    (lambda x: x[:1] if _inside(x) else x, "gd", r"must return .* shape \(2,\), got .*\(1,\)"),
    (lambda x: x * np.inf if _inside(x) else x, "momentum", r"project returned \[inf inf\]"),
]


@pytest.mark.parametrize(("project", "method", "message"), BAD_PROJECTIONS)
def test_a_bad_projection_output_is_named_and_the_result_kept(project, method, message):
    res = dd.minimize("(x-2)**2 + (y-2)**2", [0.0, 0.0], method, lr=0.1, project=project)
    assert res.status == "stopped" and not res.success
    assert re.search(message, res.message) and "result so far" in res.message
    assert np.isfinite(res.x).all() and len(res.history) == res.nit + 1


@pytest.mark.parametrize(
    ("project", "message"),
    [
        (
            lambda x: x * np.nan,
            r"project returned \[nan nan\] for the finite point \[0. 0.\] \(at x0",
        ),
        (lambda x: np.zeros(3), r"project must return an array of x's shape \(2,\), got shape \(3"),
    ],
)
def test_a_bad_projection_at_x0_is_refused_before_any_work(project, message):
    with pytest.raises(ValueError, match=message):
        dd.minimize("(x-2)**2 + (y-2)**2", [0.0, 0.0], "gd", lr=0.1, project=project)


def test_a_diverging_step_is_not_projected_but_reported_as_divergence():
    for project in (dd.projections.ball(10.0), dd.projections.box(-10, 10)):
        res = dd.minimize(lambda x: x @ x, [1.0, 2.0], "gd", grad=lambda x: 2 * x, lr=1e308,
                          project=project)  # fmt: skip
        assert res.status == "diverged" and "x became non-finite at update 1" in res.message
        assert "lr=1e+308 is too large" in res.message and "project" not in res.message


@pytest.mark.parametrize(
    ("project", "text"),
    [
        (simplex(2.5), "Simplex(total=2.5)"),
        (box(0, 1), "Box(lower=0.0, upper=1.0)"),
        (box([0, 1], np.inf), "Box(lower=array([0., 1.]), upper=inf)"),
        (nonnegative(), "NonNegative()"),
        (ball(), "Ball(radius=1.0, center=0.0)"),
    ],
)
def test_repr_and_pickle(project, text):
    assert repr(project) == text
    copy = pickle.loads(pickle.dumps(project))
    assert copy == project
    np.testing.assert_array_equal(copy([-0.5, 3.0]), project([-0.5, 3.0]))


def test_parameters_are_copied_and_frozen():
    lower = np.array([0.0, 0.0])
    p = box(lower, 1.0)
    lower[0] = 5.0  # the caller's array changes; the projection does not
    np.testing.assert_array_equal(p([-1.0, -1.0]), [0.0, 0.0])
    with pytest.raises(ValueError, match="read-only"):
        p.lower[0] = 1.0
    with pytest.raises(AttributeError):
        p.upper = 2.0
    assert box([0, 1], 2) == box([0.0, 1.0], 2.0) != box([0, 1], 3)
    assert ball(1.0, [0.0, 1.0]) != ball(1.0, 0.0)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: simplex(0.0), ValueError, r"total must be a finite number > 0, got 0.0"),
        (lambda: simplex(-1), ValueError, r"total .* got -1"),
        (lambda: simplex(np.inf), ValueError, r"total"),
        (lambda: simplex("1"), TypeError, r"total must be a real number, got '1'"),
        (lambda: simplex()([]), ValueError, r"x must not be empty"),
        (lambda: box(1.0, 0.0), ValueError, r"lower must be <= upper everywhere, got lower=1.0"),
        (lambda: box([0, 2], [1, 1]), ValueError, r"lower=2.0 > upper=1.0 at index \(1,\)"),
        (lambda: box(np.nan, 1.0), ValueError, r"lower must not contain NaN.*-inf"),
        (lambda: box(0.0, [1.0, np.nan]), ValueError, r"upper must not contain NaN"),
        (lambda: box("a", 1.0), TypeError, r"lower must be a real number"),
        (lambda: box(0.0, [[1.0], [1.0, 2.0]]), TypeError, r"upper must be a real number"),
        (lambda: box(0.0, []), ValueError, r"upper must not be empty"),
        (lambda: box([0, 0], [1, 1, 1]), ValueError, r"lower and upper must broadcast"),
        (lambda: box(0, [1, 2])([1.0, 2.0, 3.0]), ValueError, r"upper of shape \(2,\) .*x of"),
        (lambda: box([[0.0], [0.0]], 1)([1.0, 2.0]), ValueError, r"lower of shape \(2, 1\)"),
        (lambda: ball(0.0), ValueError, r"radius must be a finite number > 0, got 0.0"),
        (lambda: ball(-2), ValueError, r"radius .* got -2"),
        (lambda: ball(center=np.nan), ValueError, r"center must be finite"),
        (lambda: ball(center=[0.0, 0.0])([1.0, 2.0, 3.0]), ValueError, r"center of shape"),
    ],
)
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("method", [None, "gd", "momentum", "adam", "armijo"])
def test_a_constrained_minimum_converges_with_the_default_gtol(seed, method):
    # gtol reads the projected gradient ||x - P(x - g)||, which vanishes at a constrained
    # minimum where g does not: before, every projected run used up max_iter there.
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((4, 4))
    a, b = m @ m.T + 0.5 * np.eye(4), 3 * rng.standard_normal(4)
    fun, grad = (lambda x: 0.5 * x @ a @ x - b @ x), (lambda x: a @ x - b)
    truth = minimize(fun, np.zeros(4), jac=grad, method="L-BFGS-B", bounds=[(-0.5, 0.5)] * 4,
                     options=dict(ftol=0, gtol=1e-14)).x  # fmt: skip
    lr = None if method in (None, "armijo") else 0.5 / np.linalg.eigvalsh(a)[-1]
    res = dd.minimize(fun, np.zeros(4), method, grad=grad, lr=lr, project=box(-0.5, 0.5),
                      max_iter=20_000)  # fmt: skip
    assert res.status == "converged", res.message
    assert res.message.startswith("converged: projected gradient norm")
    np.testing.assert_allclose(res.x, truth, atol=1e-6)  # gtol 1e-8 over the smallest curvature
    assert np.any(np.abs(grad(res.x)) > 1e-3)  # a constrained minimum: g itself is not 0
