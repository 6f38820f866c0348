"""The descend command, run as a user would: output, JSON, files and exit codes."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import descend as dd
from descend.cli import cli, main
from descend.viz import demo


def run(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_prints_every_method_on_every_problem():
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in demo.PROBLEMS}
    rows = [line for line in result.output.splitlines() if line[:18].strip() in names]
    assert len(rows) == len(demo.PROBLEMS) * len(dd.OPTIMIZERS)
    assert all(("converged" in row) or ("max_iter" in row) for row in rows)


def test_demo_reaches_the_known_minima():
    # Every run that reports convergence is within 1e-6 of a known minimiser.
    for problem, method, res in demo.run(demo.PROBLEMS[:3] + demo.PROBLEMS[4:]):
        if res.status == "converged":
            assert demo.distance_to_nearest_minimum(problem, res.x) < 1e-6, (problem.name, method)
    res = next(r for p, m, r in demo.run(demo.PROBLEMS[:1], ["gd"]))
    np.testing.assert_allclose(res.history.x, 5 * 0.8 ** np.arange(res.nit + 1), rtol=1e-13)


def test_functions_lists_the_zoo_with_all_minima(capsys):
    code, out, _ = run(capsys, "functions")
    assert code == 0
    assert "rosenbrock" in out and "-2.805118" in out and "3.584428" in out


def test_methods_lists_every_method_with_when_to_use_it(capsys):
    code, out, _ = run(capsys, "methods")
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == list(dd.OPTIMIZERS)
    assert all(len(line.split()) > 3 for line in lines)  # a name, then words
    assert "lbfgs" in out and "default" in out.split("lbfgs", 1)[1].splitlines()[0]


def test_minimize_a_test_function_prints_a_summary(capsys):
    code, out, err = run(capsys, "minimize", "rosenbrock", "--method", "bb")
    assert code == 0 and err == ""
    assert "status:     converged" in out and "x0=0.99999999" in out and "message:" in out


def test_json_output_is_one_object_with_the_history_on_request(capsys, tmp_path):
    path = tmp_path / "h.csv"
    code, out, _ = run(
        capsys,
        "minimize",
        "booth",
        "--lr",
        "0.05",
        "--json",
        "--with-history",
        "--history",
        str(path),
    )
    record = json.loads(out)
    assert code == 0 and record["status"] == "converged"
    np.testing.assert_allclose(record["x"], [1.0, 3.0], atol=1e-7)
    assert len(record["history"]["f"]) == record["nit"] + 1
    with open(path) as handle:
        assert len(list(csv.reader(handle))) == record["nit"] + 2  # header + start + updates
    _, out, _ = run(capsys, "minimize", "booth", "--lr", "0.05", "--json")
    assert "history" not in json.loads(out)


def test_compare_prints_one_row_per_method_then_the_best(capsys):
    code, out, _ = run(capsys, "compare", "booth", "--lr", "0.05", "--methods", "gd,adam,bb")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5 and lines[1].startswith("gd") and lines[3].startswith("bb")
    runs = {name: dd.minimize(dd.functions.booth, dd.functions.booth.x0, name,
                              lr=0.05) for name in ("gd", "adam", "bb")}  # fmt: skip
    assert all(res.status == "converged" for res in runs.values())
    fastest = min(runs, key=lambda name: runs[name].nit)
    assert lines[4] == f"best: {fastest}"


def test_divergence_exits_1(capsys):
    code, out, _ = run(capsys, "minimize", "booth", "--lr", "1.0")
    assert code == 1 and "status:     diverged" in out


def test_bad_input_exits_2_with_one_line_and_no_traceback(capsys):
    for argv in (
        ["minimize", "rosenbrock", "--lr", "-1"],
        ["minimize", "rosenbrock", "--method", "bogus"],
        ["minimize", "rosenbrock", "--x0", "1,a"],
        ["minimize", "rosenbrock", "-o", "momentum"],
        ["minimize", "rosenbrock", "-o", "momentum=0.9"],  # gd takes no momentum
        ["nonsense"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("descend: error:") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err


def test_the_installed_command_runs():
    done = subprocess.run(
        [sys.executable, "-m", "descend.cli", "minimize", "rosenbrock", "--method", "bb"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "converged" in done.stdout
    assert done.stderr == ""  # piped: no progress bar


def test_json_stays_strict_when_a_run_blows_up(capsys):
    code, out, _ = run(
        capsys, "minimize", "x**2", "--x0", "5", "--lr", "1e200", "--json", "--with-history"
    )
    record = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    assert code == 1 and record["status"] == "diverged"
    assert None in record["history"]["f"]


def test_formula_errors_point_at_the_position_on_one_line(capsys):
    code, _, err = run(capsys, "minimize", "(x-1)**2 +* y", "--x0", "1,2")
    assert (
        code == 2
        and err == "descend: error: formula has a syntax error at position 11 (invalid syntax)\n"
    )
    code, _, err = run(capsys, "minimize", '__import__("os").system("ls")', "--x0", "1")
    assert code == 2 and "may not use" in err and err.count("\n") == 1


def test_a_formula_minimised_from_the_shell(capsys):
    code, out, _ = run(
        capsys, "minimize", "(x-1)**2 + 3*y**2", "--x0", "3,4", "--method", "adam", "--lr", "0.1"
    )
    assert code == 0 and "x=1.00000000" in out and "status:     converged" in out
    # a formula that starts with "-" goes after "--", as with any command-line tool
    code, out, _ = run(
        capsys, "minimize", "--x0", "0", "--maximize", "--lr", "0.25", "--json", "--", "-(x-2)**2"
    )
    assert code == 0 and json.loads(out)["x"] == pytest.approx([2.0], abs=1e-8)


def _image(path):
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        return image.size, getattr(image, "n_frames", 1), len(np.unique(pixels, axis=0))


def test_minimize_writes_the_path_figure_and_the_animation(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png, gif = tmp_path / "path.png", tmp_path / "run.gif"
    code, out, err = run(capsys, "minimize", "himmelblau", "--method", "bb", "--plot", str(png),
                         "--animate", str(gif))  # fmt: skip
    assert code == 0 and "status:     converged" in out
    assert f"figure: {png}" in err and f"animation: {gif}" in err
    size, _, colours = _image(png)
    assert size[0] >= 400 and colours > 100  # filled contours, not a blank canvas
    assert _image(gif)[1] > 5


def test_a_one_variable_formula_is_plotted_as_a_curve(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    code, _, _ = run(capsys, "minimize", "(x-2)**2", "--x0", "5", "--lr", "0.1", "--plot", str(png))
    assert code == 0 and _image(png)[2] > 20


def test_compare_plots_paths_and_losses_side_by_side(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "compare.png"
    code, out, _ = run(capsys, "compare", "booth", "--methods", "gd,bb", "--lr", "0.05",
                       "--plot", str(png))  # fmt: skip
    assert code == 0 and len(out.splitlines()) == 4
    (width, height), _, _ = _image(png)
    assert width > 1.8 * height  # two panels


def test_sweep_prints_the_grid_table_and_writes_the_grid_figure(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "grid.png"
    code, out, _ = run(capsys, "sweep", "x**2 + 10*y**2", "--x0", "1,1", "--method", "momentum",
                       "--lr", "0.01,0.05,0.2", "--momentum", "0,0.9", "--max-iter", "300",
                       "--plot", str(png))  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    grid = dd.sweep("x**2 + 10*y**2", [1.0, 1.0], "momentum", lr=[0.01, 0.05, 0.2],
                    momentum=[0.0, 0.9], max_iter=300)  # fmt: skip
    best = grid.best
    assert grid.best_params == {"lr": 0.05, "momentum": 0.0}
    assert lines[0] == (f"sweep: 6 runs; best: --lr 0.05 -o momentum=0 (converged, {best.nit} "
                        f"updates, f = {best.fun:.6g})")  # fmt: skip
    assert sum("diverged" in line for line in lines) == 2  # lr 0.2 > 2/20 with and without momentum
    assert _image(png)[2] > 100


def test_sweep_rejects_a_grid_that_is_not_numbers(capsys):
    code, _, err = run(capsys, "sweep", "x**2", "--x0", "1", "--lr", "0.1,fast")
    assert code == 2 and "--lr" in err and "0.1,fast" in err


@pytest.mark.parametrize("name", sorted(dd.functions.ZOO))
def test_every_zoo_function_converges_in_the_cli_with_the_defaults(capsys, name):
    code, out, _ = run(capsys, "minimize", name)
    assert code == 0 and "status:     converged" in out


def test_explain_prints_the_last_update_and_exports_every_one(capsys, tmp_path):
    argv = ["minimize", "x**2 + 10*y**2", "--x0", "1,1", "--method", "momentum", "--lr",
            "0.01", "--max-iter", "5", "--gtol", "0", "--explain"]  # fmt: skip
    code, out, _ = run(capsys, *argv)
    res = dd.minimize("x**2 + 10*y**2", [1.0, 1.0], "momentum", lr=0.01, max_iter=5, gtol=0,
                      explain=True)  # fmt: skip
    v = res.history.parts("velocity")[-1]
    assert code == 0 and "the last update (update 5)" in out
    assert f"velocity: x={v[0]:.6g}, y={v[1]:.6g}" in out
    code, out, _ = run(capsys, *argv, "--json", "--with-history")
    parts = json.loads(out)["parts"]
    np.testing.assert_array_equal(parts["velocity"], res.history.parts("velocity"))
    path = tmp_path / "run.csv"
    run(capsys, *argv, "--history", str(path))
    assert "velocity_1" in path.read_text().splitlines()[0]


def test_on_divergence_rollback_from_the_shell(capsys):
    argv = ["minimize", "x**2 + 10*y**2", "--x0", "1,1", "--method", "gd", "--lr", "1"]
    code, out, _ = run(capsys, *argv)
    assert code == 1
    code, out, _ = run(capsys, *argv, "--on-divergence", "rollback")
    assert code == 0 and "status:     converged" in out
    assert out.count("rollback:   at update") == 4 and "lr 1 -> 0.5" in out


@pytest.mark.parametrize("option", ["--history", "--plot", "--animate"])
def test_an_output_in_a_missing_folder_is_refused_before_the_run(capsys, tmp_path, option):
    missing = tmp_path / "missing" / "out.png"
    code, out, err = run(capsys, "minimize", "rosenbrock", option, str(missing))
    assert code == 2 and out == ""
    assert f"'{option}'" in err and "does not exist" in err and "x=" not in err
    code, out, err = run(capsys, "compare", "booth", "--plot", str(missing))
    assert code == 2 and out == "" and "does not exist" in err
