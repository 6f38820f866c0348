"""Fitting to data: the full-batch least-squares gradient, and mini-batch SGD epochs.

Part 1 times one least-squares gradient (r = X w + b - y; r.r, X^T r, sum r) on a
2,000,000 x 64 float64 X (1 GB) against the memory floor: the time ``X.sum()`` takes
to read X once, measured in the same run. Contenders: descend's compiled kernel
(one pass over X, two threads), its NumPy reference (one pass in cache-sized row
blocks) and NumPy's two-pass ``X.T @ (X @ w + b - y)``. Target: within 1.5x of the floor.

Part 2 fits a linear regression by shuffled mini-batch SGD on 1,000,000 x 100 synthetic
data (X ~ N(0, 1), coefficients ~ N(0, 1), intercept 3, unit noise; the first 80% of
rows train, the rest test), for one epoch and for five, side by side with
scikit-learn's ``SGDRegressor``, a PyTorch ``optim.SGD`` loop over the same batches,
and the mini-batch loop a NumPy tutorial would write. Each contender's time includes
its shuffling. Targets: at least 4x the samples per second of ``SGDRegressor`` with
an equal or better test MSE, and faster than the PyTorch loop.

Part 3 puts the two estimators side by side on Part 2's data, each as a user would
call it: ``descend.models.LinearRegression(batch_size=256, lr=0.003, epochs=5)`` (no
method: plain SGD through the compiled epoch, on standardised features, with its
input checks and the f and gradient on all the data after every epoch) against
``SGDRegressor(max_iter=5, tol=None)`` (its defaults otherwise: an L2 penalty of 1e-4,
eta0 0.01 / t**0.25). Target: at least 4x its samples per second at an equal or
better test MSE.

Run: ``python benchmarks/data_fit.py`` (about three minutes; ``--quick`` for sizes ten
times smaller, under half a minute; ``--part 3`` for Part 3 alone, about a minute). It
prints; it asserts nothing. Contenders are timed in turn, round after round, and each
one's best round is reported: on a machine shared with other work, the best is the
closest to what the code itself costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from typing import NamedTuple

import numpy as np

import descend as dd
from descend.models._linear_kernels import least_squares, least_squares_reference, sgd_epoch

SEED = 0


class Settings(NamedTuple):
    """Part 2's step sizes, the same for every mini-batch contender: the NumPy loop,
    PyTorch and descend take the same steps on the same batches, so they reach the
    same coefficients to rounding."""

    batch_size: int
    lr: float
    eta0: float  # SGDRegressor's: one sample per step at its default eta0 / t**0.25


# A constant rate trades the distance still to go (shrinking like exp(-2 lr steps))
# against the noise of the steps (growing like lr / batch_size), so the best lr falls
# as the data grow. Each lr and eta0 below is the best, by test MSE after one epoch
# plus that after five, of a grid tried by hand on this data (lr 1e-3 to 3e-2, eta0
# 1e-4 to 1e-2). SGDRegressor's default eta0 = 0.01 ends 2% above the floor at full size.
FULL = Settings(batch_size=256, lr=0.002, eta0=3e-4)
QUICK = Settings(batch_size=256, lr=0.02, eta0=1e-3)
FEW_EPOCHS = 5


def best_times(runs, rounds):
    """Best seconds of each run over ``rounds`` rounds, timed in turn: a, b, c, a, b, c, ..."""
    times = [np.inf] * len(runs)
    for _ in range(rounds):
        for k, run in enumerate(runs):
            start = time.perf_counter()
            run()
            times[k] = min(times[k], time.perf_counter() - start)
    return times


def verdict(ok):
    return "PASS" if ok else "MISS"


# Part 1: one least-squares gradient on 1 GB -------------------------------------------------


def two_thread_read():
    """A Numba sum of X over two threads: the floor for a kernel that uses both cores."""
    try:
        from numba import njit, prange
    except ImportError:
        return None

    @njit(parallel=True, fastmath=True)  # fastmath: a vectorised sum, so memory-bound
    def row_sums(X):
        out = np.empty(X.shape[0])
        for i in prange(X.shape[0]):
            s = 0.0
            for j in range(X.shape[1]):
                s += X[i, j]
            out[i] = s
        return out

    return row_sums


def part1(n, d):
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d))
    y, coef, intercept = rng.standard_normal(n), rng.standard_normal(d), 0.5
    gb = X.nbytes / 1e9
    print(f"\nPart 1: one least-squares gradient, X {n:,} x {d} float64 ({gb:.2f} GB)")

    def two_pass():
        r = X @ coef + intercept - y
        return r @ r, X.T @ r, r.sum()

    contenders = {
        "X.sum() (the floor)": X.sum,
        "descend least_squares (Numba)": lambda: least_squares(X, y, coef, intercept),
        "NumPy reference, blocked": lambda: least_squares_reference(X, y, coef, intercept),
        "NumPy two-pass X.T @ (X@w+b-y)": two_pass,
    }
    row_sums = two_thread_read()
    if row_sums is not None:
        contenders["(X read by 2 threads, Numba)"] = lambda: row_sums(X)
    for run in contenders.values():  # warm-up: compile, fault pages in
        run()
    want = two_pass()
    for name in ("descend least_squares (Numba)", "NumPy reference, blocked"):
        got = contenders[name]()
        same = np.allclose(got[1], want[1], rtol=1e-9) and np.isclose(got[0], want[0], rtol=1e-9)
        if not same:
            print(f"  WARNING: {name} disagrees with the two-pass gradient")
    times = dict(zip(contenders, best_times(list(contenders.values()), rounds=7), strict=True))
    floor = times["X.sum() (the floor)"]
    print(f"{'':32} {'ms':>7} {'GB/s':>6} {'vs floor':>9}  target  verdict")
    for name, t in times.items():
        line = f"{name:32} {t * 1e3:7.1f} {gb / t:6.1f} {t / floor:8.2f}x"
        if name.startswith("descend"):
            line += f"  1.5x    {verdict(t / floor <= 1.5)}"
        print(line)


# Part 2: mini-batch SGD for linear regression ------------------------------------------------


def make_data(n, d):
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 3.0 + rng.standard_normal(n)
    n_train = int(0.8 * n)  # rows are independent: the first 80% are a random split
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def fit_descend(X, y, epochs, settings):
    rng = np.random.default_rng(SEED)
    params, velocity = np.zeros(X.shape[1] + 1), np.zeros(X.shape[1] + 1)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        sgd_epoch(X, y, params, velocity, order, settings.batch_size, settings.lr, 0.0, 0.0, True)
    return params[:-1], params[-1]


def fit_numpy(X, y, epochs, settings):
    """The loop a tutorial would write."""
    rng = np.random.default_rng(SEED)
    coef, intercept = np.zeros(X.shape[1]), 0.0
    lr, batch_size = settings.lr, settings.batch_size
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            X_b = X[batch]
            r = X_b @ coef + intercept - y[batch]
            coef -= lr * (X_b.T @ r) / len(batch)
            intercept -= lr * r.mean()
    return coef, intercept


def fit_sklearn(X, y, epochs, settings):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(
        penalty=None, max_iter=epochs, tol=None, eta0=settings.eta0, random_state=SEED
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model.coef_, model.intercept_[0]


def torch_fitter():
    """A PyTorch optim.SGD loop over the same batches as descend's, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)

    def fit_torch(X, y, epochs, settings):
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        model = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
        loss_fn = torch.nn.MSELoss()
        rng = np.random.default_rng(SEED)
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(X)))
            for start in range(0, len(X), settings.batch_size):
                batch = order[start : start + settings.batch_size]
                optimizer.zero_grad()
                # (1/2) mean r^2, as descend's and the NumPy loop's, so lr means the same
                loss = 0.5 * loss_fn(model(X_t[batch]).squeeze(1), y_t[batch])
                loss.backward()
                optimizer.step()
        return model.weight.detach().numpy()[0].copy(), float(model.bias.detach()[0])

    return fit_torch


