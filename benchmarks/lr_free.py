"""Learning-rate-free methods against tuned Adam: the loss reached, and in how many epochs.

The contenders are descend's four rules that need no learning rate, at their defaults
(``lr`` not given): ``dog`` and ``prodigy`` (``lr`` 1.0 multiplies their own estimate of
the step), ``schedulefree_sgd`` and ``schedulefree_adamw`` (``lr`` 1.0 and 0.0025,
``schedulefree``'s defaults: they drop the decay schedule, not the rate). The reference
is Adam at the best of a grid of constant learning rates.

Part 1: multinomial (softmax) logistic regression on scikit-learn's digits (1,797 8x8
images, 10 classes), standardised by ``StandardScaler``, as ``descend.models.
LogisticRegression`` fits it: the mean cross-entropy plus (alpha/2) ||W||^2, alpha 1e-4,
intercepts not penalised, written here as ``fun(w, X, Y)`` and ``grad(w, X, Y)`` and
run by ``dd.minimize(..., data=(X, Y), batch_size=32)`` from w = 0.

Part 2: the recommender, ``descend.models.MatrixFactorization`` (10 factors, reg 0.02,
mini-batches of 256 ratings) on ``descend.datasets.make_ratings(2000, 1500, 150_000)``
split 80/20, fitted with ``lr=None`` for the learning-rate-free methods (minimize then
takes the method's default); the loss is its training objective (the mean of e**2 / 2
plus the penalty, ``model.result_.history.f``), with the test RMSE beside it.

How: Adam runs E epochs (50 for part 1, 20 for part 2) at each learning rate of a grid
(7 values); the one with the lowest final full-data loss is "tuned Adam", and its final
loss f_A the target. Each learning-rate-free method then runs 2E epochs from the same
start with the same shuffles. The loss per epoch is ``res.history.f`` (on all the data),
except for the schedule-free pair, whose history holds the point y where gradients are
taken while the answer (``res.x``) is the average x: their loss per epoch is evaluated
here at that average, which the run's state holds.

Criterion: PASS when a method's final loss, after at most 2E epochs and with no
learning rate given, is within 1e-3 relative of f_A: (f - f_A) / f_A <= 1e-3 (lower is
better, so a negative gap passes). "to 1e-3" is the first epoch at which the gap got
there. "last step" is the step size of the last update (``history.lr``: Adam's lr,
DoG's eta, Prodigy's d * lr, the schedule-free gamma). Epochs are the measure here, not
seconds; every run is seeded, so the tables repeat exactly.

Run: ``python benchmarks/lr_free.py`` (1.5 to 2 minutes on two cores, most of it the
recommender; ``--quick`` for a smoke run with a fifth of the epochs, three learning
rates and a ratings set a tenth the size, about 5 seconds). It prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
from descend.datasets import make_ratings
from scipy.special import logsumexp, softmax
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

import descend as dd
from descend.models.factorization import MatrixFactorization

SEED = 0
REL = 1e-3  # the criterion: within this relative gap of tuned Adam's final loss
FREE = ("dog", "prodigy", "schedulefree_sgd", "schedulefree_adamw")
ADAM_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
QUICK_GRID = (1e-3, 1e-2, 1e-1)


def gap(f, target):
    return (f - target) / abs(target)


def first_within(fs, target):
    """The first epoch whose loss is within REL of ``target`` (None: never)."""
    hits = np.flatnonzero(gap(np.asarray(fs), target) <= REL)
    return int(hits[0]) if hits.size else None


def averaging(method):
    return dd.OPTIMIZERS[method].solution is not dd.Optimizer.solution


def watched(method, per_epoch, answers):
    """``method`` at its defaults, appending the point it answers with (the average, for
    the schedule-free rules) to ``answers`` after every ``per_epoch``-th update: the
    epoch boundaries, where minimize evaluates its history."""
    cls = dd.OPTIMIZERS[method]

    class Watched(cls):
        def update(self, grad, state, x=None, fun=None, f=None):
            step, new = cls.update(self, grad, state, x, fun, f)
            if new.t % per_epoch == 0:
                answers.append(self.solution(x + step, new))
            return step, new

    Watched.__name__ = Watched.__qualname__ = cls.__name__
    return Watched()


def table(title, rows, target, budget):
    print(f"\n{title}")
    print(
        f"{'method':<20} {'lr':>8} {'last step':>9} {'epochs':>6} {'final loss':>13} "
        f"{'gap':>10} {'to 1e-3':>7} {'verdict':>7}"
    )
    for row in rows:
        lr = "none" if row["lr"] is None else f"{row['lr']:g}"
        g = gap(row["losses"][-1], target)
        at = first_within(row["losses"], target)
        passed = g <= REL and at is not None and at <= budget
        ok = "" if row["lr"] is not None else "PASS" if passed else "MISS"
        print(
            f"{row['name']:<20} {lr:>8} {row['step']:>9.3g} {len(row['losses']) - 1:>6} "
            f"{row['losses'][-1]:>13.8g} {g:>10.2e} {'-' if at is None else at:>7} {ok:>7}"
            + row.get("extra", "")
        )


def tuned(adam_rows):
    finite = [row for row in adam_rows if math.isfinite(row["losses"][-1])]
    return min(finite, key=lambda row: row["losses"][-1])


# Part 1: logistic regression on the digits --------------------------------------------------


class Softmax:
    """Mean cross-entropy of softmax(X W^T + b) plus alpha/2 ||W||^2; w = [W | b] flat."""

    def __init__(self, n_features, n_classes, alpha):
        self.d, self.k, self.alpha = n_features, n_classes, alpha

    def split(self, w):
        Wb = w.reshape(self.k, self.d + 1)
        return Wb[:, :-1], Wb[:, -1]

    def __call__(self, w, X, Y):
        W, b = self.split(w)
        Z = X @ W.T + b
        loss = np.mean(logsumexp(Z, axis=1) - np.einsum("ij,ij->i", Z, Y))
        return float(loss + 0.5 * self.alpha * np.vdot(W, W))

    def grad(self, w, X, Y):
        W, b = self.split(w)
        R = (softmax(X @ W.T + b, axis=1) - Y) / len(X)
        return np.column_stack([R.T @ X + self.alpha * W, R.sum(axis=0)]).ravel()


def digits_runs(epochs, grid, batch_size=32):
    digits = load_digits()
    X = StandardScaler().fit_transform(digits.data)
    Y = np.eye(10)[digits.target]
    loss = Softmax(X.shape[1], 10, 1e-4)
    w0 = np.zeros(10 * (X.shape[1] + 1))
    per_epoch = math.ceil(len(X) / batch_size)

    def run(method, lr, n_epochs):
        answers = []
        opt = watched(method, per_epoch, answers) if averaging(method) else method
        res = dd.minimize(
            loss, w0, opt, grad=loss.grad, lr=lr, data=(X, Y), batch_size=batch_size,
            epochs=n_epochs, seed=SEED, gtol=0,
        )  # fmt: skip
        losses = res.history.f
        if answers:  # the schedule-free average, where the answer is
            losses = np.array([losses[0]] + [loss(a, X, Y) for a in answers])
            assert math.isclose(losses[-1], res.fun, rel_tol=1e-12)
        return dict(name=method, lr=lr, step=res.history.lr[-1], losses=losses)

    adam = [run("adam", lr, epochs) for lr in grid]
    free = [run(method, None, 2 * epochs) for method in FREE]
    return adam, free, dict(n=len(X), d=X.shape[1], per_epoch=per_epoch)


# Part 2: the recommender ---------------------------------------------------------------------


def ratings_loss(model, x, users, items, ratings):
    """MatrixFactorization's training objective at packed parameters x, in NumPy."""
    width = model.n_factors + 1
    split = len(model.user_ids_) * width
    U, V = x[:split].reshape(-1, width), x[split:].reshape(-1, width)
    Uu, Vi = U[users], V[items]
    e = model.global_mean_ + Uu[:, 0] + Vi[:, 0] + np.einsum("ij,ij->i", Uu[:, 1:], Vi[:, 1:])
    e -= ratings
    penalty = np.einsum("ij,ij->i", Uu, Uu) + np.einsum("ij,ij->i", Vi, Vi)
    return float(np.mean(0.5 * e * e + 0.5 * model.reg * penalty))


