r"""Exact Euclidean projections onto simple convex sets, for projected gradient descent.

A constraint ``x in C`` turns gradient descent into *projected* gradient descent:
after every step the iterate is pulled back to the nearest point of ``C``,

.. math::

    x_{k+1} = P_C(x_k - \eta \, \nabla f(x_k)),
    \qquad P_C(z) = \arg\min_{y \in C} \lVert y - z \rVert_2 .

For a closed convex ``C`` the projection is unique, and a point ``x*`` is a constrained
minimiser exactly when it is a fixed point of this map. Pass a projection to
``descend.minimize(..., project=...)``.

Each factory here returns a small frozen dataclass that is callable, picklable and prints
its parameters. Conventions shared by all of them:

- ``x`` of any shape is treated as one flat vector (so the norm in :func:`ball` and the
  sum in :func:`simplex` run over all entries), and the result has the shape of ``x``;
- the input is never modified: every call returns a new float64 array;
- a NaN in ``x`` is a ValueError (no point is nearest to it), and so is an infinite entry
  for :func:`simplex` and :func:`ball`, which have no answer then; :func:`box` and
  :func:`nonnegative` clip infinities to their bounds. (NumPy would return NaN; a
  projection's NaN would only resurface later as a divergence blamed on the learning
  rate.) ``minimize`` does not project a point its step made non-finite: it reports the
  step's divergence.

References
----------
Beck, A. (2017). *First-Order Methods in Optimization*, SIAM, chapter 6
(projections onto the simplex, boxes and balls).

>>> import descend as dd
>>> dd.projections.simplex()([0.9, 0.6]), dd.projections.box(0.0, 1.0)([-2.0, 0.5])
(array([0.65, 0.35]), array([0. , 0.5]))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend._types import Array, ArrayLike
from descend._validate import float_array, positive
from descend.core.namespaces import check_same, copy, device, from_host, namespace
from descend.gradients.numeric import is_foreign
from descend.gradients.objective import BadValue

__all__ = ["Ball", "Box", "NonNegative", "Simplex", "ball", "box", "nonnegative", "simplex"]


def _as_vector(x: ArrayLike, infinite: bool = True) -> Array:
    """``x`` as a float64 array (a view when it already is one; callers never write to it),
    checked for NaN, and for infinities unless the set gives them an answer."""
    x = np.asarray(x, dtype=np.float64)
    bad = np.isnan(x) if infinite else ~np.isfinite(x)
    if np.any(bad):
        kind = "NaN" if infinite else "non-finite values"
        raise ValueError(
            f"x must not contain {kind}, got {np.array2string(x, threshold=8)}: no point of "
            "the set is nearest to it; check what produced x"
        )
    return x


def _frozen(array: Array) -> float | Array:
    """A 0-d parameter as a plain float (it prints as one); otherwise a read-only array."""
    if array.ndim == 0:
        return float(array)
    array.setflags(write=False)
    return array


def _fits(x: Array, **parameters: float | Array) -> None:
    """Raise unless each array parameter broadcasts to exactly the shape of ``x``."""
    for name, value in parameters.items():
        shape = np.shape(value)
        try:
            fits = np.broadcast_shapes(x.shape, shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{name} of shape {shape} does not fit x of shape {x.shape}; give a scalar "
                f"or an array broadcastable to x's shape"
            )


def _same(a: float | Array, b: float | Array) -> bool:
    return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))


@dataclass(frozen=True)
class Simplex:
    """Projection onto the simplex ``{y : y >= 0, sum(y) = total}``; see :func:`simplex`."""

    total: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", positive("total", self.total))

    def __call__(self, x: ArrayLike) -> Array:
        if is_foreign(x):
            return self._foreign(x)
        x = _as_vector(x, infinite=False)
        if x.size == 0:
            raise ValueError("x must not be empty: the simplex has no point of dimension 0")
        if np.all(x >= 0) and x.sum() == self.total:
            return x.copy()  # already on the simplex: rounding in tau would move it
        # The projection commutes with adding a constant to every entry; shifting the
        # largest to 0 keeps the cumulative sums exact enough that j = 1 always qualifies,
        # even beside entries of 1e20.
        x = x - x.max()
        u = np.sort(x, axis=None)[::-1]  # x flattened, largest first
        css = np.cumsum(u) - self.total
        j = np.arange(1, u.size + 1)
        rho = np.flatnonzero(u - css / j > 0)[-1]  # number of positive entries, minus one
        tau = css[rho] / (rho + 1)
        return np.maximum(x - tau, 0.0)

    def _foreign(self, x: Any) -> Any:
        """The same steps in x's namespace, on its device, with no value read back (and so
        no shortcut for a point already on the simplex)."""
        xp = namespace(x)
        x = x - xp.max(x)
        u = xp.flip(xp.sort(xp.reshape(x, (-1,))))
        css = xp.cumulative_sum(u) - self.total
        index = xp.arange(u.shape[0], device=device(x))
        j = xp.astype(index + 1, x.dtype)
        rho = xp.max(xp.where(u - css / j > 0, index, xp.zeros_like(index)))
        tau = xp.take(css, xp.reshape(rho, (1,)))[0] / xp.astype(rho + 1, x.dtype)
        return xp.maximum(x - tau, 0.0)


@dataclass(frozen=True, eq=False)
class Box:
    """Projection onto the box ``{y : lower <= y <= upper}``; see :func:`box`."""

    lower: float | Array
    upper: float | Array

    def __post_init__(self) -> None:
        lower, upper = _bound("lower", self.lower), _bound("upper", self.upper)
        try:
            low, up = np.broadcast_arrays(lower, upper)
        except ValueError:
            raise ValueError(
                f"lower and upper must broadcast together, got shapes {lower.shape} and "
                f"{upper.shape}; give scalars or arrays of the same shape"
            ) from None
        crossed = low > up
        if np.any(crossed):
            where = np.unravel_index(np.argmax(crossed), crossed.shape)
            at = f" at index {tuple(map(int, where))}" if crossed.ndim else ""
            raise ValueError(
                f"lower must be <= upper everywhere, got lower={float(low[where])!r} > "
                f"upper={float(up[where])!r}{at}; swap them or widen the box"
            )
        object.__setattr__(self, "lower", _frozen(lower))
        object.__setattr__(self, "upper", _frozen(upper))

    def __call__(self, x: ArrayLike) -> Array:
        if is_foreign(x):  # on x's device
            v: Any = x
            _fits(v, lower=self.lower, upper=self.upper)
            bounds = [
                b if isinstance(b, float) else from_host(b, v) for b in (self.lower, self.upper)
            ]
            return namespace(v).clip(v, *bounds)
        x = _as_vector(x)
        _fits(x, lower=self.lower, upper=self.upper)
        return np.clip(x, self.lower, self.upper)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Box):
            return NotImplemented
        return _same(self.lower, other.lower) and _same(self.upper, other.upper)


def _bound(name: str, value: Any) -> Array:
    """A box bound: real numbers, ``-inf``/``inf`` allowed, NaN not."""
    array = np.array(value, dtype=np.float64) if _is_real(value) else None
    if array is None:
        raise TypeError(f"{name} must be a real number or an array of them, got {value!r:.80}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if np.any(np.isnan(array)):
        raise ValueError(
            f"{name} must not contain NaN, got {value!r:.80}; use -inf or inf for an open side"
        )
    return array


def _is_real(value: Any) -> bool:
    try:
        return np.asarray(value).dtype.kind in "iuf"
    except ValueError:  # ragged nested lists
        return False


@dataclass(frozen=True)
class NonNegative:
    """Projection onto the nonnegative orthant ``{y : y >= 0}``; see :func:`nonnegative`."""

    def __call__(self, x: ArrayLike) -> Array:
        if is_foreign(x):
            return namespace(x).maximum(x, 0.0)
        return np.maximum(_as_vector(x), 0.0)


@dataclass(frozen=True, eq=False)
class Ball:
    """Projection onto the ball ``{y : ||y - center|| <= radius}``; see :func:`ball`."""

    radius: float = 1.0
    center: float | Array = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", positive("radius", self.radius))
        object.__setattr__(self, "center", _frozen(float_array("center", self.center)))

    def __call__(self, x: ArrayLike) -> Array:
        if is_foreign(x):  # on x's device, with no value read back
            v: Any = x
            _fits(v, center=self.center)
            xp, c = namespace(v), self.center
            center = c if isinstance(c, float) else from_host(c, v)
            d = v - center
            norm = xp.sqrt(xp.sum(d * d))
            return xp.where(norm <= self.radius, v, center + d * (self.radius / norm))
        x = _as_vector(x, infinite=False)
        _fits(x, center=self.center)
        d = x - self.center
        with np.errstate(over="ignore"):
            norm = np.linalg.norm(d)
        if not np.isfinite(norm):  # ||d||^2 overflowed; rescale, the direction is what matters
            scale = np.max(np.abs(d))
            norm = scale * np.linalg.norm(d / scale)
        if norm <= self.radius:
            return x.copy()  # not d + center, which can differ from x in the last bit
        return self.center + d * (self.radius / norm)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ball):
            return NotImplemented
        return self.radius == other.radius and _same(self.center, other.center)


def simplex(total: float = 1.0) -> Simplex:
    r"""Project onto the scaled probability simplex ``{y : y >= 0, sum(y) = total}``.

    .. math::

        P(x) = \max(x - \tau, 0), \qquad
        \tau \text{ chosen so that } \textstyle\sum_i \max(x_i - \tau, 0) = \text{total}.

    With ``u`` the entries of ``x`` sorted in decreasing order and
    ``rho = max{j : u_j - (sum_{i<=j} u_i - total) / j > 0}``, the threshold is
    ``tau = (sum_{i<=rho} u_i - total) / rho``: a sort and a cumulative sum, O(n log n).

    Parameters
    ----------
    total : float, default 1.0
        The sum every projected vector has; must be finite and > 0.

    Returns
    -------
    Simplex
        A callable ``p(x) -> y``; ``y`` is a new array of the shape of ``x``.

    Raises
    ------
    ValueError
        If ``total`` is not > 0 (the set would be empty or a single point), or, when
        called, if ``x`` is empty or not finite.

    Examples
    --------
    >>> p = simplex()
    >>> p([0.9, 0.6])
    array([0.65, 0.35])
    >>> simplex(total=2.0)([3.0, -1.0, 0.5])
    array([2., 0., 0.])

    Notes
    -----
    Sorting is the whole cost; the loop-free form follows Duchi et al., with the sort-based
    rule going back to Held, Wolfe and Crowder. Use it for weights that must be
    nonnegative and sum to one (mixtures, portfolios without short selling).

    References
    ----------
    Held, M., Wolfe, P. and Crowder, H. P. (1974). Validation of subgradient optimization.
    *Mathematical Programming* 6, 62-88.
    Duchi, J., Shalev-Shwartz, S., Singer, Y. and Chandra, T. (2008). Efficient projections
    onto the l1-ball for learning in high dimensions. *ICML*, figure 1.
    """
    return Simplex(total)


def box(lower: ArrayLike, upper: ArrayLike) -> Box:
    r"""Project onto the box ``{y : lower <= y <= upper}`` by clipping each coordinate.

    .. math::

        P(x)_i = \min(\max(x_i, \text{lower}_i), \text{upper}_i).

    Parameters
    ----------
    lower, upper : float or array_like
        The bounds: scalars, or arrays broadcastable to the shape of ``x``. ``-inf`` and
        ``inf`` leave a side open; NaN is rejected. ``lower <= upper`` everywhere
        (``lower == upper`` pins a coordinate).

    Returns
    -------
    Box
        A callable ``p(x) -> y``; ``y`` is a new array of the shape of ``x``.

    Raises
    ------
    ValueError
        If a bound contains NaN, if ``lower > upper`` anywhere, if the bounds do not
        broadcast together or, when called, to the shape of ``x``, or if ``x`` contains NaN.
    TypeError
        If a bound is not made of real numbers.

    Examples
    --------
    >>> p = box(0.0, 1.0)
    >>> p([-0.5, 0.25, 3.0])
    array([0.  , 0.25, 1.  ])
    >>> box([0.0, -np.inf], [np.inf, 2.0])([-1.0, 5.0])
    array([0., 2.])

    Notes
    -----
    The box is a product of intervals, so the projection splits into independent
    one-dimensional clips; this is NumPy's ``clip`` with its inputs checked once.
    """
    return Box(lower, upper)  # type: ignore[arg-type]  # Box.__post_init__ converts them


def nonnegative() -> NonNegative:
    r"""Project onto the nonnegative orthant ``{y : y >= 0}``.

    .. math::

        P(x)_i = \max(x_i, 0).

    Returns
    -------
    NonNegative
        A callable ``p(x) -> y``; ``y`` is a new array of the shape of ``x``.

    Examples
    --------
    >>> nonnegative()([[-1.0, 2.0], [0.5, -0.0]])
    array([[0. , 2. ],
           [0.5, 0. ]])

    Notes
    -----
    The same as ``box(0.0, np.inf)``, kept separate because it is the most common
    constraint (rates, variances, counts, nonnegative matrix factorisation).
    """
    return NonNegative()


def ball(radius: float = 1.0, center: ArrayLike = 0.0) -> Ball:
    r"""Project onto the Euclidean ball ``{y : ||y - center||_2 <= radius}``.

    .. math::

        P(x) = c + (x - c) \, \min\!\left(1, \frac{r}{\lVert x - c \rVert_2}\right).

    A point inside stays where it is; a point outside moves along the ray from the centre
    onto the sphere.

    Parameters
    ----------
    radius : float, default 1.0
        The radius ``r``; must be finite and > 0.
    center : float or array_like, default 0.0
        The centre ``c``: a scalar (the same in every coordinate) or an array
        broadcastable to the shape of ``x``; must be finite.

    Returns
    -------
    Ball
        A callable ``p(x) -> y``; ``y`` is a new array of the shape of ``x``.

    Raises
    ------
    ValueError
        If ``radius`` is not > 0, if ``center`` is not finite or, when called, does not
        broadcast to the shape of ``x``, or if ``x`` is not finite.

    Examples
    --------
    >>> p = ball(radius=1.0)
    >>> p([3.0, 4.0])
    array([0.6, 0.8])
    >>> ball(radius=2.0, center=[1.0, 1.0])([1.0, 5.0])
    array([1., 3.])

    Notes
    -----
    The norm runs over all entries of ``x`` (a matrix is treated as one flat vector, so
    this is the Frobenius ball). Bounding ``||x||`` is the constrained form of L2
    regularisation (weight decay).
    """
    return Ball(radius, center)  # type: ignore[arg-type]  # Ball.__post_init__ converts it


def flat_projection(project: Any, x: Array, shape: tuple[int, ...]) -> Callable[[Array], Array]:
    """``minimize``'s ``project``, checked once at x0 and adapted to flat arrays, with
    every output checked: a projection that returns NaN or the wrong shape is named, not
    blamed on the step (mid-run as a BadValue, which ends the run with its result)."""
    if not callable(project):
        raise TypeError(
            f"project must be a callable x -> x such as descend.projections.simplex(), "
            f"got {project!r:.60}"
        )
    _projected(project, copy(x), shape, "at x0", ValueError)  # x0 stays as it was
    if not isinstance(x, np.ndarray):
        return functools.partial(_foreign_projected, project, shape)

    def project_flat(x: Array) -> Array:
        if not np.isfinite(x).all():  # the step diverged: the divergence test says so
            return x
        return _projected(project, x, shape, "mid-run", BadValue)

    return project_flat


def _projected(
    project: Any, x: Array, shape: tuple[int, ...], where: str, error: type[Exception]
) -> Array:
    """``project(x)`` flattened, refused (as ``error``) unless finite and of x's shape."""
    if not isinstance(x, np.ndarray):
        y = _foreign_projected(project, shape, x)
        if not bool(namespace(y).all(namespace(y).isfinite(y))):
            raise error(f"project returned {y!r:.80} for the finite point x0; a projection "
                        "must return finite values")  # fmt: skip
        return y
    y = np.asarray(project(x.reshape(shape)), dtype=float)
    if y.shape != shape:
        raise error(f"project must return an array of x's shape {shape}, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise error(
            f"project returned {np.array2string(y, threshold=8)} for the finite point "
            f"{np.array2string(x.reshape(shape), threshold=8)} ({where}); a projection must "
            "return finite values"
        )
    return y.reshape(-1)


def _foreign_projected(project: Any, shape: tuple[int, ...], x: Any) -> Any:
    """``project(x)`` for x of another namespace, flattened: in x's namespace, on its device
    and of its shape (checked without reading a value; a non-finite one ends the run as
    divergence, by the loop's test)."""
    xp = namespace(x)
    y = check_same("project", project(xp.reshape(x, shape)), x)
    if y.shape != shape:
        raise BadValue(f"project must return an array of x's shape {shape}, got shape {y.shape}")
    return xp.reshape(y, (-1,))
