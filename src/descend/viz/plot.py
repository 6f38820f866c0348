"""Figures of runs: paths over contours, 1-D curves, loss curves, sweep grids, animations.

Import it as ``import descend.plot`` (it needs matplotlib: ``pip install 'descend[plot]'``);
``import descend`` alone never imports matplotlib.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import descend as dd
>>> import descend.plot
>>> from descend.functions import himmelblau
>>> res = dd.minimize(himmelblau, himmelblau.x0, grad=himmelblau.grad, lr=0.01)
>>> ax = descend.plot.path(himmelblau, res)
>>> ax.get_title(), ax.get_xlabel()
('himmelblau', 'x[0]')

Conventions
-----------
Every function draws on the ``ax`` it is given, or on a new
:class:`matplotlib.figure.Figure` that pyplot does not track (so nothing is left open and
nothing is shown: save it with ``ax.figure.savefig(...)``; Jupyter displays it), and
returns the axes (``sweep``: the figure; ``animate``: the file written). Run ``i`` is
drawn in matplotlib's colour ``"C{i}"`` in every figure, so the same list of results
keeps its colours from ``path`` to ``loss``. An objective ``fun`` is a callable, a
:mod:`descend.functions` test function or a formula string (:func:`descend.parse`); it
is evaluated on a whole grid at once when it takes ``x`` of shape ``(n, ...)`` as those
do, and point by point otherwise.

Layout
------
This module holds the still figures; ``animate`` is written in :mod:`descend.viz.animate`
and re-exported here. What both share lies in two private modules: the contours'
numbers (plane, window, grid, levels) in :mod:`descend.viz._contours`, and the scene
drawn from them (the runs' iterates, contours, minima, axis names) in
:mod:`descend.viz._scene`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.result import Result

try:
    from matplotlib.axes import Axes
    from matplotlib.contour import QuadContourSet
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - matplotlib is in the plot extra
    raise ImportError("descend.plot needs matplotlib: pip install 'descend[plot]'") from error

from ._contours import GRID, LEVELS, Bounds, Levels, _evaluate, _objective, _window
from ._scene import _draw_scene, _iterates, _labels, _mark_minima, _names, _title, _unit
from .animate import animate

__all__ = ["animate", "curve", "loss", "path", "sweep"]


def path(
    fun: Callable[..., Any] | str,
    *results: Result,
    bounds: Bounds | None = None,
    levels: Levels = LEVELS,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw each run's path over the filled contours of its objective.

    Each run is its iterates joined by arrows, from a hollow circle (the start) to a
    filled one (the end); the known minima of a test function are white stars.

    Parameters
    ----------
    fun : callable, TestFunction or str
        The objective the runs minimised.
    *results : Result
        Runs with recorded iterates (``minimize(..., record_x=True)``; the default for
        up to 1,000 coordinates), all with the same number of coordinates. Runs in more
        than two are drawn projected on their two principal directions (PCA of all
        iterates), over the contours of f on that plane through the iterates' mean.
    bounds : ((xmin, xmax), (ymin, ymax)), optional
        The window, in the plane's coordinates for projected runs. Default: ``fun.bounds``
        for a 2-D test function, else the box around all paths with a margin.
    levels : int or sequence of float
        The number of contour levels, log-spaced when f spans decades (Rosenbrock's
        valley), or the levels themselves.
    labels : sequence of str, optional
        One legend entry per run; default: each run's method.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If a run has no recorded iterates, the runs differ in their number of
        coordinates or have only one (use :func:`curve`), or there is no window to draw
        (no runs and no bounds).

    Examples
    --------
    >>> import descend as dd
    >>> from descend.functions import himmelblau
    >>> res = dd.minimize(himmelblau, [0.0, 0.0], grad=himmelblau.grad, lr=0.01)
    >>> ax = path(himmelblau, res)
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['minima', 'gd']
    """
    ax = _axes(ax)
    filled = _draw_paths(ax, _objective(fun), results, bounds, levels, labels)
    ax.figure.colorbar(filled, ax=ax, label="f")
    ax.legend(loc="upper right")
    return ax


