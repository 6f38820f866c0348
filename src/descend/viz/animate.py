"""Animations of runs: the paths of :func:`descend.plot.path` drawn frame by frame, as GIF or MP4.

Use it as ``descend.plot.animate`` (:mod:`descend.viz.plot` re-exports it); it lives
apart from the still figures because writing a movie is its own concern: the file
format and its writer (Pillow for GIF, ffmpeg for MP4), the frame rate and the choice
of frames. The scene each frame is drawn on is the one ``path`` draws
(:mod:`descend.viz._scene`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend import _validate
from descend.core.result import Result

try:
    from matplotlib import animation
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - matplotlib is in the plot extra
    raise ImportError("descend.plot needs matplotlib: pip install 'descend[plot]'") from error

from ._contours import LEVELS, Bounds, Levels, _objective
from ._scene import _draw_scene, _labels, _style, _unit

__all__ = ["animate"]

MAX_FRAMES = 100  # longer histories are subsampled in animations


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
    the window and levels are those of :func:`descend.plot.path`.

    Parameters
    ----------
    fun, *results, bounds, levels, labels
        As for :func:`descend.plot.path`.
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
        If ``path`` does not end in ``.gif`` or ``.mp4``, or as :func:`descend.plot.path`
        does.
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
        ax.plot([], [], marker=".", label=label, zorder=3, **_style(i))[0]
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
