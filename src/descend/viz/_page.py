"""The report's page: its folder of figures, the blocks sections are made of, and the
Jinja2 template that renders them.

:mod:`descend.viz.report` runs the sections and :mod:`descend.viz._inside` writes two of
them; both build their content from these blocks, so that neither imports the other. A
section returns :class:`Content`: a one-line take-away and a list of blocks (paragraphs,
headings, figures, tables). The template (``templates/report.html.j2``, autoescaped, so
no text a section quotes can become markup) lays them out with a table of contents and
each section's code. Each figure is measured before it is saved (:mod:`descend.viz._layout`:
legends clear of the data, no text under 11 px) and what was found is written beside it.

>>> table(["run", "final f"], [["gd", 0.000123456]]).rows
((Cell(text='gd', number=False), Cell(text='0.0001235', number=True)),)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from descend.core.result import Result

from ._layout import legend_overlaps, small_texts

FIGURE_DPI = 90  # 1 point = 1.25 px: a 12 in wide figure is 1080 px, readable at 1400
NUMBER = re.compile(r"[−+-]?[\d,]*\.?\d+(e[−+-]?\d+)?%?")  # right-aligned in a table


@dataclass(frozen=True)
class Text:
    """A paragraph; ``note`` sets it in the smaller grey of remarks."""

    text: str
    note: bool = False
    kind: ClassVar[str] = "text"


@dataclass(frozen=True)
class Heading:
    text: str
    kind: ClassVar[str] = "heading"


@dataclass(frozen=True)
class Image:
    """A saved figure: its file, its alt text, and what :mod:`descend.viz._layout` found."""

    src: str
    alt: str
    legends: int
    overlaps: tuple[str, ...]
    small: tuple[str, ...]
    kind: ClassVar[str] = "figure"


@dataclass(frozen=True)
class Cell:
    text: str
    number: bool


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kind: ClassVar[str] = "table"


Block = Text | Heading | Image | Table


@dataclass(frozen=True)
class Content:
    """What a section shows: its take-away in one line, then its blocks."""

    takeaway: str
    blocks: list[Block] = field(default_factory=list)


class Page:
    """The report's folder: figures go to ``figures/``, each returned as an :class:`Image`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "figures").mkdir(parents=True, exist_ok=True)

    def figure(self, name: str, figure: Any, alt: str) -> Image:
        """Measure ``figure``'s legends and text, write it as ``figures/NAME.png`` in full
        colour (no palette: every run keeps its own colour) and return its block."""
        figure.set_dpi(FIGURE_DPI)
        overlaps, small = legend_overlaps(figure), small_texts(figure, FIGURE_DPI)
        legends = len(figure.legends) + sum(ax.get_legend() is not None for ax in figure.axes)
        relative = f"figures/{name}.png"
        figure.savefig(self.folder / relative, dpi=FIGURE_DPI)
        return Image(relative, alt, legends, tuple(overlaps), tuple(small))

    @staticmethod
    def panels(count: int, width: float = 6.0, height: float = 4.5) -> tuple[Any, Any]:
        """A new figure with ``count`` axes side by side."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width * count, height), layout="constrained")
        return figure, figure.subplots(1, count, squeeze=False)[0]


def legend_below(figure: Any, ax: Any, columns: int = 5) -> None:
    """One legend for the whole figure, below its axes, from ``ax``'s labelled artists;
    the axes' own legends go (panels that share runs share the legend)."""
    handles, labels = ax.get_legend_handles_labels()
    for each in figure.axes:
        if each.get_legend() is not None:
            each.get_legend().remove()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(columns, len(labels)))


def _cell(value: Any) -> Cell:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return Cell(text, NUMBER.fullmatch(text) is not None)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table; floats to 4 significant digits, numbers right-aligned, prose left."""
    return Table(tuple(columns), tuple(tuple(_cell(v) for v in row) for row in rows))


def paragraph(text: str, note: bool = False) -> Text:
    return Text(text, note)


def runs_table(results: Sequence[Result], labels: Sequence[str], target: Any = None) -> Table:
    """One row a run: its status, final f, distance to ``target`` (if given), updates, ms."""
    rows = []
    for label, res in zip(labels, results, strict=True):
        gap = [] if target is None else [float(np.linalg.norm(np.subtract(res.x, target)))]
        rows.append([label, str(res.status), float(res.fun), *gap, res.nit, res.elapsed * 1e3])
    distance = [] if target is None else ["|x − x*|"]
    return table(["run", "status", "final f", *distance, "updates", "ms"], rows)


def render(sections: Sequence[dict[str, Any]], seconds: float) -> str:
    """The page's HTML: each of ``sections`` (``title``, ``slug``, ``content``, ``code``)
    through ``templates/report.html.j2``, every text escaped."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("descend.viz", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html.j2")
    return template.render(sections=sections, seconds=f"{seconds:.0f}")
