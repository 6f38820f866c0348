"""The scene runs are drawn on, shared by the still figures and the animation.

:mod:`descend.viz.plot` (``path``, ``curve``, ``sweep``) and :mod:`descend.viz.animate`
draw runs the same way: their recorded iterates, over the contours of their objective
in the runs' plane, with the known minima as white stars, axes named after the
objective's variables, one legend entry a run (outside still figures' axes), each run's colour and
line style, and the history's unit ("iteration" or "epoch"). Those pieces live here, so
that neither module imports the other; :mod:`descend.viz._contours` computes the
contours drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm
from matplotlib.contour import QuadContourSet

from descend._types import Array
from descend.core.result import Result

from ._contours import Bounds, Levels, _evaluate, _grid, _levels, _plane, _window

CMAP = "YlGnBu"  # light at low f, where runs end, so their colours stand out
COLOURS = 10  # matplotlib's default colour cycle, C0 ... C9
LINESTYLES = ("-", "--", "-.", ":")
# Legends go outside the axes: to the right of a loss curve's, below a contour plot's (its
# colour bar is on the right). Below, the legend clears the tick labels and the x label by
# this many font sizes, so the gap scales with the text.
BELOW = 3.6


def _style(i: int) -> dict[str, Any]:
    """Run ``i``'s colour and line style: ``C{i mod 10}`` with the ``(i mod 4)``-th style.

    Colour and style change together, so up to 20 runs differ in the pair, and the first
    ten, which all differ in colour, differ in style from their neighbours too (C1's
    orange, momentum in the registry's order, against C3's red, AdaGrad's).

    >>> [tuple(_style(i).values()) for i in (1, 3, 11)]  # momentum, AdaGrad, the 12th run
    [('C1', '--'), ('C3', ':'), ('C1', ':')]
    """
    return {"color": f"C{i % COLOURS}", "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _legend(ax: Axes, where: str = "right") -> None:
    """The axes' legend outside its data area: ``"right"`` of it, or ``"below"`` it."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if where == "right":
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    else:  # as many columns as about 70 characters of labels allow, at most 4
        columns = min(len(handles), 4, max(1, 70 // max(len(label) for label in labels)))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=BELOW,
                  ncols=columns)  # fmt: skip


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


def _draw_scene(
    ax: Axes,
    fun: Callable[..., Any],
    results: Sequence[Result],
    bounds: Bounds | Array | None,
    levels: Levels,
) -> tuple[list[Array], QuadContourSet]:
    """Contours of ``fun`` on the plane of the runs, with the known minima marked and the
    axes labelled; returns each run's path in the plane's coordinates, and the contours."""
    paths = _iterates(results)
    n = paths[0].shape[1] if paths else 2
    if n < 2:
        raise ValueError("path draws objectives of two or more variables; use curve for one")
    origin, basis = _plane(paths, n)
    planar = [(xy - origin) @ basis.T for xy in paths]
    window = _window(fun, bounds, planar, n)
    A, B, grid = _grid(window, origin, basis)
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


def _mark_minima(ax: Axes, points: Array) -> None:
    ax.scatter(
        points[:, 0], points[:, 1], marker="*", s=180, c="white", edgecolors="black", zorder=5,
        label="minimum" if len(points) == 1 else "minima",
    )  # fmt: skip


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
