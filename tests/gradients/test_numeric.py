"""numeric_grad and check_grad against hand-derived gradients and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
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
TOLERANCE = {"central": 1e-8, "forward": 1e-6, "complex": 1e-14}


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