def estimator_fitter():
    """descend.models.LinearRegression with the same settings, or None where it is missing."""
    try:
        from descend.models import LinearRegression

        LinearRegression(method="gd", lr=0.1, batch_size=10, epochs=1, tol=None)
    except (ImportError, TypeError) as error:
        print(f"(descend.models.LinearRegression skipped: {error})")
        return None

    def fit_estimator(X, y, epochs, settings):
        lr, batch_size = settings.lr, settings.batch_size
        model = LinearRegression(
            method="gd", lr=lr, batch_size=batch_size, epochs=epochs, tol=None, scale=False,
            random_state=SEED,
        ).fit(X, y)  # fmt: skip
        return model.coef_, model.intercept_

    return fit_estimator


def race(fitters, X, y, epochs, settings):
    """Best seconds of each fitter over five rounds, and the (coef, intercept) it fits."""
    fits = {}

    def runner(name):
        return lambda: fits.__setitem__(name, fitters[name](X, y, epochs, settings))

    times = best_times([runner(name) for name in fitters], rounds=5)
    return dict(zip(fitters, times, strict=True)), fits


def part2(n, d, settings):
    X, y, X_test, y_test = make_data(n, d)
    print(
        f"\nPart 2: linear regression by mini-batch SGD, {len(X):,} x {d} train,"
        f" {len(X_test):,} test\n(mini-batches of {settings.batch_size} at lr {settings.lr},"
        " no momentum or penalty; SGDRegressor: one sample per step at"
        f" eta0 {settings.eta0} / t**0.25)"
    )
    sk_name, torch_name, ours = (
        "scikit-learn SGDRegressor",
        "PyTorch optim.SGD loop",
        "descend sgd_epoch (Numba)",
    )
    fitters = {
        ours: fit_descend,
        "descend LinearRegression": estimator_fitter(),
        sk_name: fit_sklearn,
        torch_name: torch_fitter(),
        "NumPy mini-batch loop": fit_numpy,
    }
    if fitters[torch_name] is None:
        print("(PyTorch skipped: not installed; pip install torch)")
    fitters = {name: fit for name, fit in fitters.items() if fit is not None}
    fit_descend(X[:1000], y[:1000], 1, settings)  # compile (or load) the kernel

    def test_mse(coef, intercept):
        return float(np.mean((X_test @ coef + intercept - y_test) ** 2))

    # "Equal" test MSEs: within a third of the sampling error of an MSE measured on
    # this many test points, sqrt(2 / n_test): 0.1% at full size.
    tolerance = np.sqrt(2 / len(X_test)) / 3

    for epochs in (1, FEW_EPOCHS):
        times, fits = race(fitters, X, y, epochs, settings)
        speed = {name: epochs * len(X) / t for name, t in times.items()}
        mse = {name: test_mse(*fit) for name, fit in fits.items()}
        label = f"{epochs} epoch{'s' * (epochs > 1)}"
        print(
            f"\n{label:27} {'s':>6} {'samples/s':>10} {'vs SGDReg':>9} {'vs torch':>8}"
            f" {'test MSE':>9} {'vs SGDReg':>9}"
        )
        for name in fitters:
            vs_torch = f"{speed[name] / speed[torch_name]:7.2f}x" if torch_name in speed else ""
            print(
                f"{name:27} {times[name]:6.2f} {speed[name] / 1e6:8.2f} M"
                f" {speed[name] / speed[sk_name]:8.2f}x {vs_torch:>8} {mse[name]:9.5f}"
                f" {mse[name] / mse[sk_name] - 1:+9.3%}"
            )
        ratio = speed[ours] / speed[sk_name]
        equal = mse[ours] <= mse[sk_name] * (1 + tolerance)
        print(f"  samples/s >= 4x SGDRegressor: {ratio:.2f}x  {verdict(ratio >= 4)}")
        print(
            f"  test MSE equal (within {tolerance:.1%}) or better:"
            f" {mse[ours]:.5f} vs {mse[sk_name]:.5f}  {verdict(equal)}"
        )
        if torch_name in speed:
            ratio = speed[ours] / speed[torch_name]
            print(f"  faster than the PyTorch loop: {ratio:.2f}x  {verdict(ratio > 1)}")
    solution = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    best = test_mse(solution[:-1], solution[-1])
    print(f"\n(test MSE of the least-squares solution, the floor for any fit: {best:.5f})")


