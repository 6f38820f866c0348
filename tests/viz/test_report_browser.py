"""The report's page in headless Chromium (Playwright), at 1400 px and on a laptop's
1280 × 800: it loads with every image and a quiet console, nothing scrolls sideways, every
figure shows at its own size (so its 11 px text stays 11 px), the table of contents' links
land on their sections, each section's code opens from its summary, and no legend covers
the data of any axes (measured on the figure objects before they were saved, and written
on each image by the report). The page is built once per session (tests/viz/conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

SIZES = ({"width": 1400, "height": 900}, {"width": 1280, "height": 800})


def _open(browser: Any, built: Any, size: dict[str, int]) -> tuple[Any, list[str]]:
    tab = browser.new_page(viewport=size)
    messages: list[str] = []
    tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    tab.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    tab.goto((built.folder / "index.html").as_uri(), wait_until="load")
    return tab, messages


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size['width']}px")
def test_the_page_reads_at_this_width_with_every_figure_at_its_own_size(browser, built, size):
    tab, messages = _open(browser, built, size)
    try:
        images = tab.evaluate(
            "Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
            "done: i.complete, natural: i.naturalWidth, shown: i.clientWidth, "
            "legends: i.dataset.legends, overlaps: i.dataset.legendOverlaps, "
            "small: i.dataset.smallText}))"
        )
        sideways = tab.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    finally:
        tab.close()
    assert len(images) == len(built.figures)
    for image in images:
        assert image["done"] and image["natural"] > 0, image
        assert image["shown"] == image["natural"], image  # not scaled down: text stays 11 px
        assert image["overlaps"] == "" and image["small"] == "", image
        assert image["legends"] is not None, image
    assert sideways <= 0
    assert not [m for m in messages if m.startswith(("error", "pageerror", "warning"))], messages


def test_the_contents_links_land_on_their_sections(browser, built):
    tab, messages = _open(browser, built, SIZES[1])
    try:
        links = tab.evaluate(
            "Array.from(document.querySelectorAll('nav a')).map(a => [a.getAttribute('href'),"
            " a.textContent])"
        )
        assert len(links) == len(tab.query_selector_all("section"))
        for href, text in links:
            target = tab.evaluate(
                "href => { const s = document.getElementById(href.slice(1));"
                " return s && s.tagName === 'SECTION' ? s.querySelector('h2').textContent"
                " : null; }",
                href,
            )
            assert target == text, href
            tab.click(f'nav a[href="{href}"]')
            tab.wait_for_timeout(50)
            assert tab.evaluate("location.hash") == href
            top = tab.evaluate(
                "href => document.getElementById(href.slice(1)).getBoundingClientRect().top",
                href,
            )
            at_bottom = tab.evaluate(
                "innerHeight + scrollY >= document.documentElement.scrollHeight - 1"
            )
            assert abs(top) <= 1 or (at_bottom and 0 <= top < SIZES[1]["height"]), (href, top)
    finally:
        tab.close()
    assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages


def test_each_sections_code_is_folded_until_its_summary_is_clicked(browser, built):
    tab, _ = _open(browser, built, SIZES[0])
    try:
        folded = tab.query_selector_all("section details")
        assert len(folded) == len(tab.query_selector_all("section"))
        for details in folded:
            code = details.query_selector("pre code")
            assert not code.is_visible()
            details.query_selector("summary").click()
            assert code.is_visible() and code.inner_text().startswith("def ")
    finally:
        tab.close()
