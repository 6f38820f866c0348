"""Test functions against independent truth: finite differences, SciPy, exact arithmetic."""

from __future__ import annotations

import pickle
from decimal import Decimal, localcontext

import numpy as np
import pytest
from descend.functions import ZOO, TestFunction, himmelblau, quadratic, rosenbrock
from scipy.optimize import minimize

# The zoo as used in the tests: every named function, n-dimensional ones in 2 and 5 dims,
# and a quadratic, each with the dimension to test it in.
SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.0]])
CASES = {name: (f, 2) for name, f in ZOO.items()}
CASES["rosenbrock-5d"] = (ZOO["rosenbrock"], 5)
CASES["rastrigin-5d"] = (ZOO["rastrigin"], 5)
CASES["quadratic"] = (quadratic(SPD, [1.0, -2.0, 0.5]), 3)


def central_difference(f, x, h=1e-6):
    """Central differences, error O(h^2); one coordinate at a time."""
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h * max(1.0, abs(x[i]))
        grad[i] = (f(x + step) - f(x - step)) / (2 * step[i])
    return grad


def random_points(f, n, count, seed):
    """Points spread over the plotting window (its first pair of bounds in extra dims)."""
    rng = np.random.default_rng(seed)
    lo, hi = np.array([f.bounds[min(i, len(f.bounds) - 1)] for i in range(n)]).T
    return lo + (hi - lo) * rng.random((count, n))


def test_zoo_lists_the_named_functions():
    assert list(ZOO) == ["rosenbrock", "beale", "booth", "himmelblau", "rastrigin"]
    assert all(isinstance(f, TestFunction) and f.name == name for name, f in ZOO.items())
    assert len(himmelblau.minima) == 4


@pytest.mark.parametrize("name", ZOO)
def test_metadata_shapes(name):
    f = ZOO[name]
    assert f.x0.shape == (2,) and f.x0.dtype == np.float64
    assert all(m.shape == (2,) and m.dtype == np.float64 for m in f.minima)
    assert len(f.bounds) == 2 and all(lo < hi for lo, hi in f.bounds)
    for point in [f.x0, *f.minima]:  # the window shows the start and every minimum
        assert all(lo <= v <= hi for v, (lo, hi) in zip(point, f.bounds, strict=True))
    assert isinstance(f.fmin, float)


@pytest.mark.parametrize("name", CASES)
def test_minimisers_are_stationary_and_reach_fmin(name):
    f, n = CASES[name]
    for m in f.minima:
        point = np.resize(m, n) if f.dim is None else m  # (1, ..., 1) or 0 in n dims
        assert f(point) == pytest.approx(f.fmin, abs=1e-14)
        np.testing.assert_allclose(f.grad(point), 0.0, atol=2e-14)


