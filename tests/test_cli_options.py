"""The options shell users look for: each one is the same run as the Python API's."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

import descend as dd
from descend.cli import main

FORMULA = "x**2 + 10*y**2"


def invoke(*argv):
    result = CliRunner().invoke(main, [str(arg) for arg in argv])
    return result.exit_code, result.stdout, result.stderr


def record(*argv):
    code, out, err = invoke(*argv)
    assert code == 0, err
    return json.loads(out)


def test_a_schedule_is_the_dd_schedules_function_with_its_arguments():
    got = record("minimize", FORMULA, "--x0", "1,1", "--method", "gd", "--schedule",
                 "cosine:0.09,steps=200,final=0.001", "--json", "--with-history")  # fmt: skip
    schedule = dd.schedules.cosine(0.09, steps=200, final=0.001)
    res = dd.minimize(FORMULA, [1.0, 1.0], "gd", lr=schedule)
    assert got["nit"] == res.nit and got["x"] == res.x.tolist()
    np.testing.assert_array_equal(got["history"]["lr"], res.history.lr)


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("constant:0.05", dd.schedules.constant(0.05)),
        ("exponential:0.09,rate=0.99", dd.schedules.exponential(0.09, rate=0.99)),
        ("exponential:0.09,0.5,10", dd.schedules.exponential(0.09, 0.5, 10)),
        ("step:0.09,drop=0.5,every=20", dd.schedules.step(0.09, drop=0.5, every=20)),
        ("inverse_time:0.09,decay=0.01", dd.schedules.inverse_time(0.09, decay=0.01)),
        ("warmup:0.09,steps=10", dd.schedules.warmup(0.09, steps=10)),
    ],
)
def test_every_schedule_reads_its_own_settings(text, schedule):
    from descend.cli.options import schedule as read

    parsed = read(None, None, text)
    assert parsed == schedule and type(parsed.__dict__[next(iter(parsed.__dict__))]) is float
    got = record("minimize", FORMULA, "--x0", "1,1", "--method", "gd", "--schedule", text,
                 "--json")  # fmt: skip
    assert got["x"] == dd.minimize(FORMULA, [1.0, 1.0], "gd", lr=schedule).x.tolist()


def test_lr_auto_runs_with_the_learning_rate_find_lr_suggests_and_says_so():
    found = dd.find_lr(FORMULA, [1.0, 1.0], "momentum")
    code, out, _ = invoke("minimize", FORMULA, "--x0", "1,1", "--method", "momentum", "--lr",
                          "auto")  # fmt: skip
    res = dd.minimize(FORMULA, [1.0, 1.0], "momentum", lr=found.lr)
    assert code == 0 and f"lr auto:    momentum: --lr {found.lr:.3g}" in out
    assert f"iterations: {res.nit} " in out
    got = record("minimize", FORMULA, "--x0", "1,1", "--lr", "auto", "--json")  # gd by default
    assert (
        got["x"]
        == dd.minimize(FORMULA, [1.0, 1.0], "gd", lr=dd.find_lr(FORMULA, [1, 1]).lr).x.tolist()
    )


def test_bounds_are_a_box_projection_one_pair_for_all_or_one_each():
    got = record("minimize", "(x-2)**2 + (y+1)**2", "--x0", "0,0", "--bounds", "0,1;-0.5,inf",
                 "--json")  # fmt: skip
    box = dd.projections.box([0.0, -0.5], [1.0, np.inf])
    res = dd.minimize("(x-2)**2 + (y+1)**2", [0.0, 0.0], project=box)
    assert got["x"] == res.x.tolist() == [1.0, -0.5]
    got = record("minimize", "(x-2)**2 + (y+1)**2", "--x0", "0,0", "--bounds", "-0.5,0.5",
                 "--method", "armijo", "--json")  # fmt: skip
    assert got["x"] == [0.5, -0.5]


@pytest.mark.parametrize(
    ("method", "option", "kind"),
    [("lbfgs", "memory=3", int), ("bb", "max_backtracks=5", int),
     ("prodigy", "decouple=false", bool), ("momentum", "momentum=0.5", float)],
)  # fmt: skip
def test_o_keeps_each_setting_of_its_own_type(method, option, kind):
    from descend.cli.options import hyperparameters

    name = option.split("=")[0]
    parsed = hyperparameters((option,))
    assert type(parsed[name]) is kind
    lr = ["--lr", "0.001"] if method == "momentum" else []
    got = record("minimize", "rosenbrock", "--method", method, "-o", option, *lr, "--json")
    res = dd.minimize(dd.functions.rosenbrock, dd.functions.rosenbrock.x0, method,
                      lr=0.001 if lr else None, **parsed)  # fmt: skip
    assert got["x"] == res.x.tolist() and got["nit"] == res.nit


def test_sweep_takes_a_grid_of_any_setting_and_fixed_ones():
    code, out, _ = invoke("sweep", FORMULA, "--x0", "1,1", "--method", "adam", "-g",
                          "beta1=0.5,0.9", "-g", "lr=0.1,0.3", "-o", "beta2=0.99",
                          "--max-iter", "500")  # fmt: skip
    grid = dd.sweep(FORMULA, [1.0, 1.0], "adam", beta1=[0.5, 0.9], lr=[0.1, 0.3], beta2=0.99,
                    max_iter=500)  # fmt: skip
    best = grid.best
    assert code == 0 and out.splitlines()[0].startswith(
        f"sweep: 4 runs; best: -o beta1={grid.best_params['beta1']:g} "
        f"--lr {grid.best_params['lr']:g} (converged, {best.nit} updates"
    )
    rows = out.splitlines()[2:]
    assert [int(row.split()[3]) for row in rows] == [r.nit for r in grid.results.values()]
    code, out, _ = invoke("sweep", FORMULA, "--x0", "1,1", "-g", "method=gd,adam", "--lr",
                          "0.01,0.05", "--max-iter", "3000")  # fmt: skip
    grid = dd.sweep(FORMULA, [1.0, 1.0], ["gd", "adam"], lr=[0.01, 0.05], max_iter=3000)
    best = grid.best_params
    assert code == 0 and f"best: --method {best['method']} --lr {best['lr']:g} (" in out
    code, out, _ = invoke("sweep", FORMULA, "--x0", "1,1", "--method", "lbfgs", "-g",
                          "memory=2,5")  # fmt: skip
    assert code == 0 and out.startswith("sweep: 2 runs; best: -o memory=")


def test_compare_json_has_every_run_and_the_best_and_history_one_csv(tmp_path):
    path = tmp_path / "runs.csv"
    got = record("compare", "booth", "--lr", "0.05", "--methods", "gd,adam,bb", "--json",
                 "--history", path)  # fmt: skip
    runs = {m: dd.minimize(dd.functions.booth, dd.functions.booth.x0, m, lr=0.05)
            for m in ("gd", "adam", "bb")}  # fmt: skip
    assert [run["method"] for run in got["runs"]] == list(runs)
    assert [run["nit"] for run in got["runs"]] == [res.nit for res in runs.values()]
    assert got["best"] == min(runs, key=lambda m: runs[m].nit)
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:3] == ["method", "iteration", "f"]
    for name, res in runs.items():
        f = [float(row["f"]) for row in rows if row["method"] == name]
        np.testing.assert_array_equal(f, res.history.f)


def test_progress_draws_a_bar_on_stderr_when_asked():
    pytest.importorskip("tqdm")
    code, out, err = invoke("minimize", FORMULA, "--x0", "1,1", "--progress")
    assert code == 0 and "converged" in out and err != ""
