"""Gradient ascent: the maximum-likelihood fit of a normal distribution, by dd.maximize.

The log-likelihood of samples x_1..x_n under a normal with mean mu and standard
deviation sigma = exp(s) (s = log sigma keeps sigma positive without a constraint) is

    l(mu, s) = -n s - S(mu) exp(-2 s) / 2 + const,   S(mu) = sum (x_i - mu)^2,

with gradient (sum (x_i - mu) exp(-2 s), -n + S(mu) exp(-2 s)). It is largest at the
closed form mu = mean(x), sigma = sqrt(S(mu) / n): ascent should land there.

Run: python examples/maximize.py
"""

import numpy as np

import descend as dd

x = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=500)
n = len(x)


def log_likelihood(theta):
    mu, s = theta
    return -n * s - np.sum((x - mu) ** 2) * np.exp(-2 * s) / 2


def gradient(theta):
    mu, s = theta
    return np.array([np.sum(x - mu) * np.exp(-2 * s), -n + np.sum((x - mu) ** 2) * np.exp(-2 * s)])


res = dd.maximize(log_likelihood, [0.0, 0.0], "bb", grad=gradient)
mu, sigma = res.x[0], np.exp(res.x[1])
mu_hat = x.mean()
sigma_hat = np.sqrt(np.mean((x - mu_hat) ** 2))
best = log_likelihood([mu_hat, np.log(sigma_hat)])

print(f"normal fit to {n} samples by gradient ascent ({res.message})")
print(f"{'':14}{'ascent':>14}{'closed form':>14}")
print(f"{'mean':14}{mu:14.8f}{mu_hat:14.8f}")
print(f"{'sigma':14}{sigma:14.8f}{sigma_hat:14.8f}")
print(f"{'log L + const':14}{res.fun:14.6f}{best:14.6f}")
