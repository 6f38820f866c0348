"""Messages in the shell's words: every error the command prints, and the advice in a run's
message, name options (--x0, --bounds, --lr), never the Python API's spellings."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import descend as dd
from descend.cli import cli, main
from descend.cli.messages import shell

PYTHON = ("x0=", "dd.", "np.", "=[", "project=", "variables=", "method='", "lr=", "engine=",
          "=True", "explain=", "progress=", "on_divergence=", "clip_norm=")  # fmt: skip


def run(capsys, *argv):
    code = cli([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _table(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


ERRORS = [
    ["minimize", "x**2", "--x0", "1,2"],
    ["minimize", "y**2 + x", "--x0", "1"],
    ["minimize", "x**2"],
    ["minimize", "x**2", "--x0", "1,a"],
    ["minimize", "booth", "--x0", "1"],
    ["minimize", "x**2", "--x0", "1", "--method", "adma"],
    ["minimize", "x**2", "--x0", "1", "--lr", "-1"],
    ["minimize", "x**2", "--x0", "1", "--lr", "fast"],
    ["minimize", "x**2", "--x0", "1", "--lr", "0.1", "--schedule", "constant:0.1"],
    ["minimize", "x**2", "--x0", "1", "--schedule", "cosine:0.1"],
    ["minimize", "x**2", "--x0", "1", "--schedule", "cosin:0.1"],
    ["minimize", "x**2", "--x0", "1", "--schedule", "cosine:0.1,step=3"],
    ["minimize", "x**2", "--x0", "1", "--schedule", "cosine:-1,steps=3"],
    ["minimize", "x**2", "--x0", "1", "--schedule", "cosine:0.1,3,0.01,5"],
    ["minimize", "x**2", "--x0", "1", "--bounds", "1"],
    ["minimize", "x**2", "--x0", "1", "--bounds", "2,1"],
    ["minimize", "x**2 + y**2", "--x0", "1,1", "--bounds", "0,1;0,1;0,1"],
    ["minimize", "x**2 + y**2", "--x0", "1,1", "--method", "lbfgs", "--bounds", "0,1"],
    ["minimize", "x**2 + y**2", "--x0", "1,1", "--method", "schedulefree_sgd", "--lr", "0.1",
     "--bounds", "0,1"],
    ["minimize", "2", "--x0", "1"],
    ["minimize", "x**2", "--x0", "1", "--variables", "x,x"],
    ["minimize", "x**2", "--x0", "1", "--variables", "1x"],
    ["minimize", "x**2 + y", "--x0", "1", "--variables", "x"],
    ["minimize", "x**2 +* y", "--x0", "1,2"],
    ["minimize", "max(x)", "--x0", "1"],
    ["minimize", "floor(x)", "--x0", "1"],
    ["minimize", "log(x)", "--x0", "-1"],
    ["minimize", "x**2", "--x0", "1", "--method", "momentum", "-o", "momentm=0.9"],
    ["minimize", "x**2", "--x0", "1", "--method", "lbfgs", "-o", "memory=2.5"],
    ["minimize", "x**2", "--x0", "1", "--method", "prodigy", "-o", "decouple=maybe"],
    ["minimize", "x**2", "--x0", "1", "-o", "momentum"],
    ["minimize", "x**2", "--x0", "1", "--ftol", "-1"],
    ["minimize", "x**2", "--x0", "1", "--gtol", "-1"],
    ["minimize", "-x**2 + x**4", "--x0", "1"],
    ["minimize", "x**2", "--x0", "1", "--nonsense"],
    ["minimize", "x**2", "--x0", "1", "--lr", "0.1", "--engine", "numba", "--explain"],
    ["minimize", "x**2", "--x0", "1", "--lr", "0.1", "--engine", "numba", "--progress"],
    ["minimize", "x**2", "--x0", "1", "--lr", "0.1", "--method", "bb", "--engine", "numba",
     "--bounds", "0,1"],
    ["minimize", "x**2", "--x0", "1", "--lr", "0.1", "--engine", "numba", "--on-divergence",
     "rollback"],
    ["minimize", "x**2", "--x0", "1", "--method", "armijo", "--engine", "numba", "--bounds",
     "0,1"],
    ["minimize", "x**2", "--x0", "1", "--engine", "numb"],
    ["minimize", "x**2", "--x0", "1", "--animate", "run.gif"],
    ["minimize", "booth", "--animate", "run.png"],
    ["minimize", "booth", "--animate", "no-such-folder/run.gif"],
    ["compare", "x**2", "--x0", "1", "--methods", "gd,adma"],
    ["compare", "booth", "--animate", "run.txt"],
    ["sweep", "x**2", "--x0", "1"],
    ["sweep", "x**2", "--x0", "1", "-g", "lr"],
    ["sweep", "x**2", "--x0", "1", "--lr", "0.1,fast"],
    ["sweep", "x**2", "--x0", "1", "-g", "lr=0.1,-1"],
    ["nonsense"],
]  # fmt: skip


@pytest.mark.parametrize("argv", ERRORS, ids=lambda argv: " ".join(argv))
def test_every_error_is_one_line_in_the_shell_s_words(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("descend: error: ") and err.count("\n") == 1, err
    assert not [word for word in PYTHON if word in err], err


@pytest.mark.parametrize(
    "text",
    ["a,y\n1,\n2,3\n", "a,y\n1,1\n2,1\n", "a,y\n1,p\n2,q\n", "a,y\n1,0.5\n2,1.5\n",
     "name,y\n" + "".join(f"n{i},{i % 2}\n" for i in range(60))],
)  # fmt: skip
def test_every_fit_error_is_one_line_in_the_shell_s_words(capsys, tmp_path, text):
    for model in ("linear", "logistic"):
        argv = ["fit", _table(tmp_path, text), "--target", "y", "--model", model]
        code, _, err = run(capsys, *argv)
        if code == 0:  # a table only one of the models refuses
            continue
        assert code == 2 and err.count("\n") == 1, err
        assert not [word for word in PYTHON if word in err], err


@pytest.mark.parametrize(
    "argv",
    [
        ["minimize", "booth", "--lr", "1"],  # diverges: a smaller --lr
        ["minimize", "sqrt(x)", "--x0", "1", "--method", "gd", "--lr", "1"],  # leaves the domain
        ["minimize", "log(x)", "--x0", "1", "--lr", "0.5"],
        ["minimize", "x", "--x0", "1", "--lr", "0.1", "--max-iter", "200"],  # unbounded
        ["minimize", "booth", "--lr", "0.09", "--max-iter", "50"],  # out of budget
        ["minimize", "booth", "--method", "momentum", "--lr", "0.05", "-o", "momentum=0.99",
         "--max-iter", "100"],
        ["minimize", "x**2 + 10*y**2", "--x0", "1,1", "--lr", "0.099", "--max-iter", "100"],
        ["minimize", "x**2 + 10*y**2", "--x0", "1,1", "--lr", "auto", "--method", "lbfgs"],
    ],
)  # fmt: skip
def test_the_advice_in_a_run_s_message_names_options(capsys, argv):
    code, out, err = run(capsys, *argv)
    said = [line for line in out.splitlines() if line.startswith(("message:", "lr auto:"))]
    assert code in (0, 1) and said  # (the x line of a zoo function reads x0=..., x1=...)
    assert not [word for word in PYTHON if word in "\n".join([*said, err])], said


def test_a_wrong_x0_says_how_many_values_and_variables():
    cases = {
        ("x**2", "1,2"): "--x0 has 2 values but the formula has 1 variable (x)",
        ("(x-1)**2 + y**2", "1"): "--x0 has 1 value but the formula has 2 variables (x, y)",
    }
    for (formula, x0), words in cases.items():
        result = CliRunner().invoke(main, ["minimize", formula, "--x0", x0])
        assert result.exit_code == 2 and words in result.stderr


def test_the_order_of_the_variables_is_said_with_the_option_that_changes_it(capsys):
    code, _, err = run(capsys, "minimize", "y**2 + (x-1)**2", "--x0", "3")
    assert code == 2 and "(y, x)" in err and "--variables x,y" in err
    code, out, err = run(capsys, "minimize", "y**2 + (x-1)**2", "--x0", "3,4", "--json")
    assert code == 0 and "gives y=3, x=4" in err and "--variables x,y" in err
    res = dd.minimize("y**2 + (x-1)**2", [3.0, 4.0])
    assert json.loads(out)["x"] == res.x.tolist()  # y first, as the note says
    code, _, err = run(capsys, "minimize", "y**2 + (x-1)**2", "--x0", "3,4", "--variables", "x,y")
    assert code == 0 and err == ""


def test_a_misspelt_method_suggests_the_closest_name(capsys):
    for argv, name in [(["minimize", "booth", "--method", "adma"], "adam"),
                       (["sweep", "booth", "--method", "momentm", "--lr", "0.1"], "momentum"),
                       (["compare", "booth", "--methods", "gd,nesterof"], "nesterov")]:  # fmt: skip
        code, _, err = run(capsys, *argv)
        assert code == 2 and f"did you mean '{name}'?" in err


def test_domain_advice_suggests_bounds_and_no_numpy(capsys):
    code, out, _ = run(capsys, "minimize", "sqrt(x)", "--x0", "1", "--method", "gd", "--lr", "1")
    assert code == 1 and "--bounds 0,inf" in out
    raw = dd.minimize("sqrt(x)", [1.0], "gd", lr=1.0).message
    assert "np.maximum" in raw and "dd.projections" in raw  # what the Python API says instead
    assert "maximum" not in shell(raw)


def test_the_documented_double_dash_takes_options_after_the_formula(capsys):
    code, out, _ = run(capsys, "minimize", "--", "-x**2 + x**4", "--x0", "1", "--json")
    res = dd.minimize("-x**2 + x**4", [1.0])
    assert code == 0 and json.loads(out)["x"] == res.x.tolist()
    assert json.loads(out)["x"] == pytest.approx([2**-0.5], abs=1e-8)
    code, out, _ = run(capsys, "compare", "--", "-x**2 + x**4", "--x0", "1", "--methods", "bb")
    assert code == 0 and out.splitlines()[1].startswith("bb")
    code, _, err = run(capsys, "minimize", "-x**2 + x**4", "--x0", "1")
    assert code == 2 and "descend minimize -- '-x**2 + x**4' --x0" in err


def test_the_double_dash_form_in_a_shell():
    done = subprocess.run(
        [sys.executable, "-m", "descend.cli", "minimize", "--", "-x**2 + x**4", "--x0", "1"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "status:     converged" in done.stdout
    assert "x=0.70710678" in done.stdout and done.stderr == ""