# Part 3: the two estimators as a user calls them ----------------------------------------------


def part3(n, d):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    from descend.models import LinearRegression

    X, y, X_test, y_test = make_data(n, d)
    epochs = FEW_EPOCHS
    ours = dict(batch_size=256, lr=0.003, epochs=epochs, random_state=SEED)
    print(
        f"\nPart 3: the estimators side by side, {len(X):,} x {d} train, {len(X_test):,} test"
        f"\n  LinearRegression({', '.join(f'{k}={v}' for k, v in ours.items())}) against"
        f" SGDRegressor(max_iter={epochs}, tol=None)"
    )
    LinearRegression(**ours, tol=None).fit(X[:1000], y[:1000])  # compile (or load) the kernels
    fits = {}

    def descend_fit():
        fits["descend"] = LinearRegression(**ours).fit(X, y)

    def sklearn_fit():
        fits["sklearn"] = SGDRegressor(max_iter=epochs, tol=None, random_state=SEED).fit(X, y)

    with warnings.catch_warnings():
        # Five epochs are no convergence, for either, and both say so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds = best_times([descend_fit, sklearn_fit], rounds=5)
    times = {"descend": seconds[0], "sklearn": seconds[1]}
    speed = {name: epochs * len(X) / t for name, t in times.items()}
    mse = {name: float(np.mean((m.predict(X_test) - y_test) ** 2)) for name, m in fits.items()}
    for name, label in (("descend", "descend LinearRegression"), ("sklearn", "SGDRegressor")):
        print(
            f"  {label:25} {times[name]:6.2f} s {speed[name] / 1e6:6.2f} M samples/s"
            f"  test MSE {mse[name]:.5f}"
        )
    ratio = speed["descend"] / speed["sklearn"]
    tolerance = np.sqrt(2 / len(X_test)) / 3
    equal = mse["descend"] <= mse["sklearn"] * (1 + tolerance)
    print(f"  samples/s >= 4x SGDRegressor's: {ratio:.2f}x  {verdict(ratio >= 4)}")
    print(
        f"  test MSE equal (within {tolerance:.1%}) or better: {mse['descend']:.5f} vs"
        f" {mse['sklearn']:.5f}  {verdict(equal)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes ten times smaller")
    parser.add_argument("--part", type=int, choices=(1, 2, 3), help="run this part alone")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(
        f"descend {dd.__version__}, NumPy {np.__version__}, Python {platform.python_version()},"
        f" {os.cpu_count()} CPUs ({platform.machine()})"
    )
    if args.part in (None, 1):
        part1(2_000_000 // scale, 64)
    if args.part in (None, 2):
        part2(1_000_000 // scale, 100, QUICK if args.quick else FULL)
    if args.part in (None, 3):
        part3(1_000_000 // scale, 100)


if __name__ == "__main__":
    main()
