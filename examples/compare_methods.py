"""Every method of descend on Rosenbrock's banana valley, and what each run says.

Run: python examples/compare_methods.py
"""

import descend as dd
from descend import functions, schedules

f = functions.rosenbrock
settings = {
    "gd": dict(lr=1.5e-3),
    "momentum": dict(lr=1e-3, momentum=0.9),
    "nesterov": dict(lr=1e-3, momentum=0.9),
    "adagrad": dict(lr=0.5),
    "rmsprop": dict(lr=schedules.exponential(0.01, 0.9995)),
    "adam": dict(lr=0.02),
    "adamw": dict(lr=0.02, weight_decay=0.0),
    "armijo": dict(),
    "bb": dict(),
}
for method, options in settings.items():
    res = dd.minimize(f, f.x0, method, grad=f.grad, max_iter=20_000, **options)
    print(f"{method:9} x = {res.x.round(6)}  f = {res.fun:.2e}  after {res.nit:5} updates")
    print(f"{'':9} {res.message}")
