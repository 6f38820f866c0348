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
drawn in matplotlib's colour ``"C{i mod 10}"`` with the ``(i mod 4)``-th of the line
styles ``-``, ``--``, ``-.``, ``:`` in every figure, so the same list of results keeps its
colours and styles from ``path`` to ``loss``, and up to 20 runs differ in the pair.
Legends lie outside the data: to the right of a loss curve or a 1-D curve, below a
contour plot (whose colour bar, with round ticks, is on its right). The figures made
here use constrained layout, which makes room for them; on axes of your own, give their
figure ``layout="constrained"`` (or save with ``bbox_inches="tight"``) to keep them whole.

An objective ``fun`` is a callable, a :mod:`descend.functions` test function or a
formula string (:func:`descend.parse`); it is evaluated on a whole grid at once when it
takes ``x`` of shape ``(n, ...)`` as those do, and point by point otherwise.

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

from ._contours import GRID, LEVELS, Bounds, Levels, _evaluate, _objective, _ticks, _window
from ._scene import (
    _draw_scene,
    _iterates,
    _labels,
    _legend,
    _mark_minima,
    _names,
    _style,
    _title,
    _unit,
)  # fmt: skip
from .animate import animate

__all__ = ["animate", "curve", "loss", "path", "sweep"]

TITLE = 10  # points, a panel's title in a grid: 12.5 px at the report's 90 dpi
TEXT = 9  # points, notes on a panel: 11 px at 90 dpi, the smallest that reads
BLOW_UP = "C3"  # where a diverged run leaves the window or the scale


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
    _colorbar(filled, ax)
    _legend(ax, "below")
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
    _legend(ax)
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
    _legend(ax)
    return ax


def sweep(sweep_result: Any, kind: str = "path", ax: Any = None) -> Figure:
    """Draw a hyperparameter sweep as a grid of panels, one run each.

    Columns follow the first parameter's values (the learning rate, say), rows the
    second's (the momentum); one parameter gives one row. Each panel holds the run's
    path over the contours (``kind="path"``) or its loss curve (``kind="loss"``), titled
    with its parameter values, its final f and its status.

    The panels share their axes and their window, so they compare at a glance: the
    window of the runs that did not diverge (a test function's own window when it has
    one), with one colour bar for all. A run that diverged is drawn in that window too,
    with a cross where it leaves it and a note of how large f grew; its loss curve is cut
    at the top of the others' scale, with a triangle where it leaves.

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
    if ax is not None and np.asarray(ax, dtype=object).size != shape[0] * shape[1]:
        raise ValueError(
            f"ax must hold {shape[0]} x {shape[1]} axes (rows x columns), "
            f"got an array of shape {np.shape(ax)}"
        )
    objective = _objective(sweep_result.fun)
    keys = [column + row for row, column in itertools.product(rows, columns)]
    results = [sweep_result.results[key] for key in keys]
    window = _shared_window(objective, results) if kind == "path" else None
    shared = kind == "loss" or window is not None  # projected runs each have their plane
    if ax is None:
        figure = Figure(figsize=(3.0 * shape[1], 3.0 * shape[0]), layout="constrained")
        axes = figure.subplots(*shape, squeeze=False, sharex=shared, sharey=shared)
    else:
        axes = np.asarray(ax, dtype=object).reshape(shape)
    panels = list(axes.ravel())
    for panel, key, result in zip(panels, keys, results, strict=True):
        if kind == "path":
            filled = _draw_paths(panel, objective, [result], window, LEVELS, None)
            if window is not None and result.status == "diverged":
                _mark_exit(panel, result, window)
        else:
            _draw_losses(panel, [result], True, None, getattr(objective, "fmin", None))
        values = ", ".join(f"{name}={_number(v)}" for name, v in zip(names, key, strict=True))
        panel.set_title(f"{values}\nf={result.fun:.3g}, {result.status}", fontsize=TITLE)
    if kind == "loss":
        _clip_losses(panels, results)
    elif window is not None:  # one window, so one set of levels: one colour bar
        _colorbar(filled, axes)
    if ax is None and shared:
        for panel in panels:
            panel.label_outer()
    return axes[0, 0].figure


def _shared_window(fun: Callable[..., Any], results: Sequence[Result]) -> Array | None:
    """The window every panel of a sweep shows: the test function's own, else the box of
    the runs that did not diverge (of all, if every run did), so that one run's blow-up
    does not shrink the others to a dot; ``None`` for runs in more than two coordinates,
    each drawn in its own principal plane."""
    paths = _iterates(results)
    if not paths or paths[0].shape[1] != 2:
        return None
    kept = [xy for xy, r in zip(paths, results, strict=True) if r.status != "diverged"]
    return _window(fun, None, kept or paths, 2)


def _mark_exit(ax: Axes, result: Result, window: Array) -> None:
    """Where a diverged run leaves the window: a cross at its last point inside, and a
    note of the update it left at and how large f grew."""
    xy = _iterates([result])[0]
    inside = np.all((xy >= window[:, 0]) & (xy <= window[:, 1]), axis=1)
    k = int(np.argmin(inside)) if not inside.all() else len(xy) - 1
    cross = _exit(xy[max(k - 1, 0)], xy[k], window)
    ax.plot(*cross, "X", color=BLOW_UP, ms=11, mec="white", zorder=6, clip_on=False)
    f = result.history.f[np.isfinite(result.history.f)]
    low = cross[1] < window[1].mean()  # the note goes to the other half, clear of the cross
    ax.annotate(
        f"diverged: leaves the window at update {k},\nf reaches {np.max(f):.2g}",
        (0.5, 0.97 if low else 0.03), xycoords="axes fraction", ha="center",
        va="top" if low else "bottom", fontsize=TEXT,
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85}, zorder=7,
    )  # fmt: skip


def _exit(inside: Array, outside: Array, window: Array) -> Array:
    """Where the step from ``inside`` to ``outside`` crosses the edge of ``window``."""
    step = outside - inside
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.where(step > 0, window[:, 1], window[:, 0])
        t = np.where(step != 0, (edge - inside) / step, np.inf)
    return np.asarray(inside + min(1.0, float(t.min())) * step)


def _clip_losses(panels: list[Axes], results: Sequence[Result]) -> None:
    """One y range for every panel, that of the runs that did not diverge; a diverged
    curve is cut at its top, with a triangle and a note where it leaves the scale."""
    kept = [panel for panel, r in zip(panels, results, strict=True) if r.status != "diverged"]
    if not kept or len(kept) == len(panels):
        return
    y = np.concatenate([line.get_ydata() for panel in kept for line in panel.get_lines()])
    y = y[np.isfinite(y)]
    low, top = (y.min() / 3, y.max() * 10) if y.min() > 0 else (y.min(), 2 * y.max())
    for panel, result in zip(panels, results, strict=True):
        panel.set_ylim(low, top)
        if result.status != "diverged":
            continue
        f = panel.get_lines()[0].get_ydata()
        k = int(np.argmax(~(f <= top)))  # the first value above the scale (or non-finite)
        panel.plot(k, top, "^", color=BLOW_UP, ms=10, clip_on=False, zorder=6)
        panel.annotate(
            f"off the scale from update {k}", (0.5, 0.97), xycoords="axes fraction",
            ha="center", va="top", fontsize=TEXT, color=BLOW_UP,
        )  # fmt: skip


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure that pyplot does not keep open."""
    return ax if ax is not None else Figure(figsize=(6.4, 4.8), layout="constrained").subplots()


