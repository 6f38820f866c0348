"""The descend command, run as a user would."""

import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from descend import demo
from descend.cli import main


def test_demo_prints_every_method_on_every_problem():
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    rows = [
        line
        for line in result.output.splitlines()
        if line[:18].strip() in {p.name for p in demo.PROBLEMS}
    ]
    assert len(rows) == len(demo.PROBLEMS) * 9
    assert all(("converged" in row) or ("max_iter" in row) for row in rows)


def test_demo_reaches_the_known_minima():
    # Every run that reports convergence is within 1e-6 of a known minimiser.
    for problem, method, res in demo.run(demo.PROBLEMS[:3] + demo.PROBLEMS[4:]):
        if res.status == "converged":
            assert demo.distance_to_nearest_minimum(problem, res.x) < 1e-6, (problem.name, method)
    # and plain GD on the parabola follows 5 * 0.8**k to its tolerance
    res = next(r for p, m, r in demo.run(demo.PROBLEMS[:1], ["gd"]))
    np.testing.assert_allclose(res.history.x, 5 * 0.8 ** np.arange(res.nit + 1), rtol=1e-13)


def test_the_installed_command_runs():
    out = subprocess.run(
        [sys.executable, "-m", "descend.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and "demo" in out.stdout
