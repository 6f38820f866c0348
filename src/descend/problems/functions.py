"""Classic test functions with known minima, exact gradients and plotting windows.

Each function is an instance of :class:`TestFunction`: call it for the value, use
``.grad(x)`` for the analytic gradient, and read its metadata: ``minima`` (every global
minimiser, to full double precision), ``fmin``, a customary start ``x0`` and a plotting
window ``bounds``.

>>> import numpy as np
>>> from descend.functions import himmelblau
>>> float(himmelblau([3.0, 2.0])), himmelblau.grad([3.0, 2.0])
(0.0, array([0., 0.]))
>>> X, Y = np.meshgrid(np.linspace(-5, 5, 101), np.linspace(-5, 5, 81))
>>> himmelblau(np.stack([X, Y])).shape, himmelblau.grad(np.stack([X, Y])).shape
((81, 101), (2, 81, 101))

Conventions
-----------
Evaluation is vectorised over trailing axes: ``x`` has shape ``(n, ...)``, the first axis
indexing coordinates, so ``f(np.stack([X, Y]))`` evaluates a whole ``meshgrid`` at once
and ``f.grad`` returns shape ``(n, ...)``. A 1-D ``x`` gives a scalar and a 1-D gradient.
Complex inputs are evaluated in complex arithmetic (every function here is analytic),
so complex-step differentiation works. Far from the minimum the values may overflow to
``inf`` (or ``nan`` in the gradient), with NumPy's usual warnings: a per-call
``np.errstate`` would cost more than the arithmetic on a 2-vector, so callers that expect
it (the optimisation loop, plots of wide grids) wrap their own loop in one.
A 1-D ``x``, the case ``minimize`` uses, takes the same formulas with sums written as dot
products (one BLAS call each) and squares as products: a NumPy scalar's ``**2`` calls the
C library's pow, slower and now and then a last bit off the square a grid computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend._types import Array, ArrayLike
from descend._validate import float_array

__all__ = [
    "ZOO",
    "TestFunction",
    "beale",
    "booth",
    "himmelblau",
    "quadratic",
    "rastrigin",
    "rosenbrock",
]

Bounds = tuple[tuple[float, float], ...]


def _frozen(values: ArrayLike) -> Array:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)  # the zoo is shared module state; nobody may edit it
    return array


class TestFunction:
    """A test function: value, exact gradient, known minima, a start and a window.

    Subclasses define ``_value(x)`` and ``_grad(x)`` for ``x`` of shape ``(n, ...)``;
    this class checks the input and keeps the metadata.

    Attributes
    ----------
    name : str
        Short name, the key in :data:`ZOO`.
    formula : str
        The function in plain text, for listings and plots.
    minima : list of ndarray
        Every global minimiser (read-only float arrays).
    fmin : float
        The minimum value.
    x0 : ndarray
        A customary starting point (read-only).
    bounds : tuple of (float, float)
        A plotting window ``((xmin, xmax), (ymin, ymax), ...)``, one pair per coordinate.
    dim : int or None
        The number of coordinates, or ``None`` when any ``n >= min_dim`` works (the
        metadata then describes ``n = 2``).

    Examples
    --------
    A new test function is a subclass with the value and gradient side by side:

    >>> class Sphere(TestFunction):
    ...     def _value(self, x):
    ...         return np.sum(x**2, axis=0)
    ...     def _grad(self, x):
    ...         return 2 * x
    >>> sphere = Sphere("sphere", "sum x[i]^2", minima=[[0.0, 0.0]], fmin=0.0,
    ...                 x0=[1.0, 2.0], bounds=((-2, 2), (-2, 2)))
    >>> float(sphere([1.0, 2.0])), sphere.grad([1.0, 2.0])
    (5.0, array([2., 4.]))
    >>> sphere
    <sphere: f = sum x[i]^2; min 0 at (0, 0)>

    Notes
    -----
    The first axis of ``x`` indexes coordinates (``x[0]`` is the x-coordinate of every
    point in a grid), unlike the "one row per point" layout of SciPy's vectorised
    functions; it keeps each formula as written, ``a, b = x``, for one point or a grid.
    """

    __test__ = False  # not a pytest test class, despite the name
    min_dim = 1

    def __init__(
        self,
        name: str,
        formula: str,
        minima: list[ArrayLike],
        fmin: float,
        x0: ArrayLike,
        bounds: Bounds,
        dim: int | None = 2,
    ) -> None:
        self.name = name
        self.formula = formula
        self.minima = [_frozen(m) for m in minima]
        self.fmin = float(fmin) + 0.0  # turns -0.0 (from -b'x* with b = 0) into 0.0
        self.x0 = _frozen(x0)
        self.bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        self.dim = dim

    def __call__(self, x: ArrayLike) -> Any:
        """``f(x)``: a scalar for 1-D ``x``, an array of shape ``x.shape[1:]`` otherwise."""
        return self._value(self._check(x))

    def grad(self, x: ArrayLike) -> Array:
        """The exact gradient ``∇f(x)``, of the shape of ``x``."""
        return self._grad(self._check(x))

    def _check(self, x: ArrayLike) -> Array:
        x = np.asarray(x)
        if x.dtype.kind != "c":  # complex stays complex, for complex-step differentiation
            x = x.astype(np.float64, copy=False)
        n = x.shape[0] if x.ndim else 0
        if n < self.min_dim or (self.dim is not None and n != self.dim):
            want = f"({self.dim}, ...)" if self.dim else f"(n, ...) with n >= {self.min_dim}"
            raise ValueError(
                f"x must have shape {want} for {self.name}, got shape {x.shape}; the first "
                f"axis indexes coordinates (use np.stack([X, Y]) for a grid)"
            )
        return x

    def _value(self, x: Array) -> Any:
        raise NotImplementedError

    def _grad(self, x: Array) -> Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        where = ", ".join(_point(m) for m in self.minima)
        return f"<{self.name}: f = {self.formula}; min {self.fmin:.6g} at {where}>"


def _dot(u: Array, v: Array) -> Any:
    """``Σᵢ uᵢ vᵢ`` over the first axis (the coordinates) of same-shaped ``u`` and ``v``."""
    if u.ndim == 1:
        return u @ v  # one point, the common case: a single BLAS call, no temporaries
    return np.add.reduce(u * v, axis=0)  # a grid: one value per point


def _point(m: Array) -> str:
    coords = [f"{v:.6g}" for v in m[:4]] + (["..."] if len(m) > 4 else [])
    return "(" + ", ".join(coords) + ")"


class Rosenbrock(TestFunction):
    r"""Rosenbrock's banana valley, in any dimension ``n >= 2``.

    .. math::

        f(x) = \sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, \qquad
        \frac{\partial f}{\partial x_i} = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i)
            + 200 (x_i - x_{i-1}^2),

    (the first two terms for ``i < n``, the last for ``i > 1``). Minimum 0 at
    ``(1, ..., 1)``, at the bottom of a long, curved, nearly flat valley: easy to find,
    slow to follow.

    >>> float(rosenbrock([1.0, 1.0, 1.0])), rosenbrock.grad([-1.2, 1.0])
    (0.0, array([-215.6,  -88. ]))

    Reference: Rosenbrock, H. H. (1960). *The Computer Journal* 3(3), 175-184.
    """

    min_dim = 2

    def __init__(self) -> None:
        super().__init__(
            "rosenbrock",
            "sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2",
            minima=[[1.0, 1.0]],
            fmin=0.0,
            x0=[-1.2, 1.0],
            bounds=((-2.0, 2.0), (-1.0, 3.0)),
            dim=None,
        )

    def _value(self, x: Array) -> Any:
        r, d = x[1:] - x[:-1] ** 2, 1 - x[:-1]  # valley residuals, distances to 1
        return 100 * _dot(r, r) + _dot(d, d)

    def _grad(self, x: Array) -> Array:
        a, r = x[:-1], x[1:] - x[:-1] ** 2
        g = np.zeros(x.shape, x.dtype)  # complex for complex-step; faster than zeros_like
        g[:-1] = -400 * a * r - 2 * (1 - a)
        g[1:] += 200 * r
        return g


class Beale(TestFunction):
    r"""Beale's function: flat plateaus and sharp ridges near the corners.

    .. math::

        f(x, y) = \sum_{k=1}^{3} t_k^2, \quad t_k = c_k - x + x y^k, \quad
        c = (1.5, 2.25, 2.625); \qquad
        \nabla f = \sum_k 2 t_k \, (y^k - 1, \; k x y^{k-1}).

    Minimum 0 at ``(3, 0.5)``.

    >>> float(beale([3.0, 0.5])), beale.grad([1.0, 1.0])
    (0.0, array([ 0.  , 27.75]))

    Reference: Beale, E. M. L. (1958). On an iterative method for finding a local minimum
    of a function of more than one variable. Princeton University, technical report 25.
    """

    def __init__(self) -> None:
        super().__init__(
            "beale",
            "(1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2",
            minima=[[3.0, 0.5]],
            fmin=0.0,
            x0=[1.0, 1.0],
            bounds=((-4.5, 4.5), (-4.5, 4.5)),
        )

    def _value(self, x: Array) -> Any:
        a, b = x
        t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * (b * b), 2.625 - a + a * b**3
        return t1 * t1 + t2 * t2 + t3 * t3

    def _grad(self, x: Array) -> Array:
        a, b = x
        t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * (b * b), 2.625 - a + a * b**3
        return np.stack(
            [
                2 * t1 * (b - 1) + 2 * t2 * (b * b - 1) + 2 * t3 * (b**3 - 1),
                2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * (b * b),
            ]
        )


class Booth(TestFunction):
    r"""Booth's function: a convex quadratic bowl with tilted, elongated contours.

    .. math::

        f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2, \qquad
        \nabla f = (2u + 4v, \; 4u + 2v), \quad u = x + 2y - 7, \; v = 2x + y - 5.

    Minimum 0 at ``(1, 3)``.

    >>> float(booth([1.0, 3.0])), booth.grad([0.0, 0.0])
    (0.0, array([-34., -38.]))
    """

    def __init__(self) -> None:
        super().__init__(
            "booth",
            "(x + 2 y - 7)^2 + (2 x + y - 5)^2",
            minima=[[1.0, 3.0]],
            fmin=0.0,
            x0=[0.0, 0.0],
            bounds=((-10.0, 10.0), (-10.0, 10.0)),
        )

    def _value(self, x: Array) -> Any:
        a, b = x
        u, v = a + 2 * b - 7, 2 * a + b - 5
        return u * u + v * v

    def _grad(self, x: Array) -> Array:
        a, b = x
        u, v = a + 2 * b - 7, 2 * a + b - 5
        return np.stack([2 * u + 4 * v, 4 * u + 2 * v])


class Himmelblau(TestFunction):
    r"""Himmelblau's function: four global minima, one in each quadrant.

    .. math::

        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, \qquad
        \nabla f = (4 x u + 2 v, \; 2 u + 4 y v), \quad u = x^2 + y - 11, \; v = x + y^2 - 7.

    Minimum 0 wherever ``u = v = 0``: at ``(3, 2)`` and three irrational points, given here
    rounded to 17 significant digits from a 50-digit Newton solve (mpmath), so each is the
    correctly rounded double. Which one gradient descent finds depends on the start.

    >>> [round(float(himmelblau(m)), 20) for m in himmelblau.minima]
    [0.0, 0.0, 0.0, 0.0]
    >>> himmelblau.minima[1]
    array([-2.80511809,  3.13131252])

    Reference: Himmelblau, D. M. (1972). *Applied Nonlinear Programming*. McGraw-Hill.
    """

    def __init__(self) -> None:
        super().__init__(
            "himmelblau",
            "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
            minima=[
                [3.0, 2.0],
                [-2.8051180869527449, 3.1313125182505730],
                [-3.7793102533777469, -3.2831859912861694],
                [3.5844283403304917, -1.8481265269644036],
            ],
            fmin=0.0,
            x0=[0.0, 0.0],
            bounds=((-5.0, 5.0), (-5.0, 5.0)),
        )

    def _value(self, x: Array) -> Any:
        a, b = x
        u, v = a * a + b - 11, a + b * b - 7
        return u * u + v * v

    def _grad(self, x: Array) -> Array:
        a, b = x
        u, v = a * a + b - 11, a + b * b - 7
        return np.stack([4 * a * u + 2 * v, 2 * u + 4 * b * v])


class Rastrigin(TestFunction):
    r"""Rastrigin's function, in any dimension: a bowl covered in a grid of local minima.

    .. math::

        f(x) = 10 n + \sum_{i=1}^{n} \left(x_i^2 - 10 \cos(2 \pi x_i)\right), \qquad
        \frac{\partial f}{\partial x_i} = 2 x_i + 20 \pi \sin(2 \pi x_i).

    Minimum 0 at the origin; a local minimum sits near every integer point, so plain
    gradient descent from ``x0`` stops in one of them (a test for restarts).

    >>> float(rastrigin([0.0, 0.0, 0.0])), rastrigin(np.zeros((2, 3, 4))).shape
    (0.0, (3, 4))

    Reference: Rastrigin, L. A. (1974). *Systems of Extremal Control*. Nauka, Moscow.
    """

    def __init__(self) -> None:
        super().__init__(
            "rastrigin",
            "10 n + sum x[i]^2 - 10 cos(2 pi x[i])",
            minima=[[0.0, 0.0]],
            fmin=0.0,
            x0=[2.2, -3.3],
            bounds=((-5.12, 5.12), (-5.12, 5.12)),
            dim=None,
        )

    def _value(self, x: Array) -> Any:
        return 10 * x.shape[0] + np.sum(x**2 - 10 * np.cos(2 * np.pi * x), axis=0)

    def _grad(self, x: Array) -> Array:
        return 2 * x + 20 * np.pi * np.sin(2 * np.pi * x)


class Quadratic(TestFunction):
    """The quadratic ``f(x) = ½ xᵀAx − bᵀx`` with ``A`` symmetric positive definite.

    Build one with :func:`quadratic`; ``A`` and ``b`` are kept as read-only copies.
    """

    def __init__(self, A: Array, b: Array) -> None:
        A.setflags(write=False)
        b.setflags(write=False)
        self.A, self.b = A, b
        x_long = _refined_solve(A, b)
        x_star = x_long.astype(float)
        super().__init__(
            "quadratic",
            "1/2 x'Ax - b'x",
            minima=[x_star],
            fmin=float(-0.5 * np.dot(b.astype(np.longdouble), x_long)),
            x0=x_star + 1.0,
            bounds=tuple((m - 2.0, m + 2.0) for m in x_star),
            dim=len(b),
        )

    def _value(self, x: Array) -> Any:
        Ax, b = self._terms(x)
        return _dot(x, 0.5 * Ax - b)  # ½xᵀAx − bᵀx = xᵀ(½Ax − b)

    def _grad(self, x: Array) -> Array:
        Ax, b = self._terms(x)
        return Ax - b

    def _terms(self, x: Array) -> tuple[Array, Array]:
        """``Ax`` and ``b`` in the shape of ``x``: A acts on the first axis of a grid."""
        Ax = (self.A @ x.reshape(len(x), -1)).reshape(x.shape)  # one matrix product (BLAS)
        return Ax, self.b.reshape(self.b.shape + (1,) * (x.ndim - 1))


def _refined_solve(A: Array, b: Array) -> Any:
    """solve(A, b) in long double, accurate to (nearly) full double precision.

    LAPACK's answer carries an error of about cond(A) * eps; each refinement step
    solves for the residual b - A x, computed in extended precision (long double)
    so that it is not lost to cancellation, and removes most of what is left.
    """
    x = np.linalg.solve(A, b).astype(np.longdouble)
    A_long, b_long = A.astype(np.longdouble), b.astype(np.longdouble)
    for _ in range(3):
        x = x + np.linalg.solve(A, (b_long - A_long @ x).astype(float))
    return x


def quadratic(A: ArrayLike, b: ArrayLike | None = None) -> Quadratic:
    r"""The quadratic ``f(x) = ½ xᵀAx − bᵀx`` as a test function with its exact minimum.

    .. math::

        \nabla f(x) = A x - b, \qquad x^* = A^{-1} b, \qquad
        f(x^*) = -\tfrac12 \, b^\top A^{-1} b.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Symmetric positive definite (checked: square, finite, symmetric to rounding, and
        a Cholesky factorisation exists). Its condition number sets how hard it is:
        gradient descent contracts by about ``(κ − 1) / (κ + 1)`` per step at best.
    b : array_like, shape (n,), optional
        The linear term; zeros by default.

    Returns
    -------
    TestFunction
        With ``minima == [solve(A, b)]``, ``fmin``, ``x0 = x* + 1`` and ``bounds``
        ``x* ± 2`` in every coordinate. ``.A`` and ``.b`` are read-only copies: later
        changes to the caller's arrays do not affect it.

    Raises
    ------
    ValueError
        If ``A`` is not square, not symmetric or not positive definite, or ``b`` does not
        have length ``n``.
    TypeError
        If ``A`` or ``b`` is not numeric.

    Examples
    --------
    >>> f = quadratic([[2.0, 0.0], [0.0, 4.0]], b=[2.0, 4.0])
    >>> f.minima[0], f.fmin, f.grad([0.0, 0.0])
    (array([1., 1.]), -3.0, array([-2., -4.]))

    Notes
    -----
    The ½ makes the gradient ``Ax − b`` with no factor 2, the convention of conjugate
    gradients and most optimisation texts. A nearly symmetric ``A`` (differences at the
    level of rounding) is replaced by ``(A + Aᵀ)/2``, so that value and gradient agree.
    """
    a = float_array("A", A)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"A must be a square 2-D array, got shape {a.shape}; for a diagonal A use np.diag(d)"
        )
    if not np.allclose(a, a.T, rtol=1e-10, atol=1e-12 * np.max(np.abs(a))):
        raise ValueError(
            f"A must be symmetric, got max |A - A.T| = {np.max(np.abs(a - a.T)):.3g}; "
            f"use (A + A.T) / 2, which defines the same quadratic form"
        )
    a = (a + a.T) / 2
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"A must be positive definite, got smallest eigenvalue "
            f"{np.linalg.eigvalsh(a)[0]:.3g}; add a multiple of the identity, A + c*I"
        ) from None
    n = len(a)
    vector = np.zeros(n) if b is None else float_array("b", b)
    if vector.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A, got shape {vector.shape}")
    return Quadratic(a, vector)


rosenbrock = Rosenbrock()
beale = Beale()
booth = Booth()
himmelblau = Himmelblau()
rastrigin = Rastrigin()

#: The named test functions, for listings (``descend functions``) and table-driven tests.
ZOO: dict[str, TestFunction] = {
    f.name: f for f in (rosenbrock, beale, booth, himmelblau, rastrigin)
}
