"""Every optimizer in the registry passes one conformance suite, plus hand-computed steps."""

import dataclasses

import numpy as np
import pytest
from descend.functions import rosenbrock
from scipy.optimize import minimize as scipy_minimize

import descend as dd
from descend import schedules

# Settings under which each rule converges; the suite below is the same for all.
QUADRATIC_SETTINGS = {
    "gd": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.5),
    "nesterov": dict(lr=0.05, momentum=0.5),
    "adagrad": dict(lr=1.0),
    "rmsprop": dict(lr=schedules.exponential(0.05, 0.99)),
    "adam": dict(lr=0.05),
    "adamw": dict(lr=0.05, weight_decay=0.0),
    "armijo": dict(),
    "bb": dict(),
    "lbfgs": dict(),
    "dog": dict(),
    "prodigy": dict(),
    "schedulefree_sgd": dict(),
    "schedulefree_adamw": dict(lr=0.1),  # its default 0.0025 is still |g| ~ 0.01 at 10,000
}
ROSENBROCK_SETTINGS = {
    "gd": dict(lr=1.9e-3, max_iter=40000),
    "momentum": dict(lr=1e-3, momentum=0.9, max_iter=20000),
    "nesterov": dict(lr=1e-3, momentum=0.9, max_iter=20000),
    "adagrad": dict(lr=0.5, max_iter=20000),
    "rmsprop": dict(lr=schedules.exponential(1e-2, 0.9995), max_iter=20000),
    "adam": dict(lr=0.02, max_iter=20000),
    "adamw": dict(lr=0.02, weight_decay=0.0, max_iter=20000),
    "armijo": dict(lr=0.01, max_iter=40000),
    "bb": dict(max_iter=2000),
    "lbfgs": dict(max_iter=200),
    "dog": dict(max_iter=20000),
    "prodigy": dict(max_iter=20000),
    "schedulefree_sgd": dict(lr=0.005, momentum=0.99, r=2.0, max_iter=40000),
    "schedulefree_adamw": dict(lr=0.005, beta1=0.99, r=2.0, max_iter=40000),
}
METHODS = list(dd.OPTIMIZERS)

# f = 1/2 x'Ax - b'x, minimised at A^-1 b = (1, 0.2).
A = np.diag([1.0, 10.0])
B = np.array([1.0, 2.0])


def quadratic(x):
    return 0.5 * x @ A @ x - B @ x


def quadratic_grad(x):
    return A @ x - B


def test_the_registry_covers_the_family():
    assert METHODS == [
        "gd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
        "armijo",
        "bb",
        "lbfgs",
        "dog",
        "prodigy",
        "schedulefree_sgd",
        "schedulefree_adamw",
    ]
    assert set(QUADRATIC_SETTINGS) == set(METHODS) == set(ROSENBROCK_SETTINGS)


@pytest.mark.parametrize("method", METHODS)
def test_converges_on_a_quadratic(method):
    res = dd.minimize(
        quadratic,
        [4.0, -3.0],
        method,
        grad=quadratic_grad,
        max_iter=5000,
        **QUADRATIC_SETTINGS[method],
    )
    assert res.status == "converged", res.message
    np.testing.assert_allclose(res.x, [1.0, 0.2], atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_converges_on_rosenbrock(method):
    settings = ROSENBROCK_SETTINGS[method]
    res = dd.minimize(
        rosenbrock, rosenbrock.x0, method, grad=rosenbrock.grad, gtol=1e-6, **settings
    )
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)


def _random_state_arrays(state):
    return {name: value for name, value in state._asdict().items() if isinstance(value, np.ndarray)}


def _update(opt, grad, state, x):
    fun = quadratic_and_grad if opt.trial_gradients else quadratic_on_any_shape
    return opt.update(grad, state, x, fun, quadratic_on_any_shape(x))


def quadratic_on_any_shape(x):
    return 0.5 * float(np.sum(x**2))


