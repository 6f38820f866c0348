"""What explain=True costs per update: 2-D Rosenbrock, explain on against off.

Target: at most 2x per update with explain (the parts of every update, the step's norm
and angle, the predicted and actual decrease). Off, the loop pays one ``is None`` test
per update; ``benchmarks/overhead.py`` measures it against a hand-written loop.

Run: ``python benchmarks/explain.py`` (a few seconds). It prints; it asserts nothing.
Timings alternate between the two settings and report medians of 7 rounds.
"""

from __future__ import annotations

import statistics
import time

import descend as dd

ROSENBROCK = dd.functions.rosenbrock
UPDATES = 2000
SETTINGS = {"gd": 1e-3, "momentum": 1e-3, "adam": 0.01, "armijo": None, "bb": None,
            "lbfgs": None}  # fmt: skip


def seconds_per_update(method: str, lr: float | None, explain: bool) -> float:
    start = time.perf_counter()
    res = dd.minimize(ROSENBROCK, ROSENBROCK.x0, method, grad=ROSENBROCK.grad, lr=lr,
                      max_iter=UPDATES, gtol=0, explain=explain)  # fmt: skip
    return (time.perf_counter() - start) / max(res.nit, 1)


def main() -> None:
    print(f"explain=True against explain=False, 2-D Rosenbrock, {UPDATES} updates, medians")
    print(f"{'method':10s} {'off (µs)':>9s} {'on (µs)':>9s} {'ratio':>6s}")
    for method, lr in SETTINGS.items():
        off, on = [], []
        for _ in range(7):
            off.append(seconds_per_update(method, lr, False))
            on.append(seconds_per_update(method, lr, True))
        a, b = statistics.median(off) * 1e6, statistics.median(on) * 1e6
        print(f"{method:10s} {a:9.2f} {b:9.2f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
