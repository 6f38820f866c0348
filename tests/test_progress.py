"""The progress bars (descend._progress): tqdm's format, line mode for logs, and a clear
error without tqdm."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

pytest.importorskip("tqdm")

from descend import _progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_whole_line_per_step_with_the_count_and_the_note():
    log = io.StringIO()
    bar = _progress.Bar(4, unit="section", stream=log)  # not a terminal: line mode
    for done in range(5):
        bar.show(done, f"step {done}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in log.getvalue()
    assert lines[0].startswith("[" + " " * 20 + "] 0/4 [00:00<?, ?section/s], step 0")
    assert lines[2].startswith("[" + "#" * 10 + " " * 10 + "] 2/4 [")  # half the width
    assert lines[4].startswith("[" + "#" * 20 + "] 4/4 [") and lines[4].endswith("step 4")


def test_a_terminal_gets_one_line_redrawn_in_place():
    screen = _Terminal()
    bar = _progress.Bar(2, stream=screen)
    bar.show(1, "half")
    bar.close()
    text = screen.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, ended by close
    last = text.rstrip("\n").split("\r")[-1].rstrip()  # tqdm pads over a longer line
    assert last.startswith("[" + "#" * 10) and "1/2 [" in last and last.endswith(", half")


def test_the_loops_bar_shows_f_and_the_gradients_norm_at_the_end():
    log = io.StringIO()
    progress = _progress.Progress(10, stream=log)
    for nit in range(1, 11):
        progress.update(nit, 1.0 / nit, 2.0 / nit, elapsed=0.0)  # one draw: same instant
    progress.close()
    last = log.getvalue().rstrip("\n").split("\r")[-1].rstrip()
    assert last.startswith("[" + "#" * 20 + "] 10/10 [") and last.endswith(", f=0.1 |g|=0.2")


def test_without_tqdm_asking_for_progress_says_how_to_install_it():
    code = (
        "import sys; sys.modules['tqdm'] = None\n"
        "import descend as dd\n"
        "try:\n"
        "    dd.minimize(lambda x: x * x, 1.0, grad=lambda x: 2 * x, lr=0.1, progress=True)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("progress bars are drawn by tqdm, which is not installed")
    assert "pip install tqdm" in out.stdout and "progress=False" in out.stdout