def curve(
    fun: Callable[..., Any] | str,
    *results: Result,
    bounds: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw a 1-D objective with each run's visited points ``(x, f(x))`` and its steps.

    Parameters
    ----------
    fun : callable, TestFunction or str
        The objective, of one variable.
    *results : Result
        Runs with one coordinate and recorded iterates.
    bounds : (xmin, xmax), optional
        Default: ``fun.bounds`` for a 1-D test function, else the visited points with a
        margin.
    labels : sequence of str, optional
        One legend entry per run; default: each run's method.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If a run has no recorded iterates or more than one coordinate (use :func:`path`).

    Examples
    --------
    >>> import descend as dd
    >>> res = dd.minimize("(x - 1)**2", 3.0, lr=0.3)
    >>> ax = curve("(x - 1)**2", res)
    >>> ax.get_lines()[1].get_xydata()[:3]
    array([[3.    , 4.    ],
           [1.8   , 0.64  ],
           [1.32  , 0.1024]])
    """
    ax = _axes(ax)
    objective: Any = _objective(fun)
    paths = _iterates(results)
    if paths and paths[0].shape[1] != 1:
        raise ValueError(
            f"curve draws objectives of one variable, got runs in {paths[0].shape[1]} "
            "dimensions; use descend.plot.path"
        )
    window = _window(objective, bounds, paths, 1)
    lo, hi = window[0]
    x = np.linspace(lo, hi, GRID * 4)
    shape = results[0].x.shape if results else ()
    ax.plot(x, _evaluate(objective, x[None], shape), color="0.3", label=_title(objective))
    for i, (xs, result, label) in enumerate(
        zip(paths, results, _labels(results, labels), strict=True)
    ):
        _draw_run(ax, np.column_stack([xs, result.history.f[: len(xs)]]), i, label)
    minima = [(m.item(), objective.fmin) for m in getattr(objective, "minima", []) if m.size == 1]
    if minima:
        _mark_minima(ax, np.array(minima))
    ax.set_xlim(lo, hi)
    ax.set(xlabel=_names(objective, 1)[0], ylabel="f")
    ax.legend(loc="upper right")
    return ax


def loss(
    *results: Result,
    log: bool = True,
    labels: Sequence[str] | None = None,
    fmin: float | None = None,
    fun: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw f, or the gap ``f − f*``, against iteration (epoch in data mode), one line a run.

    A diverged run ends in a cross at its last finite value and says "diverged" in the
    legend.

    Parameters
    ----------
    *results : Result
        The runs; their ``history.f`` is drawn (one point per epoch in data mode).
    log : bool
        A log y-axis; when some values are zero or negative, a symmetric log axis
        (``symlog``) that is linear below the smallest nonzero value (at most 12 decades
        under the largest).
    labels : sequence of str, optional
        One legend entry per run; default: each run's method.
    fmin : float, optional
        The minimum value f*, to draw ``f − f*``; default: ``fun.fmin`` when ``fun`` has one.
    fun : TestFunction, optional
        The objective, for its ``fmin``.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import descend as dd
    >>> from descend.functions import booth
    >>> res = dd.minimize(booth, booth.x0, grad=booth.grad, lr=0.05)
    >>> ax = loss(res, fun=booth)
    >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()
    ('iteration', 'f − f*', 'log')
    """
    if not results:
        raise ValueError("loss needs at least one run to draw")
    ax = _axes(ax)
    _draw_losses(ax, results, log, labels, fmin if fmin is not None else getattr(fun, "fmin", None))
    ax.legend(loc="upper right")
    return ax


def sweep(sweep_result: Any, kind: str = "path", ax: Any = None) -> Figure:
    """Draw a hyperparameter sweep as a grid of panels, one run each.

    Columns follow the first parameter's values (the learning rate, say), rows the
    second's (the momentum); one parameter gives one row. Each panel holds the run's
    path over the contours (``kind="path"``) or its loss curve (``kind="loss"``), titled
    with its parameter values, its final f and its status.

    Parameters
    ----------
    sweep_result : SweepResult
        What :func:`descend.sweep` returns; read are ``names`` (the swept parameters in
        order), ``grid`` (name -> values), ``results`` (a tuple of values in ``names``
        order -> Result) and ``fun`` (the objective).
    kind : {"path", "loss"}
    ax : array of matplotlib Axes, optional
        One per panel, ``len(rows) × len(columns)``; default: a new figure.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    ValueError
        If ``kind`` is unknown, the sweep has more than two parameters, or ``ax`` holds
        the wrong number of axes.

    Examples
    --------
    >>> import descend as dd
    >>> grid = dd.sweep("x**2 + 10*y**2", [1.0, 1.0], "momentum", lr=[0.01, 0.05],
    ...                 momentum=[0.0, 0.9], max_iter=100)
    >>> figure = sweep(grid)
    >>> len(figure.axes) >= 4, figure.axes[0].get_title().splitlines()[0]
    (True, 'lr=0.01, momentum=0')
    """
    if kind not in ("path", "loss"):
        raise ValueError(f"kind must be 'path' or 'loss', got {kind!r}")
    names = tuple(sweep_result.names)
    if not 1 <= len(names) <= 2:
        raise ValueError(
            f"sweep draws a grid of one or two parameters, got {len(names)}: {names}; "
            "draw slices of the sweep with path or loss instead"
        )
    columns = [(value,) for value in sweep_result.grid[names[0]]]
    rows = [(value,) for value in sweep_result.grid[names[1]]] if len(names) == 2 else [()]
    shape = (len(rows), len(columns))
    if ax is None:
        figure = Figure(figsize=(3.2 * shape[1], 3.0 * shape[0]), layout="constrained")
        axes = figure.subplots(*shape, squeeze=False)
    else:
        axes = np.asarray(ax, dtype=object)
        if axes.size != shape[0] * shape[1]:
            raise ValueError(
                f"ax must hold {shape[0]} x {shape[1]} axes (rows x columns), "
                f"got an array of shape {axes.shape}"
            )
        axes = axes.reshape(shape)
    objective = _objective(sweep_result.fun)
    for (i, row), (j, column) in itertools.product(enumerate(rows), enumerate(columns)):
        key = column + row
        result, panel = sweep_result.results[key], axes[i, j]
        if kind == "path":
            _draw_paths(panel, objective, [result], None, LEVELS, None)
        else:
            _draw_losses(panel, [result], True, None, getattr(objective, "fmin", None))
        values = ", ".join(f"{name}={_number(v)}" for name, v in zip(names, key, strict=True))
        panel.set_title(f"{values}\nf={result.fun:.3g}, {result.status}", fontsize="small")
    return axes[0, 0].figure


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure that pyplot does not keep open."""
    return ax if ax is not None else Figure(figsize=(6.4, 4.8), layout="constrained").subplots()


def _draw_paths(
    ax: Axes,
    fun: Callable[..., Any],
    results: Sequence[Result],
    bounds: Bounds | None,
    levels: Levels,
    labels: Sequence[str] | None,
) -> QuadContourSet:
    """The scene of :func:`_draw_scene` with every run's path on it."""
    paths, filled = _draw_scene(ax, fun, results, bounds, levels)
    for i, (xy, label) in enumerate(zip(paths, _labels(results, labels), strict=True)):
        _draw_run(ax, xy, i, label)
    return filled


def _draw_run(ax: Axes, xy: Array, i: int, label: str) -> None:
    """Run ``i`` as its points joined by arrows, from a hollow start to a filled end."""
    color = f"C{i}"
    ax.plot(*xy.T, ".", color=color, markersize=4, label=label, zorder=3)
    ax.quiver(
        *xy[:-1].T, *np.diff(xy, axis=0).T,
        color=color, angles="xy", scale_units="xy", scale=1, width=0.004, zorder=3,
    )  # fmt: skip
    ax.plot(*xy[0], "o", markersize=8, markerfacecolor="none", markeredgecolor=color, zorder=4)
    ax.plot(*xy[-1], "o", markersize=8, color=color, markeredgecolor="white", zorder=4)


def _draw_losses(
    ax: Axes,
    results: Sequence[Result],
    log: bool,
    labels: Sequence[str] | None,
    fmin: float | None,
) -> None:
    drawn = []
    for i, (result, label) in enumerate(zip(results, _labels(results, labels), strict=True)):
        f = result.history.f if fmin is None else result.history.f - fmin
        y = np.where(np.isfinite(f), f, np.nan)
        steps = np.arange(len(y))
        diverged = result.status == "diverged"
        ax.plot(steps, y, color=f"C{i}", label=f"{label} (diverged)" if diverged else label)
        if diverged:  # a cross where it blew up
            last = np.flatnonzero(np.isfinite(y))[-1]
            ax.plot(steps[last], y[last], "x", color=f"C{i}", markersize=12, mew=2.5, zorder=4)
        drawn.append(y)
    ax.set(xlabel=_unit(results), ylabel="f" if fmin is None else "f − f*")
    values = np.concatenate(drawn)
    values = values[np.isfinite(values)]
    nonzero = np.abs(values[values != 0])
    if log and nonzero.size:
        if np.all(values > 0):
            ax.set_yscale("log")
        else:  # zeros and negative values: linear below the smallest nonzero magnitude
            ax.set_yscale("symlog", linthresh=max(nonzero.min(), 1e-12 * nonzero.max()))


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
