"""The learning-rate-free rules: hand-computed steps, purity, validation, convergence.

The bit-for-bit comparison with the authors' PyTorch code is benchmarks/free_conformance.py
(it needs torch); here every expected value is worked out from the update rule by hand.
"""

import dataclasses
import math

import numpy as np
import pytest

import descend as dd
from descend import schedules
from descend.core.optimizers.free import DoG, Prodigy, ScheduleFreeAdamW, ScheduleFreeSGD

# f = 1/2 x'Ax with A = diag(1, 10): minimised at 0, curvatures 1 and 10.
A = np.diag([1.0, 10.0])
X0 = [4.0, -3.0]


def quadratic(x):
    return 0.5 * x @ A @ x


def quadratic_grad(x):
    return A @ x


def run(opt, grad, x0, n):
    """n updates made as the loop makes them (x <- x + step): the points and the states."""
    x = np.array(x0, dtype=float)
    state = opt.init(x)
    xs, states = [x], [state]
    for _ in range(n):
        step, state = opt.update(grad(x), state, x)
        x = x + step
        xs.append(x)
        states.append(state)
    return xs, states


# Hand-computed steps ----------------------------------------------------------------------


def test_dog_first_two_steps():
    # f = ||x||^2 / 2 (g = x) from x0 = (3, 4): ||x0|| = 5, r_eps = 0.05 * (1 + 5) = 0.3.
    x0, eps, r_eps = np.array([3.0, 4.0]), 1e-8, 0.05 * (1 + 5)
    xs, states = run(DoG(r_epsilon=0.05), lambda x: x, x0, 3)
    # Step 0: rbar = r_eps, G = eps + ||g0||^2 = eps + 25: eta_0 = r_eps / ||g_0|| (up to eps).
    eta0 = r_eps / math.sqrt(eps + 25)
    x1 = x0 - eta0 * x0
    # Step 1: ||x1 - x0|| = eta0 * 5 is just below r_eps, so rbar stays r_eps;
    # G = eps + 25 + ||x1||^2 = eps + 25 + 25 (1 - eta0)^2.
    eta1 = r_eps / math.sqrt(eps + 25 + 25 * (1 - eta0) ** 2)
    x2 = x1 - eta1 * x1
    assert states[1].lr == pytest.approx(eta0, rel=1e-15)
    assert states[2].lr == pytest.approx(eta1, rel=1e-15)
    assert states[2].rbar == r_eps
    np.testing.assert_allclose(xs[1], x1, rtol=1e-15)
    np.testing.assert_allclose(xs[2], x2, rtol=1e-15)
    # The next update sees x2, now farther than r_eps from x0: rbar = ||x2 - x0||.
    assert np.linalg.norm(x2 - x0) > r_eps
    assert states[3].rbar == pytest.approx(np.linalg.norm(x2 - x0), rel=1e-14)


def test_dog_lr_multiplies_the_step_and_the_start_has_no_step_size_yet():
    x0 = np.array([3.0, 4.0])
    opt, doubled, state = DoG(), DoG(lr=2.0), DoG().init(x0)
    np.testing.assert_array_equal(
        doubled.update(x0, state, x0)[0], 2 * opt.update(x0, state, x0)[0]
    )
    res = dd.minimize(quadratic, X0, method=DoG(), grad=quadratic_grad, max_iter=2, gtol=0)
    assert math.isnan(res.history.lr[0]) and res.history.lr[1] > 0


def test_prodigy_first_two_steps():
    # f = x^2 / 2 (g = x) from x0 = 2, at the defaults.
    d0, b1, b2, eps = 1e-6, 0.9, 0.999, 1e-8
    b3 = math.sqrt(b2)
    xs, states = run(Prodigy(), lambda x: x, [2.0], 2)
    # Step 0 (g = 2): d_k gamma_k = d0; r = 0 since x = x0; s = d0 * 2; d_hat = 0 < d0, so
    # d stays d0. m = 0.1 * d0 * 2, v = 0.001 * d0^2 * 4.
    m1, v1 = 0.1 * d0 * 2, 0.001 * d0**2 * 4
    x1 = 2 - d0 * m1 / (math.sqrt(v1) + d0 * eps)
    # Step 1 (g = x1): r = (d0/d0) * d0 * x1 * (x0 - x1), s = b3 * 2 d0 + d0 * x1, so
    # d_hat = r / |s| = x1 (2 - x1) / (2 b3 + x1) ~ 1.6e-6 > d0: d jumps to d_hat. The step
    # still uses the old d (in m, v and d_k gamma_k = d0); only eps is scaled by the new d.
    d_hat = x1 * (2 - x1) / (2 * b3 + x1)
    m2 = b1 * m1 + (1 - b1) * d0 * x1
    v2 = b2 * v1 + (1 - b2) * d0**2 * x1**2
    x2 = x1 - d0 * m2 / (math.sqrt(v2) + d_hat * eps)
    assert states[1].d == d0 and states[1].lr == d0
    assert d_hat > d0 and states[2].d == pytest.approx(d_hat, rel=1e-12)
    assert states[2].d_max == states[2].d
    np.testing.assert_allclose(states[2].m, [m2], rtol=1e-14)
    np.testing.assert_allclose([xs[1][0], xs[2][0]], [x1, x2], rtol=1e-15)


