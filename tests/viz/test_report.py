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
    """The page's image sources, headings and table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self._into: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        self._into = {"h2": self.headings, "td": self.cells}.get(tag)
        if self._into is not None:
            self._into.append("")

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data

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
    assert out.strip() == f"report: {(folder / 'index.html').resolve()}"
    steps = [line for line in err.splitlines() if line.startswith("[")]
    assert len(steps) == len(report.SECTIONS) + 1  # not a terminal: one line per section
    assert steps[0].startswith("[" + " " * 20 + "] 0/") and steps[-1].endswith("done")


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
