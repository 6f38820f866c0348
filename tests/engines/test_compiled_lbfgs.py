"""engine="numba" with L-BFGS, the default method: the compiled two-loop recursion and
strong Wolfe search give the Python engine's run bit for bit (to 1e-12 where exp or log
are NumPy's own): iterates, step lengths, f, status, message and the counts of
evaluations, on its stalls too, and in one parallel call for many starts. Each
(objective, size) pair compiles an L-BFGS loop for about 1.6 s, so the formulas are few
and varied."""

from __future__ import annotations

import numpy as np
import pytest

import descend as dd

numba = pytest.importorskip("numba")
from agreement import agree, exact  # noqa: E402

from descend.engines import _compiled_run  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """A fresh cache folder for the generated modules of this file."""
    folder = tmp_path_factory.mktemp("descend-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DESCEND_CACHE_DIR", str(folder))
        yield folder


def same(fun, x0, **kwargs):
    """Both engines' L-BFGS runs (no method named but with lr: the default), the same bit
    for bit (to 1e-12 where NumPy and the compiled code compute exp or log each their own
    way); the compiled Result."""
    a = dd.minimize(fun, x0, **kwargs)
    b = dd.minimize(fun, x0, engine="numba", **kwargs)
    assert a.method == b.method == "lbfgs"
    assert (b.status, b.message, b.nit) == (a.status, a.message, a.nit)
    assert (b.nfev, b.ngev, b.best_nit) == (a.nfev, a.ngev, a.best_nit)
    bitwise = exact(fun)
    for name in ("x", "fun", "grad", "best_x"):
        agree(getattr(b, name), getattr(a, name), bitwise, name)
    for name in ("f", "grad_norm", "lr", "x"):
        agree(getattr(b.history, name), getattr(a.history, name), bitwise, f"history.{name}")
    return b


@pytest.mark.parametrize(
    ("fun", "x0", "kwargs", "status"),
    [
        ("100*(y - x**2)**2 + (1-x)**2", [-1.2, 1.0], {}, "converged"),
        # Non-smooth at the minimum: searches that bisect and stall at rounding, ...
        ("abs(x - 0.5) + y**2", [2.0, 1.0], {}, "converged"),
        # ... that fail along the memory's direction and succeed along -g, ...
        ("abs(x*y - 1) + 0.1*(x-2)**2", [2.0, 1.5], {}, "converged"),
        # ... or fail along -g too after the retry.
        ("abs(x) + 2*abs(y - 1)", [2.0, 1.5], {}, "stopped"),
        ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2", [1.0, 1.0],
         dict(memory=3), "converged"),  # fewer pairs than updates: the ring turns over
        # Flat to f's rounding with the gradient above gtol: the approximate Wolfe step.
        ("log(1 + exp(x)) - 0.3*x + cosh(y - 2)", [0.0, 0.0], dict(gtol=1e-12), "converged"),
        ("log(1 + exp(x)) - 0.3*x + cosh(y - 2)", [0.0, 0.0], dict(gtol=0), "max_iter"),
        ("-(x-1)**2 - (y+2)**2 - x**4", [3.0, 0.0], dict(maximize=True), "converged"),
        ("100*(y - x**2)**2 + (1-x)**2", [-1.2, 1.0],
         dict(method="lbfgs", lr=dd.schedules.exponential(1.0, 0.99), c1=1e-3, c2=0.5),
         "converged"),
    ],
)  # fmt: skip
def test_formulas(fun, x0, kwargs, status):
    res = same(fun, x0, max_iter=500, **kwargs)
    assert res.status == status


def test_the_zoo_in_20_dimensions_with_the_pairs_in_blas_dot_products():
    # 20 coordinates: the dot products of the two loops go through BLAS's ddot, as NumPy's.
    res = same(dd.functions.rosenbrock, np.full(20, -0.5), max_iter=3000)
    assert res.status == "converged" and res.nit > 100


@numba.njit
def bowl(x):
    return x @ x + 1.0


@numba.njit
def wrong_grad(x):
    return -2 * x  # uphill: no step lowers f, even along "steepest descent"


@numba.njit
def grad(x):
    return 2 * x


def test_its_stalls_end_the_run_as_in_python():
    res = same(bowl, np.array([1.0, -2.0]), grad=wrong_grad)
    assert res.status == "stopped" and "found no lower f" in res.message
    # f = 1 + 5e-18: no step can lower f visibly.
    res = same(bowl, np.array([1e-9, 2e-9]), grad=grad, gtol=0)
    assert res.status == "converged" and "at its minimum to rounding" in res.message
    assert res.nit == 1 and res.history.lr[-1] == 0.0


def test_many_starts_in_one_call(monkeypatch):
    sizes = []
    together = _compiled_run.together
    monkeypatch.setattr(_compiled_run, "together", lambda starts: sizes.append(len(starts))
                        or together(starts))  # fmt: skip
    f = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"
    fast = dd.multistart(f, [(-5, 5), (-5, 5)], n_starts=16, seed=1, engine="numba")
    slow = dd.multistart(f, [(-5, 5), (-5, 5)], n_starts=16, seed=1)
    assert sizes == [16] and len(fast.minima) == 4
    for got, want in zip(fast.results, slow.results, strict=True):
        assert (got.message, got.nfev) == (want.message, want.nfev)
        np.testing.assert_array_equal(got.history.x, want.history.x)


def test_the_loop_calls_the_update_through_its_address_without_linking_its_code():
    # Linked, the update's kernels would be optimised again in each loop's module: a
    # third of a first compile.
    from descend.engines import compiled

    res = dd.minimize("(x - 1)**2 + 2*(y + 1)**4 + x*y", [0.0, 0.0], engine="numba")
    assert res.status == "converged"
    loops = [m.run for m in compiled._LOADED.values() if "_lbfgs_" in m.__name__]
    code = "".join(c.library.get_llvm_str() for loop in loops for c in loop.overloads.values())
    defined = {line.split("@")[1].split("(")[0] for line in code.splitlines()
               if line.startswith("define")}  # fmt: skip
    assert [name for name in defined if "descend_compiled_formula_lbfgs" in name]  # the loop
    for kernel in ("lbfgs_begin", "lbfgs_next", "lbfgs_keep", "wolfe_next", "direction"):
        assert not [name for name in defined if kernel in name]
