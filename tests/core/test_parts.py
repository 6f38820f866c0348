"""Every optimizer's ``parts``: the step and the state's evolution rebuilt from the parts.

Each rule is driven by hand as the loop drives it (``fun`` and ``f`` passed, trials
recorded by a wrapper around ``fun``), and after every update the parts are checked
against the rule's textbook equations, written here without calling the optimizer: each
recurrence is rebuilt one step at a time from the previous update's parts, to 1e-15
relative (exactly where the operations are the same).
"""

import copy
import math
from typing import Any, NamedTuple

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import descend as dd
from descend import Optimizer, schedules

EPS = float(np.finfo(float).eps)
ROUNDING = 8 * EPS  # LBFGS's: a predicted decrease below ROUNDING |f| cannot show in f
LISTS = {"trial_lr", "trial_f"}  # the parts of any length; every other array is like x


def same(actual, expected, rtol=1e-15):
    assert_allclose(actual, expected, rtol=rtol, atol=0)


def near(actual, expected, rtol):
    """Agreement in norm: for vectors computed in another order, where a small entry's own
    relative error can be large."""
    assert np.linalg.norm(actual - expected) <= rtol * np.linalg.norm(expected)


def rosenbrock(x):
    a, b = x[0], x[1]
    value = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    return float(value), np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


# An ill-conditioned 5-D quadratic, 1/2 x'Ax - b'x, with random eigenvectors (condition 100).
_Q = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]
A = (_Q * np.logspace(0, 2, 5)) @ _Q.T
B = A @ np.array([2.0, -1.5, 1.0, 0.5, -2.5])  # the minimum sits outside [-1, 1]^5


def quadratic(x):
    return float(0.5 * x @ A @ x - B @ x), A @ x - B


PROBLEMS = {"rosenbrock": (rosenbrock, [-1.2, 1.0]), "quadratic": (quadratic, [0.5] * 5)}
BOXES = {"rosenbrock": ([-2.0, -1.0], [0.5, 2.0]), "quadratic": ([-1.0] * 5, [1.0] * 5)}


class Update(NamedTuple):
    k: int  # updates before this one
    x: np.ndarray
    f: float
    g: np.ndarray
    state: Any
    new: Any
    step: np.ndarray
    trials: tuple
    parts: dict


def drive(opt, problem, project=None, n=300):
    """Yield every one of ``n`` updates made as the loop makes them, with its parts."""
    value_and_grad, x0 = PROBLEMS[problem]
    x = np.array(x0)
    f, g = value_and_grad(x)
    state = opt.init(x)
    for k in range(n):
        trials = []

        def fun(z, trials=trials):
            fz, gz = value_and_grad(z)
            trials.append((z.copy(), fz))
            return (fz, gz) if opt.trial_gradients else fz

        step, new = opt.update(g, state, x, fun, f)
        trials = tuple(trials)
        arguments = (g, state, new, step, x, trials)
        kept = copy.deepcopy(arguments)
        parts = opt.parts(g, state, new, step, x=x, trials=trials)
        assert_unchanged(arguments, kept)
        yield Update(k, x, f, g, state, new, step, trials, parts)
        x = x + step if project is None else project(x + step)
        f, g, state = *value_and_grad(x), new


def assert_unchanged(value, kept):
    if isinstance(value, tuple):
        assert len(value) == len(kept)
        for a, b in zip(value, kept, strict=True):
            assert_unchanged(a, b)
    elif isinstance(value, str):
        assert value == kept
    else:
        assert np.array_equal(value, kept, equal_nan=True)


def rate(opt, k):
    return opt.lr(k) if callable(opt.lr) else opt.lr


def clipped(opt, g):
    norm = np.linalg.norm(g)
    return g if opt.clip_norm is None or norm <= opt.clip_norm else g * (opt.clip_norm / norm)


def previous(prev, name, like):
    return like if prev is None else prev.parts[name]


# The elementwise rules ----------------------------------------------------------------


def check_gd(opt, u, prev, carry):
    p = u.parts
    same(p["grad"], clipped(opt, u.g))
    assert p["lr"] == rate(opt, u.k)
    assert_array_equal(u.step, -p["lr"] * p["grad"])


