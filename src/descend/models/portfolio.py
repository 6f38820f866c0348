r"""Minimum-variance portfolios (Markowitz) by the spectral projected gradient, finished exactly.

Given the covariance ``cov`` (Σ) of n assets' returns, find weights ``w`` that

.. math::

    \min_w \; w^\top \Sigma w
    \quad \text{subject to} \quad
    \textstyle\sum_i w_i = 1, \qquad \ell \le w \le u, \qquad
    [\mu^\top w = r \text{ when a target return } r \text{ is given}],

by :func:`descend.minimize` with ``project=`` the exact Euclidean projection onto that
set (:mod:`descend.models._feasible_set`, which derives it from the KKT conditions
and solves for both multipliers exactly).

Defaults (each can be overridden through ``**minimize_options``): Barzilai-Borwein steps
(``method="bb"``), which with ``project=`` are the spectral projected gradient method
(:class:`descend.BB`; Birgin, Martínez & Raydan, 2000), looking back over
``memory=30`` values of f, first trying ``lr = 1 / L``, ``L = 2 λ_max(Σ)`` the curvature
of ``wᵀΣw``; stop when an update moves the weights by at most ``xtol=1e-10``, within
``max_iter=10_000`` updates. ``gtol`` is off: at a constrained minimum the gradient does
not vanish.

The exact finish: the problem's constraint set is known, so once the weights at a bound
are the same after two updates in a row, the minimiser with those weights held at their
bounds is one linear solve (the KKT system on the free weights); it is accepted, and the
run stops as converged there, only when it meets the KKT conditions (free weights
strictly inside their bounds, the bounds' multipliers of the right signs, the equations
to 1e-12), else the iterations go on. Without active bounds (short positions allowed)
that is the closed form after two updates.

Measured on 50-asset covariances with random orthogonal eigenvectors, eigenvalues spread
evenly on a log scale, and condition numbers 1e2, 1e4 and 1e6 (10 of each): the updates
until the weights are within 1e-7 of the closed form Σ⁻¹1/1ᵀΣ⁻¹1 (shorts allowed,
``bounds=None, long_only=False``) or of SLSQP's active set solved exactly and checked
against the KKT conditions (long-only; 8 to 24 weights at 0), for the defaults, for the
spectral projected gradient without the finish, and for projected Nesterov momentum (the
previous default, without the finish):

=========================  ========  ============  ===================
condition number           1e2       1e4           1e6
=========================  ========  ============  ===================
defaults, shorts allowed   2         2             2
defaults, long-only        16-40     125-340       533-2,438
SPG alone, shorts allowed  75-98     1,463-2,792   over 20,000
SPG alone, long-only       60-90     340-1,149     2,043-5,718
Nesterov, shorts allowed   198-213   9,252-11,751  over 20,000
Nesterov, long-only        173-191   1,001-2,472   15,856 to over 20,000
=========================  ========  ============  ===================

The defaults' medians are 30, 148 and 1,096 updates long-only, and their weights end
within 2e-12 of the reference.

>>> import numpy as np
>>> from descend.models.portfolio import min_variance_portfolio
>>> cov = np.diag([0.04, 0.09, 0.16])  # three uncorrelated assets
>>> min_variance_portfolio(cov).weights.round(4)  # weights in proportion to 1 / variance
array([0.5902, 0.2623, 0.1475])
>>> min_variance_portfolio(cov, bounds=(0.0, 0.5)).weights.round(4)  # at most half in one
array([0.5 , 0.32, 0.18])

References
----------
Birgin, E. G., Martínez, J. M., & Raydan, M. (2000). Nonmonotone spectral projected
gradient methods on convex sets. *SIAM Journal on Optimization* 10(4), 1196-1211.
Markowitz, H. (1952). Portfolio selection. *The Journal of Finance* 7(1), 77-91.
Merton, R. C. (1972). An analytic derivation of the efficient portfolio frontier.
*Journal of Financial and Quantitative Analysis* 7(4), 1851-1872.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array, ArrayLike
from descend.core.minimize import minimize
from descend.core.result import Result

from ._feasible_set import _best_return, _FeasibleSet, _Finish

__all__ = ["Frontier", "Portfolio", "efficient_frontier", "min_variance_portfolio"]

# cov may differ from its transpose, and its smallest eigenvalue fall below 0, by this
# much relative to its largest entry or eigenvalue: rounding in its computation, no more.
COV_RTOL = 1e-10
DEFAULTS: dict[str, Any] = dict(method="bb", gtol=None, xtol=1e-10, max_iter=10_000)
# BB's non-monotone search looks back over this many values of f, not its usual 10: on
# ill-conditioned covariances BB's steps raise f for longer stretches, and cutting them
# short costs the spectral step its speed (at condition number 1e6, long-only, memory 10
# needs up to 6,600 updates and memory 30 up to 2,500).
BB_MEMORY = 30


@dataclass(frozen=True, repr=False, eq=False)
class Portfolio:
    """A minimum-variance portfolio: its weights, their risk and return, and the run.

    Attributes
    ----------
    weights : ndarray, shape (n,)
        The weights (read-only); they sum to 1.
    variance, volatility : float
        ``wᵀΣw`` and its square root.
    expected_return : float or None
        ``mu @ w``, when expected returns were given.
    result : descend.Result
        The run of :func:`descend.minimize` that found the weights. When the exact finish
        ended it, its ``x``, ``fun`` and ``grad`` are the finished weights' and its
        message says so; its history ends at the iterate the finish started from.

    Examples
    --------
    >>> import numpy as np
    >>> min_variance_portfolio(np.diag([0.04, 0.09]), expected_returns=[0.05, 0.1])
    Portfolio(volatility=0.16641, variance=0.0276923, expected_return=0.0653846,
              weights=[0.6923, 0.3077], converged after 2 updates)
    """

    weights: Array
    variance: float
    volatility: float
    expected_return: float | None
    result: Result

    def __repr__(self) -> str:
        gain = (
            "" if self.expected_return is None else f"expected_return={self.expected_return:.6g}, "
        )
        with np.printoptions(precision=4, suppress=True, threshold=12, edgeitems=3):
            weights = np.array2string(self.weights, separator=", ")
        return (
            f"Portfolio(volatility={self.volatility:.6g}, variance={self.variance:.6g}, {gain}"
            f"weights={weights}, {self.result.status} after {self.result.nit} updates)"
        )


@dataclass(frozen=True, repr=False, eq=False)
class Frontier:
    """Minimum-variance portfolios for a range of target returns, ready to plot.

    Attributes
    ----------
    returns, volatilities, variances : ndarray, shape (n_points,)
        Each portfolio's expected return, volatility and variance, by rising return.
    weights : ndarray, shape (n_points, n)
        One row of weights per portfolio.
    portfolios : list of Portfolio
        The portfolios themselves, with their runs.

    Examples
    --------
    >>> import numpy as np
    >>> efficient_frontier(np.diag([0.04, 0.09]), [0.05, 0.1], n_points=3)
    Frontier(3 points, return 0.0653846 -> 0.1, volatility 0.16641 -> 0.3)
    """

    returns: Array
    volatilities: Array
    variances: Array
    weights: Array
    portfolios: list[Portfolio]

    def __repr__(self) -> str:
        r, s = self.returns, self.volatilities
        return (
            f"Frontier({len(r)} points, return {r[0]:.6g} -> {r[-1]:.6g}, "
            f"volatility {s[0]:.6g} -> {s[-1]:.6g})"
        )


def min_variance_portfolio(
    cov: ArrayLike,
    *,
    long_only: bool = True,
    bounds: tuple[Any, Any] | None = None,
    expected_returns: ArrayLike | None = None,
    target_return: float | None = None,
    **minimize_options: Any,
) -> Portfolio:
    r"""The weights of least variance that sum to 1, within bounds, at a target return.

    .. math::

        \min_w \; w^\top \Sigma w \quad \text{s.t.} \quad
        \textstyle\sum_i w_i = 1, \quad \ell \le w \le u, \quad [\mu^\top w = r],

    solved by the spectral projected gradient (:func:`descend.minimize` with
    ``method="bb"`` and ``project=`` the exact projection onto this set) and finished
    exactly once the weights at a bound settle; see the module notes for the defaults
    and the updates they take.

    Parameters
    ----------
    cov : array_like, shape (n, n)
        The covariance of the assets' returns: symmetric, positive semi-definite, finite.
    long_only : bool, default True
        No short positions: every lower bound is raised to at least 0.
    bounds : (lower, upper), optional
        Bounds on each weight. ``lower`` and ``upper`` are each a number (the same for
        every asset), an array of n numbers, or None (unbounded on that side; ``-inf``
        and ``inf`` entries leave single assets unbounded). With ``long_only`` the lower
        bound used is ``max(lower, 0)``.
    expected_returns : array_like, shape (n,), optional
        The assets' expected returns μ; reported as ``expected_return``, and needed for
        ``target_return``.
    target_return : float, optional
        Require ``mu @ w == target_return`` exactly (a point of the efficient frontier
        when it is above the return of the minimum-variance portfolio).
    **minimize_options
        Passed to :func:`descend.minimize` over the defaults ``method="bb"`` (with
        ``memory=30``), ``lr=1/L``, ``xtol=1e-10``, ``gtol=None``, ``max_iter=10_000``;
        e.g. ``method="gd"``, ``lr=...``, ``max_iter=...``, ``xtol=...``,
        ``callback=...`` (called before the finish's own check, and able to stop the run).
        The exact finish applies whatever the method.

    Returns
    -------
    Portfolio
        ``weights``, ``variance``, ``volatility``, ``expected_return`` and ``result``.

    Raises
    ------
    ValueError
        Before any update, when the problem is malformed or infeasible (the message
        says "infeasible" and why): ``cov`` not square, not symmetric, not positive
        semi-definite or not finite; ``expected_returns`` of the wrong length or not
        finite; ``target_return`` without ``expected_returns``; a lower bound above its
        upper bound; bounds whose sums cannot reach 1; a target outside the range of
        returns the bounds allow (the message gives the range).
    TypeError
        For arguments of the wrong kind, and options that ``minimize`` does not take.

    Warns
    -----
    RuntimeWarning
        When the run stops without converging; the message is the run's own.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[0.04, 0.006], [0.006, 0.09]])
    >>> p = min_variance_portfolio(cov, expected_returns=[0.05, 0.1], target_return=0.08)
    >>> p.weights.round(6), round(p.volatility, 4)
    (array([0.4, 0.6]), 0.2042)

    Notes
    -----
    Any input arrays are copied, never modified. The variance is ``wᵀΣw``, in the units
    of ``cov`` (a daily covariance gives a daily variance).
    """
    problem = _Problem(cov, long_only, bounds, expected_returns, target_return)
    return problem.solve(target_return, minimize_options)


def efficient_frontier(
    cov: ArrayLike,
    expected_returns: ArrayLike,
    n_points: int = 20,
    *,
    long_only: bool = True,
    bounds: tuple[Any, Any] | None = None,
    **minimize_options: Any,
) -> Frontier:
    r"""Minimum-variance portfolios for ``n_points`` target returns, evenly spaced.

    The targets run from the return of the global minimum-variance portfolio (the first
    point is that portfolio) to the largest return the constraints allow,

    .. math::

        r_{\max} = \max \{\mu^\top w : \textstyle\sum_i w_i = 1, \; \ell \le w \le u\},

    the efficient branch, where volatility rises with return. Each point is
    :func:`min_variance_portfolio` with ``target_return``, started from the previous
    point's weights.

    Parameters
    ----------
    cov : array_like, shape (n, n)
        The covariance of the assets' returns.
    expected_returns : array_like, shape (n,)
        The assets' expected returns μ.
    n_points : int, default 20
        Portfolios on the frontier; at least 2.
    long_only, bounds, **minimize_options
        As for :func:`min_variance_portfolio`.

    Returns
    -------
    Frontier
        Arrays ``returns``, ``volatilities``, ``variances`` (n_points,) and ``weights``
        (n_points, n), and the ``portfolios``.

    Raises
    ------
    ValueError
        As :func:`min_variance_portfolio`, and when returns are unbounded (short
        positions without bounds): the frontier then has no end.

    Examples
    --------
    >>> import numpy as np
    >>> f = efficient_frontier(np.diag([0.04, 0.09]), [0.05, 0.1], n_points=3)
    >>> f.returns.round(4), f.volatilities.round(4)
    (array([0.0654, 0.0827, 0.1   ]), array([0.1664, 0.208 , 0.3   ]))
    """
    n_points = _validate.count("n_points", n_points, minimum=2)
    problem = _Problem(cov, long_only, bounds, expected_returns, None)
    top = problem.return_range()[1]
    if top == math.inf:
        raise ValueError(
            "efficient_frontier needs a largest achievable return, and with short positions "
            "and no upper bounds returns are unbounded; give bounds=(lower, upper) or "
            "long_only=True"
        )
    first = problem.solve(None, minimize_options)
    assert first.expected_return is not None  # expected_returns were given
    portfolios = [first]
    for target in np.linspace(first.expected_return, top, n_points)[1:]:
        portfolios.append(problem.solve(float(target), minimize_options, portfolios[-1].weights))
    return Frontier(
        returns=np.array([p.expected_return for p in portfolios]),
        volatilities=np.array([p.volatility for p in portfolios]),
        variances=np.array([p.variance for p in portfolios]),
        weights=np.array([p.weights for p in portfolios]),
        portfolios=portfolios,
    )


class _Problem:
    """A checked portfolio problem: cov (symmetrised), bounds, returns; solves it."""

    def __init__(self, cov: Any, long_only: Any, bounds: Any, returns: Any, target: Any) -> None:
        self.cov, top_eigenvalue = _covariance(cov)
        n = len(self.cov)
        self.curvature = 2.0 * top_eigenvalue  # the Hessian of wᵀΣw is 2Σ
        self.returns = None if returns is None else _expected_returns(returns, n)
        if target is not None and self.returns is None:
            raise ValueError(
                "target_return needs expected_returns, one per asset, to hold the return to"
            )
        self.lower, self.upper = _bounds(bounds, _validate.boolean("long_only", long_only), n)
        if target is not None:
            target = _validate.real_number("target_return", target)
            if not math.isfinite(target):
                raise ValueError(f"target_return must be a finite number, got {target!r}")
            low, high = self.return_range()
            if not low <= target <= high:
                raise ValueError(
                    f"target_return={target!r} is infeasible: under these bounds the expected "
                    f"return ranges over [{low!r}, {high!r}]; choose a target in that range"
                )

    def return_range(self) -> tuple[float, float]:
        """The least and the largest mu @ w that the bounds allow (infinite if unbounded)."""
        assert self.returns is not None
        return (
            -_best_return(-self.returns, self.lower, self.upper),
            _best_return(self.returns, self.lower, self.upper),
        )

    def solve(
        self, target: float | None, options: dict[str, Any], start: Array | None = None
    ) -> Portfolio:
        """The minimum-variance portfolio at ``target`` (None: any return), from ``start``."""
        cov, returns = self.cov, self.returns
        project = _FeasibleSet(self.lower, self.upper, None if target is None else returns, target)
        x0 = project(np.full(len(cov), 1.0 / len(cov)) if start is None else start)
        lr = 1.0 / self.curvature if self.curvature > 0 else 1.0  # cov = 0: any step
        settings = {**DEFAULTS, "lr": lr, **options}
        if settings["method"] == "bb":
            settings.setdefault("memory", BB_MEMORY)
        finish = _Finish(project, 2.0 * cov, settings.pop("callback", None))
        result = finish.result(
            minimize(
                lambda w: float(w @ cov @ w),
                x0,
                grad=lambda w: 2.0 * (cov @ w),
                project=project,
                callback=finish,
                **settings,
            )
        )
        if not result.success:
            warnings.warn(
                f"the minimum-variance run did not converge: {result.message}",
                RuntimeWarning,
                stacklevel=3,
            )
        w = result.x.copy()
        w.setflags(write=False)
        variance = max(float(w @ cov @ w), 0.0)  # >= 0 but for rounding
        return Portfolio(
            weights=w,
            variance=variance,
            volatility=math.sqrt(variance),
            expected_return=None if returns is None else float(returns @ w),
            result=result,
        )


def _covariance(cov: Any) -> tuple[Array, float]:
    """cov as a new symmetric float array, checked, and its largest eigenvalue."""
    cov = _validate.float_array("cov", cov)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(
            f"cov must be a square matrix, one row and column per asset, got shape {cov.shape}"
        )
    scale = float(np.abs(cov).max())
    asymmetry = float(np.abs(cov - cov.T).max())
    if asymmetry > COV_RTOL * scale:
        raise ValueError(
            f"cov must be symmetric, but cov - cov.T reaches {asymmetry:.3g} (its largest "
            f"entry is {scale:.3g}); a covariance matrix is symmetric: use (cov + cov.T) / 2 "
            "if the difference is rounding"
        )
    cov = 0.5 * (cov + cov.T)
    eigenvalues = np.linalg.eigvalsh(cov)
    if eigenvalues[0] < -COV_RTOL * max(eigenvalues[-1], 0.0):
        raise ValueError(
            f"cov must be positive semi-definite, but its smallest eigenvalue is "
            f"{eigenvalues[0]:.3g} (largest {eigenvalues[-1]:.3g}): some portfolio would have "
            "a negative variance; estimate cov from data (np.cov) or repair it, e.g. by "
            "raising negative eigenvalues to 0"
        )
    return cov, float(eigenvalues[-1])


def _expected_returns(returns: Any, n: int) -> Array:
    """expected_returns as a new float array of n finite entries."""
    mu = _validate.float_array("expected_returns", returns)
    if mu.shape != (n,):
        raise ValueError(
            f"expected_returns must have one entry per asset, shape ({n},) to match cov, "
            f"got shape {mu.shape}"
        )
    return mu


def _bounds(bounds: Any, long_only: bool, n: int) -> tuple[Array, Array]:
    """(lower, upper) as arrays of n entries, checked: lower <= upper, sums can reach 1."""
    if bounds is None:
        bounds = (None, None)
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise TypeError(f"bounds must be a (lower, upper) pair, got {bounds!r:.80}")
    lower, upper = (
        _bound(name, value, n) for name, value in zip(("lower", "upper"), bounds, strict=True)
    )
    if lower is None:
        lower = np.full(n, -math.inf)
    if upper is None:
        upper = np.full(n, math.inf)
    if long_only:
        lower = np.maximum(lower, 0.0)
    crossed = np.flatnonzero(lower > upper)
    if crossed.size:
        i = int(crossed[0])
        low, up = float(lower[i]), float(upper[i])
        why = " (long_only=True raises lower bounds to 0)" if long_only and up < 0 else ""
        raise ValueError(
            f"bounds are infeasible: asset {i} has lower bound {low!r}{why} above its upper "
            f"bound {up!r}; make lower <= upper"
        )
    if not lower.sum() <= 1.0:
        raise ValueError(
            f"bounds are infeasible: the lower bounds sum to {lower.sum():.6g} > 1, so the "
            "weights cannot sum to 1; lower them"
        )
    if not upper.sum() >= 1.0:
        raise ValueError(
            f"bounds are infeasible: the upper bounds sum to {upper.sum():.6g} < 1, so the "
            "weights cannot sum to 1; raise them"
        )
    return lower, upper


def _bound(name: str, value: Any, n: int) -> Array | None:
    """One side of bounds: None, or n real numbers (a scalar is repeated), NaN refused."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"bounds: {name} must be None or real numbers, got {value!r:.80}")
    if array.shape not in ((), (n,)):
        raise ValueError(
            f"bounds: {name} must be None, a number or {n} numbers (one per asset), "
            f"got {value!r:.80}"
        )
    if np.any(np.isnan(array)):
        raise ValueError(f"bounds: {name} must not contain NaN; use None or inf for no bound")
    return np.broadcast_to(array.astype(np.float64), (n,)).copy()
