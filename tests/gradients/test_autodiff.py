"""grad=None differentiates exactly where autograd (or JAX) can trace the function."""

import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from descend.functions import ZOO

import descend as dd
from descend.gradients.objective import _directional_mismatch


def test_autograd_numpy_function_gets_an_exact_gradient_without_warning():
    def fun(x):
        return anp.sum(anp.exp(x) - x)  # minimum at 0, gradient exp(x) - 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dd.minimize(fun, [1.0, -0.5], lr=0.5)
    assert res.status == "converged"
    np.testing.assert_allclose(res.x, 0.0, atol=1e-8)
    assert res.nfev == res.ngev + 3  # the check at x0 and the traced one; no differences


def test_plain_numpy_operators_are_traced_too():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dd.minimize(lambda x: (x[0] - 1) ** 2 + 3 * np.sin(x[1]) ** 2, [3.0, 0.5], lr=0.1)
    np.testing.assert_allclose(res.x, [1.0, 0.0], atol=1e-8)


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "booth", "himmelblau", "rastrigin"])
def test_three_gradients_agree_on_the_zoo(name):
    # analytic (the zoo's .grad), automatic (autograd through the same formula for f),
    # numeric (central differences), at random points of each plotting window.
    f = ZOO[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    (lo, hi), (lo2, hi2) = f.bounds
    for _ in range(5):
        x = rng.uniform([lo, lo2], [hi, hi2])
        analytic = f.grad(x)
        automatic = dd.minimize(f._value, x, grad="autograd", max_iter=0).grad
        numeric = dd.numeric_grad(f, x)
        scale = max(1.0, np.abs(analytic).max())
        np.testing.assert_allclose(automatic, analytic, rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(numeric, analytic, rtol=1e-6, atol=1e-6 * scale)


def test_the_zoo_and_formulas_bring_their_own_gradient():
    f = ZOO["rosenbrock"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dd.minimize(f, f.x0, "bb")
    # BB's search evaluates f and the gradient together, and the loop reuses the pair.
    assert res.status == "converged" and res.nfev >= res.ngev


def test_forcing_autograd_on_an_untraceable_function_fails_clearly():
    with pytest.raises(ValueError, match=r"grad='autograd' cannot differentiate fun: TypeError"):
        dd.minimize(lambda x: float(x[0]) ** 2, [1.0, 2.0], grad="autograd")


def test_a_failed_trace_counts_the_calls_it_made():
    # float() stops autograd's trace at its first call; the run then differences numerically.
    calls = [0]

    def fun(x):
        calls[0] += 1
        return float(x[0]) ** 2 + float(x[1]) ** 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = dd.minimize(fun, [1.0, 2.0], method="gd", max_iter=5)
    assert res.nfev == calls[0]
    assert res.ngev == res.nit + 1  # numeric gradients; the failed trace computed none


def test_the_trace_check_catches_a_wrong_gradient():
    def fun(x):
        return float(np.sum(x**2))

    x = np.array([0.3, -0.7])
    assert _directional_mismatch(fun, x, fun(x), 2 * x) == ""
    assert "disagrees with finite differences" in _directional_mismatch(fun, x, fun(x), -2 * x)


def test_jax_is_used_when_the_program_uses_it():
    jax = pytest.importorskip("jax", reason="JAX is optional and not installed here")
    jnp = jax.numpy
    res = dd.minimize(lambda x: jnp.sum((x - 2.0) ** 2), [0.0, 1.0], grad="jax", lr=0.25)
    np.testing.assert_allclose(res.x, [2.0, 2.0], atol=1e-6)