def check_momentum(opt, u, prev, carry):
    p, mu = u.parts, opt.momentum
    same(p["grad"], clipped(opt, u.g))
    assert p["lr"] == rate(opt, u.k)
    v = mu * previous(prev, "velocity", np.zeros_like(u.x)) - p["lr"] * p["grad"]
    assert_array_equal(p["velocity"], v)
    nesterov = isinstance(opt, dd.Nesterov)
    assert_array_equal(u.step, mu * v - p["lr"] * p["grad"] if nesterov else v)


def check_adagrad(opt, u, prev, carry):
    p = u.parts
    same(p["grad"], clipped(opt, u.g))
    assert p["lr"] == rate(opt, u.k)
    G = previous(prev, "accumulator", np.zeros_like(u.x)) + p["grad"] ** 2
    assert_array_equal(p["accumulator"], G)
    same(p["effective_lr"], p["lr"] / (np.sqrt(G) + opt.eps))
    same(u.step, -p["effective_lr"] * p["grad"])


def check_rmsprop(opt, u, prev, carry):
    p, rho = u.parts, opt.rho
    same(p["grad"], clipped(opt, u.g))
    assert p["lr"] == rate(opt, u.k)
    v = rho * previous(prev, "second_moment", np.zeros_like(u.x)) + (1 - rho) * p["grad"] ** 2
    assert_array_equal(p["second_moment"], v)
    same(p["effective_lr"], p["lr"] / (np.sqrt(v) + opt.eps))
    same(u.step, -p["effective_lr"] * p["grad"])


def check_adam(opt, u, prev, carry):
    p, b1, b2, t = u.parts, opt.beta1, opt.beta2, u.k + 1
    same(p["grad"], clipped(opt, u.g))
    assert p["lr"] == rate(opt, u.k)
    zeros = np.zeros_like(u.x)
    m = b1 * previous(prev, "first_moment", zeros) + (1 - b1) * p["grad"]
    v = b2 * previous(prev, "second_moment", zeros) + (1 - b2) * p["grad"] ** 2
    assert_array_equal(p["first_moment"], m)
    assert_array_equal(p["second_moment"], v)
    assert p["bias_correction1"] == 1 - b1**t and p["bias_correction2"] == 1 - b2**t
    v_hat = v / p["bias_correction2"]
    # parts folds the bias correction as update does: a few roundings from this order.
    same(p["effective_lr"], p["lr"] / (np.sqrt(v_hat) + opt.eps), rtol=4 * EPS)
    adam = -p["effective_lr"] * m / p["bias_correction1"]
    if isinstance(opt, dd.AdamW):
        assert_array_equal(p["decay"], -p["lr"] * opt.weight_decay * u.x)
        # Relative to the terms: near the balance of gradient and decay the step cancels.
        scale = np.abs(adam) + np.abs(p["decay"])
        assert np.all(np.abs(adam + p["decay"] - u.step) <= 1e-15 * scale)
    else:
        same(u.step, adam)


# The line searches --------------------------------------------------------------------


def check_trials(u, value_and_grad, least=1):
    p = u.parts
    assert len(p["trial_lr"]) == len(p["trial_f"]) == len(u.trials) >= least
    for (z, fz), f_recorded in zip(u.trials, p["trial_f"], strict=True):
        assert f_recorded == fz == value_and_grad(z)[0]


def check_armijo(opt, u, prev, carry):
    p, g = u.parts, u.parts["grad"]
    same(g, clipped(opt, u.g))
    check_trials(u, carry["problem"])
    check_backtracking(opt, u, rate(opt, u.k), u.f)
    assert_array_equal(u.step, -p["lr"] * g)


def check_backtracking(opt, u, t0, f_ref):
    """t0, t0 * shrink, ... each tried at x - t g; the first to decrease enough is lr."""
    p, g = u.parts, u.parts["grad"]
    t, slope = p["trial_lr"], g @ g
    same(t[0], t0)
    assert_array_equal(t[1:], t[:-1] * opt.shrink)
    for t_i, (z, _) in zip(t, u.trials, strict=True):
        assert_array_equal(z, u.x - t_i * g)
    passed = p["trial_f"] <= f_ref - opt.c * t * slope
    assert not passed[:-1].any()
    if passed[-1]:
        assert p["lr"] == t[-1]
    else:  # out of backtracks: one cut past the last trial
        assert len(t) == opt.max_backtracks and p["lr"] == t[-1] * opt.shrink


