"""The command at the shell's edges: broken pipes, a closed stdout, and Ctrl-C.

Each case runs the installed command in a subprocess, as a shell would.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

COMMAND = [sys.executable, "-m", "descend.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}  # rows reach the pipe as they are printed
LONG = ["--lr", "1e-7", "--gtol", "0", "--max-iter", "100000000"]  # runs until interrupted


def test_a_reader_that_leaves_ends_the_command_quietly_with_141():
    # The finding: `descend compare rosenbrock | head -1` exited 1 (diverged) in silence.
    slow = ["--lr", "1e-4", "--gtol", "0", "--max-iter", "20000"]  # rows come after the close
    for argv in (["compare", "rosenbrock", *slow], ["compare", "x**2+y**2", "--x0", "1,2", *slow]):
        child = subprocess.Popen([*COMMAND, *argv], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=ENV)  # fmt: skip
        assert child.stdout.readline()
        child.stdout.close()  # as head -1 does
        _, err = child.communicate(timeout=60)
        assert child.returncode == 141, (argv, child.returncode, err)
        assert err == b"", err


@pytest.mark.parametrize(
    "argv",
    [
        ["minimize", "x**2", "--x0", "1"],
        ["minimize", "x**2", "--x0", "1", "--json"],
        ["compare", "x**2", "--x0", "1"],
        ["functions"],
    ],
)
def test_a_closed_stdout_is_exit_2_with_one_line(argv):
    # The findings: an AttributeError about isatty, or exit 0 having written nothing.
    quoted = " ".join(f"'{arg}'" for arg in [*COMMAND, *argv])
    done = subprocess.run(["sh", "-c", f"{quoted} >&-"], capture_output=True, text=True,
                          env=ENV, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.startswith("descend: error: standard output is closed")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _interrupt_after_first_line(argv, wait=1.0):
    child = subprocess.Popen([*COMMAND, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV)  # fmt: skip
    first = child.stdout.readline()
    time.sleep(wait)  # into the first run
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, first + out, err


def test_one_ctrl_c_stops_compare_prints_what_finished_and_exits_130():
    # The finding: one interrupt per method was needed, and then it exited 0.
    code, out, err = _interrupt_after_first_line(["compare", "rosenbrock", "--methods",
                                                  "gd,momentum,adam", *LONG])  # fmt: skip
    assert code == 130, (out, err)
    rows = out.splitlines()
    assert rows[0].startswith("method") and len(rows) == 2 and "interrupted" in rows[1]
    assert err.strip() == "descend: interrupted after 1 of 3 methods (the last one cut short)"


def test_one_ctrl_c_stops_sweep_prints_what_finished_and_exits_130():
    # The finding: it exited 130 and printed nothing.
    argv = ["sweep", "rosenbrock", "--method", "gd", "--lr", "1e-7,2e-7,3e-7", "--gtol", "0",
            "--max-iter", "100000000"]  # fmt: skip
    child = subprocess.Popen([*COMMAND, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV)  # fmt: skip
    time.sleep(3.0)  # imports, then into the first run
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, (out, err)
    assert out.startswith("sweep: 1 runs; best: ") and "interrupted" in out
    assert err.strip() == "descend: interrupted after 1 of 3 runs (the last one cut short)"
