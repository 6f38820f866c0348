"""Gradients by finite differences, and a check of a hand-written gradient.

Four rules (n is the number of coordinates):

- ``"forward"``: g_i = (f(x + h e_i) - f(x)) / h, n + 1 evaluations, error O(h);
- ``"central"``: g_i = (f(x + h e_i) - f(x - h e_i)) / 2h, 2n evaluations, error O(h^2);
- ``"complex"``: g_i = Im f(x + i h e_i) / h, n evaluations, error O(h^2) with no
  subtractive cancellation, so h can be tiny and the result is exact to rounding; it needs
  a ``fun`` that accepts complex input and is analytic (no ``abs``, ``max`` or ``float()``);
- ``"richardson"``: central differences at shrinking steps h, h/2, h/4, ..., extrapolated
  to h = 0 (Ridders' method), at most 20n evaluations, error typically 1e-11 to 1e-14
  relative, also on badly scaled functions where the fixed central step loses digits.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any

import array_api_compat
import numpy as np

from descend._types import Array, ArrayLike
from descend._validate import closest, float_array, positive

from .richardson import FIRST_STEP_FLOOR, FIRST_STEP_FRACTION, richardson

__all__ = ["METHODS", "check_grad", "is_foreign", "numeric_grad"]

METHODS = ("central", "forward", "complex", "richardson")

_EPS = float(np.finfo(np.float64).eps)

# The step is relative to the coordinate, h_i = c * max(1, |x_i|), so it means the same at
# x = 1e6 as at x = 1, and never shrinks below c near zero.
_RELATIVE_STEP = {
    # Central differences: truncation error O(h^2), rounding error O(eps/h);
    # h ~ eps^(1/3) balances them (total error ~ eps^(2/3), about 4e-11).
    "central": _EPS ** (1 / 3),
    # Forward differences: truncation error O(h), rounding error O(eps/h);
    # h ~ eps^(1/2) balances them (total error ~ eps^(1/2), about 1.5e-8).
    "forward": _EPS ** (1 / 2),
}
# Complex step: nothing is subtracted, so there is no rounding error to balance and the
# truncation error O(h^2) vanishes below eps for any h this small, whatever |x_i| is.
_COMPLEX_STEP = 1e-20


def numeric_grad(
    fun: Callable[..., Any],
    x: ArrayLike,
    *args: Any,
    method: str = "central",
    step: ArrayLike | None = None,
) -> Array:
    r"""Gradient of a scalar function by finite differences.

    With e_i the i-th unit vector and h_i the step for coordinate i:

    .. math::

        \text{central:}\quad g_i = \frac{f(x + h_i e_i) - f(x - h_i e_i)}{2 h_i},
        \qquad h_i = \epsilon^{1/3} \max(1, |x_i|)

        \text{forward:}\quad g_i = \frac{f(x + h_i e_i) - f(x)}{h_i},
        \qquad h_i = \epsilon^{1/2} \max(1, |x_i|)

        \text{complex:}\quad g_i = \frac{\operatorname{Im} f(x + \mathrm{i} h_i e_i)}{h_i},
        \qquad h_i = 10^{-20}

        \text{richardson:}\quad g_i = \lim_{h \to 0} D_i(h), \qquad
        D_i(h) = \frac{f(x + h e_i) - f(x - h e_i)}{2 h},
        \qquad h_0 = \max(|x_i|, 10^{-3}) / 4 \text{ as a power of 2}

    where epsilon is the float64 machine epsilon. For ``"richardson"``, D_i(h) = g_i + c_1
    h^2 + c_2 h^4 + ... at h_0 > h_1 > ... (h_{k+1} = h_k / 2 while successive differences
    agree within 5%, h_k / 4 or h_k / 16 while not) builds the Neville tableau

    .. math::

        T_{k,0} = D_i(h_k), \qquad
        T_{k,j} = T_{k,j-1} + \frac{T_{k,j-1} - T_{k-1,j-1}}{(h_{k-j} / h_k)^2 - 1}

    cancels the h^2, ..., h^{2j} terms. Each entry's error is estimated as
    max(|T_{k,j} - T_{k,j-1}|, |T_{k,j} - T_{k-1,j-1}|), and at least D_i(h_k)'s rounding
    error eps max|f(x +- h_k e_i)| / 2 h_k; the entry with the smallest estimate is returned.
    The rows stop when a new row's estimate is twice the best one while the best is below
    1e-10 relative or at the rounding level (rounding has taken over), or after 10 rows.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)``, returning a real number (a size-1 array is accepted). It receives
        a float64 array of ``x``'s shape (0-d for a scalar ``x``); for ``method="complex"``
        a complex128 array, and it must then return a complex number.
    x : float, list or array
        The point, of any shape; integers are promoted to float64. Never modified. An
        array of another array-API namespace (torch, CuPy, JAX, array-api-strict) is
        differentiated in it and on its device, by central differences with the default
        step only, and the gradient comes back of its type.
    *args
        Extra arguments passed on to ``fun``.
    method : {"central", "forward", "complex", "richardson"}, default "central"
        The difference rule (see above).
    step : float or array, optional
        Overrides h (for ``"richardson"``, the first step h_0): a positive number, or
        positive numbers broadcastable to ``x``'s shape.

    Returns
    -------
    ndarray of float64
        The gradient, with ``x``'s shape (shape ``()`` for a scalar ``x``).

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``step`` is not positive (or so small that x + step == x),
        ``x`` is empty or not finite, or ``fun`` returns more than one number.
    TypeError
        If ``fun`` is not callable or returns something other than a real number (with
        ``method="complex"``: a complex number).

    Notes
    -----
    Conventions. The step is relative, h_i = c max(1, |x_i|) (Richardson's: see above), and
    is rounded to one that can be represented, h_i = (x_i + h_i) - x_i, so that the quotient
    divides by the distance actually taken. This differs from ``scipy.optimize.approx_fprime``,
    whose default is a forward difference with the absolute step sqrt(eps) ~ 1.5e-8.

    ``fun`` is handed the same work array on every call, with one coordinate perturbed; it
    must not modify it or keep a reference to it. The cost is 2n evaluations for central
    differences, n + 1 for forward, n for the complex step, and for Richardson 2 a row, at
    most 10 rows a coordinate: at most 20n, typically 8 to 16 a coordinate.

    Accuracy: central differences give about 10 correct digits on well-scaled smooth
    functions, forward about 7, the complex step all 16, Richardson 11 to 14, and 9 where
    central keeps 5: y in exp(z) x^2 + sin(1000 y) at (1e3, -2e-3, 0.5), where |f| ~ 1.6e6
    swamps short steps. If ``fun`` is noisy (a simulation, single precision inside), pass a
    larger ``step``. Richardson calls ``fun`` up to |x_i| / 4 (2^-12 near zero) from x: steps
    where it is not finite are skipped, numpy's warnings silenced (NaN if none is finite); a
    ``fun`` that raises there, or varies on scales thousands of times shorter than 2^-12
    along a coordinate below 1e-3, needs a ``step`` near that scale.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, ch. 8.

    W. Squire and G. Trapp, "Using complex variables to estimate derivatives of real
    functions", *SIAM Review* 40(1), 110-112, 1998.

    C. J. F. Ridders, "Accurate computation of F'(x) and F'(x) F''(x)", *Advances in
    Engineering Software* 4(2), 75-76, 1982; W. H. Press et al., *Numerical Recipes*, 3rd
    ed., Cambridge University Press, 2007, section 5.7.

    Examples
    --------
    >>> import numpy as np
    >>> from descend.gradients.numeric import numeric_grad
    >>> f = lambda x: x[0] ** 2 + 3 * x[0] * x[1]   # gradient (2 x0 + 3 x1, 3 x0)
    >>> numeric_grad(f, [3, 4])
    array([18., 9.])
    >>> float(numeric_grad(np.sin, 0.0, method="complex"))   # cos(0), exactly
    1.0
    >>> f = lambda x: np.exp(x[2]) * x[0] ** 2 + np.sin(1000 * x[1])
    >>> g = numeric_grad(f, [1e3, -2e-3, 0.5], method="richardson")
    >>> exact = [2e3 * np.exp(0.5), 1e3 * np.cos(-2.0), 1e6 * np.exp(0.5)]
    >>> bool(np.all(np.abs(g / exact - 1) < 1e-8))
    True
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable as fun(x, *args), got {fun!r:.80}")
    method = _check_method(method)
    if not isinstance(x, np.ndarray) and is_foreign(x):
        return _foreign_central(fun, x, args, method, step)
    point = float_array("x", x)
    h = _steps(point, method, step)
    if method == "complex":
        return _complex_step(fun, point, h, args)
    if method == "richardson":
        return richardson(fun, point, h, args, _real_value)
    return _differences(fun, point, h, args, central=method == "central")


def check_grad(
    fun: Callable[..., Any],
    grad: Callable[..., Any],
    x: ArrayLike,
    *args: Any,
    method: str = "richardson",
    step: ArrayLike | None = None,
) -> float:
    r"""Relative error between a gradient function and finite differences of ``fun``.

    .. math::

        r = \frac{\lVert g - \tilde g \rVert}{\max(\lVert g \rVert, \lVert \tilde g \rVert)},
        \qquad g = \text{grad}(x), \quad \tilde g = \text{numeric\_grad}(\text{fun}, x),

    with r = 0 when both are exactly zero. Being relative, r reads the same whatever the
    scale of f: a correct gradient of 1e-12 * sum(x**2) gives a tiny r.

    How to read r (Richardson extrapolation, the default):

    - below ~1e-8: the gradient is correct (typically 1e-11 to 1e-15);
    - 1e-8 to 1e-3: suspicious; correct but nearly non-smooth or noisy, or a small error in
      one term; re-check with ``method="complex"`` (exact: expect ~1e-15);
    - ~1e-2 to 1: wrong, e.g. a missing factor or term in some component;
    - exactly 1: one of the two is zero and the other is not;
    - ~2: the sign is flipped (g = -g~ gives 2).

    With ``method="central"`` expect 1e-9 to 1e-11 for a correct, well-scaled gradient
    (call it correct below ~1e-6), with ``method="forward"`` ~1e-7.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)``, returning a real number.
    grad : callable
        ``grad(x, *args)``, the gradient to check, returning an array of ``x``'s shape.
    x : float, list or array
        The point; promoted to float64 and never modified.
    *args
        Extra arguments passed on to both ``fun`` and ``grad``.
    method, step
        As in :func:`numeric_grad`, but ``method`` defaults to ``"richardson"``.

    Returns
    -------
    float
        The relative error r, in [0, 2].

    Raises
    ------
    ValueError
        As in :func:`numeric_grad`; also if ``grad`` returns the wrong shape or non-finite
        values, or if ``fun`` is not finite near ``x``.
    TypeError
        If ``fun`` or ``grad`` is not callable or returns something other than real numbers.

    Notes
    -----
    Conventions. ``scipy.optimize.check_grad`` returns the absolute error ||g - g~||,
    which depends on the scale of f; this one is relative. Check at a generic point (not at
    zero or a minimum, where both are small and symmetric errors hide), since a correct
    gradient at one point proves little about others.

    Why Richardson by default: at hard scales central differences' own error dominated r,
    1e-6 to 1e-3 for correct gradients (4e-6 on Brown's badly scaled function, 6e-6 for
    sin(x) at x = 1e3, 4e-5 for 1/x at 1e-3, 6e-4 for exp(x / 1e-4) at 1e-4), "suspicious".
    Richardson gives below 1e-11 on all four, for 5 to 10 times the evaluations (at most
    20n); ``method="central"`` takes 2n.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, ch. 8.

    Examples
    --------
    >>> import numpy as np
    >>> from descend.gradients.numeric import check_grad
    >>> f = lambda x: np.sum(np.sin(x))
    >>> check_grad(f, np.cos, [0.3, 1.2]) < 1e-6
    True
    >>> round(check_grad(f, lambda x: -np.cos(x), [0.3, 1.2]), 6)   # sign error
    2.0
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable as fun(x, *args), got {fun!r:.80}")
    if not callable(grad):
        raise TypeError(f"grad must be callable as grad(x, *args), got {grad!r:.80}")
    point = float_array("x", x)
    approx = numeric_grad(fun, point, *args, method=method, step=step)
    exact = _gradient_value(grad(point.copy(), *args), point.shape)
    bad = ~np.isfinite(approx)
    if bad.any():
        raise ValueError(
            f"fun is not finite near x: the numeric gradient is {approx!r:.80} (non-finite at "
            f"flat indices {np.flatnonzero(bad).tolist()[:10]}); check at a point inside "
            f"fun's domain, or pass a smaller step"
        )
    # Divide by the largest entry first, so that squaring in the norms cannot overflow or
    # underflow at extreme scales (1e200 or 1e-200 gradients).
    scale = max(float(np.max(np.abs(exact))), float(np.max(np.abs(approx))))
    if scale == 0.0:
        return 0.0
    exact, approx = exact / scale, approx / scale
    largest = max(float(np.linalg.norm(exact)), float(np.linalg.norm(approx)))
    return float(np.linalg.norm(exact - approx)) / largest


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        hint = closest(method, METHODS) if isinstance(method, str) else ""
        if isinstance(method, str) and method.lower() in ("ridders", "extrapolation"):
            hint = "; did you mean 'richardson' (Ridders' extrapolation)?"
        choices = ", ".join(repr(name) for name in METHODS)
        raise ValueError(f"method must be one of {choices}, got {method!r}{hint}")
    return method


def _steps(x: Array, method: str, step: Any) -> Array:
    """The step h_i for every coordinate, validated before ``fun`` is ever called."""
    if step is None:
        if method == "complex":
            return np.full(x.shape, _COMPLEX_STEP)
        if method == "richardson":
            h = FIRST_STEP_FRACTION * np.maximum(np.abs(x), FIRST_STEP_FLOOR)
            return np.ldexp(1.0, np.round(np.log2(h)).astype(int))
        h = _RELATIVE_STEP[method] * np.maximum(1.0, np.abs(x))
    else:
        h = _user_step(step, x.shape)
    if method == "complex":
        return h
    # Representable step: x + h is rounded, so take h as the distance actually moved;
    # dividing by the nominal h would add an O(eps |x| / h) error to every quotient.
    h = (x + h) - x
    if np.any(h == 0):
        raise ValueError(
            f"step is too small for x: x + step == x in float64 at flat indices "
            f"{np.flatnonzero(h == 0).tolist()[:10]}; use step > {_EPS:.1e} * |x|, "
            f"or omit step for the default scaled to |x|"
        )
    return h


def _user_step(step: Any, shape: tuple[int, ...]) -> Array:
    fix = "; omit step for the default scaled to |x|"
    if isinstance(step, (Real, np.bool_)):  # bools too, so positive() rejects them by name
        return np.full(shape, positive("step", step, fix))
    raw = np.asarray(step)
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"step must be a positive number or array of them, got {step!r:.80}")
    try:
        h = np.broadcast_to(raw.astype(np.float64), shape).copy()
    except ValueError:
        raise ValueError(
            f"step must be a number or an array broadcastable to x's shape {shape}, "
            f"got shape {raw.shape}{fix}"
        ) from None
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"step must be finite and > 0 everywhere, got {step!r:.80}{fix}")
    return h


def _differences(
    fun: Callable[..., Any], x: Array, h: Array, args: tuple[Any, ...], *, central: bool
) -> Array:
    """Forward or central differences, perturbing one coordinate of one work array."""
    work = np.asarray(x, order="C")  # ``x`` is already our own copy; C order makes ``flat`` a view
    flat = work.reshape(-1)
    grad = np.empty(work.size)
    f0 = 0.0 if central else _real_value(fun(work, *args))
    for i, (xi, hi) in enumerate(zip(flat.tolist(), h.reshape(-1).tolist(), strict=True)):
        flat[i] = xi + hi
        f_plus = _real_value(fun(work, *args))
        if central:
            flat[i] = xi - hi
            f_minus = _real_value(fun(work, *args))
            # xi - hi may round; divide by the distance between the two points taken.
            grad[i] = (f_plus - f_minus) / ((xi + hi) - (xi - hi))
        else:
            grad[i] = (f_plus - f0) / hi
        flat[i] = xi
    return grad.reshape(work.shape)


def is_foreign(value: Any) -> bool:
    """Whether ``value`` is an array of another library than NumPy that descend computes
    with in its own namespace (a Dask array is read into NumPy instead)."""
    return (
        not isinstance(value, (np.ndarray, np.generic))
        and array_api_compat.is_array_api_obj(value)
        and not array_api_compat.is_dask_array(value)
    )


def _foreign_central(
    fun: Callable[..., Any], x: Any, args: tuple[Any, ...], method: str, step: Any
) -> Any:
    """Central differences for an x of another namespace, in it and on its device, with
    NumPy's steps and quotients (so float64 input gives NumPy's numbers): no value is read
    back from the device, the 2n values of f stay there until the gradient is stacked."""
    if method != "central" or step is not None:
        raise ValueError(
            f"for x of {type(x).__name__} numeric_grad takes method='central' with its default "
            f"step, got method={method!r}, step={step!r}; for the others pass a NumPy x"
        )
    xp, device = array_api_compat.array_namespace(x), array_api_compat.device(x)
    flat = xp.reshape(x, (-1,))
    # NumPy's step for float64 (the same number); float32's own eps^(1/3) for float32.
    c = float(xp.finfo(x.dtype).eps) ** (1 / 3)
    h = (flat + c * xp.maximum(xp.abs(flat), 1.0)) - flat
    index, zero = xp.arange(flat.shape[0], device=device), xp.zeros_like(h)
    grad = []
    for i in range(flat.shape[0]):
        e = xp.where(index == i, h, zero)
        plus, minus = flat + e, flat - e
        f_plus = fun(xp.reshape(plus, x.shape), *args)
        f_minus = fun(xp.reshape(minus, x.shape), *args)
        quotient = (f_plus - f_minus) / (plus[i] - minus[i])
        grad.append(xp.asarray(quotient, dtype=x.dtype, device=device))
    return xp.reshape(xp.stack(grad), x.shape)


def _complex_step(fun: Callable[..., Any], x: Array, h: Array, args: tuple[Any, ...]) -> Array:
    """Im f(x + i h e_i) / h for every coordinate i."""
    work = np.array(x, dtype=np.complex128, order="C")
    flat = work.reshape(-1)
    grad = np.empty(work.size)
    for i, (xi, hi) in enumerate(zip(x.reshape(-1).tolist(), h.reshape(-1).tolist(), strict=True)):
        flat[i] = complex(xi, hi)
        try:
            value = fun(work, *args)
        except TypeError as error:
            raise TypeError(
                f"fun failed on complex input ({error}); method='complex' needs fun built "
                f"from operations that accept complex numbers (numpy, not math or float()); "
                f"use method='central' otherwise"
            ) from error
        grad[i] = _complex_value(value).imag / hi
        flat[i] = xi
    return grad.reshape(work.shape)


def _scalar_array(value: Any) -> np.ndarray:
    """``value`` as an array holding one number, or an error naming ``fun``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iufc":
        raise TypeError(
            f"fun must return a real number, got {value!r:.80} ({type(value).__name__})"
        )
    if array.size != 1:
        raise ValueError(
            f"fun must return a scalar, got an array of shape {array.shape}; return one "
            f"number (e.g. a sum or mean), or differentiate each output separately"
        )
    return array


