"""The digits classifier: a classic teaching experiment, reproduced exactly.

Zeros against ones from scikit-learn's 8x8 digits, by least squares on 0/1
targets: with a column of ones prepended to the 64 pixels, minimise

    f(w) = 1/2 * sum_i (x_i . w - y_i)**2,        grad f(w) = X^T (X w - y),

by heavy-ball momentum (v <- momentum * v - lr * g; w <- w + v) and predict
class 1 when x . w > 0.5. Three runs, each a call of :func:`descend.minimize`:

- :func:`batch`: the full gradient, lr 1e-6, momentum 0.7, stopping when f
  changes by less than 0.1 or after 100 updates;
- :func:`single_sample`: the same, one shuffled sample per update (data mode),
  f and the ``ftol`` rule checked once per epoch on the full training set;
- :func:`compare_momentum`: batch runs with momentum 0, 0.5 and 0.9 at
  ``ftol`` 0.01 from another start.

The seeds are the experiment's own: the split is
``train_test_split(test_size=0.2, random_state=10)`` and the starts are
``RandomState(19)`` and ``RandomState(11)`` drawing ``uniform(-1, 1, 65) * 1e-6``;
the shuffle of the single-sample run is ``seed=0`` (:data:`SHUFFLE_SEED`).
Every function returns plain data; :func:`report` formats it as tables, for
``examples/digits.py`` and ``descend demo``. Loading the data needs scikit-learn.

>>> from descend.problems import digits
>>> run = digits.batch(digits.load(), digits.start(digits.START_SEED))  # doctest: +SKIP
>>> run.iterations, f"{run.train_error:.2%}", f"{run.test_error:.2%}"  # doctest: +SKIP
(12, '0.69%', '1.39%')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from descend._types import Array
from descend.core.minimize import minimize
from descend.core.result import Result

__all__ = [
    "Experiment",
    "Run",
    "Split",
    "batch",
    "compare_momentum",
    "error_rate",
    "experiment",
    "load",
    "loss",
    "loss_grad",
    "mini_batch",
    "predict",
    "report",
    "single_sample",
    "start",
    "table",
]

SPLIT_SEED = 10  # train_test_split(random_state=...)
START_SEED = 19  # the start of the batch and single-sample runs
COMPARISON_SEED = 11  # the start of the momentum comparison
SHUFFLE_SEED = 0  # the single-sample run's shuffle (our choice; the experiment names none)
LR = 1e-6
MINI_BATCH = 16  # rows per update of the mini-batch run (our addition to the experiment)
MOMENTA = (0.0, 0.5, 0.9)


class Split(NamedTuple):
    """Training and test sets; the first column of each ``X`` is ones (the intercept)."""

    X_train: Array
    X_test: Array
    y_train: Array
    y_test: Array


@dataclasses.dataclass(frozen=True)
class Run:
    """One run: its updates and passes over the data, its error rates (fractions), the Result."""

    label: str
    momentum: float
    iterations: int
    epochs: int
    train_error: float
    test_error: float
    result: Result


class Experiment(NamedTuple):
    """The whole experiment: the batch and single-sample runs and the momentum comparison."""

    batch: Run
    single_sample: Run
    comparison: list[Run]


def load(test_size: float = 0.2, random_state: int = SPLIT_SEED) -> Split:
    """Zeros and ones from ``load_digits(n_class=2)``: 360 images, split 288 / 72."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    pixels, labels = load_digits(n_class=2, return_X_y=True)
    # The split shuffles row indices only, so the ones column may go on before it.
    X = np.hstack([np.ones((len(pixels), 1)), pixels])
    X_train, X_test, y_train, y_test = train_test_split(
        X, labels.astype(float), test_size=test_size, random_state=random_state
    )
    return Split(X_train, X_test, y_train, y_test)


def start(seed: int, size: int = 65) -> Array:
    """``RandomState(seed).uniform(-1, 1, size) * 1e-6``: the experiment's start.

    The legacy ``RandomState`` stream is what the published figures were drawn from.
    """
    return np.random.RandomState(seed).uniform(-1, 1, size) * 1e-6


def loss(w: Array, X: Array, y: Array) -> float:
    """Half the sum of squared errors, ``1/2 * ||X w - y||**2``."""
    r = X @ w - y
    return 0.5 * float(r @ r)


def loss_grad(w: Array, X: Array, y: Array) -> Array:
    """The gradient of :func:`loss`, ``X^T (X w - y)``."""
    return X.T @ (X @ w - y)


