"""A long-only, capped minimum-variance portfolio, found by projected gradient descent.

Eight assets with correlated returns (one market factor); the unconstrained closed form
w = inv(cov) 1 / (1' inv(cov) 1) shorts some of them, while the long-only portfolio with
at most 30% in any asset sits on its bounds wherever that form disagrees.

Run: python examples/portfolio.py
"""

import numpy as np

from descend.models import efficient_frontier, min_variance_portfolio

names = ["bonds", "gilts", "utilities", "staples", "banks", "energy", "tech", "emerging"]
volatility = np.array([0.05, 0.06, 0.14, 0.15, 0.22, 0.25, 0.28, 0.30])
expected = np.array([0.030, 0.035, 0.060, 0.065, 0.085, 0.090, 0.110, 0.120])
beta = np.array([0.1, 0.2, 0.6, 0.6, 1.1, 1.0, 1.3, 1.2])  # exposure to the market
market = 0.16
cov = np.outer(beta, beta) * market**2
cov[np.diag_indices(8)] = volatility**2  # each asset's own variance, the rest idiosyncratic

inverse = np.linalg.solve(cov, np.ones(8))
closed_form = inverse / inverse.sum()
capped = min_variance_portfolio(cov, bounds=(0.0, 0.3), expected_returns=expected)
w = capped.weights

print("Minimum-variance weights (long-only: 0 <= w <= 0.3)\n")
print(f"{'asset':10} {'vol':>6} {'return':>7} {'closed form':>12} {'long-only':>10}  bound")
for i, name in enumerate(names):
    bound = "lower" if w[i] <= 1e-9 else "upper" if w[i] >= 0.3 - 1e-9 else ""
    print(
        f"{name:10} {volatility[i]:6.1%} {expected[i]:7.1%} {closed_form[i]:12.4f} "
        f"{w[i]:10.4f}  {bound}"
    )
closed_volatility = np.sqrt(closed_form @ cov @ closed_form)
print(
    f"\n{'volatility':25} {closed_volatility:12.4%} {capped.volatility:10.4%}"
    f"\n{'expected return':25} {closed_form @ expected:12.4%} {capped.expected_return:10.4%}"
)
print(f"\nThe run: {capped.result.message}")

frontier = efficient_frontier(cov, expected, n_points=5, bounds=(0.0, 0.3))
print("\nEfficient frontier (same bounds)\n")
print(f"{'return':>7} {'volatility':>11}  largest holdings")
for p in frontier.portfolios:
    top = np.argsort(p.weights)[::-1][:3]
    holdings = ", ".join(f"{names[i]} {p.weights[i]:.0%}" for i in top if p.weights[i] > 1e-9)
    print(f"{p.expected_return:7.2%} {p.volatility:11.2%}  {holdings}")
