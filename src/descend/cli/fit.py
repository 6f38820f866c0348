"""``descend fit`` and ``descend predict``: the linear models on a table, from the shell.

``fit`` reads a CSV (or Parquet) table, holds out ``--test-size`` of its rows, fits one
of :mod:`descend.models`' estimators through :func:`descend.minimize` and prints the
run's story, the train and test scores and the coefficients by column name;
``--save`` writes the fitted model as JSON (the encoding of the columns, the
coefficients in the table's units and the standardisation the fit used; no pickle),
which ``predict`` applies to another table.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import numpy as np

from descend.cli import messages
from descend.cli.options import output_option
from descend.cli.output import strict_json
from descend.cli.runs import EXIT_CODES
from descend.cli.table import Encoding, check_complete, column, read
from descend.core.optimizers import OPTIMIZERS

MODELS = {
    "linear": "LinearRegression",
    "logistic": "LogisticRegression",
    "classifier": "LinearClassifier",
}
FORMAT = "descend-model"
_SCORES = {"linear": "R^2", "logistic": "accuracy", "classifier": "accuracy"}


def _estimator(model: str, **settings: Any) -> Any:
    from descend import models

    return getattr(models, MODELS[model])(**settings)


def _targets(y: Any, model: str, target: str) -> Any:
    """The target column as the model needs it: numbers to regress, or 2+ class labels."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if model == "linear":
        if not numeric:
            raise click.UsageError(
                f"--target {target!r} is not numeric; --model linear predicts numbers: "
                "use --model logistic or --model classifier for labels"
            )
        return y.to_numpy(dtype=np.float64)
    labels = y.to_numpy()
    if numeric and not np.all(np.mod(labels, 1) == 0):
        raise click.UsageError(
            f"--target {target!r} holds fractional numbers, not class labels; "
            "use --model linear to predict numbers"
        )
    classes = np.unique(labels)
    if len(classes) < 2:
        raise click.UsageError(
            f"--target {target!r} has one class ({classes[0]!s}); a classifier needs "
            "rows of at least two classes"
        )
    return labels


@click.command("fit")
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", required=True, help="The column to predict.")
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    default="linear",
    show_default=True,
    help="linear: least squares; logistic: logistic regression; classifier: "
    "least squares on 0/1 labels.",
)
@click.option(
    "--test-size",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.2,
    show_default=True,
    help="The share of rows held out to test (0: none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split and fit.")
@click.option("--no-scale", is_flag=True, help="Fit on the raw columns, not standardised ones.")
@click.option(
    "--method",
    type=messages.Choice(list(OPTIMIZERS)),
    help="The update rule (default: lbfgs; gd with --lr or --batch-size).",
)
@click.option("--lr", type=float, help="Learning rate (for a method that takes one).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows per update (default all).")
@click.option("--epochs", type=click.IntRange(min=1), help="Most passes over the rows (1000).")
@click.option("--alpha", type=float, help="L2 penalty on the coefficients (model's default).")
@click.option("--tol", type=float, help="Stop when the gradient norm is <= tol (1e-4).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@output_option("--save", "save_path", "Write the fitted model as JSON (for descend predict).")
def fit_command(
    data: str,
    target: str,
    model: str,
    test_size: float,
    seed: int,
    no_scale: bool,
    as_json: bool,
    save_path: str | None,
    **settings: Any,
) -> None:
    """Fit a linear model to the table DATA (CSV or Parquet) and print how it went."""
    from sklearn.model_selection import train_test_split

    frame = read(data)
    y = _targets(column(frame, target, "--target"), model, target)
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise click.UsageError(f"the table has no column besides --target {target!r}")
    check_complete(frame)
    encoding = Encoding.learn(features)
    X = encoding.encode(features)
    chosen = {name: value for name, value in settings.items() if value is not None}
    estimator = _estimator(model, scale=not no_scale, random_state=seed, **chosen)
    if test_size:
        stratify = y if model != "linear" else None
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=stratify
        )
    estimator.fit(X, y)
    record = _record(estimator, model, target, encoding.names)
    record.update(rows=len(frame), train_rows=len(y), train_score=estimator.score(X, y))
    if test_size:
        record.update(test_rows=len(y_test), test_score=estimator.score(X_test, y_test))
    if save_path:
        with open(save_path, "w") as handle:
            json.dump(_saved(estimator, model, target, encoding), handle, indent=1)
    click.echo(strict_json(record) if as_json else _summary(record, data, seed, not no_scale))
    if save_path:
        click.echo(f"model: {save_path}", err=True)
    sys.exit(EXIT_CODES.get(estimator.result_.status, 0))


