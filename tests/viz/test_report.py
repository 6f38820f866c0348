"""The HTML report, built once as ``descend demo --out DIR`` builds it (tests/viz/conftest.py),
and read as a user would: its files, its numbers, its structure (contents, take-aways, code)
and every figure it saved, read back from the figure objects."""

from __future__ import annotations

import html.parser
import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from descend.viz import _layout, _page, report

SWEEP_GRIDS = ("learning-rates", "momentum-grid")  # one run a panel, named in its title
REPRS = ("{'", "['", "np.", "array(", "float64", "<function", "<class", " object at ", "None")


class _Page(html.parser.HTMLParser):
    """The page as parts: the contents' links; per section its id, title, take-away, prose
    (paragraphs outside the code), code, images (their attributes) and table cells (text
    and class); and, over the whole page, the image sources and cells in order."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.sections: list[dict[str, Any]] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self._into: tuple[str, str] | None = None  # (field, tag that ends it)
        self._in_nav = self._in_code = False

    def _section(self) -> dict[str, Any]:
        return self.sections[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "nav":
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self.links.append((a["href"], ""))
            self._into = ("link", "a")
        elif tag == "section":
            self.sections.append({"id": a["id"], "title": "", "takeaway": "", "prose": "",
                                  "code": "", "images": [], "cells": []})  # fmt: skip
        elif tag == "details":
            self._in_code = True
        elif not self.sections:
            return
        elif tag == "h2":
            self._into = ("title", "h2")
        elif tag == "p" and "takeaway" in a.get("class", ""):
            self._into = ("takeaway", "p")
        elif tag == "p" and not self._in_code:
            self._into = ("prose", "p")
        elif tag == "code":
            self._into = ("code", "code")
        elif tag == "img":
            self._section()["images"].append(a)
            self.images.append(a["src"])
        elif tag == "td":
            self._section()["cells"].append(["", a.get("class", "")])
            self._into = ("cell", "td")

    def handle_data(self, data: str) -> None:
        if self._into is None:
            return
        field = self._into[0]
        if field == "link":
            self.links[-1] = (self.links[-1][0], self.links[-1][1] + data)
        elif field == "cell":
            self._section()["cells"][-1][0] += data
        else:
            self._section()[field] += data

    def handle_endtag(self, tag: str) -> None:
        if self._into is not None and tag == self._into[1]:
            if self._into[0] == "cell":
                self.cells.append(self._section()["cells"][-1][0])
            elif self._into[0] == "prose":
                self._section()["prose"] += "\n"
            self._into = None
        if tag == "nav":
            self._in_nav = False
        elif tag == "details":
            self._in_code = False


@pytest.fixture(scope="module")
def page(built: Any) -> _Page:
    parsed = _Page()
    parsed.feed((built.folder / "index.html").read_text(encoding="utf-8"))
    return parsed


def _section(page: _Page, title: str) -> dict[str, Any]:
    return next(s for s in page.sections if s["title"] == title)


def test_demo_prints_where_the_report_is_and_shows_progress(built):
    where, how = built.out.strip().splitlines()
    assert where == f"report: {(built.folder / 'index.html').resolve()}"
    assert how == "playground: run `descend playground --open` to steer these methods in a browser"
    # Not a terminal: one line per section (a log stays readable), in tqdm's format: the
    # bar, the count, [elapsed<remaining, rate], then the section under way.
    steps = built.err.splitlines()
    total = len(report.SECTIONS)
    assert len(steps) == total + 1 and all("\r" not in line for line in steps)
    assert steps[0].startswith("[" + " " * 20 + f"] 0/{total} [00:00<?, ?section/s], ")
    assert steps[0].endswith(report.SECTIONS[0].title)
    assert steps[-1].startswith("[" + "#" * 20 + f"] {total}/{total} [")
    assert re.search(r"s/section\], done$|section/s\], done$", steps[-1]), steps[-1]


def test_the_contents_link_to_every_section_in_order(page):
    titles = [section.title for section in report.SECTIONS]
    assert [s["title"] for s in page.sections] == titles
    assert page.links == [(f"#{s['id']}", s["title"]) for s in page.sections]
    ids = [s["id"] for s in page.sections]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


def test_every_section_has_a_take_away_its_code_and_prose_without_python_reprs(page):
    for section, shown in zip(report.SECTIONS, page.sections, strict=True):
        takeaway = shown["takeaway"].removeprefix("Take-away: ")
        assert takeaway.strip() and "\n" not in takeaway.strip(), shown["title"]
        assert takeaway.rstrip().endswith("."), takeaway
        assert shown["code"] == inspect.getsource(section.run)  # the code that made it
        for text in (takeaway, shown["prose"]):
            assert not [r for r in REPRS if r in text], (shown["title"], text)


def test_prose_in_table_cells_is_left_aligned_and_numbers_right(page):
    cells = [cell for s in page.sections for cell in s["cells"]]
    numbers = [text for text, kind in cells if kind == "num"]
    prose = [text for text, kind in cells if kind != "num"]
    assert numbers and prose
    assert all(re.fullmatch(r"[−+-]?[\d,]*\.?\d+(e[−+-]?\d+)?%?", text) for text in numbers)
    assert any(text.startswith("lr_too_large") for text in prose)  # the diagnosis column
    assert not [text for text in prose if re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", text)]


def test_every_image_the_page_references_exists_and_is_a_real_figure(built, page):
    from PIL import Image

    assert sorted(page.images) == sorted(f"figures/{name}.png" for name in built.figures)
    for source in page.images:
        assert not source.startswith(("http:", "https:", "/")), source  # self-contained
        path = built.folder / source
        assert path.is_file(), source
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGBA", source  # no palette
            assert min(image.size) >= 200, source
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
            assert len(np.unique(pixels, axis=0)) > 50, f"{source} looks blank"


def test_every_legend_lies_outside_the_data_and_every_text_reads(built, page):
    assert len(built.figures) >= len(report.SECTIONS)
    for name, figure in built.figures.items():
        assert _layout.legend_overlaps(figure) == [], name
        assert _layout.small_texts(figure, _page.FIGURE_DPI) == [], name
        legends = len(figure.legends) + sum(ax.get_legend() is not None for ax in figure.axes)
        assert legends >= 1 or name in SWEEP_GRIDS, f"{name} has no legend"
    # The page carries what was measured before each figure was saved.
    for image in (image for s in page.sections for image in s["images"]):
        assert image["data-legend-overlaps"] == image["data-small-text"] == "", image


def _runs(ax: Any) -> list[Any]:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_every_run_differs_from_the_others_in_colour_and_line_style_together(built):
    from matplotlib.colors import to_rgba

    rosenbrock = built.figures["rules-rosenbrock"].axes
    assert len(_runs(rosenbrock[0])) == len(_runs(rosenbrock[1])) >= 9  # every method
    for name, figure in built.figures.items():
        for ax in figure.axes:
            pairs = [(to_rgba(line.get_color()), line.get_linestyle()) for line in _runs(ax)]
            assert len(set(pairs)) == len(pairs), (name, [line.get_label() for line in _runs(ax)])


def _round(ticks: np.ndarray) -> bool:
    """Powers of ten, or multiples of one step that is 1, 2 or 5 times a power of ten."""
    if np.all(ticks > 0) and np.allclose(np.log10(ticks), np.round(np.log10(ticks))):
        return True
    step = np.diff(ticks)
    mantissa = step[0] / 10 ** np.floor(np.log10(step[0]))
    return bool(np.allclose(step, step[0]) and np.round(mantissa, 9) in (1, 2, 5)
                and np.allclose(ticks / step[0], np.round(ticks / step[0])))  # fmt: skip


def test_f_is_named_once_per_figure_and_colour_bars_have_round_ticks(built):
    for name, figure in built.figures.items():
        bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
        names = [ax.get_ylabel() for ax in figure.axes] + [bar.get_title() for bar in bars]
        assert names.count("f") <= 1, (name, names)
        for bar in bars:
            ticks = bar.get_yticks()
            assert len(ticks) >= 3 and _round(ticks), (name, ticks)


def test_small_multiples_share_their_axes_and_clip_the_diverging_panel(built):
    for name in SWEEP_GRIDS:
        panels = [ax for ax in built.figures[name].axes if ax.get_label() != "<colorbar>"]
        assert len({(ax.get_xlim(), ax.get_ylim()) for ax in panels}) == 1, name
        assert {ax.get_xlabel() for ax in panels[1:]} <= {"x", ""}
    grid = built.figures["learning-rates"].axes
    *kept, blown = [ax for ax in grid if ax.get_label() != "<colorbar>"]
    assert "diverged" in blown.get_title() and not any("diverged" in a.get_title() for a in kept)
    (cross,) = [line for line in blown.get_lines() if line.get_marker() == "X"]
    (x, y), ((x0, x1), (y0, y1)) = cross.get_xydata()[0], (blown.get_xlim(), blown.get_ylim())
    inside = x0 - 1e-9 <= x <= x1 + 1e-9 and y0 - 1e-9 <= y <= y1 + 1e-9
    on_edge = np.isclose([x0, x1], x).any() or np.isclose([y0, y1], y).any()
    assert inside and on_edge  # where the run leaves the shared window
    assert blown.texts[0].get_text().startswith("diverged: leaves the window at update ")


def test_adamw_on_the_bowl_is_explained_in_one_line(page):
    from descend.viz import demo

    bowl = demo.PROBLEMS[2]
    ((_, _, adamw),) = demo.run([bowl], methods=("adamw",))
    assert adamw.status == "max_iter"
    # Its end point is not the minimum, where the gradient (2(x − 1), 6y) would vanish.
    g = np.array([2 * (adamw.x[0] - 1), 6 * adamw.x[1]])
    prose = _section(page, "The update rules side by side")["prose"]
    lines = [text for text in prose.splitlines() if text.startswith("AdamW ends at max_iter")]
    line = lines[0]  # the bowl's (Rosenbrock's, if AdamW runs out there too, comes after)
    assert f"‖∇f‖ = {np.linalg.norm(g):.2g}" in line and "weight decay (0.01)" in line
    assert "fixed point" in line and f"{adamw.nit:,} updates" in line
    assert np.linalg.norm(g) > 1e-8 and "stays above gtol = 1e-08" in line  # minimize's gtol


def test_the_gradient_sources_differ_in_an_error_plot(built, page):
    ax = built.figures["gradients-error"].axes[0]
    errors = {line.get_label().split(":")[0]: line.get_ydata() for line in _runs(ax)[:-1]}
    assert len(errors) == 5 and ax.get_yscale() == "log"
    # The order the theory gives: forward differences O(h), central O(h²), Richardson
    # extrapolated, then the exact sources at rounding.
    worst = {label: float(np.max(y)) for label, y in errors.items()}
    assert (worst["numerical (forward)"] > worst["numerical (central)"]
            > worst["numerical (Richardson)"] > worst["symbolic (formula)"])  # fmt: skip
    assert worst["automatic (autograd)"] < 1e-14 and worst["symbolic (formula)"] < 1e-14
    cells = _section(page, "Gradients: by hand, symbolic, automatic, numerical")["cells"]
    texts = [text for text, _ in cells]
    for label, value in worst.items():
        assert texts[texts.index(label) + 1] == f"{value:.4g}"


def test_the_template_escapes_what_sections_write():
    evil = '<script>alert("x")</script>'
    content = _page.Content(evil, [_page.paragraph(evil), _page.Heading(evil),
                                   _page.table([evil], [[evil]])])  # fmt: skip
    page = _page.render([{"title": evil, "slug": "s", "content": content, "code": evil}], 1.0)
    # The title twice (contents, heading), the take-away, paragraph, heading, column, cell
    # and code once each: all escaped, none live.
    assert "<script>" not in page and page.count("&lt;script&gt;") == 8
    assert page.count('<section id="s">') == 1


def test_a_section_whose_extra_is_missing_says_so_and_the_rest_still_builds(monkeypatch, tmp_path):
    def needs_missing_extra(page):
        raise ImportError('descend.models needs scikit-learn: pip install "descend[models]"')

    def plain(page):
        return _page.Content("Fine.", [_page.paragraph("fine")])

    monkeypatch.setattr(report, "SECTIONS", (report.Section("Needs an extra", needs_missing_extra),
                                             report.Section("Plain", plain)))  # fmt: skip
    text = report.build(tmp_path, progress=False).read_text(encoding="utf-8")
    assert "Skipped: descend.models needs scikit-learn" in text and "<p>fine</p>" in text


def test_the_numbers_on_the_page_are_the_runs_numbers(page):
    cells = page.cells
    # Digits: the batch run's 12 updates and its error rates (tests/test_digits.py derives them).
    batch = cells.index("batch")
    assert cells[batch + 1 : batch + 6] == ["12", "12", cells[batch + 3], "0.69%", "1.39%"]
    # Restarts: Himmelblau's four minima, each reached by some start, 40 in all.
    himmelblau = [
        i for i, cell in enumerate(cells) if re.fullmatch(r"\(-?\d\.\d{6}, -?\d\.\d{6}\)", cell)
    ]
    assert len(himmelblau) == 4
    assert sum(int(cells[i + 2]) for i in himmelblau) == 40
    assert "(3.000000, 2.000000)" in cells
    # Recommender: factors beat biases, which beat the mean; nothing beats the noise floor.
    rmse = {cells[i]: float(cells[i + 3]) for i, cell in enumerate(cells[:-3])
            if cell in ("50 factors", "biases only", "global mean")}  # fmt: skip
    floor = float(cells[cells.index("noise floor (the true expected ratings)") + 3])
    assert floor < rmse["50 factors"] < rmse["biases only"] < rmse["global mean"]
    # Learning rates: the largest one diverges, and its diagnosis says why.
    assert any(cell.startswith("lr_too_large") for cell in cells)


# The two sections that look inside runs (descend.viz._inside): their settings are the
# module's constants; every number is recomputed here from the runs' iterates, not from
# the parts explain=True records.

INSIDE, RECOVERING = "Inside the update", "Recovering from a step too large"


def _grad(x: np.ndarray) -> np.ndarray:  # of x**2 + 10*y**2, row by row
    return np.stack([2 * x[..., 0], 20 * x[..., 1]], axis=-1)


def _adam_effective_lr(points: np.ndarray, lr: float) -> np.ndarray:
    """lr / (sqrt(v_hat) + eps) after each update, from Adam's recurrence on the gradients
    at the iterates the update started from."""
    v, rates = np.zeros(2), []
    for t, g in enumerate(_grad(points), start=1):
        v = 0.999 * v + 0.001 * g * g
        rates.append(lr / (np.sqrt(v / (1 - 0.999**t)) + 1e-8))
    return np.array(rates)


def test_inside_the_update_shows_its_figures_and_quotes_the_runs(page):
    import descend as dd
    from descend.viz import _inside

    assert [i["src"] for i in _section(page, INSIDE)["images"]] == [
        "figures/inside-paths.png",
        "figures/inside-parts.png",
    ]
    text = _section(page, INSIDE)["prose"]
    momentum, adam = (
        dd.minimize(_inside.QUADRATIC, list(_inside.START), max_iter=_inside.UPDATES, **settings)
        for settings in (_inside.MOMENTUM, _inside.ADAM)
    )
    assert momentum.method == "momentum" and adam.method == "adam"
    effective = _adam_effective_lr(adam.history.x[:-1], _inside.ADAM["lr"])
    for rates in (effective[0], effective[-1]):
        ratio = rates[0] / rates[1]
        assert f"{rates[0]:.3g} along x and {rates[1]:.3g} along y" in text or (
            f"it is {rates[0]:.3g} and {rates[1]:.3g}" in text
        )
        assert f"a ratio of {ratio:.3g}" in text
    assert effective[-1, 0] / effective[-1, 1] > 1  # the steep y gets the smaller rate
    assert (
        f"{abs(_grad(np.array(_inside.START))[1] / _grad(np.array(_inside.START))[0]):.3g}" in text
    )
    steps = np.diff(momentum.history.x, axis=0)  # momentum's step is its velocity
    speed = np.linalg.norm(steps, axis=1)
    peak = int(np.argmax(speed))
    assert f"‖v‖ = {speed[peak]:.3g} at update {peak + 1}" in text
    assert f"shrunk to {speed[-1]:.3g} by update {len(speed)}" in text
    downhill = -_grad(momentum.history.x[:-1])
    cosine = np.sum(steps * downhill, axis=1) / (speed * np.linalg.norm(downhill, axis=1))
    assert f"in {int(np.sum(cosine < 0))} of its {len(speed)} updates" in text
    for res in (momentum, adam):
        assert f"{res.fun:.4g}" in page.cells


def test_the_report_rolls_back_where_stop_dies(page):
    import descend as dd
    from descend.viz import _inside

    assert [i["src"] for i in _section(page, RECOVERING)["images"]] == ["figures/recovering.png"]
    text, cells = _section(page, RECOVERING)["prose"], page.cells
    f = dd.functions.rosenbrock
    stop, rollback = (
        dd.minimize(f, f.x0, on_divergence=mode, **_inside.TOO_LARGE)
        for mode in ("stop", "rollback")
    )
    assert stop.status == "diverged" and not stop.events
    assert rollback.status == "converged" and rollback.events
    np.testing.assert_allclose(rollback.x, [1.0, 1.0], atol=1e-6)
    # The page's table says the same: the stop run died, the rollback run converged.
    for label, res in (('on_divergence="stop"', stop), ('on_divergence="rollback"', rollback)):
        row = cells[cells.index(label) :][:7]
        assert row[1:6] == [str(res.status), f"{res.fun:.4g}", f"{res.best_fun:.4g}",
                            str(res.nit), str(len(res.events))]  # fmt: skip
    assert f"status diverged, final f = {stop.fun:.3g}" in text
    assert stop.message.split(";")[0] in text
    assert f"converged after {rollback.nit} updates, final f = {rollback.fun:.3g}" in text
    assert f"rolled back {len(rollback.events)} times" in text
    for event in rollback.events:
        assert event.kind == "rollback"
        assert (
            f"after update {event.nit} ({event.cause}) it went back to update {event.to_nit} "
            f"with lr {event.lr_before:g} → {event.lr_after:g}"
        ) in text
    assert rollback.events[-1].lr_after < _inside.TOO_LARGE["lr"]


class _Capture:
    """A Page that keeps the figures instead of writing them."""

    def __init__(self) -> None:
        self.figures: dict[str, object] = {}

    def figure(self, name, figure, alt):
        self.figures[name] = figure
        return _page.Image(name, alt, 0, (), ())

    panels = staticmethod(report.Page.panels)


def test_the_rollbacks_are_marked_and_the_velocity_drawn_as_arrows():
    from matplotlib.quiver import Quiver

    from descend.viz import _inside

    capture = _Capture()
    _inside.recovering(capture)  # type: ignore[arg-type]
    stop_ax, rollback_ax = capture.figures["recovering"].axes
    assert stop_ax.get_yscale() == rollback_ax.get_yscale() == "log"
    rollback = _inside.recovery_runs()["rollback"]
    assert rollback.events  # else there would be nothing to mark
    marked = [
        line.get_xdata()[0] for line in rollback_ax.get_lines() if line.get_linestyle() == "--"
    ]
    assert marked == [event.nit for event in rollback.events]
    notes = [text.get_text() for text in rollback_ax.texts]
    assert notes == [f"lr → {event.lr_after:g}" for event in rollback.events]

    _inside.inside_the_update(capture)  # type: ignore[arg-type]
    paths = capture.figures["inside-paths"].axes[0]
    arrows = [
        c
        for c in paths.collections
        if isinstance(c, Quiver) and c.get_label() == "momentum's velocity"
    ]
    assert len(arrows) == 1 and arrows[0].N == _inside.UPDATES
    adam_ax, speed_ax = capture.figures["inside-parts"].axes
    assert adam_ax.get_yscale() == speed_ax.get_yscale() == "log"
    assert [line.get_label() for line in adam_ax.get_lines()][:2] == ["adam, x", "adam, y"]


def test_the_readme_figures_are_in_full_colour():
    """docs/*.png come from the report unquantised: a palette of 256 colours once gave
    momentum (C1, orange) and AdaGrad (C3, red) the same orange in docs/rosenbrock.png."""
    from matplotlib.colors import to_rgb
    from PIL import Image

    docs = Path(__file__).resolve().parents[2] / "docs"
    for name in ("rosenbrock", "momentum-grid", "portfolio"):
        with Image.open(docs / f"{name}.png") as image:
            assert image.mode in ("RGB", "RGBA"), name
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        if name == "rosenbrock":
            for colour in ("C1", "C3"):  # momentum's and AdaGrad's, each drawn exactly
                rgb = np.round(np.array(to_rgb(colour)) * 255)
                assert np.all(pixels == rgb, axis=1).sum() > 50, colour
