"""The HTML report, built once as ``descend demo --out DIR`` builds it, and read as a user would:
its files, its numbers, and the page in a headless browser."""

from __future__ import annotations

import html.parser
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from descend.cli import cli
from descend.viz import report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class _Page(html.parser.HTMLParser):
    """The page's image sources, headings and table cells; and per section (by its
    heading), its text and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.text: dict[str, str] = {}
        self.figures: dict[str, list[str]] = {}
        self._into: list[str] | None = None
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
            self.figures.setdefault(self._section, []).append(self.images[-1])
        self._into = {"h2": self.headings, "td": self.cells}.get(tag)
        if self._into is not None:
            self._into.append("")

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data
        if self._into is self.headings:
            self._section = self.headings[-1]
        else:
            self.text[self._section] = self.text.get(self._section, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._into = None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    folder = tmp_path_factory.mktemp("report")
    out, err = io.StringIO(), io.StringIO()
    from contextlib import redirect_stderr, redirect_stdout

    with redirect_stdout(out), redirect_stderr(err):
        code = cli(["demo", "--out", str(folder)])
    assert code == 0, err.getvalue()
    return folder, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def page(built: tuple[Path, str, str]) -> _Page:
    parsed = _Page()
    parsed.feed((built[0] / "index.html").read_text(encoding="utf-8"))
    return parsed


def test_demo_prints_where_the_report_is_and_shows_progress(built):
    folder, out, err = built
    where, how = out.strip().splitlines()
    assert where == f"report: {(folder / 'index.html').resolve()}"
    assert how == "playground: run `descend playground --open` to steer these methods in a browser"
    # Not a terminal: one line per section (a log stays readable), in tqdm's format: the
    # bar, the count, [elapsed<remaining, rate], then the section under way.
    steps = err.splitlines()
    total = len(report.SECTIONS)
    assert len(steps) == total + 1 and all("\r" not in line for line in steps)
    assert steps[0].startswith("[" + " " * 20 + f"] 0/{total} [00:00<?, ?section/s], ")
    assert steps[0].endswith(report.SECTIONS[0][0])
    assert steps[-1].startswith("[" + "#" * 20 + f"] {total}/{total} [")
    assert re.search(r"s/section\], done$|section/s\], done$", steps[-1]), steps[-1]


def test_every_section_is_there_with_its_figures(page):
    assert page.headings == [title for title, _ in report.SECTIONS]
    assert len(page.images) >= len(report.SECTIONS)


def test_every_image_the_page_references_exists_and_is_a_real_figure(built, page):
    from PIL import Image

    for source in page.images:
        assert not source.startswith(("http:", "https:", "/")), source  # self-contained
        path = built[0] / source
        assert path.is_file(), source
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) >= 200, source
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
            assert len(np.unique(pixels, axis=0)) > 50, f"{source} looks blank"


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


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def test_the_page_loads_in_a_headless_browser_with_every_image_and_no_errors(built):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = _browser()
    if executable is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium); .ci/run installs it")
    messages: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            tab.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
            tab.goto((built[0] / "index.html").as_uri(), wait_until="load")
            images = tab.evaluate(
                "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
                "i.naturalWidth])"
            )
        finally:
            browser.close()
    assert images and all(done and width > 0 for _, done, width in images), images
    assert not [m for m in messages if m.startswith(("error", "pageerror", "warning"))], messages


def test_a_section_whose_extra_is_missing_says_so_and_the_rest_still_builds(monkeypatch, tmp_path):
    def needs_missing_extra(page):
        raise ImportError('descend.models needs scikit-learn: pip install "descend[models]"')

    monkeypatch.setattr(report, "SECTIONS", (("Needs an extra", needs_missing_extra),
                                             ("Plain", lambda page: "<p>fine</p>")))  # fmt: skip
    index = report.build(tmp_path, progress=False)
    text = index.read_text(encoding="utf-8")
    assert "Skipped: descend.models needs scikit-learn" in text and "<p>fine</p>" in text


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

    assert page.figures[INSIDE] == ["figures/inside-paths.png", "figures/inside-parts.png"]
    text = page.text[INSIDE]
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

    assert page.figures[RECOVERING] == ["figures/recovering.png"]
    text, cells = page.text[RECOVERING], page.cells
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
        return f"<img src='{name}'>"

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
