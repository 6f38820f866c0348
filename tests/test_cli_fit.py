"""descend fit and descend predict: the fit agrees with scikit-learn's on the same split,
the saved model predicts as the estimator does, and bad tables are refused by column."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import linear_model
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import train_test_split

from descend.cli import cli
from descend.models import LinearClassifier, LogisticRegression


def run(capsys, *argv):
    code = cli([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def diabetes(tmp_path):
    path = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def iris(tmp_path):
    frame = load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def _split(path, target, stratify=False, test_size=0.2, seed=0):
    frame = pd.read_csv(path)
    X, y = frame.drop(columns=[target]), frame[target]
    return train_test_split(X, y, test_size=test_size, random_state=seed,
                            stratify=y if stratify else None)  # fmt: skip


def test_linear_fit_agrees_with_scikit_learn_least_squares_on_the_same_split(capsys, diabetes):
    code, out, _ = run(capsys, "fit", diabetes, "--target", "target", "--tol", "1e-9", "--json")
    record = json.loads(out)
    X, X_test, y, y_test = _split(diabetes, "target")
    truth = linear_model.LinearRegression().fit(X, y)
    coefficients = record["coefficients"]["target"]
    assert code == 0 and record["status"] == "converged"
    assert list(coefficients) == ["intercept", *X.columns]
    # tol 1e-9 on the gradient in standardised units: the standardised coefficients
    # (coefficient x the column's standard deviation) to 1e-6 of the largest
    spread = X.std(ddof=0).to_numpy()
    ours = np.array([coefficients[c] for c in X.columns]) * spread
    np.testing.assert_allclose(ours, truth.coef_ * spread, atol=1e-6 * np.abs(ours).max())
    assert coefficients["intercept"] == pytest.approx(truth.intercept_, rel=1e-6)
    # the train R^2 is flat at the optimum (errors enter squared), the test R^2 is not
    assert record["train_score"] == pytest.approx(truth.score(X, y), abs=1e-10)
    assert record["test_score"] == pytest.approx(truth.score(X_test, y_test), abs=1e-7)
    assert (record["train_rows"], record["test_rows"]) == (len(y), len(y_test))


def test_logistic_fit_agrees_with_scikit_learn_and_prints_a_column_per_class(capsys, iris):
    argv = ["fit", iris, "--target", "species", "--model", "logistic", "--alpha", "0.01",
            "--tol", "1e-9", "--seed", "3"]  # fmt: skip
    code, out, _ = run(capsys, *argv, "--json")
    record = json.loads(out)
    X, X_test, y, y_test = _split(iris, "species", stratify=True, seed=3)
    # alpha weighs the mean loss: scikit-learn's C = 1 / (alpha n)
    truth = linear_model.LogisticRegression(C=1 / (0.01 * len(y)), tol=1e-12, max_iter=10_000)
    truth.fit(X, y)
    assert code == 0 and record["classes"] == ["setosa", "versicolor", "virginica"]
    ours = [record["coefficients"][label] for label in truth.classes_]
    np.testing.assert_allclose([[row[c] for c in X.columns] for row in ours], truth.coef_,
                               atol=1e-5)  # fmt: skip
    # softmax scores are defined up to one constant added to every class: the intercepts
    # (not penalised) are compared about their mean
    intercepts = np.array([row["intercept"] for row in ours])
    np.testing.assert_allclose(intercepts - intercepts.mean(),
                               truth.intercept_ - truth.intercept_.mean(), rtol=1e-5)  # fmt: skip
    assert record["test_score"] == truth.score(X_test, y_test)
    code, out, _ = run(capsys, *argv)
    lines = out.splitlines()
    assert code == 0 and "status:      converged" in out and "test score:  " in out
    header = lines[lines.index("coefficients:") + 1].split()
    assert header == ["setosa", "versicolor", "virginica"]
    row = next(line for line in lines if line.strip().startswith("petal width (cm)"))
    values = [float(v) for v in row.split(")")[1].split()]
    np.testing.assert_allclose(values, truth.coef_[:, 3], atol=1e-4)


def test_text_columns_are_one_hot_encoded_against_their_first_value(capsys, tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    colour = rng.choice(["blue", "green", "red"], n)
    size = rng.normal(10, 3, n)
    y = 2.0 * size + np.select([colour == "green", colour == "red"], [5.0, -3.0], 0.0) + 1.0
    frame = pd.DataFrame({"size": size, "colour": colour, "y": y + rng.normal(0, 0.1, n)})
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    code, out, _ = run(capsys, "fit", path, "--target", "y", "--tol", "1e-10", "--test-size", "0",
                       "--json")  # fmt: skip
    coefficients = json.loads(out)["coefficients"]["y"]
    assert code == 0 and list(coefficients) == ["intercept", "size", "colour=green", "colour=red"]
    dummies = pd.get_dummies(frame.drop(columns="y"), drop_first=True, dtype=float)
    truth = linear_model.LinearRegression().fit(dummies, frame["y"])
    np.testing.assert_allclose(
        [coefficients[name] for name in ["size", "colour=green", "colour=red"]],
        truth.coef_, rtol=1e-7,
    )  # fmt: skip
    _, text, _ = run(capsys, "fit", path, "--target", "y", "--test-size", "0")
    assert "  colour=red" in text and "test score" not in text


@pytest.mark.parametrize("model", ["logistic", "classifier"])
def test_predict_applies_the_saved_model_as_the_estimator_predicts(capsys, tmp_path, iris, model):
    saved, written = tmp_path / "model.json", tmp_path / "predictions.csv"
    code, _, err = run(capsys, "fit", iris, "--target", "species", "--model", model, "--save",
                       saved)  # fmt: skip
    assert code == 0 and f"model: {saved}" in err
    document = json.loads(saved.read_text())
    assert document["format"] == "descend-model" and len(document["scaler"]["scale"]) == 4
    X, _, y, _ = _split(iris, "species", stratify=True)
    estimator = {"logistic": LogisticRegression, "classifier": LinearClassifier}[model]
    alone = estimator(random_state=0).fit(X.to_numpy(), y.to_numpy())
    np.testing.assert_array_equal(document["coef"], alone.coef_)
    table = pd.read_csv(iris)
    code, out, err = run(capsys, "predict", saved, iris)
    printed = out.splitlines()
    assert code == 0 and printed[0] == "species"
    expected = alone.predict(table.drop(columns="species").to_numpy())
    assert printed[1:] == expected.tolist()
    assert f"score: {np.mean(expected == table['species']):.6g}" in err
    code, _, err = run(capsys, "predict", saved, iris, "--output", written)
    assert code == 0 and pd.read_csv(written)["species"].tolist() == expected.tolist()


def test_a_linear_model_file_predicts_numbers_for_a_table_without_the_target(
    capsys, tmp_path, diabetes
):
    saved = tmp_path / "model.json"
    run(capsys, "fit", diabetes, "--target", "target", "--no-scale", "--method", "bb",
        "--save", saved)  # fmt: skip
    document = json.loads(saved.read_text())
    assert document["scaler"] is None
    features = pd.read_csv(diabetes).drop(columns="target")
    features.to_csv(tmp_path / "new.csv", index=False)
    code, out, err = run(capsys, "predict", saved, tmp_path / "new.csv")
    expected = features.to_numpy() @ np.array(document["coef"]) + document["intercept"]
    assert code == 0 and err == ""
    np.testing.assert_allclose(pd.read_csv(pd.io.common.StringIO(out))["target"], expected,
                               rtol=1e-12)  # fmt: skip


def _table(tmp_path, **columns):
    path = tmp_path / "t.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("columns", "argv", "words"),
    [
        (dict(a=[1.0, None, 3.0, 4.0, 5.0], y=[1, 0, 1, 0, 1]), [], "'a' (1 of 5 rows)"),
        (dict(name=[f"n{i}" for i in range(60)], y=[0, 1] * 30), [],
         "column 'name' is not numeric and has 60 distinct values"),
        (dict(a=[1.0, 2.0, 3.0, 4.0], y=[1, 1, 1, 1]), ["--model", "logistic"],
         "--target 'y' has one class (1)"),
        (dict(a=[1.0, 2.0, 3.0], y=["p", "q", "p"]), ["--model", "linear"],
         "--target 'y' is not numeric"),
        (dict(a=[1.0, 2.0, 3.0], y=[0.5, 1.5, 2.2]), ["--model", "classifier"],
         "holds fractional numbers"),
        (dict(a=[1.0, 2.0, 3.0], y=[1, 2, 3]), ["--target", "Y"],
         "--target 'Y' is not a column of the table; its columns are a, y; did you mean 'y'?"),
        (dict(y=[1.0, 2.0, 3.0]), [], "no column besides --target 'y'"),
    ],
)  # fmt: skip
def test_bad_tables_are_refused_by_column_before_any_fit(capsys, tmp_path, columns, argv, words):
    path = _table(tmp_path, **columns)
    target = [] if "--target" in argv else ["--target", "y"]
    code, out, err = run(capsys, "fit", path, *target, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert words in err, err


def test_predict_refuses_a_table_the_model_cannot_read(capsys, tmp_path):
    path = _table(tmp_path, size=[1.0, 2.0, 3.0, 4.0], colour=["a", "b", "a", "b"],
                  y=[1.0, 2.0, 3.0, 5.0])  # fmt: skip
    saved = tmp_path / "m.json"
    run(capsys, "fit", path, "--target", "y", "--test-size", "0", "--save", saved)
    for columns, words in [
        (dict(size=[1.0], colour=["c"]), "column 'colour' holds values the model was not fitted"),
        (dict(colour=["a"]), "'size' is not a column of the table"),
        (dict(size=[None, 1.0], colour=["a", "b"]), "missing values in column 'size'"),
    ]:
        code, _, err = run(capsys, "predict", saved, _table(tmp_path, **columns))
        assert code == 2 and words in err, err
    code, _, err = run(capsys, "predict", path, path)
    assert code == 2 and "is not a model file; write one with descend fit --save" in err


def test_parquet_is_read_with_pandas_when_pyarrow_is_there(capsys, tmp_path, monkeypatch):
    import importlib.util

    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))  # fmt: skip
    code, _, err = run(capsys, "fit", path, "--target", "y")
    assert code == 2 and "needs pyarrow: pip install pyarrow, or save the table as CSV" in err
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [1.0, 3.0, 5.0, 7.0, 9.0]})
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(pd, "read_parquet", lambda p: frame if str(p) == str(path) else None)
    code, out, _ = run(capsys, "fit", path, "--target", "y", "--test-size", "0", "--json")
    coefficients = json.loads(out)["coefficients"]["y"]
    assert code == 0 and coefficients["a"] == pytest.approx(2.0, rel=1e-6)


def test_fit_and_predict_in_a_shell(tmp_path, iris):
    import subprocess
    import sys

    command = [sys.executable, "-m", "descend.cli"]
    saved = tmp_path / "model.json"
    done = subprocess.run([*command, "fit", str(iris), "--target", "species", "--model",
                           "logistic", "--save", str(saved)], capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "status:      converged" in done.stdout, done.stderr
    assert done.stderr == f"model: {saved}\n"
    done = subprocess.run([*command, "predict", str(saved), str(iris)], capture_output=True,
                          text=True, check=False, timeout=120)  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0] == "species" and len(lines) == 151
    assert set(lines[1:]) == {"setosa", "versicolor", "virginica"}


def test_a_fit_that_diverges_exits_1_and_says_what_to_change(capsys, diabetes):
    argv = ["fit", diabetes, "--target", "target", "--no-scale", "--method", "gd", "--lr", "0.1",
            "--epochs", "20"]  # fmt: skip
    code, out, _ = run(capsys, *argv, "--json")
    record = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert code == 1 and record["status"] == "diverged"
    assert "--lr 0.1 is too large" in record["message"] and "lr=" not in record["message"]
