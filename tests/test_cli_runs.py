"""--explain, --engine and --animate: each the same run, and the same numbers, as the API's."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import descend as dd
from descend.cli import cli, main

FORMULA = "x**2 + 10*y**2"
RUN = ["--x0", "1,1", "--lr", "0.01", "--max-iter", "6", "--gtol", "0"]
SETTINGS = dict(lr=0.01, max_iter=6, gtol=0)


def invoke(*argv):
    result = CliRunner().invoke(main, [str(arg) for arg in argv])
    return result.exit_code, result.stdout, result.stderr


def run(capsys, *argv):
    """The command as the console script runs it: bad input is exit code 2, one line."""
    code = cli([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _printed_parts(out, header):
    """The part lines under ``header``, as {name: the text after 'name: '}."""
    lines = out.splitlines()
    parts = {}
    for line in lines[lines.index(header) + 1 :]:
        if not line.startswith("  "):
            break
        name, text = line.strip().split(": ", 1)
        parts[name] = text
    return parts


def _expected_line(values, names):
    values = np.atleast_1d(values)
    if values.size == 1:
        return f"{values[0]:.6g}"
    if values.size == len(names):
        return ", ".join(f"{n}={v:.6g}" for n, v in zip(names, values, strict=True))
    return ", ".join(f"{v:.6g}" for v in values[~np.isnan(values)])


@pytest.mark.parametrize("method", ["momentum", "adam", "armijo"])
def test_explain_prints_every_part_of_the_last_update(method):
    code, out, _ = invoke("minimize", FORMULA, "--method", method, *RUN, "--explain")
    res = dd.minimize(FORMULA, [1.0, 1.0], method, explain=True, **SETTINGS)
    printed = _printed_parts(out, "the last update (update 6), part by part:")
    assert code == 0 and sorted(printed) == sorted(res.history.explanation)
    for name, text in printed.items():
        assert text == _expected_line(res.history.parts(name)[-1], ["x", "y"]), name


def _csv_columns(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) if row[key] else np.nan for row in rows])
            for key in rows[0]}  # fmt: skip


def _assert_parts_in(columns, res):
    """Every part of every update is in the CSV, one row after the point it left."""
    for name in res.history.explanation:
        parts = res.history.parts(name)
        if name == "lr" and "part_lr" not in columns:  # the same as the history's lr column
            np.testing.assert_array_equal(columns["lr"][1:], parts)
            continue
        if parts.ndim == 1:
            got = columns["part_lr" if name == "lr" else name]
        else:
            got = np.stack([columns[f"{name}_{i}"] for i in range(parts.shape[1])], axis=1)
        assert np.isnan(got[0]).all(), name  # the start point has no update
        np.testing.assert_array_equal(got[1:], parts, err_msg=name)


def test_explain_writes_every_update_s_parts_to_the_history(tmp_path):
    path = tmp_path / "run.csv"
    code, _, _ = invoke("minimize", FORMULA, "--method", "adam", *RUN, "--explain",
                        "--history", path)  # fmt: skip
    res = dd.minimize(FORMULA, [1.0, 1.0], "adam", explain=True, **SETTINGS)
    columns = _csv_columns(path)
    assert code == 0 and len(columns["f"]) == res.nit + 1
    _assert_parts_in(columns, res)


def test_compare_explains_every_method(tmp_path):
    path = tmp_path / "runs.csv"
    code, out, _ = invoke("compare", FORMULA, "--methods", "gd,momentum", *RUN, "--explain",
                          "--history", path)  # fmt: skip
    assert code == 0
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for method in ("gd", "momentum"):
        res = dd.minimize(FORMULA, [1.0, 1.0], method, explain=True, **SETTINGS)
        printed = _printed_parts(out, f"{method}'s last update (update 6), part by part:")
        assert printed["step_norm"] == _expected_line(res.history.parts("step_norm")[-1], "xy")
        assert sorted(printed) == sorted(res.history.explanation)
        mine = [row for row in rows if row["method"] == method]
        columns = {key: np.array([float(r[key]) if r[key] else np.nan for r in mine])
                   for key in mine[0] if key != "method"}  # fmt: skip
        _assert_parts_in(columns, res)


def test_without_explain_nothing_is_explained():
    code, out, _ = invoke("compare", FORMULA, "--methods", "gd,momentum", *RUN)
    assert code == 0 and "part by part" not in out and len(out.splitlines()) == 4


def test_the_numba_engine_gives_the_api_s_numbers():
    pytest.importorskip("numba")
    for method in ("gd", "momentum"):
        res = dd.minimize(FORMULA, [1.0, 1.0], method, engine="numba", lr=0.04, max_iter=300)
        code, out, err = invoke("minimize", FORMULA, "--x0", "1,1", "--method", method,
                                "--lr", "0.04", "--max-iter", "300", "--engine", "numba",
                                "--json")  # fmt: skip
        got = json.loads(out)
        assert code == 0, err
        assert (got["x"], got["fun"], got["nit"], got["status"]) == (
            res.x.tolist(), res.fun, res.nit, str(res.status))  # fmt: skip
    code, out, _ = invoke("compare", FORMULA, "--x0", "1,1", "--methods", "gd,momentum",
                          "--lr", "0.04", "--max-iter", "300", "--engine", "numba",
                          "--json")  # fmt: skip
    runs = {run["method"]: run for run in json.loads(out)["runs"]}
    assert code == 0 and runs["momentum"]["x"] == res.x.tolist()


def test_sweep_runs_its_grid_on_the_engine():
    pytest.importorskip("numba")
    grid = dd.sweep(FORMULA, [1.0, 1.0], "momentum", lr=[0.01, 0.04], momentum=[0.0, 0.5],
                    max_iter=300, engine="numba")  # fmt: skip
    code, out, _ = invoke("sweep", FORMULA, "--x0", "1,1", "--lr", "0.01,0.04", "--momentum",
                          "0,0.5", "--max-iter", "300", "--engine", "numba")  # fmt: skip
    best = grid.best
    assert code == 0 and f"({best.status}, {best.nit} updates, f = {best.fun:.6g})" in out
    assert grid.best_params is not None
    assert out.splitlines()[0].startswith(f"sweep: 4 runs; best: --lr {grid.best_params['lr']:g}")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--lr", "0.1", "--progress"], "--progress (the compiled loop draws"),
        (["--lr", "0.1", "--explain"], "--explain (the parts"),
        (["--lr", "0.1", "--method", "bb", "--bounds", "0,1"], "--bounds with 'bb' (its projected"),
        (["--lr", "0.1", "--on-divergence", "rollback"], "--on-divergence rollback"),
        (["--method", "armijo", "--bounds", "0,1"], "--bounds with 'armijo' (its projected"),
    ],
)
def test_what_the_numba_engine_cannot_run_is_said_in_the_shell_s_words(capsys, argv, words):
    code, out, err = run(capsys, "minimize", FORMULA, "--x0", "1,1", *argv, "--engine", "numba")
    assert code == 2 and out == ""
    assert err.startswith("descend: error: --engine numba cannot run this problem")
    assert words in err and err.rstrip().endswith("--engine python (the default) runs it")


def test_compare_stops_at_the_first_method_the_engine_refuses(capsys):
    code, out, err = run(capsys, "compare", FORMULA, "--x0", "1,1", "--methods", "gd,momentum",
                         "--lr", "0.1", "--explain", "--engine", "numba")  # fmt: skip
    assert code == 2 and out.startswith("method") and len(out.splitlines()) == 1  # no row
    assert err.count("\n") == 1 and "--engine numba cannot run this problem: --explain" in err


def test_auto_runs_what_numba_cannot_in_python():
    code, out, _ = invoke("minimize", FORMULA, "--x0", "1,1", "--method", "lbfgs", "--engine",
                          "auto", "--json")  # fmt: skip
    res = dd.minimize(FORMULA, [1.0, 1.0], "lbfgs")
    assert code == 0 and json.loads(out)["x"] == res.x.tolist()


def test_an_engine_error_in_a_shell():
    done = subprocess.run(
        [sys.executable, "-m", "descend.cli", "minimize", "booth", "--lr", "0.1", "--explain",
         "--engine", "numba"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--engine numba cannot run" in done.stderr
    assert "engine=" not in done.stderr


def _frames(path):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.asarray(image.convert("RGB")))
        return frames


def test_compare_animates_every_run(tmp_path):
    pytest.importorskip("matplotlib")
    gif = tmp_path / "runs.gif"
    code, out, err = invoke("compare", "booth", "--methods", "gd,bb", "--lr", "0.05",
                            "--max-iter", "30", "--animate", gif)  # fmt: skip
    frames = _frames(gif)
    assert code == 0 and f"animation: {gif}" in err and len(out.splitlines()) == 4
    assert len(frames) > 1 and not np.array_equal(frames[0], frames[-1])


@pytest.mark.parametrize("command", [["minimize"], ["compare", "--methods", "gd,bb"]])
def test_an_animation_that_cannot_be_written_is_refused_before_the_run(capsys, tmp_path, command):
    name, *rest = command
    for path, words in [(tmp_path / "missing" / "run.gif", "does not exist"),
                        (tmp_path / "run.png", "written as .gif or .mp4")]:  # fmt: skip
        code, out, err = run(capsys, name, "booth", *rest, "--animate", path)
        assert code == 2 and out == "" and words in err and "'--animate'" in err
        assert not path.exists()
    code, out, err = run(capsys, name, "(x-1)**2", "--x0", "3", *rest, "--animate",
                         tmp_path / "a.gif")  # fmt: skip
    assert code == 2 and out == "" and "1 variable (x)" in err and "--plot" in err


def test_explain_and_animate_in_a_shell(tmp_path):
    pytest.importorskip("matplotlib")
    gif = tmp_path / "runs.gif"
    done = subprocess.run(
        [sys.executable, "-m", "descend.cli", "compare", "booth", "--methods", "gd,bb", "--lr",
         "0.05", "--max-iter", "20", "--explain", "--animate", str(gif)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == f"animation: {gif}\n"
    assert "gd's last update (update 20), part by part:" in done.stdout
    assert "bb's last update" in done.stdout and len(_frames(gif)) > 1
