"""The objective's part of a compiled run's module: ``value_and_grad(x, g, params) -> f``,
writing the gradient into ``g``; ``value_at(x, params, scratch) -> f`` for a line search's
trial points; and ``run_params``, the ``params`` of one run of ``run_many``. For

- a parsed formula: a call of its own compiled function, which is ``params`` (a
  first-class function: :func:`formula_calls`), so that one loop serves every formula of
  its size. Its module is the very NumPy code that :class:`descend.Formula` evaluates
  (SymPy's ``lambdify`` source of the value, and of the gradient with common
  subexpressions shared, squares written as products), rewritten for Numba by
  :mod:`descend.engines._compiled_formula`;
- a test function of :mod:`descend.functions`: its kernel in
  :mod:`descend.engines._compiled_zoo`, inlined into the loop;
- the user's own ``numba.njit`` functions ``fun(x)`` and ``grad(x)``.

Each sets the module's ``SIZE``. Nothing here imports Numba; the source names it.
"""

from __future__ import annotations

from ._dot_tail import BLOCK

__all__ = ["ZOO_CARRIED", "ZOO_SCRATCH", "formula_calls", "user_source", "zoo_source"]

# The test functions' scratch vectors, each ``n - k`` long for these k, after the arrays
# they carry (the quadratic's A and b).
ZOO_SCRATCH = {"rosenbrock": (1, 1), "rastrigin": (0,), "quadratic": (0,)}
ZOO_CARRIED = {"quadratic": 2}
# The n-D test functions with a kernel of their own for two coordinates (name_2d).
ZOO_2D = ("rosenbrock",)


def _run_params(name: str) -> str:
    """``run_params(params, scratch, r)``: the ``params`` of run ``r`` of ``run_many``, the
    carried arrays shared and one row of each scratch stack (those the runs share)."""
    carried = [f"params[{i}]" for i in range(ZOO_CARRIED.get(name, 0))]
    rows = [f"scratch[{i}][r]" for i in range(len(ZOO_SCRATCH.get(name, ())))]
    value = f"({', '.join(carried + rows)},)" if rows else "params"
    return f"\n\n@njit(**_INLINE)\ndef run_params(params, scratch, r):\n    return {value}\n"


def formula_calls(size: int) -> str:
    """``value_and_grad`` of any formula of ``size`` variables: a call of the formula's own
    compiled function, which ``params`` is, through its address (see
    :mod:`descend.engines._compiled_formula`)."""
    return f"SIZE = {size}\n" + _FORMULA_CALLS + _run_params("formula")


_FORMULA_CALLS = """
@njit(**_INLINE)
def value_and_grad(x, g, params):
    return params(data(x), data(g), True)


@njit(**_INLINE)
def value_at(x, params, scratch):
    return params(data(x), data(scratch), False)
"""


def zoo_source(name: str, size: int) -> str:
    """``value_and_grad`` of the test function ``name`` at ``size`` coordinates: its
    compiled kernel. Below a block of BLAS the module is made for that size, so that the
    loop's own loops and dots are written out (a module for each such size); above it, one
    module serves every size."""
    kernel = f"{name}_2d" if size == 2 and name in ZOO_2D else name
    part = f"from descend.engines._compiled_zoo import {kernel} as value_and_grad\n"
    return part + _size(size) + ZOO_VALUE + _run_params(name)


def _size(size: int) -> str:
    """The module's SIZE: ``size`` below a block of BLAS, else 0 (any size)."""
    return f"SIZE = {size if size < BLOCK else 0}\n"


# f alone at a line search's trial points (``scratch`` takes the gradient where the
# kernel computes one anyway).
ZOO_VALUE = """
@njit(**_INLINE)
def value_at(x, params, scratch):
    return value_and_grad(x, scratch, params)
"""


def user_source(size: int) -> str:
    """``value_and_grad`` of the user's ``numba.njit`` functions at ``size`` coordinates
    (made for that size below a block of BLAS, as :func:`zoo_source`)."""
    return _size(size) + _USER


_USER = """

@njit(**_INLINE)
def value_and_grad(x, g, params):
    f = user_fun(x)
    gradient = user_grad(x)
    for i in range(x.size):
        g[i] = gradient[i]
    return f


@njit(**_INLINE)
def value_at(x, params, scratch):
    return user_fun(x)


@njit(**_INLINE)
def run_params(params, scratch, r):
    return params
"""