def test_schedule_free_sgd_first_two_steps_with_warmup():
    # f = y^2 / 2 (g = y) from 1; lr 0.5, two warm-up steps, momentum 0.9.
    opt = ScheduleFreeSGD(lr=0.5, warmup_steps=2)
    ys, states = run(opt, lambda y: y, [1.0], 2)
    # Step 0: gamma = 0.5 * 1/2 = 0.25, w_1 = 0.25^2, c = 1: z = x = y = 1 - 0.25 = 0.75.
    # Step 1: gamma = 0.5 * 2/2 = 0.5, w_2 = 0.5^2, c = 0.25 / (0.0625 + 0.25) = 0.8;
    # z = 0.75 - 0.5 * 0.75 = 0.375, x = 0.2 * 0.75 + 0.8 * 0.375 = 0.45,
    # y = 0.1 * 0.375 + 0.9 * 0.45 = 0.4425. The reference's y-form gives the same:
    # (1 - c) y + c z + gamma (beta (1 - c) - 1) g = 0.75 + 0.5 * (0.18 - 1) * 0.75.
    assert [s.lr for s in states] == [0.25, 0.25, 0.5]
    assert states[2].weight_sum == 0.3125
    np.testing.assert_allclose([states[2].z[0], states[2].x[0]], [0.375, 0.45], rtol=1e-15)
    np.testing.assert_allclose([ys[1][0], ys[2][0]], [0.75, 0.4425], rtol=1e-15)
    np.testing.assert_allclose(ys[2][0], 0.75 + 0.5 * (0.9 * 0.2 - 1) * 0.75, rtol=1e-15)


def test_schedule_free_adamw_first_two_steps():
    # f = y^2 / 2 (g = y) from 1; lr 0.1, r = 1, weight_decay 0.5 (at y), default betas, eps.
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.5
    ys, states = run(ScheduleFreeAdamW(lr=lr, r=1.0, weight_decay=wd), lambda y: y, [1.0], 2)
    # Step 0: v = (1 - b2) * 1; bias-corrected v = 1, so u = 1 / (1 + eps) + wd * 1; c = 1.
    v1 = (1 - b2) * 1.0
    z1 = 1 - lr * (1 / (math.sqrt(v1 / (1 - b2)) + eps) + wd * 1)
    # Step 1 (g = y1 = z1): w_t = t * lr^2, so c = 2 / (1 + 2); v = b2 v1 + (1 - b2) g^2.
    v2 = b2 * v1 + (1 - b2) * z1**2
    z2 = z1 - lr * (z1 / (math.sqrt(v2 / (1 - b2**2)) + eps) + wd * z1)
    x2 = z1 / 3 + 2 * z2 / 3
    y2 = (1 - b1) * z2 + b1 * x2
    np.testing.assert_allclose(ys[1], [z1], rtol=1e-15)
    np.testing.assert_allclose([states[2].v[0], states[2].x[0]], [v2, x2], rtol=1e-15)
    np.testing.assert_allclose(ys[2], [y2], rtol=1e-15)


# Purity, schedules, the point x ------------------------------------------------------------