def _real_value(value: Any) -> float:
    if isinstance(value, float):  # Python float or np.float64: the common case, kept fast
        return float(value)
    array = _scalar_array(value)
    if array.dtype.kind == "c":
        raise TypeError(
            f"fun must return a real number, got the complex value {value!r:.80}; "
            f"take the real part or a modulus inside fun"
        )
    return float(array.item())


def _complex_value(value: Any) -> complex:
    if isinstance(value, complex):  # Python complex or np.complex128
        return complex(value)
    array = _scalar_array(value)
    if array.dtype.kind != "c":
        raise TypeError(
            f"fun returned the real value {value!r:.80} for complex input, so the imaginary "
            f"part that carries the derivative was lost; method='complex' needs fun to "
            f"propagate complex numbers (no abs, np.real, float() or casts to float); use "
            f"method='central' otherwise"
        )
    return complex(array.item())


def _gradient_value(value: Any, shape: tuple[int, ...]) -> Array:
    """The user's gradient as a float64 array of ``shape``, or an error naming ``grad``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"grad must return an array of real numbers, got {value!r:.80} (dtype {array.dtype})"
        )
    if array.shape != shape:
        raise ValueError(
            f"grad must return an array of x's shape {shape}, got shape {array.shape}; "
            f"reshape it to x's shape"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"grad must return finite values, got {value!r:.80}")
    return array.astype(np.float64)
