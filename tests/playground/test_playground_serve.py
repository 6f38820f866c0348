"""``descend playground`` as a running server: its first lines, the page and its assets, a
long run that does not hold up other requests, Ctrl-C ending it with exit code 0."""

from __future__ import annotations

import socket
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")

from descend.playground.server import _reach, serve  # noqa: E402  (after the skip)

# Each update of GD with explain (which the compiled engine refuses, so that it runs in
# the Python loop whatever this machine has compiled) on this sum of 35 terms costs
# ~0.1 ms or more: 100,000 tiny steps run far into the server's 2-second time limit.
SLOW = " + ".join(f"exp(-(x-{k})**2)*cos({k}*y)" for k in range(1, 36))


def test_the_first_line_is_the_address_and_the_second_says_who_can_reach_it(served):
    assert served.first_lines[0] == f"descend playground: {served.url}\n"
    assert "this machine only" in served.first_lines[1]


def test_it_serves_the_page_and_every_asset_from_the_package(served):
    page = httpx.get(served.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset, kind in [("app.js", "javascript"), ("plots.js", "javascript"),
                        ("style.css", "text/css"), ("icon.svg", "image/svg+xml")]:  # fmt: skip
        response = httpx.get(f"{served.url}static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"], asset


def test_a_long_run_does_not_hold_up_other_requests(served):
    runs = [{"method": "gd", "lr": 1e-6}]
    body = {"objective": SLOW, "x0": [0.0, 1.0], "runs": runs, "max_iter": 100_000,
            "explain": True}  # fmt: skip
    answers: list[httpx.Response] = []

    def post() -> None:
        answers.append(httpx.post(f"{served.url}api/run", json=body, timeout=30))

    slow = threading.Thread(target=post)
    began = time.perf_counter()
    slow.start()
    time.sleep(0.3)
    assert httpx.get(f"{served.url}api/functions").status_code == 200
    quick = time.perf_counter() - began
    slow.join()
    run = answers[0].json()["runs"][0]
    assert quick < 1.5 and run["status"] == "time_limit"
    assert "time_limit" in run["message"]


def test_ctrl_c_stops_it_with_exit_code_0(served):
    assert served.stop() == 0
    _, err = served.process.communicate(timeout=5)
    assert "Traceback" not in err


def test_a_port_in_use_is_one_line_and_exit_code_2(start):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = start("--port", str(taken.getsockname()[1]))
        out, err = process.communicate(timeout=30)
    assert process.returncode == 2 and out == ""
    assert (
        err.startswith("descend: error: cannot listen on 127.0.0.1:") and len(err.splitlines()) == 1
    )


@pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("localhost", True),
                                             ("::1", True), ("0.0.0.0", False)])  # fmt: skip
def test_it_says_whether_the_network_can_reach_it(host, local):
    assert ("this machine only" in _reach(host)) is local
    assert _reach(host).startswith("warning") is not local


def test_open_opens_the_page_it_prints(monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    def interrupted(server, sockets):  # Ctrl-C at once, as uvicorn raises it after shutdown
        assert sockets[0].getsockname()[0] == "127.0.0.1"
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn.Server, "run", interrupted)
    serve("127.0.0.1", 0, open_browser=True)  # returns: Ctrl-C is the normal way out
    first = capsys.readouterr().out.splitlines()[0]
    assert opened and first == f"descend playground: {opened[0]}"
