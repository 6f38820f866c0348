"""Fixtures shared across the test tree."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def browser() -> Any:
    """Headless Chromium driven by Playwright, one per test module (Debian's ``chromium``,
    which ``.ci/run`` installs); the test skips without it."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if executable is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium); .ci/run installs it")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()