def check_bb(opt, u, prev, carry):
    p, g = u.parts, u.parts["grad"]
    same(g, clipped(opt, u.g))
    check_trials(u, carry["problem"])
    carry.setdefault("f", []).append(u.f)
    f_max = max(carry["f"][-opt.memory :])
    assert p["f_max"] == f_max
    s, y = (u.x - prev.x, g - prev.parts["grad"]) if prev is not None else (None, None)
    if s is not None and s @ y > 0:
        same(p["bb_lr"], min(max((s @ s) / (s @ y), opt.min_step), opt.max_step))
        same(p["s"], s)
        same(p["y"], y)
    else:
        assert p["bb_lr"] == rate(opt, u.k)
        assert not p["s"].any() and not p["y"].any()
    if opt.project is None:
        check_backtracking(opt, u, p["bb_lr"], f_max)
        assert_array_equal(u.step, -p["lr"] * g)
        return
    # SPG2: lambda = 1, then the safeguarded minimiser of the parabola, along d.
    d = opt.project(u.x - p["bb_lr"] * g) - u.x
    assert_array_equal(p["direction"], d)
    slope, lam = g @ d, p["trial_lr"]

    def cut(lam_i, f_trial):  # the minimiser of the parabola, kept in [0.1, 0.9] lam_i
        curvature = f_trial - u.f - lam_i * slope
        q = -0.5 * lam_i * lam_i * slope / curvature if curvature > 0 else -1.0
        return q if 0.1 * lam_i <= q <= 0.9 * lam_i else opt.shrink * lam_i

    assert lam[0] == 1.0
    for i, ((z, f_trial), lam_i) in enumerate(zip(u.trials, lam, strict=True)):
        assert_array_equal(z, u.x + lam_i * d)
        passed = f_trial <= f_max + opt.c * lam_i * slope
        if i + 1 < len(lam):
            assert not passed and lam[i + 1] == cut(lam_i, f_trial)
        elif passed:
            assert p["lam"] == lam_i
        else:  # out of backtracks: one cut past the last trial
            assert len(lam) == opt.max_backtracks and p["lam"] == cut(lam_i, f_trial)
    assert p["lr"] == p["lam"] * p["bb_lr"]
    assert_array_equal(u.step, p["lam"] * d)
    pg = opt.project(u.x - u.g) - u.x
    same(p["projected_grad_norm"], np.linalg.norm(pg))


def bfgs_direction(g, S, Y):
    """-H g with H built by the dense BFGS update from gamma I over the pairs."""
    s, y = S[-1], Y[-1]
    H, eye = (s @ y) / (y @ y) * np.eye(len(g)), np.eye(len(g))
    for s, y in zip(S, Y, strict=True):
        rho = 1 / (y @ s)
        V = eye - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return -H @ g


def check_lbfgs(opt, u, prev, carry):
    p, d, state = u.parts, u.parts["direction"], u.state
    check_trials(u, carry["problem"], least=0)
    assert len(u.trials) == u.new.evals
    k = int(p["retried"])
    assert k == p["retried"] <= len(u.trials)
    assert p["memory"] in (len(state.s), 0)
    if p["memory"]:
        # The two-loop recursion against the dense product: the same H, in another
        # order, so they agree to about cond(H) eps.
        near(d, bfgs_direction(u.g, state.s, state.y), rtol=1e-9)
    else:
        assert_array_equal(d, -u.g)
    if k:  # the failed search went along the memory's direction
        carry["retries"] = carry.get("retries", 0) + 1
        d_memory = bfgs_direction(u.g, state.s, state.y)
    alphas = p["trial_lr"]
    for i, (z, _) in enumerate(u.trials):
        along = d_memory if i < k else d
        # Recovered from z = x + alpha d: exact to the rounding of that sum (and of the
        # dense direction, for the failed search's trials).
        tolerance = (4 * EPS + (1e-9 if i < k else 0)) * (np.abs(u.x) + np.abs(alphas[i] * along))
        assert np.all(np.abs(u.x + alphas[i] * along - z) <= tolerance)
    if p["lr"] == 0:
        assert not u.step.any() and u.new.stalled
        return
    assert_array_equal(u.step, p["lr"] * d)
    accepted = [i for i, (z, _) in enumerate(u.trials) if np.array_equal(z, u.x + u.step)]
    assert accepted and alphas[accepted[0]] == p["lr"] and accepted[0] >= k
    f_trial, slope = p["trial_f"][accepted[0]], u.g @ d
    if -slope * p["lr"] > ROUNDING * abs(u.f):
        assert f_trial <= u.f + opt.c1 * p["lr"] * slope  # sufficient decrease
    else:  # f's rounding hides the decrease: the approximate Wolfe conditions
        assert f_trial <= u.f + ROUNDING * abs(u.f)
        g_trial = carry["problem"](u.x + u.step)[1]
        assert abs(g_trial @ d) <= opt.c2 * abs(slope)