def predict(w: Array, X: Array) -> Array:
    """Class 1 where ``x . w > 0.5``, else 0."""
    return (X @ w > 0.5).astype(float)


def error_rate(w: Array, X: Array, y: Array) -> float:
    """The fraction of rows misclassified."""
    return float(np.mean(predict(w, X) != y))


def _run(label: str, momentum: float, split: Split, result: Result, epochs: int) -> Run:
    w = result.x
    return Run(
        label,
        momentum,
        result.nit,
        epochs,
        error_rate(w, split.X_train, split.y_train),
        error_rate(w, split.X_test, split.y_test),
        result,
    )


def batch(
    split: Split, w0: Array, *, momentum: float = 0.7, ftol: float = 0.1, max_iter: int = 100
) -> Run:
    """Momentum descent on the full training set; each update is one pass over it."""
    X, y = split.X_train, split.y_train
    result = minimize(
        lambda w: loss(w, X, y),
        w0,
        "momentum",
        grad=lambda w: loss_grad(w, X, y),
        lr=LR,
        momentum=momentum,
        ftol=ftol,
        max_iter=max_iter,
    )
    return _run("batch", momentum, split, result, epochs=result.nit)


def mini_batch(
    split: Split,
    w0: Array,
    batch_size: int = MINI_BATCH,
    *,
    momentum: float = 0.7,
    ftol: float = 0.1,
    epochs: int = 100,
    seed: int = SHUFFLE_SEED,
) -> Run:
    """Momentum descent on shuffled batches of ``batch_size`` rows; ``ftol`` is checked
    once per epoch on the full training set."""
    result = minimize(
        loss,
        w0,
        "momentum",
        grad=loss_grad,
        lr=LR,
        momentum=momentum,
        data=(split.X_train, split.y_train),
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        epochs=epochs,
        ftol=ftol,
    )
    label = "single sample" if batch_size == 1 else f"mini-batch {batch_size}"
    return _run(label, momentum, split, result, epochs=result.nepoch or 0)


def single_sample(
    split: Split,
    w0: Array,
    *,
    momentum: float = 0.7,
    ftol: float = 0.1,
    epochs: int = 100,
    seed: int = SHUFFLE_SEED,
) -> Run:
    """Momentum descent one shuffled sample at a time: :func:`mini_batch` of size 1."""
    return mini_batch(split, w0, 1, momentum=momentum, ftol=ftol, epochs=epochs, seed=seed)


def compare_momentum(
    split: Split, w0: Array, momenta: Sequence[float] = MOMENTA, *, ftol: float = 0.01
) -> list[Run]:
    """Batch runs, one per momentum, from the same start and with the same rules."""
    runs = (batch(split, w0, momentum=m, ftol=ftol) for m in momenta)
    return [dataclasses.replace(run, label=f"momentum {run.momentum:g}") for run in runs]


def experiment(split: Split | None = None) -> Experiment:
    """Run all three parts with the experiment's seeds."""
    split = load() if split is None else split
    w0 = start(START_SEED)
    return Experiment(
        batch(split, w0),
        single_sample(split, w0),
        compare_momentum(split, start(COMPARISON_SEED)),
    )


def table(runs: Iterable[Run]) -> Iterator[str]:
    """Lines of a fixed-width table, one per run; error rates in percent."""
    header = (
        f"{'run':<14} {'momentum':>8} {'updates':>7} {'epochs':>6} {'f':>8} "
        f"{'train error':>11} {'test error':>10}  status"
    )
    yield header
    yield "-" * len(header)
    for run in runs:
        yield (
            f"{run.label:<14} {run.momentum:>8g} {run.iterations:>7} {run.epochs:>6} "
            f"{run.result.fun:>8.3f} {run.train_error:>11.2%} {run.test_error:>10.2%}  "
            f"{run.result.status!s}"
        )


def report(result: Experiment | None = None) -> Iterator[str]:
    """The experiment as two tables with their headings."""
    result = experiment() if result is None else result
    yield (
        "Digits 0 vs 1 (288 train / 72 test rows): least squares, class 1 when x.w > 0.5, lr 1e-6"
    )
    yield (
        f"From RandomState({START_SEED}), momentum 0.7; stop when |f change| < 0.1 or after "
        f"100 epochs; shuffle seed {SHUFFLE_SEED}"
    )
    yield ""
    yield from table([result.batch, result.single_sample])
    yield ""
    yield (
        f"Momentum compared: batch, from RandomState({COMPARISON_SEED}), stop when "
        "|f change| < 0.01 or after 100 updates"
    )
    yield ""
    yield from table(result.comparison)
