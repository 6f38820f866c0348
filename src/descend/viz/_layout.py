"""Whether a figure reads well, measured by matplotlib's own renderer: legends clear of
every axes and of each other, and no text too small to read.

The report measures each figure with these before it saves it (:mod:`descend.viz._page`)
and writes what it found beside the image; its tests run them on every figure it makes.
Positions are those of a draw that paints nothing, after the layout engine (constrained
layout) has placed everything, as saving places it.

>>> from matplotlib.figure import Figure
>>> figure = Figure(figsize=(4, 3), layout="constrained")
>>> ax = figure.subplots()
>>> _ = ax.plot([0, 1], [0, 1], label="run")
>>> _ = ax.legend(loc="upper left")  # inside the axes
>>> legend_overlaps(figure)
["legend 0 ('run') overlaps the data area of axes 0"]
>>> _ = ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
>>> legend_overlaps(figure)
[]
"""

from __future__ import annotations

from typing import Any

__all__ = ["legend_overlaps", "small_texts"]

MIN_PX = 11  # the smallest text, in pixels, that reads on a laptop at the report's scale


def _legends(figure: Any) -> list[Any]:
    return [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]


def _name(legend: Any, i: int) -> str:
    texts = [text.get_text() for text in legend.get_texts()]
    return f"legend {i} ({texts[0]!r}{', ...' if len(texts) > 1 else ''})"


def _area(a: Any, b: Any) -> float:
    """The area, in square pixels, that two boxes share."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def legend_overlaps(figure: Any, tolerance: float = 1.0) -> list[str]:
    """Every place where a legend of ``figure`` lies over something it must not.

    A legend must not cover any axes' data area (its own included: legends sit outside
    the axes or below them), the tick labels and axis labels of any axes, another
    legend, or the figure's edge (where saving would cut it off).

    Parameters
    ----------
    figure : matplotlib Figure
        Laid out here as saving would (``draw_without_rendering``), so every position is
        the saved figure's.
    tolerance : float
        Square pixels two boxes may share before they count as overlapping (antialiased
        edges touch).

    Returns
    -------
    list of str
        One sentence per overlap; empty when every legend is clear.
    """
    figure.draw_without_rendering()  # laid out as saving lays it out, no pixel painted
    legends = _legends(figure)
    boxes = [legend.get_window_extent() for legend in legends]
    found = []
    for i, (legend, box) in enumerate(zip(legends, boxes, strict=True)):
        name = _name(legend, i)
        for j, ax in enumerate(figure.axes):
            if _area(box, ax.get_window_extent()) > tolerance:
                found.append(f"{name} overlaps the data area of axes {j}")
            for axis in (ax.xaxis, ax.yaxis):
                labels = axis.get_tightbbox() if axis.get_visible() else None
                if labels is not None and _area(box, labels) > tolerance:
                    found.append(f"{name} overlaps the {axis.axis_name} axis labels of axes {j}")
        for k in range(i + 1, len(legends)):
            if _area(box, boxes[k]) > tolerance:
                found.append(f"{name} overlaps {_name(legends[k], k)}")
        if _area(box, figure.bbox) < box.width * box.height - tolerance:
            found.append(f"{name} reaches past the figure's edge")
    return found


def small_texts(figure: Any, dpi: float, smallest: float = MIN_PX) -> list[str]:
    """Every visible text of ``figure`` smaller than ``smallest`` pixels when saved at
    ``dpi`` (a point is 1/72 inch), as ``'text' at N px``."""
    from matplotlib.text import Text

    found = []
    for text in figure.findobj(Text):
        px = text.get_fontsize() * dpi / 72
        if text.get_visible() and text.get_text().strip() and px < smallest:
            found.append(f"{text.get_text()!r} at {px:.1f} px")
    return found
