"""Multistart: run ``minimize`` from starts spread over a box and keep the distinct minima.

A gradient method finds the minimum whose basin it starts in. Starting from many
points of a box and grouping the end points that coincide shows which minima there
are, how often each was reached (a rough measure of its basin's share of the box),
and which is best.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array, ArrayLike
from descend.analysis import _runs
from descend.core.batches import generator
from descend.core.minimize import minimize
from descend.core.result import Result, Status

__all__ = ["Minimum", "MultistartResult", "multistart"]

# End points closer than this share of the box's diagonal are one minimum.
CLUSTER_TOL = 1e-3
# The printed table lists at most this many minima.
MAX_ROWS = 20


@dataclass(frozen=True)
class Minimum:
    """A distinct minimum: the best end point of the runs that reached it.

    Attributes
    ----------
    x : ndarray
        The best end point among its runs.
    fun : float
        The objective at ``x``.
    runs : tuple of int
        The indices (into ``results`` and ``starts``) of the runs that ended here,
        best first, so ``runs[0]`` is the run that gave ``x``.
    count : int
        How many starts reached it: ``len(runs)``.

    Examples
    --------
    >>> import descend as dd
    >>> found = dd.multistart("x**4 - 4*x**2 + x", [(-3, 3)], n_starts=6, seed=0, method="bb")
    >>> [(round(float(m.x[0]), 4), m.count) for m in found.minima]  # the global one first
    [(-1.473, 3), (1.347, 3)]
    """

    x: Array
    fun: float
    runs: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        return f"Minimum(fun={self.fun:.10g}, count={self.count}, x={_vector(self.x)})"


@dataclass(frozen=True, repr=False)
class MultistartResult:
    """The outcome of :func:`multistart`: every run, and the distinct minima they found.

    Attributes
    ----------
    best : Result
        The best run that did not diverge (the best of all when every run diverged).
    minima : list of Minimum
        The distinct minima, best first (largest ``fun`` first with ``maximize=True``);
        empty when every run diverged.
    results : list of Result
        One per start, in start order.
    starts : ndarray, shape (n_starts, n)
        The start points, one per row.
    cluster_tol : float
        The share of the box's diagonal within which end points count as one minimum.

    Examples
    --------
    >>> import descend as dd
    >>> found = dd.multistart("(x**2 - 1)**2", [(-2, 2)], n_starts=4, seed=0, method="bb")
    >>> len(found.results), found.starts.shape, len(found.minima), found.best.success
    (4, (4, 1), 2, True)
    """

    best: Result
    minima: list[Minimum]
    results: list[Result]
    starts: Array
    cluster_tol: float

    def __repr__(self) -> str:
        kind = "maxima" if self.best.maximize else "minima"
        statuses = Counter(str(res.status) for res in self.results)
        ended = ", ".join(f"{count} {status}" for status, count in statuses.most_common())
        rows = [("fun", "count", "x")] + [
            (f"{m.fun:.10g}", str(m.count), _vector(m.x)) for m in self.minima[:MAX_ROWS]
        ]
        more = len(self.minima) - MAX_ROWS
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        return "\n".join(
            [
                f"{len(self.minima)} distinct {kind} from {len(self.results)} starts ({ended}); "
                f"end points within {self.cluster_tol:g} of the box's diagonal are one",
                *(f"  {a.rjust(widths[0])}  {b.rjust(widths[1])}  {c}" for a, b, c in rows),
                *([f"  ... and {more} more in .minima"] if more > 0 else []),
                f"best: {self.best.message}",
            ]
        )


def multistart(
    fun: Callable[..., Any] | str,
    bounds: Sequence[tuple[float, float]] | ArrayLike,
    n_starts: int = 10,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    n_jobs: Any = None,
    *,
    cluster_tol: float = CLUSTER_TOL,
    **minimize_kwargs: Any,
) -> MultistartResult:
    r"""Minimise ``fun`` from ``n_starts`` points spread over a box; group the minima found.

    The starts form a Latin hypercube over the box ``bounds``: each coordinate's
    range is cut into ``n_starts`` equal slices and every slice holds exactly one
    start, so the starts cover each axis evenly (random sampling leaves gaps). Each
    start runs :func:`descend.minimize` with ``minimize_kwargs``. The end points of
    runs that did not diverge are then grouped by single linkage: two end points are
    one minimum when a chain of end points joins them with every link no longer than

    .. math::

        \|(x - y) / w\| \le \texttt{cluster\_tol} \cdot \sqrt{n},

    ``w`` being the box's side lengths: in a box scaled to a unit cube, within
    ``cluster_tol`` of its diagonal.

    Parameters
    ----------
    fun : callable or str
        Whatever :func:`descend.minimize` accepts: ``fun(x) -> float``, a formula such
        as ``"(x-1)**2 + 3*y**2"``, or a test function from :mod:`descend.functions`.
        It is called with ``x`` of shape ``(n,)``.
    bounds : sequence of (low, high) pairs
        One pair per coordinate, as in SciPy: ``[(-5, 5), (0, 1)]``; a test function's
        ``.bounds`` works as is. The box only places the starts: runs may leave it
        (pass ``project=descend.projections.box(...)`` to keep them inside).
    n_starts : int
        How many starts (at least 1).
    seed : int, SeedSequence, Generator or None
        Makes the starts, and in data mode each run's own seed (spawned from it, one
        per start), repeatable; a Generator is used (and advanced) as is.
    n_jobs : int, distributed.Client or None
        Processes to run the starts in: None or 1 for one after another in this
        process, k for k processes, -1 for one per core. ``fun`` and the keywords must
        pickle to go to other processes; when they do not (a lambda, a local
        function), the starts run one after another, with a warning. A
        ``distributed.Client`` sends the starts to its cluster as Dask tasks. In this
        process, with ``engine="numba"`` (or ``"auto"`` when it compiles), all the starts
        run in one parallel compiled call, over every core (so leave ``n_jobs`` at None).
    cluster_tol : float
        The share of the box's diagonal within which end points are one minimum
        (default 1e-3).
    **minimize_kwargs
        Passed to every :func:`descend.minimize` call unchanged: ``method``, ``lr``,
        ``grad``, ``max_iter``, tolerances, ``maximize=True``, ``project``, ``data``, ...

    Returns
    -------
    MultistartResult
        ``best`` (a Result), ``minima`` (best first, each with ``x``, ``fun``,
        ``count`` and ``runs``), ``results`` (one per start, in start order) and
        ``starts``.

    Raises
    ------
    ValueError, TypeError
        For bad ``bounds``, ``n_starts``, ``n_jobs``, ``seed`` or ``cluster_tol``, or a
        ``checkpoint`` (one file cannot hold many runs); errors from ``minimize``
        itself come from the first run.
    ImportError
        When SciPy, which draws the Latin hypercube, is not installed.

    Notes
    -----
    The results are the same whatever ``n_jobs``: each run depends only on its start
    and, in data mode, its own seed. Processes pay off when each run takes longer than
    starting a process (a tenth of a second or so); where processes are spawned rather
    than forked (Windows, macOS), ``fun`` must also be importable: defined in a module,
    not typed at the prompt. A ``callback`` runs in the worker processes. A run that
    stops for ``KeyboardInterrupt`` (Ctrl-C) stops the whole multistart: the exception's
    ``results`` are the runs that finished.

    A minimum's ``x`` is its best end point, so it is as accurate as the stopping
    rules make the runs; a run that stopped at ``max_iter`` on a slope can show up as a
    minimum of its own (the summary counts the runs by status). ``count`` reflects the
    basins' shares of the box only roughly: a method with momentum or large steps can
    leave the basin it started in.

    Examples
    --------
    Himmelblau's function has four minima, all with value 0:

    >>> import descend as dd
    >>> f = dd.functions.himmelblau
    >>> res = dd.multistart(f, f.bounds, n_starts=20, seed=0, method="bb")
    >>> len(res.minima), sum(m.count for m in res.minima), res.best.fun < 1e-16
    (4, 20, True)
    >>> sorted(m.x.round(6).tolist() for m in res.minima)
    [[-3.77931, -3.283186], [-2.805118, 3.131313], [3.0, 2.0], [3.584428, -1.848127]]

    References
    ----------
    McKay, M. D., Beckman, R. J. and Conover, W. J. (1979). A comparison of three
    methods for selecting values of input variables in the analysis of output from a
    computer code. *Technometrics* 21(2), 239-245.
    """
    low, high = _box(bounds)
    n_starts = _validate.count("n_starts", n_starts, minimum=1)
    workers = _runs.workers(n_jobs, n_starts)
    rng = generator(seed)
    cluster_tol = _validate.positive("cluster_tol", cluster_tol, "; e.g. 1e-3 of the diagonal")
    if "checkpoint" in minimize_kwargs:
        raise TypeError(
            "checkpoint saves one run, and multistart makes many that would overwrite each "
            "other; checkpoint single runs of minimize instead"
        )
    try:
        from scipy.stats import qmc
    except ImportError:
        raise ImportError(
            'multistart needs SciPy for its Latin-hypercube starts: pip install "descend[scipy]"'
        ) from None

    fun, minimize_kwargs = _runs.parsed(fun, minimize_kwargs)
    names = getattr(fun, "variables", None)  # a formula's variables, in the order of x
    if names is not None and len(names) != len(low):
        raise ValueError(
            f"bounds has {len(low)} (low, high) pairs but the formula has {len(names)} "
            f"variables ({', '.join(names)}); give one pair per variable"
        )
    starts = low + qmc.LatinHypercube(len(low), seed=rng).random(n_starts) * (high - low)
    seeds: list[Any] = [None] * n_starts
    if minimize_kwargs.get("data") is not None:  # each run its own stream of batches
        children = np.random.SeedSequence(int(rng.integers(2**63))).spawn(n_starts)
        seeds = [np.random.default_rng(child) for child in children]
    run = functools.partial(_solve, fun, minimize_kwargs)
    results = _runs.run_all(run, list(zip(starts, seeds, strict=True)), workers, "multistart")
    sign = -1.0 if results[0].maximize else 1.0
    rank = [sign * res.fun if math.isfinite(res.fun) else math.inf for res in results]
    kept = sorted(
        (i for i, res in enumerate(results) if res.status is not Status.DIVERGED),
        key=rank.__getitem__,
    )
    scaled = np.array([results[i].x for i in kept]).reshape(-1, len(low)) / (high - low)
    groups = _single_linkage(scaled, cluster_tol * math.sqrt(len(low)))
    minima = [
        Minimum(results[kept[g[0]]].x, results[kept[g[0]]].fun, tuple(kept[j] for j in g))
        for g in groups
    ]
    best = results[kept[0]] if kept else results[int(np.argmin(rank))]
    return MultistartResult(best, minima, results, starts, cluster_tol)


def _box(bounds: Any) -> tuple[Array, Array]:
    """The lower and upper corners of the box, checked pair by pair."""
    fix = "; write one (low, high) pair per coordinate, e.g. [(-5, 5), (0, 1)]"
    try:
        box = np.array(bounds, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"bounds must be a sequence of (low, high) pairs, got {bounds!r:.80}{fix}"
        ) from None
    if box.ndim != 2 or box.shape[1] != 2 or len(box) == 0:
        raise ValueError(
            f"bounds must have shape (n, 2), one (low, high) pair per coordinate, got shape "
            f"{box.shape}{fix}; for (lows, highs) write list(zip(lows, highs))"
        )
    for i, (low, high) in enumerate(box):
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(
                f"bounds[{i}] must be finite, got ({low:g}, {high:g}); the starts are spread "
                "over the box, so it needs finite edges"
            )
        if not low < high:
            raise ValueError(
                f"bounds[{i}] must have low < high, got ({low:g}, {high:g}){fix}; for "
                "(lows, highs) write list(zip(lows, highs))"
            )
    return box[:, 0], box[:, 1]


def _solve(fun: Any, kwargs: dict[str, Any], start: Array, seed: Any) -> Result:
    """One run (at module level, so that a process pool can pickle it)."""
    if seed is not None:
        kwargs = {**kwargs, "seed": seed}
    return minimize(fun, start, **kwargs)


def _single_linkage(points: Array, tol: float) -> list[list[int]]:
    """Groups of row indices joined by chains of links no longer than ``tol``.

    Each group is in ascending order, and the groups in order of their first rows: with
    the rows sorted best first, each group starts with its best and the best group
    comes first.

    >>> _single_linkage(np.array([[0.0], [5.0], [0.5], [1.0]]), tol=0.6)
    [[0, 2, 3], [1]]
    """
    grouped = np.zeros(len(points), dtype=bool)
    groups = []
    for i in range(len(points)):
        if grouped[i]:
            continue
        group, grouped[i] = [i], True
        for j in group:  # grows as it is walked: a breadth-first search
            near = ~grouped & (np.linalg.norm(points - points[j], axis=1) <= tol)
            grouped |= near
            group.extend(np.flatnonzero(near).tolist())
        groups.append(sorted(group))
    return groups


def _vector(x: Array) -> str:
    with np.printoptions(precision=8, threshold=12, edgeitems=3):
        return np.array2string(np.asarray(x), separator=", ")