def recommender_runs(epochs, grid, sizes, batch_size=256):
    data = make_ratings(*sizes, n_factors=10, seed=SEED)
    train, test = data.split(0.2, seed=SEED)
    per_epoch = math.ceil(len(train) / batch_size)

    def run(method, lr, n_epochs):
        answers = []
        opt = watched(method, per_epoch, answers) if averaging(method) else method
        model = MatrixFactorization(
            n_factors=10, lr=lr, epochs=n_epochs, batch_size=batch_size, method=opt,
            random_state=SEED, min_improvement=None,  # every run takes its full epochs
        ).fit(train.users, train.items, train.ratings)  # fmt: skip
        losses = model.result_.history.f
        if answers:
            users = np.searchsorted(model.user_ids_, train.users)
            items = np.searchsorted(model.item_ids_, train.items)
            ours = [ratings_loss(model, a, users, items, train.ratings) for a in answers]
            losses = np.array([losses[0], *ours])
            assert math.isclose(losses[-1], model.result_.fun, rel_tol=1e-9)
        test_rmse = -model.score(test.users, test.items, test.ratings)
        step, extra = model.result_.history.lr[-1], f"   test RMSE {test_rmse:.4f}"
        return dict(name=method, lr=lr, step=step, losses=losses, extra=extra)

    adam = [run("adam", lr, epochs) for lr in grid]
    free = [run(method, None, 2 * epochs) for method in FREE]
    info = dict(n=len(train), per_epoch=per_epoch, floor=test.floor, shape=data.shape)
    return adam, free, info