def quadratic_and_grad(x):
    return quadratic_on_any_shape(x), x


# State arrays that hold a history (of f values, of curvature pairs), not one value per x.
HISTORIES = ("f_recent", "s", "y", "rho")
# The line searches set their own step lengths, and DoG and Prodigy estimate theirs from
# whole-vector norms; the rest are elementwise in the gradient with the schedule's lr.
ELEMENTWISE = [m for m in METHODS if not dd.OPTIMIZERS[m].uses_fun and m not in ("dog", "prodigy")]


@pytest.mark.parametrize("method", METHODS)
def test_update_is_pure_and_state_keeps_its_shape(method):
    opt = dd.OPTIMIZERS[method]()
    rng = np.random.default_rng(0)
    # Below minimize every x is flat; the elementwise rules also keep any other shape.
    x = rng.normal(size=(3, 2) if method in ELEMENTWISE else 6)
    state = opt.init(x)
    for _ in range(3):  # a few steps, so the state holds non-zero values
        step, state = _update(opt, x.copy(), state, x)
        x = x + step
    grad, x_before = x.copy(), x.copy()
    before = {k: v.copy() for k, v in _random_state_arrays(state).items()}
    step, new_state = _update(opt, grad, state, x)
    np.testing.assert_array_equal(grad, x_before)  # gradient untouched
    np.testing.assert_array_equal(x, x_before)  # point untouched
    for name, value in _random_state_arrays(state).items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"old state's {name} changed")
    assert step.shape == x.shape
    assert new_state.t == state.t + 1
    for name, value in _random_state_arrays(new_state).items():
        if name not in HISTORIES:
            assert value.shape == x.shape, name
    # Pure: the same inputs give the same outputs.
    again, _ = _update(opt, grad, state, x)
    np.testing.assert_array_equal(step, again)


@pytest.mark.parametrize("method", METHODS)
def test_accepts_a_schedule(method):
    settings = dict(QUADRATIC_SETTINGS[method])
    lr = settings.pop("lr", 1.0)
    fixed = dd.minimize(
        quadratic, [4.0, -3.0], method, grad=quadratic_grad, lr=lr, max_iter=30, gtol=0, **settings
    )
    as_schedule = lr if callable(lr) else schedules.constant(lr)
    scheduled = dd.minimize(
        quadratic,
        [4.0, -3.0],
        method,
        grad=quadratic_grad,
        lr=as_schedule,
        max_iter=30,
        gtol=0,
        **settings,
    )
    np.testing.assert_array_equal(fixed.history.x, scheduled.history.x)


@pytest.mark.parametrize("method", ELEMENTWISE)
def test_schedule_drives_the_recorded_learning_rate(method):
    lr = schedules.step(0.01, drop=0.5, every=3)
    res = dd.minimize(
        quadratic, [4.0, -3.0], method, grad=quadratic_grad, lr=lr, max_iter=10, gtol=0
    )
    np.testing.assert_allclose(res.history.lr[1:], [lr(t) for t in range(10)])


