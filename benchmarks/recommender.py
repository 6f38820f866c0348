"""Recommender: descend's MatrixFactorization against scikit-surprise's SVD on ratings.

The data: ``descend.datasets.make_ratings`` in MovieLens-1M's shape (6,040 users, 3,706
movies, 1,000,000 whole-star ratings, long-tailed activity), split 80/20 at random.
Its noise floor, the test RMSE of the true E[r | u, i], is printed with the results.

The peer: ``surprise.SVD(n_factors=50)``, its defaults otherwise (20 epochs of
per-rating SGD at lr 0.005, reg 0.02), which lands near 0.87 test RMSE here as on the
real MovieLens-1M. Ours: ``MatrixFactorization(n_factors=50)`` at its defaults (per-rating
SGD through ``descend.minimize``, each epoch compiled). Three numbers:

- time to an equal or better test RMSE: one run records the test RMSE after every
  epoch (the test set is only watched, it steers nothing); the first epoch count that
  reaches Surprise's RMSE is then fitted afresh and timed. Target: at least 5x faster
  than Surprise's fit.
- the test RMSE of the default fit, and its time beside Surprise's: what we reach
  within Surprise's fit time.
- the floor.

Fits are timed in turn, round after round (Surprise, ours, Surprise, ...); each one's
best round is reported, as in ``data_fit.py``, with the median ratio of the rounds.
Timings exclude loading the data into each library's form (Surprise's trainset; our
fits include mapping ids to rows) and compiling the Numba kernels (once per machine,
then loaded from cache in about a second; done here before timing).

Run: ``python benchmarks/recommender.py`` (about 40 seconds; ``--quick`` for a quarter of
the users, items and ratings, about 15 seconds). Needs scikit-surprise
(``pip install "descend[bench]"``). It prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from descend.datasets import make_ratings, rmse

import descend as dd
from descend.models.factorization import MatrixFactorization

SEED = 0
FACTORS = 50
ROUNDS = 3
TARGET = 5.0


def verdict(ok):
    return "PASS" if ok else "MISS"


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return time.perf_counter() - start, model


def surprise_peer(train, test):
    """``fit()`` for Surprise's SVD on ``train`` and ``score(algo)``, its test RMSE."""
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    frame = pd.DataFrame({"user": train.users, "item": train.items, "rating": train.ratings})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()

    def fit():
        return SVD(n_factors=FACTORS, random_state=SEED).fit(trainset)

    def score(algo):
        predicted = [algo.predict(u, i).est for u, i in zip(test.users, test.items, strict=True)]
        return rmse(predicted, test.ratings)

    return fit, score


def ours(train, **settings):
    def fit(validation=None):
        model = MatrixFactorization(n_factors=FACTORS, random_state=SEED, **settings)
        return model.fit(train.users, train.items, train.ratings, validation=validation)

    return fit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the size")
    quick = parser.parse_args().quick
    sizes = (1510, 926, 250_000) if quick else (6040, 3706, 1_000_000)
    print(
        f"descend {dd.__version__}, NumPy {np.__version__}, Python {platform.python_version()},"
        f" {os.cpu_count()} CPUs ({platform.machine()})"
    )
    data = make_ratings(*sizes, seed=SEED)
    train, test = data.split(0.2, seed=SEED)
    print(
        f"make_ratings: {sizes[0]:,} users x {sizes[1]:,} items, {len(data):,} ratings;"
        f" {len(train):,} train, {len(test):,} test; noise floor (test RMSE of E[r|u,i])"
        f" {test.floor:.4f}"
    )
    try:
        surprise_fit, surprise_score = surprise_peer(train, test)
    except ImportError:
        print('scikit-surprise is not installed: pip install "descend[bench]"')
        return
    ours(train.split(0.5, seed=SEED)[1], epochs=1)()  # compile (or load) the kernels

    # The test RMSE after each epoch, in one run (the test set is watched, not used).
    defaults = MatrixFactorization()
    watched = ours(train, epochs=2 * defaults.epochs, n_iter_no_change=None)
    held_out = (test.users, test.items, test.ratings)
    curve = watched(validation=held_out).history_["validation_rmse"]

    surprise_time, algo = timed(surprise_fit)
    surprise_rmse = surprise_score(algo)
    reached = np.flatnonzero(curve <= surprise_rmse)
    equal = None if not len(reached) else ours(train, epochs=int(reached[0]) + 1)
    default = ours(train)
    times = {"surprise": [surprise_time], "equal": [], "default": []}
    fitted = {}
    for round_ in range(ROUNDS):
        if round_:
            times["surprise"].append(timed(surprise_fit)[0])
        for name, fit in (("equal", equal), ("default", default)):
            if fit is not None:
                seconds, fitted[name] = timed(fit)
                times[name].append(seconds)

    best = {name: min(t) for name, t in times.items() if t}
    print(
        f"\n{'':52} {'fit s':>6} {'vs Surprise':>11} {'test RMSE':>9}"
        f"\n{f'Surprise SVD(n_factors={FACTORS}), 20 epochs':52}"
        f" {best['surprise']:6.2f} {'1.00x':>11} {surprise_rmse:9.4f}"
    )
    for name, label in (("equal", "to equal RMSE"), ("default", "defaults")):
        if name not in fitted:
            continue
        model = fitted[name]
        title = f"descend MatrixFactorization, {label}, {model.n_iter_} epochs"
        speedup = best["surprise"] / best[name]
        score = -model.score(test.users, test.items, test.ratings)
        print(f"{title:52} {best[name]:6.2f} {speedup:10.2f}x {score:9.4f}")
    print(f"{'noise floor: E[r | u, i]':52} {'':6} {'':11} {test.floor:9.4f}")

    print("\nTest RMSE after each epoch (one run, defaults but", 2 * defaults.epochs, "epochs):")
    print("  " + " ".join(f"{v:.3f}" for v in curve))
    if "equal" not in fitted:
        print(f"  never reached Surprise's {surprise_rmse:.4f}: time to equal RMSE  MISS")
        return
    ratios = np.array(times["surprise"]) / np.array(times["equal"])
    print(
        f"\nTime to an equal or better test RMSE: {best['equal']:.2f} s against Surprise's"
        f" {best['surprise']:.2f} s: {best['surprise'] / best['equal']:.1f}x faster (rounds:"
        f" {', '.join(f'{r:.1f}x' for r in ratios)}; median {np.median(ratios):.1f}x)."
        f"  Target {TARGET:.0f}x: {verdict(np.median(ratios) >= TARGET)}"
    )
    within = best["default"] <= best["surprise"]
    score = -fitted["default"].score(test.users, test.items, test.ratings)
    print(
        f"Within Surprise's fit time, the defaults reach {score:.4f} against its"
        f" {surprise_rmse:.4f} (floor {test.floor:.4f}):"
        f" {verdict(within and score < surprise_rmse)}"
    )


if __name__ == "__main__":
    main()
