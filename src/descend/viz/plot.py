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
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array
from descend.core.result import Result
from descend.gradients.formulas import parse

try:
    from matplotlib import animation
    from matplotlib.axes import Axes
    from matplotlib.colors import BoundaryNorm
    from matplotlib.contour import QuadContourSet
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - matplotlib is in the plot extra
    raise ImportError("descend.plot needs matplotlib: pip install 'descend[plot]'") from error

__all__ = ["animate", "curve", "loss", "path", "sweep"]

GRID = 150  # points per side of the grid the contours are drawn from
CMAP = "YlGnBu"  # light at low f, where runs end, so their colours stand out
MAX_FRAMES = 100  # longer histories are subsampled in animations
LEVELS = 30  # contour levels by default
WIDE = 300  # f spanning more than this times its 5th percentile gets log-spaced levels

Bounds = Sequence[Sequence[float]]
Levels = int | Sequence[float]


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


def animate(
    fun: Callable[..., Any] | str,
    *results: Result,
    path: str | os.PathLike[str] = "descent.gif",
    fps: int = 10,
    bounds: Bounds | None = None,
    levels: Levels = LEVELS,
    labels: Sequence[str] | None = None,
) -> str:
    """Write an animation of the runs moving over the contours of ``fun``.

    One frame per iteration, or :data:`MAX_FRAMES` evenly spaced ones for longer runs;
    the window and levels are those of :func:`path`.

    Parameters
    ----------
    fun, *results, bounds, levels, labels
        As for :func:`path`.
    path : str or path
        The file to write: ``.gif`` (through Pillow) or ``.mp4`` (needs ffmpeg).
    fps : int
        Frames per second.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.gif`` or ``.mp4``, or as :func:`path` does.
    RuntimeError
        For an ``.mp4`` when ffmpeg is not on the PATH.

    Examples
    --------
    >>> import os, tempfile
    >>> import descend as dd
    >>> from descend.functions import booth
    >>> res = dd.minimize(booth, booth.x0, grad=booth.grad, lr=0.05, max_iter=20)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = animate(booth, res, path=os.path.join(folder, "booth.gif"))
    ...     os.path.basename(written), os.path.getsize(written) > 1000
    ('booth.gif', True)
    """
    target = os.fspath(path)
    rate = _validate.count("fps", fps, minimum=1)
    suffix = os.path.splitext(target)[1].lower()
    if suffix == ".gif":
        writer: animation.AbstractMovieWriter = animation.PillowWriter(fps=rate)
    elif suffix == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise RuntimeError(
                f"writing {target!r} needs ffmpeg on the PATH; install ffmpeg, or write a .gif"
            )
        writer = animation.FFMpegWriter(fps=rate)
    else:
        raise ValueError(f"path must end in .gif or .mp4, got {target!r}")
    if not results:
        raise ValueError("animate needs at least one run to draw")
    figure = Figure(figsize=(5.0, 4.0))  # small, and no layout engine: every frame redraws
    ax = figure.subplots()
    paths, _ = _draw_scene(ax, _objective(fun), results, bounds, levels)
    lines = [
        ax.plot([], [], ".-", color=f"C{i}", label=label, zorder=3)[0]
        for i, label in enumerate(_labels(results, labels))
    ]
    ax.legend(loc="upper right")
    title, unit = ax.get_title(), _unit(results)
    length = max(len(xy) for xy in paths)
    frames = np.linspace(0, length - 1, min(length, MAX_FRAMES)).round().astype(int)

    def draw(k: int) -> list[Any]:
        for line, xy in zip(lines, paths, strict=True):
            line.set_data(*xy[: k + 1].T)
        ax.set_title(f"{title} — {unit} {k}" if title else f"{unit} {k}")
        return lines

    animation.FuncAnimation(figure, draw, frames=frames).save(target, writer=writer)
    return target


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure that pyplot does not keep open."""
    return ax if ax is not None else Figure(figsize=(6.4, 4.8), layout="constrained").subplots()


def _objective(fun: Any) -> Callable[..., Any]:
    if isinstance(fun, str):
        return parse(fun)
    if not callable(fun):
        raise TypeError(
            "fun must be a callable, a descend.functions test function or a formula "
            f"string, got {type(fun).__name__}"
        )
    return fun


def _iterates(results: Sequence[Result]) -> list[Array]:
    """Each run's iterates as rows of a ``(k + 1, n)`` array, without non-finite ones
    (a diverged run records the point that broke)."""
    paths = []
    for i, result in enumerate(results):
        x = result.history.x
        if x is None:
            raise ValueError(
                f"result {i} ({result.method}) has no recorded iterates (history.x is None); "
                "run minimize with record_x=True"
            )
        x = x.reshape(len(x), -1)
        paths.append(x[np.isfinite(x).all(axis=1)])
    sizes = sorted({xy.shape[1] for xy in paths})
    if len(sizes) > 1:
        raise ValueError(f"the runs must have the same number of coordinates, got {sizes}")
    return paths


def _labels(results: Sequence[Result], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [result.method for result in results]
    if len(labels) != len(results):
        raise ValueError(f"labels must have one entry per run ({len(results)}), got {labels!r}")
    return list(labels)


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


def _draw_scene(
    ax: Axes,
    fun: Callable[..., Any],
    results: Sequence[Result],
    bounds: Bounds | None,
    levels: Levels,
) -> tuple[list[Array], QuadContourSet]:
    """Contours of ``fun`` on the plane of the runs, with the known minima marked and the
    axes labelled; returns each run's path in the plane's coordinates, and the contours."""
    paths = _iterates(results)
    n = paths[0].shape[1] if paths else 2
    if n < 2:
        raise ValueError("path draws objectives of two or more variables; use curve for one")
    if n == 2:
        origin, basis = np.zeros(2), np.eye(2)
    else:  # the two principal directions of all iterates, through their mean
        points = np.concatenate(paths)
        origin = points.mean(axis=0)
        # Two zero rows keep two directions when the runs visited fewer than three points.
        centred = np.vstack([points - origin, np.zeros((2, n))])
        basis = np.linalg.svd(centred, full_matrices=False)[2][:2]
    planar = [(xy - origin) @ basis.T for xy in paths]
    window = _window(fun, bounds, planar, n)
    A, B = np.meshgrid(*(np.linspace(lo, hi, GRID) for lo, hi in window))
    grid = origin[:, None, None] + np.tensordot(basis.T, np.stack([A, B]), axes=1)
    shape = results[0].x.shape if results else (2,)
    Z = _evaluate(fun, grid, shape)
    if np.isnan(Z).all():
        raise ValueError(f"f is not finite anywhere in the window {window.tolist()}")
    steps = _levels(Z, levels, any(result.maximize for result in results))
    filled = ax.contourf(A, B, Z, levels=steps, cmap=CMAP, norm=BoundaryNorm(steps, 256))
    ax.contour(A, B, Z, levels=steps, colors="black", linewidths=0.3, alpha=0.3)
    minima = [m.ravel() for m in getattr(fun, "minima", []) if m.size == n]
    if minima:
        _mark_minima(ax, (np.array(minima) - origin) @ basis.T)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    title = _title(fun)
    if n == 2:
        xlabel, ylabel = _names(fun, 2)
    else:
        xlabel, ylabel = "1st principal direction", "2nd principal direction"
        title = f"{title}, projected on the runs' principal plane".lstrip(", ")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return planar, filled


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


def _mark_minima(ax: Axes, points: Array) -> None:
    ax.scatter(
        points[:, 0], points[:, 1], marker="*", s=180, c="white", edgecolors="black", zorder=5,
        label="minimum" if len(points) == 1 else "minima",
    )  # fmt: skip


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


def _unit(results: Sequence[Result]) -> str:
    """What a history's index counts: "epoch" in data mode, else "iteration"."""
    units = {"iteration" if r.nepoch is None else "epoch" for r in results}
    return " or ".join(sorted(units))


def _title(fun: Any) -> str:
    """A test function's name or a formula's text; empty for other callables."""
    return str(getattr(fun, "name", None) or getattr(fun, "text", ""))


def _names(fun: Any, n: int) -> tuple[str, ...]:
    """Axis names: a formula's variables, else ``x[0]``, ``x[1]``, ... (``x`` for one)."""
    variables = getattr(fun, "variables", None)
    if variables is not None and len(variables) == n:
        return tuple(variables)
    return ("x",) if n == 1 else tuple(f"x[{i}]" for i in range(n))


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
