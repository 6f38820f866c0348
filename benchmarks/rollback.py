"""Recovering from a step too large: on_divergence="rollback" at 10x the largest stable lr.

For GD, Momentum and Adam on the zoo functions that descent from their start solves
(Rosenbrock, Beale, Booth, Himmelblau; Rastrigin, whose start lies among local minima, is
left out: which minimum a run reaches is not a property of its step size) and on an
L2-regularised logistic regression:

1. the lrs of a log grid (8 per decade) are run plainly for ``BUDGET`` updates; the
   *largest stable lr* is the largest that reaches f within 1e-6 (relative, or below) of
   the optimum that L-BFGS finds, and the *tuned lr* the one that gets there in fewest
   updates;
2. a rollback run starts at 10x the largest stable lr; it passes when it reaches the
   same f in at most 3x the tuned run's updates (every update counted, the discarded ones
   included);
3. every lr of the grid whose plain run never diverges (never non-finite, never above
   ``rise_factor`` = 10 times its best, measured as ``minimize`` measures it) is run again
   with rollback to the default gtol: its history must be bit-identical. A difference
   there is a bounce or stall rollback (the two triggers beyond the rise) of a run that
   was not blowing up.

Target (issue 14): at least 90% pass. Run: ``python benchmarks/rollback.py`` (about ten
minutes on 2 cores). It prints; it asserts nothing.
"""

from __future__ import annotations

import warnings

import numpy as np

import descend as dd

BUDGET = 20000
GRID = 10.0 ** np.arange(-5, 2.01, 0.125)
METHODS = ("gd", "momentum", "adam")


def logistic_problem(seed: int = 0):
    """Mean logistic loss of 200 samples in 5 features, plus 0.005 ||w||^2."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 5))
    y = np.where(X @ rng.normal(size=5) + 0.5 * rng.normal(size=200) > 0, 1.0, -1.0)

    def loss(w):
        return float(np.mean(np.logaddexp(0, -y * (X @ w))) + 0.005 * w @ w)

    def grad(w):
        return X.T @ (-y / (1 + np.exp(y * (X @ w)))) / len(y) + 0.01 * w

    return loss, grad, np.zeros(5)


def problems():
    zoo = dd.functions.ZOO
    chosen = {name: (zoo[name], zoo[name].grad, zoo[name].x0)
              for name in ("rosenbrock", "beale", "booth", "himmelblau")}  # fmt: skip
    chosen["logistic"] = logistic_problem()
    return chosen


def first_reach(res, f_star: float) -> int | None:
    """The first update whose f is within 1e-6 (relative) of f_star, or below it."""
    hits = np.flatnonzero(res.history.f - f_star <= 1e-6 * max(1.0, abs(f_star)))
    return int(hits[0]) if len(hits) else None


def never_diverges(res) -> bool:
    """Whether a plain run stayed finite and never rose ten times above its best."""
    f = res.history.f
    if not np.all(np.isfinite(f)):
        return False
    best = np.minimum.accumulate(f)
    return bool(np.all(f - best <= 9 * np.maximum(np.abs(best), f[0] - best)))


def main() -> None:
    warnings.simplefilter("ignore")
    passed = total = identical = compared = 0
    print(f"{'problem':10s} {'method':8s} {'stable':>8s} {'tuned':>8s} {'updates':>7s} "
          f"{'rollback':>8s} {'ratio':>6s} {'rollbacks':>9s}  identical")  # fmt: skip
    for name, (fun, grad, x0) in problems().items():
        f_star = dd.minimize(fun, x0, "lbfgs", grad=grad).fun
        for method in METHODS:
            runs = {lr: dd.minimize(fun, x0, method, grad=grad, lr=lr, max_iter=BUDGET, gtol=0)
                    for lr in GRID}  # fmt: skip
            reach = {lr: first_reach(res, f_star) for lr, res in runs.items()}
            converging = [lr for lr in GRID if reach[lr] is not None]
            stable = max(converging)
            tuned = min(converging, key=lambda lr: reach[lr])
            res = dd.minimize(fun, x0, method, grad=grad, lr=10 * stable, max_iter=BUDGET,
                              gtol=0, on_divergence="rollback")  # fmt: skip
            k = first_reach(res, f_star)
            ratio = np.inf if k is None else k / max(reach[tuned], 1)
            total += 1
            passed += ratio <= 3
            same = tried = 0
            for lr in GRID:
                settings = dict(grad=grad, lr=lr, max_iter=BUDGET)
                plain = dd.minimize(fun, x0, method, **settings)
                if plain.status == "diverged" or not never_diverges(plain):
                    continue
                again = dd.minimize(fun, x0, method, on_divergence="rollback", **settings)
                same, tried = same + np.array_equal(plain.history.f, again.history.f), tried + 1
            identical, compared = identical + same, compared + tried
            print(f"{name:10s} {method:8s} {stable:8.3g} {tuned:8.3g} {reach[tuned]:7d} "
                  f"{k if k is not None else '-':>8} {ratio:6.2f} {len(res.events):9d}  "
                  f"{same}/{tried}")  # fmt: skip
    print(
        f"\nrollback from 10x the largest stable lr: {passed}/{total} within 3x the tuned "
        f"run's updates ({100 * passed / total:.0f}%; target 90%)"
    )
    print(
        f"runs that never diverge (default gtol) bit-identical with rollback: "
        f"{identical}/{compared}"
    )


if __name__ == "__main__":
    main()