OPTIMIZERS = [
    DoG(weight_decay=0.1),
    Prodigy(weight_decay=0.1),
    Prodigy(beta1=0.0, decouple=False, weight_decay=0.1),
    ScheduleFreeSGD(lr=0.1, weight_decay=0.1),
    ScheduleFreeAdamW(lr=0.1, weight_decay=0.1),
]
IDS = ["dog", "prodigy", "prodigy-beta1-0", "schedulefree_sgd", "schedulefree_adamw"]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=IDS)
def test_update_never_mutates_the_state_or_the_gradient(opt):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2))  # any shape: the rules use whole-vector norms and dots
    state = opt.init(x)
    for _ in range(3):  # a few steps, so the state holds non-zero values
        step, state = opt.update(x.copy(), state, x)
        x = x + step
    grad, x_before = x.copy(), x.copy()
    arrays = {k: v for k, v in state._asdict().items() if isinstance(v, np.ndarray)}
    before = {k: v.copy() for k, v in arrays.items()}
    step, new_state = opt.update(grad, state, x)
    np.testing.assert_array_equal(grad, x_before)
    np.testing.assert_array_equal(x, x_before)
    for name, value in arrays.items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"old state's {name} changed")
        assert getattr(new_state, name).shape == x.shape
    assert step.shape == x.shape and new_state.t == state.t + 1
    again, _ = opt.update(grad, state, x)
    np.testing.assert_array_equal(step, again)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=IDS)
def test_a_constant_schedule_gives_the_same_run_as_the_number(opt):
    runs = [
        dd.minimize(quadratic, X0, method=o, grad=quadratic_grad, max_iter=30, gtol=0)
        for o in (opt, dataclasses.replace(opt, lr=schedules.constant(opt.lr)))
    ]
    np.testing.assert_array_equal(runs[0].history.x, runs[1].history.x)


@pytest.mark.parametrize("cls", [DoG, Prodigy])
def test_distance_rules_need_the_point(cls):
    opt = cls()
    with pytest.raises(TypeError, match="needs the current point x"):
        opt.update(np.ones(2), opt.init(np.zeros(2)))


@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_schedule_free_refuses_a_projection(cls):
    with pytest.raises(ValueError, match=r"cannot take project=.*use a method such as 'adam'"):
        dd.minimize(quadratic, X0, method=cls(), grad=quadratic_grad, project=lambda x: x)


# Validation -------------------------------------------------------------------------------

