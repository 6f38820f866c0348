"""The numbers behind a contour plot: the objective, the plane, the window, the grid, the levels.

``path``, ``sweep`` and ``animate`` draw runs over the filled contours of their
objective; this module decides what those contours are: the plane they lie in (the
runs' own two coordinates, or their two principal directions when they have more), the
window on that plane, the grid of points f is evaluated at, and the contour levels.
It is NumPy alone, kept apart from the drawing so that each can be read on its own;
:mod:`descend.viz._scene` draws what it computes.

>>> import numpy as np
>>> _levels(np.array([[0.0, 1.0], [2.0, 4.0]]), 5, maximize=False)
array([0., 1., 2., 3., 4.])
>>> _ticks(np.array([0.0, 0.013, 0.2, 3.1, 47.0, 720.0])).tolist()
[0.1, 1.0, 10.0, 100.0]
>>> _ticks(np.linspace(0.0, 37.3, 30)).tolist()
[0.0, 10.0, 20.0, 30.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array
from descend.gradients.formulas import parse_cached

GRID = 150  # points per side of the grid the contours are drawn from
LEVELS = 30  # contour levels by default
WIDE = 300  # f spanning more than this times its 5th percentile gets log-spaced levels

Bounds = Sequence[Sequence[float]]
Levels = int | Sequence[float]


def _objective(fun: Any) -> Callable[..., Any]:
    if isinstance(fun, str):
        return parse_cached(fun)
    if not callable(fun):
        raise TypeError(
            "fun must be a callable, a descend.functions test function or a formula "
            f"string, got {type(fun).__name__}"
        )
    return fun


def _plane(paths: list[Array], n: int) -> tuple[Array, Array]:
    """The plane the runs are drawn in, as its origin and two orthonormal rows: the
    coordinate plane for two coordinates, else the two principal directions of all
    iterates through their mean."""
    if n == 2:
        return np.zeros(2), np.eye(2)
    points = np.concatenate(paths)
    origin = points.mean(axis=0)
    # Two zero rows keep two directions when the runs visited fewer than three points.
    centred = np.vstack([points - origin, np.zeros((2, n))])
    return origin, np.linalg.svd(centred, full_matrices=False)[2][:2]


def _window(fun: Any, bounds: Any, paths: list[Array], n: int) -> Array:
    """The drawing window, one ``(lo, hi)`` row per axis: ``bounds``, else a test
    function's own window when it has the runs' dimension, else the paths' box."""
    d = min(n, 2)  # projected runs are drawn in a plane
    if bounds is None and len(getattr(fun, "bounds", ())) == n <= 2:
        bounds = fun.bounds
    if bounds is None:
        if not paths:
            raise ValueError("give bounds, or at least one run to draw around")
        points = np.concatenate(paths)
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = 0.15 * float(np.max(hi - lo)) or 1.0
        return np.column_stack([lo - pad, hi + pad])
    window = np.asarray(bounds, dtype=float)
    if window.size != 2 * d or not np.all(np.diff(window.reshape(d, 2)) > 0):
        want = "(xmin, xmax)" if d == 1 else "((xmin, xmax), (ymin, ymax))"
        raise ValueError(f"bounds must be {want} with each min < max, got {bounds!r}")
    return window.reshape(d, 2)


def _grid(window: Array, origin: Array, basis: Array) -> tuple[Array, Array, Array]:
    """A :data:`GRID` × :data:`GRID` grid over ``window``: its plane coordinates ``A``
    and ``B``, and the points themselves, of shape ``(n, GRID, GRID)``."""
    A, B = np.meshgrid(*(np.linspace(lo, hi, GRID) for lo, hi in window))
    return A, B, origin[:, None, None] + np.tensordot(basis.T, np.stack([A, B]), axes=1)


def _evaluate(fun: Callable[..., Any], points: Array, shape: tuple[int, ...]) -> Array:
    """f at every point of ``points`` (shape ``(n, *grid)``), non-finite values as NaN.

    One call on the whole grid when ``fun`` takes points along the first axis (as the
    test functions and formulas do), checked against single calls at two points; else
    one call per point, reshaped to ``shape``.
    """
    grid = points.shape[1:]
    rows = points.reshape(len(points), -1).T

    def at(p: Array) -> float:
        return float(np.asarray(fun(p.reshape(shape)), dtype=float).item())

    with np.errstate(all="ignore"):  # wide windows overflow far from the minimum
        try:
            values = np.asarray(fun(points.reshape(shape + grid)), dtype=float)
            whole = values.shape == grid and np.allclose(
                values.flat[[0, -1]], [at(rows[0]), at(rows[-1])], equal_nan=True
            )
        except Exception:  # any failure on a grid means fun takes one point at a time
            whole = False
        if not whole:
            values = np.array([at(p) for p in rows]).reshape(grid)
    return np.where(np.isfinite(values), values, np.nan)


def _levels(Z: Array, levels: Levels, maximize: bool) -> Array:
    """Contour levels over the range of ``Z``: even steps, or log-spaced steps up from the
    best value when f spans decades (more than :data:`WIDE` times its 5th percentile)."""
    if not isinstance(levels, int):
        return np.asarray(levels, dtype=float)
    _validate.count("levels", levels, minimum=2)
    sign = -1.0 if maximize else 1.0  # steps grow away from the best value
    best = np.nanmin(sign * Z)
    span = sign * Z - best
    top = float(np.nanmax(span)) or 1.0
    if top > WIDE * np.nanpercentile(span, 5):
        floor = max(float(np.nanpercentile(span, 1)), top * 1e-6)
        steps = np.concatenate([[0.0], np.geomspace(floor, top, levels - 1)])
    else:
        steps = np.linspace(0.0, top, levels)
    return np.sort(sign * (best + steps))


def _ticks(levels: Array, most: int = 7) -> Array:
    """Round values for a colour bar over ``levels``: powers of ten when the levels are
    log-spaced and positive above the lowest (every other decade past ``most``), else 1, 2
    or 5 times a power of ten; always inside the levels' range."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(levels[0]), float(levels[-1])
    above = np.diff(levels)
    geometric = len(above) > 2 and above[-1] > 10 * above[1] > 0
    if geometric and levels[1] > 0:
        decades = np.arange(np.ceil(np.log10(levels[1])), np.floor(np.log10(hi)) + 1)
        decades = decades[:: int(np.ceil(len(decades) / most)) or 1]
        return np.asarray(10.0**decades)
    for bins in range(most - 1, 4 * most):  # at least three ticks inside the range
        ticks = np.asarray(MaxNLocator(nbins=bins, steps=[1, 2, 5, 10]).tick_values(lo, hi))
        ticks = ticks[(ticks >= lo) & (ticks <= hi)]
        if len(ticks) >= 3:
            break
    return ticks