# The learning-rate-free rules ---------------------------------------------------------


def check_dog(opt, u, prev, carry):
    p, x0 = u.parts, u.state.x0
    g = clipped(opt, u.g) + opt.weight_decay * u.x if opt.weight_decay else clipped(opt, u.g)
    same(p["grad"], g)
    rbar0 = opt.r_epsilon * (1 + np.linalg.norm(x0))
    rbar = max(previous(prev, "rbar", rbar0), np.linalg.norm(u.x - x0))
    G = previous(prev, "grad_sum", opt.eps) + p["grad"] @ p["grad"]
    assert p["rbar"] == rbar
    same(p["grad_sum"], G)
    same(p["lr"], rate(opt, u.k) * p["rbar"] / math.sqrt(p["grad_sum"]))
    assert_array_equal(u.step, -p["lr"] * p["grad"])


def check_prodigy(opt, u, prev, carry):
    p, old, new, b1, b2 = u.parts, u.state, u.new, opt.beta1, opt.beta2
    b3 = math.sqrt(b2) if opt.beta3 is None else opt.beta3
    g = clipped(opt, u.g)
    g = g + opt.weight_decay * u.x if opt.weight_decay and not opt.decouple else g
    same(p["grad"], g)
    d_k, t = previous(prev, "d", opt.d0), u.k + 1
    bias = math.sqrt(1 - b2**t) / (1 - b1**t) if opt.use_bias_correction else 1.0
    same(p["lr"], d_k * rate(opt, u.k) * bias)
    zeros = np.zeros_like(u.x)
    same(p["first_moment"], b1 * previous(prev, "first_moment", zeros) + (1 - b1) * d_k * g)
    v = b2 * previous(prev, "second_moment", zeros) + (1 - b2) * d_k**2 * g**2
    same(p["second_moment"], v)
    # The estimate, from the state's numerator r and vector s, one update at a time.
    same(new.r, b3 * old.r + (d_k / opt.d0) * p["lr"] * (g @ (old.x0 - u.x)))
    weight = d_k if opt.safeguard_warmup else p["lr"]
    same(new.s, b3 * old.s + (d_k / opt.d0) * weight * g)
    d_hat = opt.d_coef * new.r / np.abs(new.s).sum()
    same(p["d_max"], max(previous(prev, "d_max", opt.d0), d_hat))
    grown = (max(d_k, d_hat) if d_k == opt.d0 else d_k) * opt.growth_rate
    same(p["d"], min(p["d_max"], grown))
    same(p["effective_lr"], p["lr"] / (np.sqrt(v) + p["d"] * opt.eps))
    decay = -opt.weight_decay * p["lr"] * u.x if opt.decouple else zeros
    same(p["decay"], decay)
    m = p["first_moment"] if b1 > 0 else p["d"] * g
    adam = -p["effective_lr"] * m
    assert np.all(np.abs(adam + decay - u.step) <= 4 * EPS * (np.abs(adam) + np.abs(decay)))


