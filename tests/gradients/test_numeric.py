"""numeric_grad and check_grad against hand-derived gradients and scipy."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from descend.gradients.numeric import METHODS, check_grad, numeric_grad

RNG = np.random.default_rng(20240601)
_M = RNG.standard_normal((5, 5))
SPD = _M @ _M.T + 5 * np.eye(5)  # symmetric positive definite by construction


def rosenbrock(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


def rosenbrock_grad(x):
    # d/dx0: -400 x0 (x1 - x0^2) - 2 (1 - x0); d/dx1: 200 (x1 - x0^2)
    return np.array(
        [-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]), 200.0 * (x[1] - x[0] ** 2)]
    )


# (name, f, hand-derived gradient, point); every f also accepts complex input.
CASES = [
    ("sum sin", lambda x: np.sum(np.sin(x)), np.cos, np.array([0.3, -1.2, 2.5, 7.0])),
    ("sum exp", lambda x: np.sum(np.exp(x)), np.exp, np.array([-2.0, 0.0, 1.5])),
    ("x'Ax/2", lambda x: 0.5 * x @ SPD @ x, lambda x: SPD @ x, RNG.standard_normal(5)),
    ("rosenbrock", rosenbrock, rosenbrock_grad, np.array([-1.2, 1.0])),
    ("large |x|", lambda x: np.sum(np.log(x)), lambda x: 1.0 / x, np.array([1e3, 5e5, 2e7])),
]

# Relative error bounds well above what each rule achieves on these smooth functions.
TOLERANCE = {"central": 1e-8, "forward": 1e-6, "complex": 1e-14, "richardson": 1e-11}


def relative_error(approx, exact):
    return np.linalg.norm(approx - exact) / np.linalg.norm(exact)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "f", "g", "x"), CASES, ids=[case[0] for case in CASES])
def test_matches_hand_derived_gradient(name, f, g, x, method):
    assert relative_error(numeric_grad(f, x, method=method), g(x)) < TOLERANCE[method]


# Not "large |x|": there h/|x| = 2^-26 exactly and f is a sum of logs, so the forward
# quotient happens to land on 1/x to the last bit.
@pytest.mark.parametrize(("name", "f", "g", "x"), CASES[:4], ids=[case[0] for case in CASES[:4]])
def test_central_is_more_accurate_than_forward(name, f, g, x):
    central = relative_error(numeric_grad(f, x, method="central"), g(x))
    forward = relative_error(numeric_grad(f, x, method="forward"), g(x))
    assert central < forward / 10


@pytest.mark.parametrize(
    ("f", "g"), [(lambda x: np.sum(np.exp(x)), np.exp), (lambda x: np.sum(np.sin(x)), np.cos)]
)
def test_complex_step_is_exact_to_rounding(f, g):
    x = np.linspace(-3.0, 3.0, 13)
    exact = g(x)
    approx = numeric_grad(f, x, method="complex")
    np.testing.assert_allclose(approx, exact, rtol=4e-16, atol=1e-300)


@pytest.mark.parametrize("method", METHODS)
def test_integer_point_is_promoted_not_truncated(method):
    grad = numeric_grad(lambda x: np.sum(x**2), [3, 4], method=method)
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "x", [0.5, np.float64(0.5), np.array(0.5)], ids=["float", "np.float64", "0-d"]
)
def test_scalar_point_gives_scalar_shaped_gradient(x, method):
    seen = []

    def f(t):
        seen.append(np.shape(t))
        return np.sin(t)

    grad = numeric_grad(f, x, method=method)
    assert grad.shape == ()
    assert set(seen) == {()}
    assert float(grad) == pytest.approx(np.cos(0.5), rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_matrix_point_keeps_its_shape(method, order):
    x = np.asarray(RNG.standard_normal((2, 3)), order=order)

    def f(t):
        assert t.shape == (2, 3)
        return np.sum(t**3) + t[0, 2] * t[1, 0]

    expected = 3 * x**2
    expected[0, 2] += x[1, 0]
    expected[1, 0] += x[0, 2]
    grad = numeric_grad(f, x, method=method)
    assert grad.shape == (2, 3)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_extra_args_reach_fun(method):
    b = np.array([1.0, -2.0, 0.5])

    def f(x, a, b):
        return a * np.sum(x**2) + b @ x

    x = np.array([0.2, 0.4, -1.0])
    np.testing.assert_allclose(numeric_grad(f, x, 3.0, b, method=method), 6.0 * x + b, rtol=1e-6)
    assert check_grad(f, lambda x, a, b: 2 * a * x + b, x, 3.0, b, method=method) < 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_input_is_not_modified(method):
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    numeric_grad(lambda t: np.sum(t**2), x, method=method)
    check_grad(lambda t: np.sum(t**2), lambda t: 2 * t, x, method=method)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(("method", "calls"), [("central", 8), ("forward", 5), ("complex", 4)])
def test_evaluation_count(method, calls):
    count = 0

    def f(x):
        nonlocal count
        count += 1
        return np.sum(x**2)

    numeric_grad(f, np.ones(4), method=method)
    assert count == calls


def test_each_call_perturbs_one_coordinate_only():
    x = np.array([1.0, 2.0, 3.0])

    def f(t):
        # Earlier perturbations must be restored exactly before the next one.
        assert np.count_nonzero(t != x) <= 1
        return np.sum(t**2)

    numeric_grad(f, x)
    numeric_grad(f, x, method="forward")


def test_user_step_scalar_and_array():
    f, x = lambda t: np.sum(t**3), np.array([1.0, 2.0])
    # Central difference of x^3 is exact up to h^2: (x+h)^3 - (x-h)^3 = 6x^2 h + 2h^3.
    np.testing.assert_allclose(numeric_grad(f, x, step=0.1), 3 * x**2 + 0.01, rtol=1e-10)
    np.testing.assert_allclose(
        numeric_grad(f, x, step=[0.1, 0.2]), 3 * x**2 + np.array([0.01, 0.04]), rtol=1e-10
    )
    # Forward difference: ((x+h)^3 - x^3)/h = 3x^2 + 3xh + h^2.
    np.testing.assert_allclose(
        numeric_grad(f, x, method="forward", step=0.1), 3 * x**2 + 0.3 * x + 0.01, rtol=1e-10
    )


@pytest.mark.parametrize("method", ["central", "forward"])
def test_agrees_with_scipy_approx_fprime(method):
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.uniform(-2.0, 2.0, size=4)
        ours = numeric_grad(rosenbrock, x, method=method)
        theirs = approx_fprime(x, rosenbrock)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_forward_with_scipy_step_matches_scipy_closely():
    rng = np.random.default_rng(8)
    epsilon = np.sqrt(np.finfo(float).eps)
    for _ in range(20):
        x = rng.uniform(-2.0, 2.0, size=4)
        ours = numeric_grad(rosenbrock, x, method="forward", step=epsilon)
        np.testing.assert_allclose(ours, approx_fprime(x, rosenbrock, epsilon), rtol=1e-12)


# check_grad --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "f", "g", "x"), CASES, ids=[case[0] for case in CASES])
def test_check_grad_small_for_correct_gradient(name, f, g, x, method):
    assert check_grad(f, g, x, method=method) < {**TOLERANCE, "complex": 1e-13}[method]


@pytest.mark.parametrize(("name", "f", "g", "x"), CASES, ids=[case[0] for case in CASES])
def test_check_grad_two_for_sign_flip(name, f, g, x):
    assert check_grad(f, lambda t: -g(t), x) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        (lambda x: 2 * np.cos(x), 0.5),  # twice too large: ||2g - g|| / ||2g||
        (lambda x: np.zeros_like(x), 1.0),  # one side zero
    ],
)
def test_check_grad_reads_as_documented(wrong, expected):
    x = np.array([0.3, 1.2])
    assert check_grad(lambda t: np.sum(np.sin(t)), wrong, x) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("scale", [1e-12, 1e12])
def test_check_grad_is_scale_free(scale):
    x = np.array([0.7, -1.3, 2.0])
    f = lambda t: scale * np.sum(t**2)  # noqa: E731
    assert check_grad(f, lambda t: 2 * scale * t, x) < 1e-8
    assert check_grad(f, lambda t: -2 * scale * t, x) == pytest.approx(2.0, abs=1e-6)


def test_check_grad_zero_when_both_zero():
    assert check_grad(lambda t: 5.0, lambda t: np.zeros(2), [1.0, 2.0]) == 0.0


def test_check_grad_integer_point():
    assert check_grad(lambda t: np.sum(t**2), lambda t: 2 * t, [3, 4]) < 1e-8


# Richardson extrapolation ------------------------------------------------------------------


def issue_f(x):
    # The issue's badly scaled case: x ~ 1e3, y varies on a scale of 1e-3, |f| ~ 1.6e6.
    return np.exp(x[2]) * x[0] ** 2 + np.sin(1000 * x[1])


def issue_grad(x):
    return np.array([2 * np.exp(x[2]) * x[0], 1000 * np.cos(1000 * x[1]), np.exp(x[2]) * x[0] ** 2])


ISSUE_X = np.array([1e3, -2e-3, 0.5])


def brown_badly_scaled(x):  # Moré, Garbow and Hillstrom's problem 4: f ~ 1e12 at (1, 1)
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2


def brown_badly_scaled_grad(x):
    r = x[0] * x[1] - 2
    return np.array([2 * (x[0] - 1e6) + 2 * x[1] * r, 2 * (x[1] - 2e-6) + 2 * x[0] * r])


# Badly scaled cases. Central differences' relative error, measured, in order: 1.5e-9 (6e-6
# in y), 4.4e-6, 4.0e-3, 6.1e-6, 3.6e-5, 6.1e-4; Richardson's: 5e-13 or less.
HARD = [
    ("issue", issue_f, issue_grad, ISSUE_X),
    ("brown badly scaled", brown_badly_scaled, brown_badly_scaled_grad, np.array([1.0, 1.0])),
    ("sin at 1e3", lambda x: np.sum(np.sin(x)), np.cos, np.array([1e3, 3e4])),
    (
        "sin(1000 x) at 0",
        lambda x: np.sin(1000 * x[0]) + x[1] ** 2,
        lambda x: np.array([1000 * np.cos(1000 * x[0]), 2 * x[1]]),
        np.array([0.0, 1.0]),
    ),
    ("1/x at 1e-3", lambda x: np.sum(1 / x), lambda x: -1 / x**2, np.array([1e-3, 3e-3])),
    (
        "exp(x / 1e-4)",
        lambda x: np.sum(np.exp(x / 1e-4)),
        lambda x: np.exp(x / 1e-4) / 1e-4,
        np.array([1e-4, -2e-4]),
    ),
]
HARD_IDS = [case[0] for case in HARD]


def worst_component(approx, exact):
    return float(np.max(np.abs(approx - exact) / np.abs(exact)))


def counting(f):
    calls = []

    def counted(x, *args):
        calls.append(1)
        return f(x, *args)

    return counted, calls


def test_richardson_on_the_issues_case_is_accurate_in_every_component():
    exact = issue_grad(ISSUE_X)
    assert worst_component(numeric_grad(issue_f, ISSUE_X, method="richardson"), exact) < 1e-8
    # Central differences: y's truncation error (1000 h)^2 / 6 at h = 6e-6 is 6e-6; a
    # step long enough to shrink it would let |f| ~ 1.6e6 swamp the difference.
    assert worst_component(numeric_grad(issue_f, ISSUE_X), exact) > 1e-7


@pytest.mark.parametrize(("name", "f", "g", "x"), HARD, ids=HARD_IDS)
def test_richardson_beats_central_on_hard_cases(name, f, g, x):
    exact = g(x)
    richardson = relative_error(numeric_grad(f, x, method="richardson"), exact)
    assert richardson < 1e-9
    assert richardson < relative_error(numeric_grad(f, x), exact) / 100


@pytest.mark.parametrize("degree", range(1, 10))
def test_richardson_is_exact_to_rounding_on_polynomials(degree):
    # D(h) - p' is a polynomial in h^2 of degree (degree - 1) // 2, which the tableau
    # cancels exactly: what is left is rounding, measured against the size of p's terms
    # over the steps, sum |c_k| max(1, |x|)^k / max(1, |x|) (measured: below 2e-12).
    c = np.random.default_rng(degree).standard_normal(degree + 1)
    for x in (-1.3, 0.0, 0.7, 2.0, 15.0, -300.0):
        exact = np.polyval(np.polyder(c), x)
        size = np.polyval(np.abs(c), max(1.0, abs(x))) / max(1.0, abs(x))
        richardson = numeric_grad(lambda t: np.polyval(c, t), x, method="richardson")
        assert abs(richardson - exact) <= 1e-11 * size


def test_richardson_is_exact_on_a_cubic_from_one_extrapolation():
    # D(h) = 3 x^2 + h^2 exactly, so T[1][1] = (4 D(h/2) - D(h)) / 3 = 3 x^2, for any step.
    x = np.array([1.0, -2.0, 3.5])
    for step in (None, 0.5, 3.0):
        approx = numeric_grad(lambda t: np.sum(t**3), x, method="richardson", step=step)
        np.testing.assert_allclose(approx, 3 * x**2, rtol=4e-16)


@pytest.mark.parametrize("scale", [1e-8, 1e-4, 1.0, 1e4, 1e8])
def test_richardson_at_argument_scales(scale):
    x = scale * np.array([0.7, -1.3, 0.4])
    f = lambda t: np.sum(np.exp(t / scale) + np.sin(3 * t / scale))  # noqa: E731
    exact = (np.exp(x / scale) + 3 * np.cos(3 * x / scale)) / scale
    assert worst_component(numeric_grad(f, x, method="richardson"), exact) < 1e-10


@pytest.mark.parametrize("scale", [1e-8, 1e-4, 1.0, 1e4, 1e8])
def test_richardson_at_value_scales(scale):
    x = np.array([0.7, -1.3, 0.4])
    f = lambda t: scale * np.sum(np.exp(t) + np.sin(3 * t))  # noqa: E731
    exact = scale * (np.exp(x) + 3 * np.cos(3 * x))
    assert worst_component(numeric_grad(f, x, method="richardson"), exact) < 1e-10


def test_richardson_with_scales_from_1e_minus_8_to_1e8_in_one_function():
    scales = np.array([1e-8, 1e-4, 1.0, 1e4, 1e8])
    x = scales * np.array([0.7, -1.3, 0.4, 1.1, -0.6])
    f = lambda t: np.sum(np.exp(t / scales) + np.sin(3 * t / scales))  # noqa: E731
    exact = (np.exp(x / scales) + 3 * np.cos(3 * x / scales)) / scales
    assert worst_component(numeric_grad(f, x, method="richardson"), exact) < 1e-9
    assert worst_component(numeric_grad(f, x), exact) > 1e-3  # the 1e-4 coordinate: 6e-3


def test_richardson_needs_no_complex_input():
    def f(x):  # math fails on complex input; abs is smooth away from zero
        x0, x1 = x.tolist()
        return math.exp(x0) * abs(x1) + math.sin(x0 * x1)

    x = np.array([0.3, -1.7])
    exact = [
        math.exp(0.3) * 1.7 + math.cos(-0.51) * -1.7,
        -math.exp(0.3) + math.cos(-0.51) * 0.3,
    ]
    with pytest.raises(TypeError, match=r"fun failed on complex input"):
        numeric_grad(f, x, method="complex")
    np.testing.assert_allclose(numeric_grad(f, x, method="richardson"), exact, rtol=1e-12)


def test_richardson_perturbs_one_coordinate_and_restores_it():
    x = np.array([[1.0, 2.0], [3.0, -4.0]])
    points = []

    def f(t):
        assert np.count_nonzero(t != x) == 1
        points.append(t.copy())
        return np.sum(np.sin(t))

    numeric_grad(f, x, method="richardson")
    # The first two points of each coordinate are x +- h0, h0 = |x_i| / 4 as a power of 2.
    assert points[0][0, 0] == 1.25 and points[1][0, 0] == 0.75


def test_richardson_user_step_is_the_first_step():
    seen = []

    def f(t):
        seen.append(float(t[0]))
        return np.sum(np.exp(t))

    numeric_grad(f, [1.0, 2.0], method="richardson", step=0.25)
    assert seen[:2] == [1.25, 0.75]


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda t: np.sum(t**2), np.ones(4)),
        (lambda t: np.sum(np.sin(t)), np.array([0.3, -1.2, 2.5, 7.0])),
        (lambda t: np.sum(np.exp(t / 1e-8)), np.array([0.7e-8, -1.3e-8])),
        (lambda t: np.nan, np.ones(3)),
        *[(f, x) for _, f, _, x in HARD],
    ],
)
def test_richardson_evaluation_count_is_bounded(f, x):
    counted, calls = counting(f)
    numeric_grad(counted, x, method="richardson")
    assert len(calls) <= 20 * x.size  # 2 a row, at most 10 rows a coordinate


def test_richardson_evaluation_counts():
    counted, calls = counting(lambda t: np.sum(t**2))
    numeric_grad(counted, np.ones(4), method="richardson")
    # Exact differences: the error is rounding's, which doubles a row; it stops in 4 rows.
    assert len(calls) <= 8 * 4
    counted, calls = counting(lambda t: np.nan)
    assert np.isnan(numeric_grad(counted, np.ones(2), method="richardson")).all()
    assert len(calls) == 40  # never finite: every row is spent, and NaN comes back


def test_richardson_skips_steps_outside_the_domain_quietly():
    x = np.array([1e-4, 2e-4])  # the first step, 2^-12 ~ 2.4e-4, reaches log's pole
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        approx = numeric_grad(lambda t: np.sum(np.log(t)), x, method="richardson")
    np.testing.assert_allclose(approx, 1 / x, rtol=1e-10)


def test_check_grad_defaults_to_richardson():
    assert inspect.signature(check_grad).parameters["method"].default == "richardson"
    f, g, x = HARD[0][1:]
    assert check_grad(f, g, x) == check_grad(f, g, x, method="richardson")


@pytest.mark.parametrize(("name", "f", "g", "x"), HARD, ids=HARD_IDS)
def test_check_grad_default_is_tiny_on_hard_correct_gradients(name, f, g, x):
    assert check_grad(f, g, x) <= 1e-9
    if name != "issue":  # there y's error is diluted by the z component, 1.6e6
        assert check_grad(f, g, x, method="central") > 1e-7


@pytest.mark.parametrize(("name", "f", "g", "x"), HARD, ids=HARD_IDS)
def test_check_grad_default_flags_a_wrong_gradient_on_hard_cases(name, f, g, x):
    def wrong(t):  # a factor 2 missing in the component that weighs most
        value = np.array(g(t), dtype=float)
        value[np.argmax(np.abs(value))] /= 2
        return value

    assert check_grad(f, wrong, x) >= 1e-2


def test_check_grad_default_flags_the_issues_missing_exp():
    def wrong(x):  # d/dz written as x^2, the exp(z) forgotten
        return np.array([2 * np.exp(x[2]) * x[0], 1000 * np.cos(1000 * x[1]), x[0] ** 2])

    assert check_grad(issue_f, wrong, ISSUE_X) >= 1e-2


# Random smooth compositions: each coordinate x_i = s_i u_i has its own scale s_i (1e-3 to
# 1e8) and f varies along it on s_i / 30 to 10 s_i. Below 1e-3 the first step, 2^-12, may be
# far longer than the scale (see numeric_grad's notes); the scale tests above cover 1e-8.
_TERM = st.one_of(
    st.tuples(st.just("exp"), st.floats(-3, 3)),
    st.tuples(st.just("sin"), st.floats(-1, 1.5).map(lambda e: 10**e)),
    st.tuples(st.just("poly"), st.lists(st.floats(-2, 2), min_size=2, max_size=7)),
    st.tuples(st.just("exp*sin"), st.floats(-3, 3), st.floats(-1, 1.5).map(lambda e: 10**e)),
)


@st.composite
def smooth_compositions(draw):
    """(scales, u, terms): x = scales * u, f = sum of 10^a * term(x_i / s_i, x_j / s_j)."""
    n = draw(st.integers(1, 4))
    scales = draw(st.lists(st.floats(-3, 8).map(lambda e: 10**e), min_size=n, max_size=n))
    u = draw(st.lists(st.floats(0.1, 2) | st.floats(-2, -0.1), min_size=n, max_size=n))
    index = st.integers(0, n - 1)
    terms = draw(st.lists(st.tuples(index, index, st.floats(-4, 4), _TERM), min_size=1, max_size=3))
    return np.array(scales), np.array(u), terms


def composition(scales, terms):
    def f(x):  # numpy only, so that the complex step can give the exact gradient
        z = x / scales
        total = 0.0
        for i, j, log_amplitude, (kind, *p) in terms:
            if kind == "exp":
                term = np.exp(p[0] * z[i])
            elif kind == "sin":
                term = np.sin(p[0] * z[i])
            elif kind == "poly":
                term = np.polyval(p[0], z[i])
            else:
                term = np.exp(p[0] * z[i]) * np.sin(p[1] * z[j])
            total = total + 10.0**log_amplitude * term
        return total

    return f


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smooth_compositions())
def test_richardson_is_accurate_or_better_than_central_on_random_compositions(case):
    scales, u, terms = case
    f, x = composition(scales, terms), scales * u
    exact = numeric_grad(f, x, method="complex")  # exact to rounding for analytic f
    assume(np.all(np.isfinite(exact)))
    # f must change by 1e-6 of itself over the shortest scale: below that, rounding
    # (eps |f| / h in every component) swamps the gradient for every rule, and which rule
    # wins is luck.
    assume(np.linalg.norm(exact) * scales.min() > 1e-6 * abs(f(x)))
    richardson = relative_error(numeric_grad(f, x, method="richardson"), exact)
    central = relative_error(numeric_grad(f, x), exact)
    assert richardson <= 1e-7 or richardson <= central


# Bad inputs --------------------------------------------------------------------------------

SQUARES = lambda x: np.sum(x**2)  # noqa: E731


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"method": "centre"},
            ValueError,
            r"method must be one of .*'central'.*did you mean 'central'",
        ),
        (
            {"method": "backward"},
            ValueError,
            r"method must be one of 'central', 'forward', 'complex'",
        ),
        ({"method": "richardsen"}, ValueError, r"got 'richardsen'; did you mean 'richardson'\?"),
        ({"method": "ridders"}, ValueError, r"did you mean 'richardson' \(Ridders' extrapolation"),
        ({"method": "richardson", "step": 0.0}, ValueError, r"step must be a finite number > 0"),
        ({"method": "richardson", "step": [1.0, -1.0]}, ValueError, r"finite and > 0 everywhere"),
        ({"method": "richardson", "step": 1e-30}, ValueError, r"step is too small for x"),
        ({"method": None}, ValueError, r"method must be one of"),
        ({"step": 0.0}, ValueError, r"step must be a finite number > 0, got 0.0"),
        ({"step": -1e-3}, ValueError, r"step must be a finite number > 0, got -0.001"),
        ({"step": float("nan")}, ValueError, r"step must be a finite number > 0"),
        ({"step": True}, TypeError, r"step must be a real number"),
        ({"step": "small"}, TypeError, r"step must be a positive number"),
        ({"step": [1e-3, 0.0]}, ValueError, r"step must be finite and > 0 everywhere"),
        (
            {"step": [1e-3, 1e-3, 1e-3]},
            ValueError,
            r"step must be .*broadcastable to x's shape \(2,\)",
        ),
        ({"step": 1e-30}, ValueError, r"step is too small for x"),
    ],
)
def test_bad_options_raise_before_any_evaluation(kwargs, error, match):
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x**2)

    with pytest.raises(error, match=match):
        numeric_grad(f, [1.0, 2.0], **kwargs)
    with pytest.raises(error, match=match):
        check_grad(f, lambda x: 2 * x, [1.0, 2.0], **kwargs)
    assert calls == []


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        ([1.0, np.nan], ValueError, r"x must be finite"),
        ([], ValueError, r"x must not be empty"),
        ("abc", TypeError, r"x must be a number or an array of real numbers"),
        ([[1.0], [1.0, 2.0]], TypeError, r"x must be a number or a rectangular array"),
    ],
)
def test_bad_point_raises(x, error, match):
    with pytest.raises(error, match=match):
        numeric_grad(SQUARES, x)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("fun", "error", "match"),
    [
        (lambda x: x**2, ValueError, r"fun must return a scalar, got an array of shape \(3,\)"),
        (lambda x: "abc", TypeError, r"fun must return a real number, got 'abc'"),
        (lambda x: None, TypeError, r"fun must return a real number, got None"),
        ("not callable", TypeError, r"fun must be callable"),
    ],
)
def test_bad_fun_raises_naming_fun(fun, error, match, method):
    with pytest.raises(error, match=match):
        numeric_grad(fun, [1.0, 2.0, 3.0], method=method)


def test_size_one_array_from_fun_is_accepted():
    grad = numeric_grad(lambda x: np.array([[np.sum(x**2)]]), [1.0, 2.0])
    np.testing.assert_allclose(grad, [2.0, 4.0], rtol=1e-8)


def test_complex_value_from_real_method_raises():
    with pytest.raises(TypeError, match=r"fun must return a real number, got the complex value"):
        numeric_grad(lambda x: np.sum(x) + 1j, [1.0, 2.0])


@pytest.mark.parametrize(
    ("fun", "match"),
    [
        (lambda x: np.sum(np.abs(x)), r"fun returned the real value .* for complex input"),
        (lambda x: np.sum(x.real**2), r"fun returned the real value .* for complex input"),
        (lambda x: math.exp(x.tolist()[0]), r"fun failed on complex input"),
    ],
)
def test_complex_step_needs_complex_fun(fun, match):
    with pytest.raises(TypeError, match=match):
        numeric_grad(fun, [1.0, 2.0], method="complex")


@pytest.mark.parametrize(
    ("grad", "error", "match"),
    [
        (
            lambda x: 2 * x[:1],
            ValueError,
            r"grad must return an array of x's shape \(2,\), got shape \(1,\)",
        ),
        (lambda x: "abc", TypeError, r"grad must return an array of real numbers"),
        (lambda x: np.array([np.nan, 1.0]), ValueError, r"grad must return finite values"),
        (None, TypeError, r"grad must be callable"),
    ],
)
def test_check_grad_bad_grad_raises(grad, error, match):
    with pytest.raises(error, match=match):
        check_grad(SQUARES, grad, [1.0, 2.0])


def test_check_grad_fun_not_finite_near_x():
    with pytest.raises(ValueError, match=r"fun is not finite near x"):
        check_grad(lambda x: np.sum(np.sqrt(x)) if x[0] > 0 else np.inf, lambda x: x, [0.0, 1.0])