@pytest.mark.parametrize("name", CASES)
def test_fmin_is_the_minimum_over_the_window(name):
    f, n = CASES[name]
    values = f(random_points(f, n, 20_000, seed=0).T)
    assert values.min() >= f.fmin - 1e-12


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_central_differences(name, seed):
    f, n = CASES[name]
    for x in random_points(f, n, 4, seed):
        expected = central_difference(f, x)
        np.testing.assert_allclose(f.grad(x), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_complex_step(name):
    # f(x + ih e_i) = f(x) + ih df/dx_i + O(h^2): exact to rounding, and shows complex
    # inputs pass through untouched.
    f, n = CASES[name]
    x = random_points(f, n, 1, seed=1)[0]
    h = 1e-30
    expected = [f(x + 1j * h * e).imag / h for e in np.eye(n)]
    np.testing.assert_allclose(f.grad(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_vectorised_evaluation_equals_pointwise(name):
    f, n = CASES[name]
    points = random_points(f, n, 12, seed=2).reshape(3, 4, n)
    grid = np.moveaxis(points, -1, 0)  # shape (n, 3, 4): coordinates first
    values, grads = f(grid), f.grad(grid)
    assert values.shape == (3, 4) and grads.shape == (n, 3, 4)
    for i, j in np.ndindex(3, 4):
        assert values[i, j] == pytest.approx(f(points[i, j]), rel=1e-14, abs=1e-14)
        np.testing.assert_allclose(grads[:, i, j], f.grad(points[i, j]), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", ZOO)
def test_meshgrid_and_return_types(name):
    f = ZOO[name]
    (x_lo, x_hi), (y_lo, y_hi) = f.bounds
    X, Y = np.meshgrid(np.linspace(x_lo, x_hi, 7), np.linspace(y_lo, y_hi, 5))
    assert f(np.stack([X, Y])).shape == (5, 7)
    assert f.grad(np.stack([X, Y])).shape == (2, 5, 7)
    value = f([0.5, 0.25])
    assert np.ndim(value) == 0 and isinstance(float(value), float)
    assert f.grad([1, 2]).shape == (2,) and f.grad([1, 2]).dtype == np.float64  # ints welcome


def test_rosenbrock_by_hand():
    assert rosenbrock([-1.2, 1.0]) == pytest.approx(24.2)
    np.testing.assert_allclose(rosenbrock.grad([-1.2, 1.0]), [-215.6, -88.0])
    # n = 3 couples neighbours only: f = 100(y - x^2)^2 + (1 - x)^2 + 100(z - y^2)^2 + (1 - y)^2
    assert rosenbrock([0.0, 0.0, 0.0]) == 2.0
    np.testing.assert_allclose(rosenbrock.grad([0.0, 0.0, 0.0]), [-2.0, -2.0, 0.0])


def test_himmelblau_minima_are_correctly_rounded_roots():
    # Newton's method on u = x^2 + y - 11 = 0, v = x + y^2 - 7 = 0 in 50-digit decimal
    # arithmetic, started from each hard-coded minimiser, must not move it by half an ulp.
    with localcontext() as ctx:
        ctx.prec = 50
        for m in himmelblau.minima:
            x, y = (Decimal(float(v)) for v in m)
            for _ in range(8):
                u, v = x * x + y - 11, x + y * y - 7
                det = 4 * x * y - 1
                x, y = x - (2 * y * u - v) / det, y - (2 * x * v - u) / det
            assert (float(x), float(y)) == (m[0], m[1])


@pytest.mark.parametrize("index", range(4))
def test_bfgs_from_near_each_himmelblau_minimum_finds_it(index):
    m = himmelblau.minima[index]
    start = m + np.array([0.3, -0.2])
    result = minimize(
        himmelblau, start, jac=himmelblau.grad, method="BFGS", options={"gtol": 1e-12}
    )
    assert np.max(np.abs(result.x - m)) < 1e-8
    np.testing.assert_allclose(himmelblau.grad(m), 0.0, atol=1e-13)


@pytest.mark.parametrize("name", CASES)
def test_repr_pickle_and_frozen_metadata(name):
    f, _ = CASES[name]
    assert repr(f).startswith(f"<{f.name}: f = {f.formula}; min {f.fmin:.6g} at (")
    copy = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(copy.grad(f.x0), f.grad(f.x0))
    with pytest.raises(ValueError, match="read-only"):
        f.minima[0][0] = 7.0
    with pytest.raises(ValueError, match="read-only"):
        f.x0[0] = 7.0


def test_far_away_points_overflow_to_inf():
    # No np.errstate inside (per call it would cost more than the arithmetic on a
    # 2-vector): callers that expect overflow silence it around their loop, as here.
    with np.errstate(over="ignore", invalid="ignore"):
        assert rosenbrock([1e200, 1e200]) == np.inf
        assert rosenbrock(np.full((2, 3), 1e200)).tolist() == [np.inf] * 3
        assert not np.any(np.isfinite(himmelblau.grad([1e200, -1e200])))  # inf - inf: NaN


@pytest.mark.parametrize(
    ("f", "x"),
    [(himmelblau, [1.0, 2.0, 3.0]), (himmelblau, 1.0), (rosenbrock, [1.0]), (ZOO["beale"], [])],
)
def test_wrong_dimension_is_named(f, x):
    with pytest.raises(ValueError, match=rf"x must have shape .* for {f.name}, got shape"):
        f(x)
    with pytest.raises(ValueError, match="x must have shape"):
        f.grad(x)


# quadratic ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [1, 2, 6])
def test_quadratic_against_linear_algebra(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A, b = M @ M.T + 0.5 * np.eye(n), rng.normal(size=n)
    f = quadratic(A, b)
    x_star = np.linalg.solve(A, b)
    np.testing.assert_allclose(f.minima[0], x_star, rtol=1e-12, atol=1e-12)
    assert f.fmin == pytest.approx(-0.5 * b @ x_star, rel=1e-12)
    assert f(x_star) == pytest.approx(f.fmin, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(f.x0, x_star + 1)
    np.testing.assert_allclose(f.bounds, [(m - 2, m + 2) for m in x_star], rtol=1e-12)
    for x in rng.normal(size=(3, n)):
        assert f(x) == pytest.approx(0.5 * x @ A @ x - b @ x, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(f.grad(x), A @ x - b, rtol=1e-12, atol=1e-12)


def test_quadratic_minimiser_is_exact_to_a_few_ulps():
    # The exact minimiser by rational arithmetic (SymPy) of the very doubles in A and b.
    sp = pytest.importorskip("sympy")
    rng = np.random.default_rng(7)
    for _ in range(20):
        M = rng.normal(size=(3, 3))
        f = quadratic(M @ M.T + 0.5 * np.eye(3), rng.normal(size=3))
        A = sp.Matrix(3, 3, [sp.Rational(float(v)) for v in f.A.ravel()])
        b = sp.Matrix([sp.Rational(float(v)) for v in f.b])
        exact = A.LUsolve(b)
        x = np.array([float(v) for v in exact])
        assert np.all(np.abs(f.minima[0] - x) <= 8 * np.spacing(np.abs(x)))
        assert f.fmin == float(-sp.Rational(1, 2) * (b.T * exact)[0])
    ill = quadratic([[1e4, 1.0], [1.0, 2e-4]], [1.0, 1.0])
    assert ill.minima[0].tolist() == [-0.9997999999999999, 9998.999999999998]


def test_quadratic_defaults_and_copies():
    A = np.diag([1.0, 10.0])
    f = quadratic(A)
    np.testing.assert_array_equal(f.b, [0.0, 0.0])
    np.testing.assert_array_equal(f.minima[0], [0.0, 0.0])
    assert f.fmin == 0.0
    A[0, 0] = -5.0  # the caller's array changes; the function does not
    assert f([1.0, 0.0]) == 0.5
    assert not np.shares_memory(f.A, A)
    assert repr(f) == "<quadratic: f = 1/2 x'Ax - b'x; min 0 at (0, 0)>"


@pytest.mark.parametrize(
    ("A", "b", "error", "match"),
    [
        ([1.0, 2.0], None, ValueError, r"A must be a square 2-D array, got shape \(2,\)"),
        (np.ones((2, 3)), None, ValueError, r"A must be a square .* \(2, 3\)"),
        ([[1.0, 2.0], [0.0, 1.0]], None, ValueError, r"A must be symmetric, got max .* = 2"),
        ([[1.0, 0.0], [0.0, -1.0]], None, ValueError, r"A must be positive definite.* -1"),
        ([[1.0, 1.0], [1.0, 1.0]], None, ValueError, r"A must be positive definite"),
        ([[1.0, np.nan], [np.nan, 1.0]], None, ValueError, r"A must be finite"),
        ([["a"]], None, TypeError, r"A must be a number or an array of real numbers"),
        (np.eye(2), [1.0, 2.0, 3.0], ValueError, r"b must have shape \(2,\) to match A"),
        (np.eye(2), [np.inf, 0.0], ValueError, r"b must be finite"),
    ],
)
def test_quadratic_rejects_bad_arguments(A, b, error, match):
    with pytest.raises(error, match=match):
        quadratic(A, b)
