"""The standardisation of the linear models' columns: each one's shift and scale.

With ``scale=True`` the linear estimators (:mod:`descend.models._linear_base`) fit in
the coordinates of x' = (x - shift) / scale; :func:`_scaling` picks them from a sample
of evenly spaced rows of X, a NumPy array or a SciPy CSR matrix alike (the same
statistics to rounding, without densifying the sparse one).

>>> X = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 0.0]])
>>> shift, scale, magnitude = _scaling(X, 0.0, True)
>>> shift, scale  # the constant columns keep scale 1
(array([2., 5., 0.]), array([1., 1., 1.]))
>>> from scipy import sparse
>>> dense, csr = _scaling(X, 0.0, True), _scaling(sparse.csr_array(X), 0.0, True)
>>> all(np.array_equal(a, b) for a, b in zip(dense, csr, strict=True))
True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__: list[str] = []

Array = np.ndarray

# The column statistics come from at most about this many evenly spaced rows: they only
# condition the problem (any shift and scale give the same minimiser), and 8,192 rows
# pin a standard deviation to within 1%, in a millisecond or two on any X.
_SCALING_ROWS = 1 << 13


class _Scaling(NamedTuple):
    """Per column: the shift and scale of x' = (x - shift) / scale, and the magnitude
    sqrt(mean x**2) (of the raw column, for the warning about mismatched scales)."""

    shift: Array
    scale: Array
    magnitude: Array


def _scaling(X: Any, alpha: float, centre: bool) -> _Scaling:
    """The standardisation of X's columns for a fit with penalty ``alpha``.

    Centred on the mean when there is an intercept to absorb it (else shift 0), and
    divided by sqrt(s**2 + alpha), s**2 the column's second moment about the shift:
    the square root of the diagonal of the ridge Hessian, so that it becomes 1 (its
    standard deviation when alpha = 0). A constant column keeps scale 1.
    """
    rows = X[:: max(1, X.shape[0] // _SCALING_ROWS)]
    n = rows.shape[0]
    mean, square, variance = _moments(rows) if isinstance(X, np.ndarray) else _sparse_moments(rows)
    magnitude = np.sqrt(square)
    shift = mean if centre else np.zeros(X.shape[1])
    spread = variance if centre else square
    # A constant column's variance is rounding: about (n eps mean)**2 at most.
    constant = spread <= (n * np.finfo(float).eps * np.abs(shift)) ** 2
    scale = np.sqrt(spread + alpha)
    scale[constant | (scale == 0)] = 1.0
    return _Scaling(shift, scale, magnitude)


def _moments(rows: Array) -> tuple[Array, Array, Array]:
    """Each column's mean, mean square and variance (two passes)."""
    rows = np.array(rows)  # a small contiguous copy
    return rows.mean(axis=0), np.mean(rows**2, axis=0), rows.var(axis=0)


def _sparse_moments(rows: Any) -> tuple[Array, Array, Array]:
    """:func:`_moments` of a sparse matrix from its stored entries: the variance in two
    passes too, sum((x - mean)**2) over the stored entries plus mean**2 for each zero."""
    entries = rows.tocoo(copy=True)
    entries.sum_duplicates()  # a square of a sum is not the sum of squares
    n, d = entries.shape
    columns, values = entries.col, entries.data
    mean = np.bincount(columns, values, minlength=d) / n
    square = np.bincount(columns, values**2, minlength=d) / n
    zeros = n - np.bincount(columns, minlength=d)
    deviations = np.bincount(columns, (values - mean[columns]) ** 2, minlength=d)
    return mean, square, (deviations + zeros * mean**2) / n
