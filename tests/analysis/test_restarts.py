"""multistart against known minima: Himmelblau, six-hump camel, Rastrigin, the examples."""

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from descend.functions import himmelblau, rastrigin

import descend as dd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"

# Six-hump camel on [-3, 3] x [-2, 2]: six minima in symmetric pairs, (x, y) and (-x, -y).
# Values from Dixon & Szegő (1978), Towards Global Optimisation 2, and Molga & Smutnicki
# (2005), Test functions for optimization needs; locations to 10 digits by Newton's method.
CAMEL_BOUNDS = [(-3.0, 3.0), (-2.0, 2.0)]
CAMEL_MINIMA = [  # (f, x, y), best first
    (-1.0316284535, 0.0898420131, -0.7126564030),
    (-0.2154638244, 1.7036067150, -0.7960835687),
    (2.1042503103, 1.6071047529, 0.5686514549),
]


def camel(p):
    x, y = p
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


def camel_grad(p):
    x, y = p
    return np.array([8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3])


def negated_camel(p):
    return -camel(p)


def negated_camel_grad(p):
    return -camel_grad(p)


def same_runs(a, b):
    """The same starts, end points, values and update counts, run by run."""
    np.testing.assert_array_equal(a.starts, b.starts)
    assert [(r.x.tolist(), r.fun, r.nit, r.status) for r in a.results] == [
        (r.x.tolist(), r.fun, r.nit, r.status) for r in b.results
    ]
    assert [(m.x.tolist(), m.fun, m.runs) for m in a.minima] == [
        (m.x.tolist(), m.fun, m.runs) for m in b.minima
    ]


@pytest.fixture(scope="module")
def himmelblau_40():
    return dd.multistart(himmelblau, himmelblau.bounds, n_starts=40, seed=0, method="bb")


def test_himmelblau_from_40_starts_finds_its_four_minima(himmelblau_40):
    res = himmelblau_40
    assert len(res.minima) == 4 and all(r.success for r in res.results)
    for exact in himmelblau.minima:
        distances = [np.linalg.norm(m.x - exact) for m in res.minima]
        assert min(distances) < 1e-6
    assert sorted(m.count for m in res.minima) == [6, 9, 11, 14]
    assert sorted(j for m in res.minima for j in m.runs) == list(range(40))
    assert [m.fun for m in res.minima] == sorted(m.fun for m in res.minima)
    assert res.best is res.results[res.minima[0].runs[0]] and res.best.fun < 1e-20


def test_a_minimum_keeps_its_best_run_first_and_its_starts(himmelblau_40):
    res = himmelblau_40
    assert res.starts.shape == (40, 2) and len(res.results) == 40
    assert np.all((res.starts >= -5) & (res.starts <= 5))
    for m in res.minima:
        funs = [res.results[j].fun for j in m.runs]
        assert funs == sorted(funs) and m.fun == funs[0] and m.count == len(m.runs)
        np.testing.assert_array_equal(m.x, res.results[m.runs[0]].x)


def test_starts_form_a_latin_hypercube(himmelblau_40):
    # One start in each of the 40 slices of every coordinate's range.
    slices = np.floor((himmelblau_40.starts + 5) / 10 * 40)
    for column in slices.T:
        assert sorted(column) == list(range(40))


def test_same_seed_same_result_other_seed_other_starts(himmelblau_40):
    again = dd.multistart(himmelblau, himmelblau.bounds, n_starts=40, seed=0, method="bb")
    same_runs(himmelblau_40, again)
    other = dd.multistart(himmelblau, himmelblau.bounds, n_starts=40, seed=1, method="bb")
    assert not np.any(np.isclose(other.starts, himmelblau_40.starts))
    generator = dd.multistart(
        himmelblau, himmelblau.bounds, 40, seed=np.random.default_rng(0), method="bb"
    )
    same_runs(himmelblau_40, generator)


def test_six_hump_camel_has_two_global_and_four_local_minima():
    res = dd.multistart(camel, CAMEL_BOUNDS, n_starts=30, seed=0, method="bb", grad=camel_grad)
    assert len(res.minima) == 6
    for k, (f, x, y) in enumerate(CAMEL_MINIMA):
        pair = res.minima[2 * k : 2 * k + 2]
        assert [m.fun for m in pair] == pytest.approx([f, f], abs=1e-10)
        points = sorted(m.x.tolist() for m in pair)
        np.testing.assert_allclose(points, sorted([[x, y], [-x, -y]]), atol=1e-9)


