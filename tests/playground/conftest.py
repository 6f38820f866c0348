"""``descend playground --port 0`` as a user starts it: a subprocess, its first line read for
the address, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

FIRST_LINE = re.compile(r"descend playground: (http://127\.0\.0\.1:(\d+)/)\n")
START_TIMEOUT = 30  # seconds for the server to print its address


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    first_lines: list[str]

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_playground(*options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "descend.cli", "playground", *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def start() -> Callable[..., subprocess.Popen[str]]:
    """Start ``descend playground`` with the options given."""
    return start_playground


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    pytest.importorskip("uvicorn")
    process = start_playground("--port", "0")
    first = process.stdout.readline() if process.stdout else ""
    found = FIRST_LINE.fullmatch(first)
    if found is None:
        process.kill()
        pytest.fail(f"first line {first!r}; stderr: {process.communicate(timeout=5)[1]!r}")
    second = process.stdout.readline() if process.stdout else ""
    server = Served(process, found.group(1), [first, second])
    try:
        yield server
    finally:
        server.stop()