def report(title, adam, free, epochs):
    best = tuned(adam)
    target = best["losses"][-1]
    table(f"{title}: Adam, {epochs} epochs, lr grid", adam, target, 2 * epochs)
    own = first_within(best["losses"], target)
    print(
        f"tuned Adam: lr {best['lr']:g}, final loss f_A = {target:.8g}; within 1e-3 of its "
        f"own final loss from epoch {own}"
    )
    table(f"{title}: no learning rate, up to {2 * epochs} epochs", free, target, 2 * epochs)
    passed = sum(gap(row["losses"][-1], target) <= REL for row in free)
    print(f"{passed} of {len(free)} within 1e-3 of tuned Adam in at most {2 * epochs} epochs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, a few seconds")
    quick = parser.parse_args().quick
    print(f"{platform.python_version()}, NumPy {np.__version__}, {os.cpu_count()} CPUs")
    grid = QUICK_GRID if quick else ADAM_GRID

    start = time.perf_counter()
    epochs = 10 if quick else 50
    adam, free, info = digits_runs(epochs, grid)
    print(
        f"\nPart 1: softmax regression on the digits ({info['n']} x {info['d']}, 10 classes), "
        f"batch 32 ({info['per_epoch']} updates an epoch), alpha 1e-4, from w = 0"
    )
    report("Digits", adam, free, epochs)
    print(f"({time.perf_counter() - start:.0f} s)")

    start = time.perf_counter()
    epochs = 4 if quick else 20
    sizes = (500, 400, 30_000) if quick else (2000, 1500, 150_000)
    adam, free, info = recommender_runs(epochs, grid, sizes)
    print(
        f"\nPart 2: MatrixFactorization (10 factors, reg 0.02) on make_ratings{sizes}, "
        f"{info['n']} training ratings, batch 256 ({info['per_epoch']} updates an epoch); "
        f"test noise floor {info['floor']:.4f}"
    )
    report("Recommender", adam, free, epochs)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