def test_maximize_ranks_the_largest_first():
    res = dd.multistart(
        negated_camel, CAMEL_BOUNDS, 30, seed=0, method="bb", grad=negated_camel_grad,
        maximize=True,
    )  # fmt: skip
    assert len(res.minima) == 6 and res.best.maximize
    assert [m.fun for m in res.minima] == pytest.approx(
        [-f for f, _, _ in CAMEL_MINIMA for _ in (0, 1)], abs=1e-10
    )
    assert res.best.fun == res.minima[0].fun == pytest.approx(1.0316284535)
    assert "6 distinct maxima from 30 starts" in repr(res)


def test_rastrigin_on_a_small_box_finds_the_nine_lattice_minima():
    # Around each integer point a local minimum, at 0.99495864 rather than 1: the
    # quadratic bowl pulls it in a little. f there is 0.99495906 per non-zero coordinate.
    res = dd.multistart(rastrigin, [(-1.5, 1.5)] * 2, 40, seed=0, method="gd", lr=2e-3)
    assert len(res.minima) == 9
    lattice = sorted(np.round(m.x).tolist() for m in res.minima)
    assert lattice == [[i, j] for i in (-1.0, 0.0, 1.0) for j in (-1.0, 0.0, 1.0)]
    assert [m.fun for m in res.minima] == pytest.approx([0.0] + [0.99495906] * 4 + [1.98991811] * 4)
    np.testing.assert_allclose(np.abs(res.minima[-1].x), 0.99495864, atol=1e-8)


def test_formula_strings_and_their_variables():
    # Variables in order of first appearance, y then x, unless variables= says otherwise.
    res = dd.multistart("(y - 1)**2 + (x + 2)**2", [(-5, 5), (-5, 5)], 3, seed=0, method="bb")
    assert len(res.minima) == 1 and res.minima[0].count == 3
    np.testing.assert_allclose(res.best.x, [1.0, -2.0], atol=1e-9)
    res = dd.multistart(
        "(y - 1)**2 + (x + 2)**2", [(-5, 5), (-5, 5)], 3, seed=0, method="bb",
        variables=["x", "y"],
    )  # fmt: skip
    np.testing.assert_allclose(res.best.x, [-2.0, 1.0], atol=1e-9)


@pytest.mark.parametrize("fun", [himmelblau, HIMMELBLAU], ids=["function", "formula"])
def test_processes_give_the_serial_result(fun):
    serial = dd.multistart(fun, himmelblau.bounds, n_starts=40, seed=0, method="bb")
    parallel = dd.multistart(fun, himmelblau.bounds, n_starts=40, seed=0, method="bb", n_jobs=2)
    same_runs(serial, parallel)


def test_a_lambda_runs_serially_with_a_warning_that_says_how_to_fix_it():
    fun = lambda x: camel(x)  # noqa: E731
    with pytest.warns(
        UserWarning, match=r"one after another, not in 2 processes.*with def at the top level"
    ):
        res = dd.multistart(fun, CAMEL_BOUNDS, 6, seed=0, method="bb", grad=camel_grad, n_jobs=2)
    same_runs(res, dd.multistart(camel, CAMEL_BOUNDS, 6, seed=0, method="bb", grad=camel_grad))


def test_n_jobs_minus_one_means_one_process_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 1)  # one core: no pool to start
    res = dd.multistart(himmelblau, himmelblau.bounds, 4, seed=0, method="bb", n_jobs=-1)
    assert len(res.results) == 4


def test_data_mode_runs_repeat_with_the_seed():
    y = np.random.default_rng(1).normal(size=50)
    settings = dict(
        grad=lambda m, y: [np.mean(m[0] - y)], lr=0.1, data=(y,), batch_size=5, epochs=3
    )  # fmt: skip
    fun = lambda m, y: 0.5 * np.mean((m[0] - y) ** 2)  # noqa: E731
    first = dd.multistart(fun, [(-1, 1)], 4, seed=0, **settings)
    same_runs(first, dd.multistart(fun, [(-1, 1)], 4, seed=0, **settings))
    other = dd.multistart(fun, [(-1, 1)], 4, seed=1, **settings)
    assert not np.isclose(other.best.x, first.best.x)


def test_cluster_tol_decides_which_end_points_are_one_minimum():
    # The double well's minima, -1.47 and 1.35, lie 0.47 of the box [-3, 3] apart.
    fun, box = "x**4 - 4*x**2 + x", [(-3, 3)]
    assert len(dd.multistart(fun, box, 10, seed=0, method="bb").minima) == 2
    merged = dd.multistart(fun, box, 10, seed=0, method="bb", cluster_tol=0.5)
    assert [m.count for m in merged.minima] == [10]
    np.testing.assert_allclose(merged.minima[0].x, [-1.4729976], atol=1e-6)