@pytest.mark.parametrize("method", METHODS)
def test_defaults_construct_and_print(method):
    opt = dd.OPTIMIZERS[method]()
    assert opt.name == method and len(opt.when.split()) >= 5  # when to use it, in words
    assert type(opt).__name__ in repr(opt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.lr = 1.0  # type: ignore[misc]


# Hand-computed steps: each expected value is worked out from the update rule by hand.
def _steps(opt, grads, x=None):
    x = np.zeros(1) if x is None else x
    state, steps = opt.init(x), []
    for g in grads:
        step, state = opt.update(np.array([g]), state, x)
        steps.append(step[0])
    return steps


def test_gd_steps():
    assert _steps(dd.GD(lr=0.1), [10.0, -4.0]) == [-1.0, 0.4]


def test_momentum_steps():
    # v1 = -0.1*2 = -0.2;  v2 = 0.9*(-0.2) - 0.1*4 = -0.58
    np.testing.assert_allclose(_steps(dd.Momentum(lr=0.1, momentum=0.9), [2.0, 4.0]), [-0.2, -0.58])


def test_nesterov_steps():
    # v1 = -0.2, step1 = 0.9*(-0.2) - 0.2 = -0.38;  v2 = -0.58, step2 = 0.9*(-0.58) - 0.4 = -0.922
    np.testing.assert_allclose(
        _steps(dd.Nesterov(lr=0.1, momentum=0.9), [2.0, 4.0]), [-0.38, -0.922]
    )


def test_adagrad_steps():
    # G1 = 9: step -1*3/3 = -1;  G2 = 9 + 16 = 25: step -1*4/5 = -0.8
    np.testing.assert_allclose(_steps(dd.AdaGrad(lr=1.0, eps=1e-300), [3.0, 4.0]), [-1.0, -0.8])


def test_rmsprop_steps():
    # v1 = 0.5*9 = 4.5: step -3/sqrt(4.5);  v2 = 0.5*4.5 + 0.5*16 = 10.25: step -4/sqrt(10.25)
    expected = [-3 / np.sqrt(4.5), -4 / np.sqrt(10.25)]
    np.testing.assert_allclose(
        _steps(dd.RMSProp(lr=1.0, rho=0.5, eps=1e-300), [3.0, 4.0]), expected
    )


def test_adam_steps():
    # t=1: m = 0.5*2 = 1, v = 0.25*4 = 1, m_hat = 1/0.5 = 2, v_hat = 1/0.25 = 4: step -2/2 = -1
    # t=2: m = 0.5*1 + 0.5*(-6) = -2.5, v = 0.75*1 + 0.25*36 = 9.75,
    #      m_hat = -2.5/0.75, v_hat = 9.75/0.4375: step = (2.5/0.75) / sqrt(9.75/0.4375)
    expected = [-1.0, (2.5 / 0.75) / np.sqrt(9.75 / 0.4375)]
    steps = _steps(dd.Adam(lr=1.0, beta1=0.5, beta2=0.75, eps=1e-300), [2.0, -6.0])
    np.testing.assert_allclose(steps, expected, rtol=1e-15)


def test_adamw_decays_x_geometrically_where_the_gradient_vanishes():
    # With g = 0, Adam's part is 0 and x_k = x0 * (1 - lr*wd)**k exactly.
    res = dd.minimize(
        lambda x: 0.0,
        [2.0, -4.0],
        "adamw",
        grad=lambda x: np.zeros(2),
        lr=0.1,
        weight_decay=0.5,
        max_iter=20,
        gtol=0,
    )
    np.testing.assert_allclose(res.x, np.array([2.0, -4.0]) * 0.95**20, rtol=1e-13)


def test_adamw_needs_x():
    opt = dd.AdamW()
    with pytest.raises(TypeError, match="needs the current point x"):
        opt.update(np.ones(2), opt.init(np.zeros(2)))


def test_armijo_halves_until_sufficient_decrease():
    # f = x**2 at x = 1, g = 2: t = 1 gives f(-1) = 1, not below 1 - 1e-4*4; t = 0.5 gives f(0) = 0.
    fun = lambda x: float(x @ x)  # noqa: E731
    x = np.array([1.0])
    step, state = dd.Armijo().update(2 * x, dd.Armijo().init(x), x, fun, fun(x))
    assert step[0] == -1.0 and state.lr == 0.5


def test_bb_uses_the_secant_step_size():
    # On f = 1/2 (x^2 + 10 y^2) from (1, 1) with a first step of 0.1:
    # s = -0.1 * (1, 10), y = (1, 10) * s, so t = s.s / s.y = 1.01 / 10.01.
    opt, x = dd.BB(lr=0.1), np.array([1.0, 1.0])
    fun = lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)  # noqa: E731
    grad = lambda x: np.array([1.0, 10.0]) * x  # noqa: E731
    step, state = opt.update(grad(x), opt.init(x), x, fun, fun(x))
    x = x + step
    _, state = opt.update(grad(x), state, x, fun, fun(x))
    assert state.lr == pytest.approx(1.01 / 10.01, rel=1e-14)


