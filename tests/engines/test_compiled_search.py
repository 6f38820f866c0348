"""The compiled strong Wolfe search (descend.engines._compiled_search), driven trial by
trial as the compiled L-BFGS loop drives it, asks for the same trials and accepts the same
step as the Python engine's ``wolfe.strong_wolfe``, bit for bit: on steps that start far
too short (bracketing) or far too long (zoom), with small budgets, and where f is
infinite."""

from __future__ import annotations

import math

import numpy as np
import pytest

from descend.core.optimizers import wolfe

numba = pytest.importorskip("numba")
from descend.engines import _compiled_search as search  # noqa: E402


def quartic(x):
    return float((x[0] - 1.3) ** 4 + 0.5 * x[0] ** 2), np.array([4 * (x[0] - 1.3) ** 3 + x[0]])


def wall(x):  # a valley that ends in a wall of inf past x = 3
    if x[0] > 3.0:
        return math.inf, np.array([math.inf])
    return float(np.cosh(x[0] - 2.0)), np.array([np.sinh(x[0] - 2.0)])


def wiggle(x):
    return float(0.1 * x[0] ** 2 - np.sin(3 * x[0])), np.array([0.2 * x[0] - 3 * np.cos(3 * x[0])])


def python_search(pair, x, d, alpha0, c1, c2, max_evals):
    asked = []

    def recording(z):
        asked.append(float(z[0]))
        return pair(z)

    f0, g0 = pair(x)
    found = wolfe.strong_wolfe(recording, x, d, f0, float(g0 @ d), alpha0, c1, c2, max_evals)
    step = 0.0 if found.trial is None else found.trial.alpha
    assert found.evals == len(asked)
    return step, found.f_min, asked


def compiled_search(pair, x, d, alpha0, c1, c2, max_evals):
    f0, g0 = pair(x)
    state, asked = np.empty(search.SEARCH_SIZE), []
    asks = search.wolfe_begin(
        state, f0, float(g0 @ d), alpha0, c1, c2, float(max_evals), wolfe._GROWTH,
        wolfe._SAFEGUARD,
    )  # fmt: skip
    while asks:
        z = x + state[search.ALPHA] * d
        asked.append(float(z[0]))
        f, g = pair(z)
        asks = search.wolfe_next(state, f, float(g @ d) if math.isfinite(f) else math.nan)
    return state[search.T], state[search.F_MIN], asked


@pytest.mark.parametrize("pair", [quartic, wall, wiggle], ids=["quartic", "wall", "wiggle"])
@pytest.mark.parametrize("alpha0", [1e-4, 0.3, 1.0, 40.0])
@pytest.mark.parametrize(("c2", "max_evals"), [(0.9, 20), (0.1, 20), (0.1, 3), (0.9, 1), (0.5, 0)])
def test_the_search_takes_the_python_steps(pair, alpha0, c2, max_evals):
    x, d = np.array([-0.4]), np.array([1.0])  # a descent direction for all three
    assert pair(x)[1][0] < 0
    want = python_search(pair, x, d, alpha0, 1e-4, c2, max_evals)
    got = compiled_search(pair, x, d, alpha0, 1e-4, c2, max_evals)
    assert got == want


def test_the_search_zooms_and_brackets():
    # The cases above reach both phases: a long first step zooms, a short one brackets.
    x, d = np.array([-0.4]), np.array([1.0])
    assert len(python_search(quartic, x, d, 40.0, 1e-4, 0.1, 20)[2]) > 2
    assert len(python_search(quartic, x, d, 1e-4, 1e-4, 0.1, 20)[2]) > 5