def _record(estimator: Any, model: str, target: str, names: list[str]) -> dict[str, Any]:
    """What a fit printed with --json: the run, the scores' name and the coefficients."""
    res = estimator.result_
    coef, intercept = np.atleast_2d(estimator.coef_), np.atleast_1d(estimator.intercept_)
    found = getattr(estimator, "classes_", None)
    classes = None if found is None else [str(label) for label in found]
    outputs = [target] if classes is None or len(coef) == 1 else classes
    return {
        "model": model,
        "target": target,
        "classes": classes,
        "status": str(res.status),
        "success": res.success,
        "epochs": res.nepoch,
        "message": messages.shell(res.message),
        "score": _SCORES[model],
        "coefficients": {
            output: {"intercept": float(b), **dict(zip(names, w.tolist(), strict=True))}
            for output, w, b in zip(outputs, coef, intercept, strict=True)
        },
    }


def _summary(record: dict[str, Any], data: str, seed: int, scaled: bool) -> str:
    """The fit's story for a person: the run, the scores, the coefficients by column."""
    classes = record["classes"]
    kind = f"{record['model']}, {len(classes)} classes" if classes else record["model"]
    split = f"{record['train_rows']} to train"
    if "test_rows" in record:
        split += f", {record['test_rows']} to test (seed {seed})"
    lines = [
        f"model:       {kind} of {record['target']!r}, {'standardised' if scaled else 'raw'}"
        " columns",
        f"data:        {data}: {record['rows']} rows; {split}",
        f"status:      {record['status']}",
        f"epochs:      {record['epochs']}",
        f"message:     {record['message']}",
        f"train score: {record['train_score']:.6g} ({record['score']})",
    ]
    if "test_score" in record:
        lines.append(f"test score:  {record['test_score']:.6g} ({record['score']})")
    table = record["coefficients"]
    rows = list(next(iter(table.values())))
    width = max(len(name) for name in rows)
    lines.append("coefficients:")
    if len(table) > 1:  # one column per class
        lines.append(f"  {'':<{width}}" + "".join(f"{name[:12]:>13}" for name in table))
    for name in rows:
        cells = "".join(f"{column[name]:>13.6g}" for column in table.values())
        lines.append(f"  {name:<{width}}{cells}")
    return "\n".join(lines)


def _saved(estimator: Any, model: str, target: str, encoding: Encoding) -> dict[str, Any]:
    """The model file: plain JSON, enough to predict without descend's objects."""
    classes = getattr(estimator, "classes_", None)
    scaling = estimator._scaling if estimator.scale else None
    return {
        "format": FORMAT,
        "version": 1,
        "model": model,
        "target": target,
        "encoding": encoding.to_dict(),
        "features": encoding.names,
        "classes": None if classes is None else classes.tolist(),
        "coef": np.asarray(estimator.coef_).tolist(),
        "intercept": np.asarray(estimator.intercept_).tolist(),
        # The fit's standardisation x' = (x - shift) / scale, for the record: coef and
        # intercept are already in the table's units, so predicting needs no scaler.
        "scaler": None
        if scaling is None
        else {"shift": scaling.shift.tolist(), "scale": scaling.scale.tolist()},
    }


def _loaded(path: str) -> tuple[Any, dict[str, Any]]:
    """The estimator saved in ``path``, ready to predict, and the file's record."""
    try:
        with open(path) as handle:
            saved = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError):
        saved = None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise click.UsageError(f"{path} is not a model file; write one with descend fit --save")
    estimator = _estimator(saved["model"])
    estimator.coef_ = np.asarray(saved["coef"], dtype=np.float64)
    estimator.intercept_ = np.asarray(saved["intercept"], dtype=np.float64)
    if saved["model"] == "linear":
        estimator.intercept_ = float(estimator.intercept_)
    else:
        estimator.classes_ = np.asarray(saved["classes"])
    estimator.n_features_in_ = len(saved["features"])
    return estimator, saved


@click.command("predict")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@output_option("--output", "output_path", "Write the predictions as CSV (default: print them).")
def predict_command(model_path: str, data: str, output_path: str | None) -> None:
    """Apply the MODEL that descend fit --save wrote to the table DATA; print a prediction
    per row (a CSV column named after the target)."""
    import pandas as pd

    estimator, saved = _loaded(model_path)
    encoding = Encoding(saved["encoding"]["columns"], saved["encoding"]["categories"])
    frame = read(data)
    features = frame[[column(frame, name, "the model's feature").name for name in encoding.columns]]
    check_complete(features)
    X = encoding.encode(features)
    predictions = pd.DataFrame({saved["target"]: estimator.predict(X)})
    if output_path:
        predictions.to_csv(output_path, index=False)
        click.echo(f"predictions: {output_path}", err=True)
    else:
        click.echo(predictions.to_csv(index=False), nl=False)
    if saved["target"] in frame.columns and not frame[saved["target"]].isna().any():
        score = estimator.score(X, frame[saved["target"]].to_numpy())
        name = _SCORES[saved["model"]]
        click.echo(f"score: {score:.6g} ({name} against the table's {saved['target']!r})", err=True)