BAD = [
    (DoG, dict(lr=-1.0), ValueError, r"lr must be a finite number > 0, got -1.0"),
    (DoG, dict(r_epsilon=0.0), ValueError, r"r_epsilon must be .* got 0.0; 1e-6 is customary"),
    (DoG, dict(eps=-1e-8), ValueError, r"eps must be a finite number > 0, got -1e-08; 1e-8"),
    (DoG, dict(weight_decay=-0.1), ValueError, r"weight_decay must be .*; 0 turns the decay off"),
    (DoG, dict(clip_norm=0.0), ValueError, r"clip_norm must be a finite number > 0"),
    (Prodigy, dict(beta1=1.2), ValueError, r"beta1 must be in \[0, 1\), got 1.2; .*0.9"),
    (Prodigy, dict(beta2=-0.1), ValueError, r"beta2 must be in \[0, 1\), got -0.1"),
    (Prodigy, dict(beta3=1.0), ValueError, r"beta3 must be in \[0, 1\), got 1.0"),
    (Prodigy, dict(eps=0.0), ValueError, r"eps must be a finite number > 0, got 0.0; eps guards"),
    (Prodigy, dict(d0=0.0), ValueError, r"d0 must be a finite number > 0, got 0.0; 1e-6"),
    (Prodigy, dict(d_coef=-1.0), ValueError, r"d_coef must be .* got -1.0; 1.0 is Prodigy"),
    (Prodigy, dict(growth_rate=0.5), ValueError, r"growth_rate must be a number >= 1, got 0.5"),
    (Prodigy, dict(growth_rate="fast"), TypeError, r"growth_rate must be a real number"),
    (Prodigy, dict(decouple="yes"), TypeError, r"decouple must be True or False, got 'yes'"),
    (Prodigy, dict(use_bias_correction=1), TypeError, r"use_bias_correction must be True or"),
    (ScheduleFreeSGD, dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (ScheduleFreeSGD, dict(warmup_steps=2.5), TypeError, r"warmup_steps must be an integer"),
    (ScheduleFreeSGD, dict(warmup_steps=-1), ValueError, r"warmup_steps must be an integer >= 0"),
    (ScheduleFreeSGD, dict(r=-1.0), ValueError, r"r must be a finite number >= 0, got -1.0"),
    (ScheduleFreeSGD, dict(weight_decay=-1.0), ValueError, r"weight_decay must be .* >= 0"),
    (ScheduleFreeAdamW, dict(beta2=1.5), ValueError, r"beta2 must be in \[0, 1\), got 1.5"),
    (ScheduleFreeAdamW, dict(eps=0.0), ValueError, r"eps must be a finite number > 0"),
    (ScheduleFreeAdamW, dict(weight_lr_power=-2.0), ValueError, r"weight_lr_power must be .*2"),
    (ScheduleFreeAdamW, dict(lr=lambda t: -1.0), ValueError, r"returned -1.0 at t=0"),
]


@pytest.mark.parametrize(("cls", "settings", "error", "match"), BAD)
def test_bad_hyperparameters_are_refused_in_words(cls, settings, error, match):
    with pytest.raises(error, match=match):
        cls(**settings)


def test_defaults_are_the_reference_packages():
    assert (DoG().lr, DoG().r_epsilon, DoG().eps) == (1.0, 1e-6, 1e-8)
    p = Prodigy()
    assert (p.lr, p.beta1, p.beta2, p.beta3, p.eps, p.d0, p.d_coef) == (
        1.0, 0.9, 0.999, None, 1e-8, 1e-6, 1.0,
    )  # fmt: skip
    assert p.growth_rate == math.inf and p.decouple and not p.use_bias_correction
    assert (ScheduleFreeSGD().lr, ScheduleFreeSGD().momentum) == (1.0, 0.9)
    a = ScheduleFreeAdamW()
    assert (a.lr, a.beta1, a.beta2, a.eps, a.warmup_steps, a.r, a.weight_lr_power) == (
        0.0025, 0.9, 0.999, 1e-8, 0, 0.0, 2.0,
    )  # fmt: skip
    names = [c.name for c in (DoG, Prodigy, ScheduleFreeSGD, ScheduleFreeAdamW)]
    assert names == ["dog", "prodigy", "schedulefree_sgd", "schedulefree_adamw"]


# Runs through minimize --------------------------------------------------------------------

# No lr for DoG, Prodigy and schedule-free SGD: their defaults. Schedule-free AdamW's
# default, 0.0025, is sized for networks; x0 here is 5 away, so it takes lr=0.1.
CONVERGING = [DoG(), Prodigy(), ScheduleFreeSGD(), ScheduleFreeAdamW(lr=0.1)]


@pytest.mark.parametrize("opt", CONVERGING, ids=lambda o: o.name)
def test_converges_on_a_quadratic(opt):
    res = dd.minimize(quadratic, X0, method=opt, grad=quadratic_grad, gtol=1e-6, max_iter=3000)
    assert res.status == "converged", res.message
    assert res.history.grad_norm[-1] <= 1e-6
    # gtol is tested at the loop's point; for schedule-free that is y, and the average x,
    # which res.x reports, lags it: 1e-4 covers both (DoG and Prodigy stop within 1e-6).
    averaged = isinstance(opt, (ScheduleFreeSGD, ScheduleFreeAdamW))
    assert np.linalg.norm(res.x) <= (1e-4 if averaged else 1e-6)


@pytest.mark.parametrize("opt", [ScheduleFreeSGD(lr=0.05), ScheduleFreeAdamW(lr=0.2)])
def test_schedule_free_answers_with_its_average(opt):
    res = dd.minimize(quadratic, X0, method=opt, grad=quadratic_grad, max_iter=25, gtol=0)
    ys, states = run(opt, quadratic_grad, X0, 25)
    np.testing.assert_array_equal(res.history.x, ys)  # the loop's points are y
    np.testing.assert_array_equal(res.x, states[-1].x)  # the answer is the average x
    assert not np.allclose(res.x, ys[-1])  # ... which is not the last y
    assert res.fun == quadratic(res.x) != res.history.f[-1]
    np.testing.assert_array_equal(res.grad, quadratic_grad(res.x))
    assert res.history.f[-1] == quadratic(ys[-1])


class Interrupt:
    """A gradient that raises KeyboardInterrupt on its n-th call."""

    def __init__(self, function, n):
        self.function, self.n, self.calls = function, n, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.function(x)


@pytest.mark.parametrize("opt", [DoG(), Prodigy(), ScheduleFreeAdamW(lr=0.1)], ids=lambda o: o.name)
def test_an_interrupted_run_resumes_exactly(opt, tmp_path):
    path, settings = tmp_path / "run.ckpt", dict(method=opt, max_iter=60, gtol=0)
    full = dd.minimize(quadratic, X0, grad=quadratic_grad, **settings)
    part = dd.minimize(quadratic, X0, grad=Interrupt(quadratic_grad, 30), checkpoint=path,
                       **settings)  # fmt: skip
    assert part.status == "interrupted"
    resumed = dd.minimize(quadratic, X0, grad=quadratic_grad, checkpoint=path, resume=True,
                          **settings)  # fmt: skip
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.x, full.history.x)
