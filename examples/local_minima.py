"""A local minimum stops gradient descent; restarts from many points find the global one.

f(x) = x^4 - 4 x^2 + x is a tilted double well: minima near x = -1.47 (the global one)
and x = 1.35 (a local one), where f'(x) = 4 x^3 - 8 x + 1 = 0. Gradient descent from
x0 = 2 rolls into the nearer, higher well and reports success: converging says the
gradient vanished, not that no lower point exists. dd.multistart starts from points
spread over [-3, 3] and finds both wells.

Run: python examples/local_minima.py
"""

import numpy as np

import descend as dd

f = "x**4 - 4*x**2 + x"
settings = dict(method="gd", lr=0.01)

single = dd.minimize(f, 2.0, **settings)
print(f"gradient descent from x0 = 2: x = {single.x:.6f}, f = {single.fun:.6f}")
print(f"  {single.message}")

found = dd.multistart(f, [(-3.0, 3.0)], n_starts=10, seed=0, **settings)
print(f"\nmultistart, 10 starts over [-3, 3]:\n{found}")

# The stationary points solve the cubic f'(x) = 0; the minima are where f'' = 12 x^2 - 8 > 0.
roots = np.sort(np.roots([4.0, 0.0, -8.0, 1.0]).real)
minima = [r for r in roots if 12 * r**2 - 8 > 0]
print(f"\n{'':10}{'x':>12}{'f':>12}{'exact x':>12}")
for name, m, exact in zip(("global", "local"), found.minima, minima, strict=True):
    print(f"{name:10}{m.x[0]:12.6f}{m.fun:12.6f}{exact:12.6f}")