def test_all_runs_diverged_leaves_no_minima_but_a_best_run():
    res = dd.multistart(himmelblau, himmelblau.bounds, 3, seed=0, lr=1.0)
    assert res.minima == [] and all(r.status == "diverged" for r in res.results)
    assert any(r is res.best for r in res.results)
    assert repr(res).startswith("0 distinct minima from 3 starts (3 diverged)")


def test_ctrl_c_stops_the_whole_multistart():
    def interrupt(info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stop:
        dd.multistart(himmelblau, himmelblau.bounds, 5, seed=0, callback=interrupt)
    assert [str(res.status) for res in stop.value.results] == ["interrupted"]
    assert str(stop.value) == "interrupted after 1 of 5 runs"


def test_the_printout_is_a_table_of_the_minima(himmelblau_40):
    text = repr(himmelblau_40)
    lines = text.splitlines()
    assert lines[0].startswith("4 distinct minima from 40 starts (40 converged); end points")
    assert lines[1].split() == ["fun", "count", "x"]
    assert [line.split()[1] for line in lines[2:6]] == [str(m.count) for m in himmelblau_40.minima]
    assert lines[-1].startswith("best: converged: gradient norm")
    assert repr(himmelblau_40.minima[0]).startswith("Minimum(fun=")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(bounds="ab"), TypeError, r"bounds must be a sequence of \(low, high\) pairs"),
        (dict(bounds=[(0, 1), (0, 1, 2)]), TypeError, r"pairs, got \[\(0, 1\), \(0, 1, 2\)\]"),
        (dict(bounds=[(0, 1, 2)]), ValueError, r"shape \(n, 2\).*got shape \(1, 3\)"),
        (dict(bounds=[]), ValueError, r"got shape \(0,\)"),
        (
            dict(bounds=[(0, 1), (0, np.inf)]),
            ValueError,
            r"bounds\[1\] must be finite, got \(0, inf\)",
        ),
        (
            dict(bounds=[(0, 1), (2, 2)]),
            ValueError,
            r"bounds\[1\] must have low < high, got \(2, 2\)",
        ),
        (dict(bounds=([-5, -5], [5, 5])), ValueError, r"bounds\[0\].*list\(zip\(lows, highs\)\)"),
        (dict(n_starts=0), ValueError, "n_starts must be an integer >= 1, got 0"),
        (dict(n_starts=2.0), TypeError, "n_starts must be an integer, got 2.0"),
        (dict(n_jobs=0), ValueError, "n_jobs must be a positive number of processes.*got 0"),
        (dict(n_jobs=-2), ValueError, "or -1 for one per core, got -2"),
        (dict(n_jobs="2"), TypeError, "n_jobs must be None or an integer, got '2'"),
        (dict(seed="a"), TypeError, "seed must be None, an int"),
        (dict(cluster_tol=0), ValueError, "cluster_tol must be a finite number > 0, got 0"),
        (dict(checkpoint="run.npz"), TypeError, "checkpoint saves one run"),
        (dict(method="nope"), ValueError, "nope"),
    ],
)
def test_bad_input_is_named_in_the_message(kwargs, error, message):
    arguments = dict(fun=himmelblau, bounds=himmelblau.bounds) | kwargs
    with pytest.raises(error, match=message):
        dd.multistart(**arguments)


def test_without_scipy_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(ImportError, match=re.escape('pip install "descend[scipy]"')):
        dd.multistart(himmelblau, himmelblau.bounds)


def numbers(line):
    return [float(v) for v in re.findall(r"-?\d+\.\d+", line)]


def test_maximize_example_matches_the_closed_form(capsys):
    runpy.run_path(str(EXAMPLES / "maximize.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert "converged" in lines[0]
    for line in lines[2:5]:
        ascent, closed_form = numbers(line)
        assert ascent == pytest.approx(closed_form, rel=1e-8)


def test_local_minima_example_shows_the_trap_and_the_way_out(capsys):
    runpy.run_path(str(EXAMPLES / "local_minima.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert numbers(out.splitlines()[0]) == [1.346997, -2.618556]  # the local minimum
    assert "2 distinct minima from 10 starts" in out
    table = out.splitlines()[-2:]
    assert numbers(table[0]) == [-1.472998, -5.444192, -1.472998]
    assert numbers(table[1]) == [1.346997, -2.618556, 1.346997]


@pytest.mark.parametrize(("bounds", "count"), [([(0, 1)], 1), ([(0, 1)] * 3, 3)])
def test_bounds_of_the_wrong_length_for_a_formula_name_bounds(bounds, count):
    with pytest.raises(
        ValueError, match=f"bounds has {count} .* the formula has 2 variables \\(x, y\\)"
    ):
        dd.multistart("x**2 + y**2", bounds, method="gd", lr=0.1)