def test_bb_line_search_tames_rosenbrock_from_a_bad_first_step():
    res = dd.minimize(rosenbrock, rosenbrock.x0, "bb", grad=rosenbrock.grad, lr=1.0, max_iter=1000)
    assert res.status == "converged"
    assert res.history.f.max() <= res.history.f[0]  # non-monotone, but never above the start


def test_gradient_clipping_caps_the_step_norm():
    res = dd.minimize(
        lambda x: x @ x,
        [300.0, 400.0],
        "gd",
        grad=lambda x: 2 * x,
        lr=0.1,
        clip_norm=1.0,
        max_iter=1,
        gtol=0,
    )
    # g = (600, 800) has norm 1000; clipped to norm 1, the step is -0.1 * (0.6, 0.8)
    np.testing.assert_allclose(res.x, [300 - 0.06, 400 - 0.08])


def test_momentum_matches_its_closed_form_on_a_parabola():
    # Heavy ball on f = x^2: x_{k+1} = (1 - 2 lr + mu) x_k - mu x_{k-1}, x_1 = (1 - 2 lr) x_0.
    # The solution is c1 r1^k + c2 r2^k with r the roots of r^2 - (1 - 2 lr + mu) r + mu.
    lr, mu, x0, n = 0.1, 0.5, 5.0, 25
    r1, r2 = np.roots([1.0, -(1 - 2 * lr + mu), mu]).astype(complex)
    c1, c2 = np.linalg.solve([[1, 1], [r1, r2]], [x0, (1 - 2 * lr) * x0])
    expected = (c1 * r1 ** np.arange(n + 1) + c2 * r2 ** np.arange(n + 1)).real
    res = dd.minimize(
        lambda x: x**2, x0, "momentum", grad=lambda x: 2 * x, lr=lr, momentum=mu, max_iter=n, gtol=0
    )
    np.testing.assert_allclose(res.history.x, expected, rtol=1e-12, atol=1e-14)


def test_adam_agrees_with_scipy_and_adamw_decay_pulls_towards_the_origin():
    reference = scipy_minimize(quadratic, [4.0, -3.0], jac=quadratic_grad, method="BFGS").x
    adam = dd.minimize(quadratic, [4.0, -3.0], "adam", grad=quadratic_grad, lr=0.05, max_iter=3000)
    np.testing.assert_allclose(adam.x, reference, atol=1e-6)
    adamw = dd.minimize(
        quadratic,
        [4.0, -3.0],
        "adamw",
        grad=quadratic_grad,
        lr=0.05,
        weight_decay=0.1,
        max_iter=3000,
        gtol=0,
    )
    assert np.linalg.norm(adamw.x) < np.linalg.norm(adam.x) - 1e-3


@pytest.mark.parametrize("method", ELEMENTWISE)
def test_long_vectors_updated_in_blocks_match_the_rule_applied_piece_by_piece(method):
    # Long vectors take the cache-blocked path; elementwise rules must give the same bits
    # as the same rule applied to short pieces, which take the plain path.
    opt = dd.OPTIMIZERS[method]()
    rng = np.random.default_rng(1)
    x, grads = rng.normal(size=200_003), rng.normal(size=(2, 200_003))
    state = opt.init(x)
    pieces = [slice(0, 50_000), slice(50_000, 120_000), slice(120_000, None)]
    piece_states = [opt.init(x[p]) for p in pieces]
    for g in grads:
        step, state = opt.update(g, state, x)
        piece_steps = []
        for i, p in enumerate(pieces):
            piece_step, piece_states[i] = opt.update(g[p], piece_states[i], x[p])
            piece_steps.append(piece_step)
        np.testing.assert_array_equal(step, np.concatenate(piece_steps))