def check_schedule_free(opt, u, prev, carry):
    p, adam = u.parts, isinstance(opt, dd.ScheduleFreeAdamW)
    beta = opt.beta1 if adam else opt.momentum
    g = clipped(opt, u.g)
    same(p["grad"], g)
    warm = (u.k + 1) / opt.warmup_steps if u.k < opt.warmup_steps else 1.0
    assert p["lr"] == rate(opt, u.k) * warm
    carry["lr_max"] = max(carry.get("lr_max", 0.0), p["lr"])
    weight = (u.k + 1) ** opt.r * carry["lr_max"] ** opt.weight_lr_power
    carry["weight_sum"] = carry.get("weight_sum", 0.0) + weight
    same(p["weight"], weight / carry["weight_sum"])
    y = u.x  # the gradient's point, y_t
    if adam:
        v = opt.beta2 * previous(prev, "second_moment", np.zeros_like(y)) + (1 - opt.beta2) * g**2
        same(p["second_moment"], v)
        u_t = g / (np.sqrt(v / (1 - opt.beta2 ** (u.k + 1))) + opt.eps) + opt.weight_decay * y
    else:
        u_t = g + opt.weight_decay * y
    same(p["direction"], u_t)
    z = previous(prev, "z", u.state.z) - p["lr"] * p["direction"]
    same(p["z"], z)
    average = (1 - p["weight"]) * previous(prev, "average", u.state.x) + p["weight"] * z
    same(p["average"], average)
    assert_array_equal(u.step, (1 - beta) * p["z"] + beta * p["average"] - y)


CHECKS = {
    "gd": check_gd,
    "momentum": check_momentum,
    "nesterov": check_momentum,
    "adagrad": check_adagrad,
    "rmsprop": check_rmsprop,
    "adam": check_adam,
    "adamw": check_adam,
    "armijo": check_armijo,
    "bb": check_bb,
    "lbfgs": check_lbfgs,
    "dog": check_dog,
    "prodigy": check_prodigy,
    "schedulefree_sgd": check_schedule_free,
    "schedulefree_adamw": check_schedule_free,
}

# (method, problem, settings, boxed): two problems for every rule, and the branches.
CASES = [
    ("gd", "rosenbrock", dict(lr=1e-3), False),
    ("gd", "quadratic", dict(lr=schedules.exponential(0.015, 0.99)), False),
    ("gd", "rosenbrock", dict(lr=1e-3, clip_norm=1.0), False),
    ("momentum", "rosenbrock", dict(lr=1e-3, momentum=0.9), False),
    ("momentum", "quadratic", dict(lr=0.005, momentum=0.8, clip_norm=5.0), False),
    ("nesterov", "rosenbrock", dict(lr=1e-3, momentum=0.9, clip_norm=10.0), False),
    ("nesterov", "quadratic", dict(lr=schedules.exponential(0.005, 0.99)), False),
    ("adagrad", "rosenbrock", dict(lr=0.5), False),
    ("adagrad", "quadratic", dict(lr=1.0, clip_norm=5.0), False),
    ("rmsprop", "rosenbrock", dict(lr=1e-2), False),
    ("rmsprop", "quadratic", dict(lr=0.05, rho=0.8, clip_norm=5.0), False),
    ("adam", "rosenbrock", dict(lr=0.02), False),
    ("adam", "quadratic", dict(lr=0.05, clip_norm=5.0), False),
    ("adamw", "rosenbrock", dict(lr=0.02, weight_decay=0.1), False),
    ("adamw", "quadratic", dict(lr=0.05, weight_decay=0.5, clip_norm=5.0), False),
    ("armijo", "rosenbrock", dict(), False),
    ("armijo", "quadratic", dict(lr=schedules.exponential(1.0, 0.99), shrink=0.3), False),
    ("armijo", "rosenbrock", dict(clip_norm=1.0, max_backtracks=3), False),
    ("bb", "rosenbrock", dict(), False),
    ("bb", "quadratic", dict(memory=1, clip_norm=5.0), False),
    ("bb", "rosenbrock", dict(lr=1.0), True),
    ("bb", "quadratic", dict(max_backtracks=2), True),
    ("lbfgs", "rosenbrock", dict(), False),
    ("lbfgs", "quadratic", dict(memory=2), False),
    # Searches too short to succeed: a failed search along the memory's direction, the
    # retry along -g, and updates that take no step.
    ("lbfgs", "rosenbrock", dict(memory=3, max_linesearch=2), False),
    ("lbfgs", "quadratic", dict(memory=3, max_linesearch=1), False),
    ("dog", "rosenbrock", dict(), False),
    ("dog", "quadratic", dict(weight_decay=0.1, clip_norm=5.0), False),
    ("prodigy", "rosenbrock", dict(), False),
    ("prodigy", "quadratic", dict(weight_decay=0.1, use_bias_correction=True), False),
    ("prodigy", "quadratic", dict(beta1=0.0, weight_decay=0.1, decouple=False), False),
    ("prodigy", "rosenbrock", dict(safeguard_warmup=True, growth_rate=1.02, clip_norm=5.0), False),
    ("schedulefree_sgd", "rosenbrock", dict(lr=0.005, momentum=0.99, r=2.0), False),
    ("schedulefree_sgd", "quadratic", dict(lr=0.01, weight_decay=0.1, warmup_steps=50), False),
    ("schedulefree_adamw", "rosenbrock", dict(lr=0.005, beta1=0.99, r=2.0), False),
    ("schedulefree_adamw", "quadratic", dict(lr=0.05, weight_decay=0.1, clip_norm=5.0), False),
]


