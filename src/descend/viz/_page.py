"""The report's page: its folder of figures, its style, and the HTML pieces sections return.

:mod:`descend.viz.report` assembles the page and :mod:`descend.viz._inside` writes two of
its sections; both build their HTML from these pieces, so that neither imports the other.

>>> table(["run", "final f"], [["gd", 0.000123456]])
'<table><tr><th>run</th><th>final f</th></tr><tr><td>gd</td><td>0.0001235</td></tr></table>'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descend.core.result import Result

FIGURE_DPI = 90
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.7rem; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 1rem 0; }
.note { color: #555; font-size: 0.9rem; } pre { background: #f7f7f7; padding: 0.6rem; }
"""


class Page:
    """The report's folder: figures go to ``figures/``, each returned as an ``<img>`` tag."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "figures").mkdir(parents=True, exist_ok=True)

    def figure(self, name: str, figure: Any, alt: str) -> str:
        """Write ``figure`` as ``figures/NAME.png`` and return the tag that shows it."""
        relative = f"figures/{name}.png"
        figure.savefig(self.folder / relative, dpi=FIGURE_DPI)
        return f'<img src="{relative}" alt="{html.escape(alt)}">'

    @staticmethod
    def panels(count: int, width: float = 6.0, height: float = 4.5) -> tuple[Any, Any]:
        """A new figure with ``count`` axes side by side."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width * count, height), layout="constrained")
        return figure, figure.subplots(1, count, squeeze=False)[0]


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; cells are escaped, numbers formatted to 4 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def paragraph(text: str, note: bool = False) -> str:
    return f"<p{' class=note' if note else ''}>{html.escape(text)}</p>"


def runs_table(results: Sequence[Result], labels: Sequence[str], target: Any = None) -> str:
    """One row a run: its status, final f, distance to ``target`` (if given), updates, ms."""
    rows = []
    for label, res in zip(labels, results, strict=True):
        gap = [] if target is None else [float(np.linalg.norm(np.subtract(res.x, target)))]
        rows.append([label, str(res.status), float(res.fun), *gap, res.nit, res.elapsed * 1e3])
    distance = [] if target is None else ["|x − x*|"]
    return table(["run", "status", "final f", *distance, "updates", "ms"], rows)
