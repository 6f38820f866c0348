r"""The portfolios' feasible set: its exact Euclidean projection, return range and KKT finish.

The set is

.. math::

    \{w : \textstyle\sum_i w_i = 1, \; \ell \le w \le u, \;
    [\mu^\top w = r \text{ when a target return } r \text{ is given}]\},

a capped simplex, cut by a hyperplane when there is a target. The projection follows
from its optimality (KKT) conditions: the nearest point to ``v`` is

.. math::

    w = \operatorname{clip}(v - a \mathbf{1} - b \mu, \; \ell, \; u),

with multipliers ``a`` and ``b`` that make the two equations hold. For a fixed ``b``,
``sum(w)`` falls piecewise linearly in ``a``, so sorting its 2n breakpoints finds ``a``
exactly; ``mu @ w`` then falls monotonically in ``b`` (it is minus the derivative of a
concave dual function), and a Newton iteration on ``b``, safeguarded by bisection, lands
on the piece that holds the root and so solves it exactly too. Without bounds there is one
piece, and one Newton step gives the closed form.

:class:`_FeasibleSet` is the projection, the ``project=`` of
:func:`descend.models.min_variance_portfolio`'s run of :func:`descend.minimize`;
:func:`_best_return` is the largest ``mu @ w`` on the set without a target, by linear
duality, which bounds the targets that are feasible and ends the efficient frontier.
Both live here, apart from :mod:`descend.models.portfolio`, because they are geometry
of the set alone: neither sees the covariance.

The same conditions give the run its exact finish, :meth:`_FeasibleSet.kkt_point`: once
the iterates' active set (the weights at a bound) is the minimiser's, the minimiser of
a quadratic ``wᵀΣw`` on the set is the solution of one linear system on the free
weights F, with A the rows ``1ᵀ`` (and ``μᵀ``) and c = (1, r):

.. math::

    \begin{pmatrix} 2\Sigma_{FF} & A_F^\top \\ A_F & 0 \end{pmatrix}
    \begin{pmatrix} w_F \\ -\nu \end{pmatrix}
    =
    \begin{pmatrix} -2\Sigma_{FB} w_B \\ c - A_B w_B \end{pmatrix},

with the fixed weights w_B at their bounds. The solution is the constrained minimiser
exactly when the KKT conditions hold: the free weights strictly inside their bounds, the
equations met, and the bounds' multipliers z = 2Σw - Aᵀν of the right sign (z >= 0 at a
lower bound, z <= 0 at an upper one; a pinned weight, lower = upper, takes either).
:class:`_Finish` is the run's callback that tries it when the active set settles, and
turns the stopped run into a converged one at the finished weights. Only these see a
covariance (as the Hessian ``2Σ``), and only through the set's own KKT conditions.

>>> import numpy as np
>>> project = _FeasibleSet(np.zeros(3), np.full(3, 0.5))  # 0 <= w <= 0.5, sum(w) = 1
>>> project([0.6, 0.2, 0.1])  # clip(v + 0.1, 0, 0.5)
array([0.5, 0.3, 0.2])
>>> _best_return(np.array([0.01, 0.03, 0.02]), np.zeros(3), np.full(3, 0.5))  # 0.5 0.03 + 0.5 0.02
0.025
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from descend._types import Array, ArrayLike
from descend.core.result import Result, Status

# The multiplier b of mu @ w = target is found when mu @ w is this close, relative to
# max(|target|, max|mu|); Newton on the right piece lands far closer, so this only
# absorbs rounding.
TARGET_RTOL = 1e-12
# Newton or bisection steps on b: Newton needs a handful, bisection about 60.
MAX_ROUNDS = 200
# The finish's equations must hold to this (sum(w) = 1; mu @ w = target relative to
# max(|target|, max|mu|)): a point the projection would move by more is no answer.
FEASIBLE_ATOL = 1e-12
# Stationarity residuals and wrong-signed multipliers up to this, relative to
# ||H||_inf max|w| (the scale of H w and of its rounding error), are taken for zeros.
# A backward-stable solve leaves about 1e-15 of it; a wrong active set leaves more
# unless a multiplier is nearly zero, where either choice of set is nearly optimal.
KKT_RTOL = 1e-10


class _FeasibleSet:
    """Projection onto {w : sum(w) = 1, lower <= w <= upper[, returns @ w = target]}.

    The nearest point to v is clip(v - a - b * returns, lower, upper) for the multipliers
    a and b that make the equations hold (b = 0 without a target); see the module notes.
    """

    def __init__(
        self, lower: Array, upper: Array, returns: Array | None = None, target: float | None = None
    ) -> None:
        self.lower, self.upper, self.returns, self.target = lower, upper, returns, target
        # As a rises, weight i leaves its upper bound at z_i - upper_i (one more weight
        # free) and reaches its lower bound at z_i - lower_i (one fewer); an infinite
        # bound has no breakpoint, and a weight without an upper bound starts free.
        steps = np.concatenate((np.ones_like(upper), -np.ones_like(lower)))
        finite = np.isfinite(np.concatenate((upper, lower)))
        self._finite = None if finite.all() else finite
        self._steps = steps[finite]
        self._free_at_start = np.count_nonzero(upper == np.inf)
        # The next search for b starts from the last one found: in a run, consecutive
        # points are close, and Newton from there usually needs one step. The answer
        # does not depend on the start (beyond rounding).
        self._last_b = 0.0

    def __call__(self, v: ArrayLike) -> Array:
        v = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            return np.full(v.shape, np.nan)  # minimize reports it as divergence
        mu, target = self.returns, self.target
        if mu is None or target is None:
            return self._fill(v)
        # psi(b) = mu @ w(b) is continuous, piecewise linear and nonincreasing in b: find
        # psi(b) = target by Newton steps, bisecting within the bracket
        # psi(below) > target > psi(above) when Newton leaves it, and stepping outwards,
        # doubling, until both ends are known. A Newton step from the root's piece lands
        # on the root, so the search ends after one (or on a flat piece).
        b, below, above, newton = self._last_b, -math.inf, math.inf, False
        spread = float(np.ptp(mu))
        jump = (1.0 + float(np.ptp(v))) / spread if spread > 0 else 1.0
        tol = TARGET_RTOL * max(abs(target), float(np.abs(mu).max()))
        for _ in range(MAX_ROUNDS):
            w = self._fill(v - b * mu)
            gap = float(mu @ w) - target
            free = mu[(self.lower < w) & (w < self.upper)]
            slope = float(free @ free - free.sum() ** 2 / free.size) if free.size else 0.0
            if abs(gap) <= tol and (newton or gap == 0 or slope <= 0):
                break
            if gap > 0:
                below = b
            else:
                above = b
            b_next = b + gap / slope if slope > 0 else math.nan  # -slope is dpsi/db here
            newton = below < b_next < above
            if not newton:
                if math.isfinite(below) and math.isfinite(above):
                    b_next = 0.5 * (below + above)
                else:
                    b_next, jump = (b + jump if gap > 0 else b - jump), 2.0 * jump
            b = b_next
        self._last_b = b
        return w

    def active_set(self, w: Array) -> bytes:
        """Which bound each weight of ``w`` sits on, as a key: 0 none, 1 lower, 2 upper, 3
        both (a pinned weight, lower = upper).

        Iterates of a projected run sit on their bounds exactly (the projection clips to
        them, and an SPG step λd leaves a weight where it is wherever d is 0), so this
        tests equality.
        """
        return ((w <= self.lower) + 2 * (w >= self.upper)).astype(np.int8).tobytes()

    def kkt_point(self, w: Array, hessian: Array) -> Array | None:
        """The minimiser of ½ vᵀ H v on the set if the active set of ``w`` is its own, else None.

        Solves the equality-constrained problem on the weights free in ``w`` (the others
        held at their bounds; see the module notes) and accepts the answer only when the
        KKT conditions hold; None too when no weight is free.
        """
        fixed = np.frombuffer(self.active_set(w), dtype=np.int8)
        free = fixed == 0
        n_free = int(free.sum())
        if n_free == 0:
            return None
        v = np.where(fixed == 1, self.lower, self.upper)
        rows, targets = [np.ones_like(w)], [1.0]
        if self.returns is not None and self.target is not None:
            rows.append(self.returns)
            targets.append(self.target)
        A, c = np.array(rows), np.array(targets)
        m = len(c)
        bound = ~free
        kkt = np.zeros((n_free + m, n_free + m))
        kkt[:n_free, :n_free] = hessian[np.ix_(free, free)]
        kkt[:n_free, n_free:] = A[:, free].T
        kkt[n_free:, :n_free] = A[:, free]
        rhs = np.concatenate((-hessian[np.ix_(free, bound)] @ v[bound], c - A[:, bound] @ v[bound]))
        try:
            solution = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:  # singular: H_FF (identical assets) or A_F (rank 1)
            solution = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        v[free] = solution[:n_free]
        return v if self._satisfies_kkt(v, free, fixed, A, c, hessian) else None

    def _satisfies_kkt(
        self, v: Array, free: np.ndarray, fixed: np.ndarray, A: Array, c: Array, hessian: Array
    ) -> bool:
        """Whether v, with these weights free, is a KKT point of ½ vᵀ H v on the set."""
        if not np.all(np.isfinite(v)):
            return False
        lower, upper = self.lower[free], self.upper[free]
        if not np.all((lower < v[free]) & (v[free] < upper)):
            return False
        if abs(float(A[0] @ v) - 1.0) > FEASIBLE_ATOL:
            return False
        if len(c) > 1 and abs(float(A[1] @ v) - c[1]) > FEASIBLE_ATOL * max(
            abs(c[1]), float(np.abs(A[1]).max())
        ):
            return False
        g = hessian @ v
        # The equations' multipliers from the free weights' gradient, by least squares on
        # the one or two columns of A_F: well conditioned, whatever H's condition number.
        nu = np.linalg.lstsq(A[:, free].T, g[free], rcond=None)[0]
        z = g - A.T @ nu  # the bounds' multipliers; zero on the free weights
        tol = KKT_RTOL * float(np.abs(hessian).sum(axis=1).max()) * float(np.abs(v).max())
        pinned = self.lower == self.upper
        return bool(
            np.all(np.abs(z[free]) <= tol)
            and np.all(z[(fixed == 1) & ~pinned] >= -tol)
            and np.all(z[(fixed == 2) & ~pinned] <= tol)
        )

    def _fill(self, z: Array) -> Array:
        """clip(z - a, lower, upper) for the a that makes it sum to 1, found exactly.

        phi(a) = sum(clip(z - a, lower, upper)) is piecewise linear and nonincreasing,
        with slope minus the number of free weights: its values at the sorted breakpoints
        locate the piece where phi = 1, and on that piece a = m + (phi(m) - 1) / #free
        for any m inside it.
        """
        lower, upper = self.lower, self.upper
        t = np.concatenate((z - upper, z - lower))
        if self._finite is not None:
            t = t[self._finite]
        m = 0.0  # no breakpoints: every weight is free everywhere
        if t.size:
            order = np.argsort(t)
            t = t[order]
            n_free = self._free_at_start + np.cumsum(self._steps[order])[:-1]
            drop = np.cumsum(n_free * (t[1:] - t[:-1]))  # phi(t[0]) - phi(t[1:])
            phi_0 = np.minimum(np.maximum(z - t[0], lower), upper).sum()
            k = np.count_nonzero(drop <= phi_0 - 1.0) + (phi_0 >= 1.0)  # phi(t[:k]) >= 1
            # phi = 1 between t[k - 1] and t[k], beyond them for k = 0 or t.size
            ends = np.concatenate(([t[0] - 1.0 - abs(t[0])], t, [t[-1] + 1.0 + abs(t[-1])]))
            m = 0.5 * (ends[k] + ends[k + 1])
        y = z - m
        free = np.count_nonzero((lower < y) & (y < upper))
        a = m + (np.minimum(np.maximum(y, lower), upper).sum() - 1.0) / free if free else m
        return np.minimum(np.maximum(z - a, lower), upper)


def _best_return(mu: Array, lower: Array, upper: Array) -> float:
    """max mu @ w over {sum(w) = 1, lower <= w <= upper}, exactly, by linear duality.

    max = min over a of  a + sum_i max((mu_i - a) * upper_i, (mu_i - a) * lower_i),
    a convex piecewise linear function of a whose minimum lies at one of the mu_k (a
    greedy fill of the best assets up to their upper bounds gives the same value). The
    dual is +inf everywhere when returns are unbounded; an n x n table, the size of cov.
    """
    s = mu[None, :] - mu[:, None]  # row k: mu_i - a with a = mu_k
    with np.errstate(invalid="ignore"):  # 0 * inf, in the entries where() discards
        terms = np.where(s > 0, s * upper, np.where(s < 0, s * lower, 0.0))
    return float(np.min(mu + terms.sum(axis=1)))


class _Finish:
    """minimize's callback that ends the run exactly once the active set settles.

    When the weights at a bound are the same after two updates in a row, and that set
    has not been tried, the minimiser with that active set is solved for
    (:meth:`_FeasibleSet.kkt_point`); when it passes the KKT test the run stops and
    :meth:`result` reports it converged there. A user's callback runs first and can
    still stop the run.
    """

    def __init__(self, project: _FeasibleSet, hessian: Array, user: Any) -> None:
        if user is not None and not callable(user):
            raise TypeError(f"callback must be callable or None, got {user!r:.60}")
        self.project, self.hessian, self.user = project, hessian, user
        self.weights: Array | None = None
        self.last: bytes | None = None
        self.tried: set[bytes] = set()

    def __call__(self, info: Any) -> bool:
        if self.user is not None:
            answer = self.user(info)
            if answer is True or answer is np.True_:
                return True
        key = self.project.active_set(info.x)
        # An active set seen once may be passing through; the KKT point depends on the
        # set alone, so one that failed will fail again.
        if key == self.last and key not in self.tried:
            self.tried.add(key)
            self.weights = self.project.kkt_point(np.array(info.x), self.hessian)
            if self.weights is not None:
                return True
        self.last = key
        return False

    def result(self, run: Result) -> Result:
        """The run, or (when the finish stopped it) the run ending at the exact weights."""
        w = self.weights
        if w is None or run.status != Status.STOPPED:
            return run
        n_bound = int(np.count_nonzero(np.frombuffer(self.last or b"", dtype=np.int8)))
        return replace(
            run,
            x=w,
            fun=0.5 * float(w @ self.hessian @ w),
            grad=self.hessian @ w,
            status=Status.CONVERGED,
            message=(
                f"converged: after {run.nit} updates the active set ({n_bound} of {len(w)} "
                "weights at a bound) held for two updates, and the KKT system on the free "
                f"weights gave weights that meet the KKT conditions (equations to "
                f"{FEASIBLE_ATOL:g}, stationarity and multiplier signs to {KKT_RTOL:g} "
                "relative)"
            ),
        )