@pytest.mark.parametrize(("method", "problem", "settings", "boxed"), CASES)
def test_the_parts_rebuild_every_step(method, problem, settings, boxed):
    opt = dd.OPTIMIZERS[method](**settings)
    if boxed:
        opt = opt.constrained(lambda z, box=BOXES[problem]: np.clip(z, *box))
    check, carry, prev = CHECKS[method], {"problem": PROBLEMS[problem][0]}, None
    n = len(PROBLEMS[problem][1])
    for u in drive(opt, problem, opt.project if boxed else None):
        for name, value in u.parts.items():
            if isinstance(value, np.ndarray):
                assert value.ndim == 1 and (name in LISTS or value.shape == (n,)), name
            else:
                assert isinstance(value, float), name
        assert prev is None or u.parts.keys() == prev.parts.keys()
        assert opt.uses_fun or not u.trials
        check(opt, u, prev, carry)
        prev = u
    assert np.isfinite(u.x).all()  # the run stayed finite: no case was checked on inf
    if "max_linesearch" in settings:
        assert carry.get("retries", 0) > 0  # the retry along -g was exercised


def test_every_registered_method_defines_its_own_parts():
    defaults = [name for name, cls in dd.OPTIMIZERS.items() if cls.parts is Optimizer.parts]
    assert defaults == []
    assert {method for method, *_ in CASES} == set(dd.OPTIMIZERS)


def test_a_rule_without_parts_reports_its_step_size():
    class Halving(dd.GD):
        parts = Optimizer.parts  # as a third-party subclass that defines none

    opt, x = Halving(lr=0.5), np.array([2.0])
    state = opt.init(x)
    step, new = opt.update(x, state, x)
    assert opt.parts(x, state, new, step, x=x) == {"lr": 0.5}


@pytest.mark.parametrize("method", ["adamw", "bb", "lbfgs", "dog", "prodigy"])
def test_parts_that_read_x_ask_for_it(method):
    opt = dd.OPTIMIZERS[method](weight_decay=0.1) if method == "dog" else dd.OPTIMIZERS[method]()
    x = np.array([1.0, 2.0])
    state = opt.init(x)
    step, new = opt.update(2 * x, state, x, lambda z: (float(z @ z), 2 * z), float(x @ x))
    with pytest.raises(TypeError, match=r"needs the (current )?point x"):
        opt.parts(2 * x, state, new, step, trials=())


def test_lbfgs_parts_after_a_direction_that_is_not_downhill():
    opt, x, g = dd.LBFGS(), np.array([1.0, 1.0]), np.array([2.0, 2.0])
    # A corrupt pair turns -H g uphill: the update drops the memory and goes along -g.
    state = opt.init(x)._replace(s=np.array([[1.0, 0.0]]), y=np.array([[-1.0, 0.0]]))
    state = state._replace(rho=np.array([-1.0]))
    trials = []

    def pair(z):
        trials.append((z.copy(), float(z @ z)))
        return float(z @ z), 2 * z

    step, new = opt.update(g, state, x, pair, 2.0)
    parts = opt.parts(g, state, new, step, x=x, trials=tuple(trials))
    assert parts["memory"] == 0.0 and parts["retried"] == 0.0
    assert_array_equal(parts["direction"], -g)
    assert_array_equal(step, parts["lr"] * parts["direction"])
    assert parts["lr"] in parts["trial_lr"]
