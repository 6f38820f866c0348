"""Richardson extrapolation of central differences (Ridders' method), for numeric_grad.

Central differences D(h) at a shrinking sequence of steps, extrapolated to h -> 0 in a
Neville tableau in h², keeping the entry with the smallest error estimate; see
:func:`descend.numeric_grad` (``method="richardson"``) for the rule and its cost.

References
----------
C. J. F. Ridders, "Accurate computation of F'(x) and F'(x) F''(x)", *Advances in
Engineering Software* 4(2), 75-76, 1982; Press et al., *Numerical Recipes*, §5.7.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from descend._types import Array

__all__ = ["FIRST_STEP_FLOOR", "FIRST_STEP_FRACTION", "richardson"]

_EPS = float(np.finfo(np.float64).eps)

# Richardson: h0 = max(|x_i|, 1e-3) / 4 as a power of two (exact step ratios). Extrapolation
# removes truncation, so h0 can be long, and must be: each row halves h and doubles D's
# rounding error eps |f| / h, so the first difference must carry many digits (h0 is 40 times
# the central step eps^(1/3) ~ 6e-6 near zero, 4e4 times at x_i = 1). |x_i| / 4 stays on x_i's
# side of zero, well inside the distance |x_i| to the singularity of log, 1/x, sqrt or x^p.
# The floor is for coordinates near zero, whose size tells nothing of their scale: scales
# down to ~1e-4 suit it, shorter ones are met by steps 16 times shorter (see _ridders).
FIRST_STEP_FRACTION, FIRST_STEP_FLOOR = 0.25, 1e-3
_RICHARDSON_ROWS = 10  # at most 10 differences, 20 evaluations, per coordinate
# Successive differences agree within 5% (or 8 rounding errors r = eps max|f| / 2h): the
# series in h^2 has converged; no error estimate is taken below r. Those apart by a factor
# 2 (or in sign) are far from h -> 0: step 16-fold. Stop when a row's error estimate is
# twice the best once that is settled, below 1e-10 relative or at rounding level (above, it
# may come from steps too long to see a small, fast term of f).
_AGREE, _ROUNDING, _JUMP, _GROWTH, _SETTLED = 0.05, 8.0, 16.0, 2.0, 1e-10


def richardson(
    fun: Callable[..., Any],
    x: Array,
    h: Array,
    args: tuple[Any, ...],
    value: Callable[[Any], float],
) -> Array:
    """Ridders' extrapolation for every coordinate, from first steps ``h``; ``value``
    turns what fun returns into a checked float."""
    work = np.asarray(x, order="C")
    flat = work.reshape(-1)
    grad = np.empty(work.size)
    with np.errstate(all="ignore"):  # long steps leaving fun's domain are skipped, unwarned
        for i, (xi, hi) in enumerate(zip(flat.tolist(), h.reshape(-1).tolist(), strict=True)):
            grad[i] = _ridders(partial(_central_difference, fun, value, work, i, xi, args), hi)
    return grad.reshape(work.shape)


def _central_difference(
    fun: Callable[..., Any],
    value: Callable[[Any], float],
    work: Array,
    i: int,
    xi: float,
    args: tuple[Any, ...],
    h: float,
) -> tuple[float, float, float]:
    """D(h) along flat coordinate i, the half-width actually taken, and D's rounding error."""
    flat = work.reshape(-1)
    flat[i] = xi + h
    f_plus = value(fun(work, *args))
    flat[i] = xi - h
    f_minus = value(fun(work, *args))
    flat[i] = xi
    width = (xi + h) - (xi - h)  # both points may round; divide by the distance taken
    rounding = _EPS * max(abs(f_plus), abs(f_minus)) / width
    return (f_plus - f_minus) / width, width / 2, rounding


def _ridders(difference: Callable[[float], tuple[float, float, float]], h: float) -> float:
    """The tableau of the docstring of :func:`numeric_grad` for one coordinate."""
    steps: list[float] = []  # h_k, as taken
    table: list[list[float]] = []  # T[k][0..k]
    best, error = math.nan, math.inf
    for _ in range(_RICHARDSON_ROWS):
        d, h_k, r = difference(h)
        if not math.isfinite(d):  # outside fun's domain, or overflow: far too long a step
            h /= _JUMP
            continue
        row = [d]
        for j in range(1, len(table) + 1):
            row.append(row[j - 1] + (row[j - 1] - table[-1][j - 1]) / ((steps[-j] / h_k) ** 2 - 1))
        shrink = 2.0
        if table:
            change, size = abs(d - table[-1][0]), max(abs(d), abs(table[-1][0]))
            errors = [
                max(abs(row[j] - row[j - 1]), abs(row[j] - table[-1][j - 1]), r)
                for j in range(1, len(row))
            ]
            j = int(np.argmin(errors))
            if change > _AGREE * size + _ROUNDING * r:
                # The steps so far were too long to be trusted (a term of f that varies on a
                # shorter scale showed up): forget their estimate, and step down faster.
                best, error = math.nan, math.inf
                shrink = _JUMP if change > size / 2 else 4.0
            elif errors[j] >= _GROWTH * error and error <= _SETTLED * abs(best) + _ROUNDING * r:
                break  # rounding has taken over: shorter steps can only do worse
            if errors[j] <= error:
                best, error = row[j + 1], errors[j]
        steps.append(h_k)
        table.append(row)
        h /= shrink
    if math.isnan(best):  # fewer than two finite differences: the last one, if any
        return table[-1][0] if table else math.nan
    return best
