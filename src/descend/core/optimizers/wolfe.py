"""A line search for the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6).

Along a descent direction d from x, with φ(α) = f(x + α d) and φ'(α) = ∇f(x + α d) · d,
find a step α > 0 with

- sufficient decrease: φ(α) ≤ φ(0) + c1 α φ'(0), and
- strong curvature: |φ'(α)| ≤ c2 |φ'(0)|,

for 0 < c1 < c2 < 1. The first phase (Algorithm 3.5) tries α0 and doubles it until a trial
brackets a step that satisfies both; the second (``zoom``, Algorithm 3.6) narrows the
bracket by safeguarded cubic interpolation. Every trial evaluates f and ∇f together, so
the pair at the accepted step is already known: the caller reuses it.

A trial where f is not finite (the step left f's domain, or overflowed) counts as too long:
the bracket closes on it and it is bisected rather than interpolated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from descend._types import Array
from descend.core.namespaces import dot

__all__ = ["Search", "Trial", "strong_wolfe"]

# An interpolated step is kept this share of the bracket away from its ends, so that
# the bracket shrinks by at least that much each trial (Nocedal & Wright, p. 61).
_SAFEGUARD = 0.1
_GROWTH = 2.0  # the first phase doubles a step that is still too short


class Trial(NamedTuple):
    """One point along the search: the step, φ, φ' and the full gradient there."""

    alpha: float
    f: float
    slope: float
    g: Array


class Search(NamedTuple):
    """What a search found: the accepted trial (None when no step lowered f), the
    evaluations it took, and the lowest f among its trials (how close it came)."""

    trial: Trial | None
    evals: int
    f_min: float


def strong_wolfe(
    pair: Callable[[Array], tuple[float, Array]],
    x: Array,
    d: Array,
    f0: float,
    slope0: float,
    alpha0: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 20,
) -> Search:
    """Search along ``d`` from ``x`` for a step that meets the strong Wolfe conditions.

    ``pair(x)`` returns ``(f(x), grad f(x))``; ``slope0 = grad f(x) · d`` must be < 0.
    When ``max_evals`` run out first, the lowest trial that satisfies sufficient
    decrease is returned: a shorter step that still makes progress.

    >>> import numpy as np
    >>> pair = lambda x: (float(x @ x), 2 * x)  # f = |x|^2
    >>> x, d = np.array([1.0]), np.array([-1.0])
    >>> search = strong_wolfe(pair, x, d, 1.0, -2.0, alpha0=1.0)
    >>> search.trial.alpha, search.trial.f, search.evals  # the exact minimiser along d
    (1.0, 0.0, 1)
    """
    evals, f_min = 0, math.inf

    def at(alpha: float) -> Trial:
        nonlocal evals, f_min
        evals += 1
        f, g = pair(x + alpha * d)  # the very sum the caller's step reproduces
        f_min = min(f_min, f)
        return Trial(alpha, f, dot(g, d) if math.isfinite(f) else math.nan, g)

    start = Trial(0.0, f0, slope0, np.empty(0))
    previous, alpha = start, alpha0
    while evals < max_evals:
        trial = at(alpha)
        if not _decreases(trial, start, c1) or (previous.alpha > 0 and trial.f >= previous.f):
            found = _zoom(at, start, previous, trial, c1, c2, max_evals - evals)
            return Search(found, evals, f_min)
        if abs(trial.slope) <= -c2 * slope0:
            return Search(trial, evals, f_min)
        if trial.slope >= 0:  # past a minimum along d: it lies between the two
            return Search(
                _zoom(at, start, trial, previous, c1, c2, max_evals - evals), evals, f_min
            )
        previous, alpha = trial, alpha * _GROWTH
    return Search(previous if previous.alpha > 0 else None, evals, f_min)


def _decreases(trial: Trial, start: Trial, c1: float) -> bool:
    """Sufficient decrease (false for a non-finite f)."""
    return trial.f <= start.f + c1 * trial.alpha * start.slope


def _zoom(
    at: Callable[[float], Trial],
    start: Trial,
    lo: Trial,
    hi: Trial,
    c1: float,
    c2: float,
    budget: int,
) -> Trial | None:
    """Algorithm 3.6: ``lo`` satisfies sufficient decrease with the lowest f so far and
    the minimiser lies between ``lo`` and ``hi``; narrow the bracket until a trial meets
    both conditions or ``budget`` evaluations are spent (then ``lo``, if it moved at all)."""
    for _ in range(budget):
        alpha = _interpolate(lo, hi)
        trial = at(alpha)
        if not _decreases(trial, start, c1) or trial.f >= lo.f:
            hi = trial
        else:
            if abs(trial.slope) <= -c2 * start.slope:
                return trial
            if trial.slope * (hi.alpha - lo.alpha) >= 0:
                hi = lo
            lo = trial
        if abs(hi.alpha - lo.alpha) <= 1e-16 * max(lo.alpha, hi.alpha, 1.0):
            break  # the bracket is below rounding: no better step is to be found
    return lo if lo.alpha > 0 else None


def _interpolate(lo: Trial, hi: Trial) -> float:
    """The minimiser of the cubic through both ends' f and φ', kept inside the bracket
    by the safeguard; the midpoint when that cubic is undefined."""
    a, b = lo.alpha, hi.alpha
    width = b - a
    middle = a + 0.5 * width
    if not (math.isfinite(hi.f) and math.isfinite(hi.slope)):
        return middle
    # Nocedal & Wright (3.59), written from the lo end.
    d1 = lo.slope + hi.slope - 3 * (lo.f - hi.f) / (a - b)
    radicand = d1 * d1 - lo.slope * hi.slope
    if radicand < 0:
        return middle
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denominator = hi.slope - lo.slope + 2 * d2
    if denominator == 0:
        return middle
    alpha = b - (b - a) * (hi.slope + d2 - d1) / denominator
    low, high = sorted((a + _SAFEGUARD * width, b - _SAFEGUARD * width))
    return alpha if low <= alpha <= high else middle