def _draw_paths(
    ax: Axes,
    fun: Callable[..., Any],
    results: Sequence[Result],
    bounds: Bounds | Array | None,
    levels: Levels,
    labels: Sequence[str] | None,
) -> QuadContourSet:
    """The scene of :func:`_draw_scene` with every run's path on it."""
    paths, filled = _draw_scene(ax, fun, results, bounds, levels)
    for i, (xy, label) in enumerate(zip(paths, _labels(results, labels), strict=True)):
        _draw_run(ax, xy, i, label)
    return filled


def _colorbar(filled: QuadContourSet, ax: Any) -> Any:
    """The colour bar of ``filled`` beside ``ax`` (an axes or an array of them), its ticks
    at round values (:func:`descend.viz._contours._ticks`), named "f" across its top: not
    along its side, where it would read on with the y label of a panel to its right."""
    ticks = _ticks(np.asarray(filled.levels))
    colorbar = filled.axes.figure.colorbar(filled, ax=ax)
    colorbar.set_ticks(list(ticks), labels=[f"{t:g}" for t in ticks])
    colorbar.ax.set_title("f")
    return colorbar


def _draw_run(ax: Axes, xy: Array, i: int, label: str) -> None:
    """Run ``i`` as its points joined by a line in its style, with faint arrows for the
    steps' direction, from a hollow start to a filled end."""
    style = _style(i)
    color = style["color"]
    ax.plot(*xy.T, marker=".", markersize=4, lw=1.3, label=label, zorder=3, **style)
    ax.quiver(
        *xy[:-1].T, *np.diff(xy, axis=0).T,
        color=color, angles="xy", scale_units="xy", scale=1, width=0.004, alpha=0.35, zorder=3,
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
        style = _style(i)
        ax.plot(steps, y, label=f"{label} (diverged)" if diverged else label, **style)
        if diverged:  # a cross where it blew up
            last = np.flatnonzero(np.isfinite(y))[-1]
            ax.plot(steps[last], y[last], "x", color=style["color"], ms=12, mew=2.5, zorder=4)
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
