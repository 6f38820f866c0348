"""The playground's page in headless Chromium, used as a person would: type Rosenbrock's
formula, choose GD and Adam, play; the path drawn must be the API's, the console quiet,
every request to 127.0.0.1, and the code it copies must rerun the same numbers.

Screenshots at 1280 and 800 px go to the test's temporary folder;
``DESCEND_UPDATE_SCREENSHOT=1`` also copies the 1280 px one to docs/playground.png (as
``python benchmarks/playground.py --screenshot`` does).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

import descend as dd

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
httpx = pytest.importorskip("httpx")
Image = pytest.importorskip("PIL.Image")

ROSENBROCK = "(1-x)**2 + 100*(y-x**2)**2"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "playground.png"
WAIT = 20  # seconds for the page to settle or an animation to end


def wait_for(tab: Any, condition: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` (JavaScript) until it holds. Playwright's wait_for_function
    would evaluate a string, which the page's Content-Security-Policy forbids."""
    deadline = time.monotonic() + timeout
    while not tab.evaluate(f"Boolean({condition})"):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {condition}")
        time.sleep(0.05)


SETTLED = "window.playground && window.playground.idle && window.playground.results"


def distinct_colours(path: Path) -> int:
    with Image.open(path) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24) or [])


def test_the_page_draws_what_the_api_returns(served, browser, tmp_path):
    tab = browser.new_page(viewport={"width": 1280, "height": 1000})
    messages: list[str] = []
    requests: list[str] = []
    runs_sent: list[dict[str, Any]] = []
    tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    tab.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("request", lambda r: runs_sent.append(r.post_data_json) if r.url.endswith("/run") else 0)
    tab.goto(served.url, wait_until="load")
    wait_for(tab, SETTLED)

    tab.fill("#objective", ROSENBROCK)
    wait_for(tab, f"window.playground.state.objective === {json.dumps(ROSENBROCK)}")
    wait_for(tab, SETTLED + " && window.playground.results.variables.join() === 'x,y'")
    cards = tab.locator(".run")
    cards.nth(0).locator("[data-role=method]").select_option("gd")
    cards.nth(1).locator("[data-role=method]").select_option("adam")
    while cards.count() > 2:
        cards.nth(2).get_by_role("button", name="Remove run 3").click()
    for card, lr in [(cards.nth(0), "0.001"), (cards.nth(1), "0.05")]:
        card.locator("[data-role=lr]").fill(lr)
        card.locator("[data-role=lr]").press("Tab")  # a change event, as a person's Tab gives
    wait_for(tab, SETTLED + " && window.playground.results.runs.length === 2")
    wait_for(tab, SETTLED + " && window.playground.state.runs[1].lr === 0.05")

    tab.get_by_role("button", name="▶ Play").click()
    wait_for(tab, "window.playground.playing && window.playground.frame < 400")
    wait_for(tab, "!window.playground.playing")
    last = tab.evaluate("window.playground.frame")
    drawn = tab.evaluate("window.playground.drawnPaths()")

    sent = runs_sent[-1]
    assert sent["objective"] == ROSENBROCK
    assert [(run["method"], run["lr"]) for run in sent["runs"]] == [("gd", 0.001), ("adam", 0.05)]
    answer = httpx.post(f"{served.url}api/run", json=sent).json()
    assert drawn == [run["x"] for run in answer["runs"]]
    assert last == max(len(run["x"]) for run in answer["runs"]) - 1 == 500
    for run, (method, lr) in zip(answer["runs"], [("gd", 0.001), ("adam", 0.05)], strict=True):
        res = dd.minimize(ROSENBROCK, [-1.2, 1.0], method, lr=lr, max_iter=500, explain=True)
        assert run["x"] == res.history.x.tolist()

    tab.get_by_role("button", name="Copy as Python").click()
    check_python(tab.input_value("#snippet"), answer)
    tab.get_by_role("button", name="Copy as command line").click()
    check_command_line(tab.input_value("#snippet"), answer)

    shots = {}
    for width in (1280, 800):
        tab.set_viewport_size({"width": width, "height": 1000})
        tab.evaluate("window.scrollTo(0, 0)")
        tab.evaluate(
            "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )
        shots[width] = tmp_path / f"playground-{width}.png"
        tab.screenshot(path=str(shots[width]))
        assert tab.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
        assert distinct_colours(shots[width]) > 500, f"the {width} px screenshot looks blank"
    if os.environ.get("DESCEND_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shots[1280], SCREENSHOT)

    tab.reload(wait_until="load")  # the whole state is in the URL
    wait_for(tab, SETTLED)
    assert tab.evaluate("window.playground.results.runs.map(r => r.x)") == drawn
    assert {urlsplit(url).hostname for url in requests} == {"127.0.0.1"}
    assert not [m for m in messages if m.startswith(("error", "warning", "pageerror"))], messages
    tab.close()


def check_python(code: str, answer: dict[str, Any]) -> None:
    """The copied Python reruns the same numbers."""
    namespace: dict[str, Any] = {"print": lambda *args: None}
    exec(compile(code, "<copied>", "exec"), namespace)
    paths = [res.history.x.tolist() for res in namespace["runs"]]
    assert paths == [run["x"] for run in answer["runs"]]


def check_command_line(text: str, answer: dict[str, Any]) -> None:
    """The copied command line reruns the same numbers: the first command, with --json."""
    commands = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(commands) == len(answer["runs"])
    words = shlex.split(commands[0])
    assert words[:2] == ["descend", "minimize"]
    command = [sys.executable, "-m", "descend.cli", *words[1:], "--json", "--with-history"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    history = json.loads(out.stdout)["history"]
    assert np.array_equal(history["x"], answer["runs"][0]["x"])
    assert history["f"] == answer["runs"][0]["f"]


def test_a_formula_error_is_shown_at_its_position(served, browser):
    tab = browser.new_page(viewport={"width": 800, "height": 900})
    tab.goto(served.url, wait_until="load")
    wait_for(tab, SETTLED)
    tab.fill("#objective", "(1-x)**2 +* y")
    wait_for(tab, "!document.getElementById('objective-error').hidden")
    assert tab.locator("#objective-error mark").text_content() == "*"
    assert "syntax error at position 11" in tab.locator("#objective-error").text_content()
    assert tab.get_attribute("#objective", "aria-invalid") == "true"
    tab.close()
