"""descend on other array namespaces: every optimizer in the registry and the loop run on
array-api-strict (and on torch's CPU build where it is installed) and reach NumPy's
iterates, with the results in the input's namespace and one read from the device per
update."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import descend as dd
from descend.core import loop

xs = pytest.importorskip("array_api_strict")
array_api_compat = pytest.importorskip("array_api_compat")

ELEMENTWISE = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
NEEDS_LR = (*ELEMENTWISE, "schedulefree_sgd", "schedulefree_adamw")
# State fields that hold scalars of the run on the host by design: BB's last values of f
# and L-BFGS's 1 / (y . s), read by their line searches' tests anyway.
HOST_FIELDS = {"f_recent", "rho"}


@pytest.fixture(params=["array_api_strict", "torch"])
def xp(request):
    """The namespace under test: array-api-strict always, torch when it is installed."""
    if request.param == "torch":
        torch = pytest.importorskip("torch")
        return array_api_compat.array_namespace(torch.zeros(1))
    return xs


def array_type(xp):
    return type(xp.asarray([0.0]))


def rosenbrock(xp):
    def fun(x):
        return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

    def grad(x):
        dy = 200 * (x[1] - x[0] ** 2)
        return xp.stack([-2 * x[0] * dy - 2 * (1 - x[0]), dy])

    return fun, grad, [-1.2, 1.0]


def quadratic(xp):
    d = xp.asarray([1.0, 3.0, 10.0, 0.5], dtype=xp.float64)

    def fun(x):
        return 0.5 * xp.sum(d * (x - 1.0) ** 2)

    return fun, (lambda x: d * (x - 1.0)), [0.0, 2.0, -1.0, 3.0]


def log_cosh(xp):
    c = xp.asarray([0.5, -1.0, 2.0], dtype=xp.float64)
    return (lambda x: xp.sum(xp.log(xp.cosh(x - c)))), (lambda x: xp.tanh(x - c)), [3.0, 1.0, -2.0]


PROBLEMS = [rosenbrock, quadratic, log_cosh]


def settings(method, problem):
    kw = dict(max_iter=25, gtol=0)
    if method in NEEDS_LR:
        kw["lr"] = 1e-3 if problem is rosenbrock else 0.05
    return kw


def both(problem, xp, method, **kw):
    """The same run from NumPy and from ``xp``."""
    fun, grad, x0 = problem(np)
    a = dd.minimize(fun, np.array(x0), method, grad=grad, **kw)
    fun, grad, x0 = problem(xp)
    b = dd.minimize(fun, xp.asarray(x0, dtype=xp.float64), method, grad=grad, **kw)
    return a, b


def host(v):
    return np.from_dlpack(v)


def close(a, b, rtol=1e-12):
    a, b = np.asarray(a, dtype=float), host(b) if not isinstance(b, np.ndarray) else b
    return np.all(np.abs(a - b) <= rtol * np.maximum(1.0, np.abs(a)))


# The registry's conformance ------------------------------------------------------------


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("method", list(dd.OPTIMIZERS))
def test_iterates_equal_numpys(method, problem, xp):
    a, b = both(problem, xp, method, **settings(method, problem))
    assert b.nit == a.nit and b.status == a.status
    assert close(a.history.x, b.history.x), (a.history.x, b.history.x)
    assert close(a.history.f, b.history.f)
    assert type(b.x) is array_type(xp) and type(b.grad) is array_type(xp)
    assert type(b.fun) is float and b.history.f.dtype == np.float64
    assert close(a.x, b.x) and close(a.grad, b.grad)


@pytest.mark.parametrize("method", list(dd.OPTIMIZERS))
def test_state_stays_in_the_namespace(method, xp):
    fun, grad, x0 = quadratic(xp)
    x = xp.asarray(x0, dtype=xp.float64)
    opt = dd.OPTIMIZERS[method]()
    state = opt.init(x)
    value = lambda z: float(fun(z))  # noqa: E731
    pair = lambda z: (float(fun(z)), grad(z))  # noqa: E731
    for _ in range(3):
        trial = pair if opt.trial_gradients else value
        step, state = opt.update(grad(x), state, x, trial, float(fun(x)))
        x = x + step
    assert type(step) is array_type(xp)
    for name, value in state._asdict().items():
        if hasattr(value, "shape") and name not in HOST_FIELDS:
            assert type(value) is array_type(xp), name


# The loop --------------------------------------------------------------------------------


def test_one_read_from_the_device_per_update(monkeypatch):
    """Elementwise rules: f and the norms come back together, once an update; nothing else
    reads a value (no float(), no bool() of an array) inside the loop."""
    reads, scalars = [], []
    real_read = loop.read
    monkeypatch.setattr(loop, "read", lambda *v: reads.append(1) or real_read(*v))
    array = type(xs.asarray(0.0))
    for name in ("__float__", "__bool__"):
        real = getattr(array, name)
        monkeypatch.setattr(array, name, lambda self, real=real: scalars.append(1) or real(self))
    fun, grad, x0 = quadratic(xs)
    counts = {}
    for method in ELEMENTWISE:
        for n in (5, 15):
            reads.clear(), scalars.clear()
            dd.minimize(
                fun, xs.asarray(x0), method, grad=grad, lr=0.01, max_iter=n, gtol=0, xtol=1e-300
            )  # read with f too, never met
            counts[method, n] = len(reads), len(scalars)
        assert counts[method, 15][0] - counts[method, 5][0] == 10, counts
        assert counts[method, 15][1] == counts[method, 5][1], counts  # the start's reads only


def test_history_callback_and_maximize(xp):
    fun, grad, x0 = quadratic(xp)
    seen = []
    res = dd.maximize(lambda x: -fun(x), xp.asarray(x0, dtype=xp.float64), "adam",
                      grad=lambda x: -grad(x), lr=0.1, max_iter=5, gtol=0,
                      callback=lambda info: seen.append(info))  # fmt: skip
    ref = dd.maximize(lambda x: -quadratic(np)[0](x), np.array(x0), "adam",
                      grad=lambda x: -quadratic(np)[1](x), lr=0.1, max_iter=5, gtol=0)  # fmt: skip
    assert close(ref.x, res.x) and res.fun == pytest.approx(ref.fun, rel=1e-12)
    assert [type(info.x) for info in seen] == [array_type(xp)] * 5
    assert all(type(info.fun) is float and type(info.grad_norm) is float for info in seen)
    assert isinstance(res.history.x, np.ndarray) and close(ref.history.x, res.history.x)
    assert type(res.best_x) is array_type(xp)


@pytest.mark.parametrize(
    "project",
    [
        dd.projections.box(0.5, 2.0),
        dd.projections.nonnegative(),
        dd.projections.ball(1.5, center=[1.0, 0.0, 0.0, 1.0]),
        dd.projections.simplex(2.0),
    ],
    ids=["box", "nonnegative", "ball", "simplex"],
)
@pytest.mark.parametrize("method", ["gd", "bb"])
def test_projections(project, method, xp):
    kw = dict(max_iter=15, gtol=0, project=project) | ({"lr": 0.05} if method == "gd" else {})
    fun, grad, x0 = quadratic(np)
    x0 = np.asarray(project(np.array(x0)))  # a feasible start
    a = dd.minimize(fun, x0, method, grad=grad, **kw)
    fun, grad, _ = quadratic(xp)
    b = dd.minimize(fun, xp.asarray(x0, dtype=xp.float64), method, grad=grad, **kw)
    assert close(a.history.x, b.history.x, rtol=1e-10) and type(b.x) is array_type(xp)


def test_numeric_gradient_in_the_namespace(xp):
    a = both(log_cosh, xp, "lbfgs", max_iter=10)[0]
    fun, _, x0 = log_cosh(xp)
    c = dd.minimize(fun, xp.asarray(x0, dtype=xp.float64), "lbfgs", grad="numeric", max_iter=10)
    assert close(a.x, c.x, rtol=1e-6) and type(c.x) is array_type(xp)
    assert close(dd.numeric_grad(log_cosh(np)[0], np.array(x0)),
                 dd.numeric_grad(fun, xp.asarray(x0, dtype=xp.float64)))  # fmt: skip


def test_no_gradient_without_autodiff_warns_and_differences():
    fun, grad, x0 = log_cosh(xs)
    with pytest.warns(UserWarning, match="central differences"):
        res = dd.minimize(fun, xs.asarray(x0), "lbfgs", max_iter=10)
    ref = dd.minimize(fun, xs.asarray(x0), "lbfgs", grad=grad, max_iter=10)
    assert close(host(ref.x), res.x, rtol=1e-6)


def test_a_formula_converts_at_its_boundary():
    a = dd.minimize("(x-1)**2 + 3*y**2", [3.0, 1.0], "bb", max_iter=10)
    b = dd.minimize("(x-1)**2 + 3*y**2", xs.asarray([3.0, 1.0]), "bb", max_iter=10)
    assert type(b.x) is array_type(xs) and close(a.history.x, b.history.x)


@pytest.mark.parametrize("method", ["adam", "lbfgs", "prodigy", "schedulefree_adamw"])
def test_checkpoint_resume_is_bit_exact(tmp_path, method, xp):
    fun, grad, x0 = quadratic(xp)
    kw = dict(grad=grad, max_iter=20, gtol=0) | ({"lr": 0.05} if method in NEEDS_LR else {})
    start = lambda: xp.asarray(x0, dtype=xp.float32)  # noqa: E731  # float32: saved as float64
    full = dd.minimize(fun, start(), method, **kw)
    path = tmp_path / "run.npz"
    dd.minimize(fun, start(), method, checkpoint=path, **(kw | {"max_iter": 7}))
    res = dd.minimize(fun, start(), method, checkpoint=path, resume=True, **kw)
    assert res.x.dtype == xp.float32 and np.array_equal(host(full.x), host(res.x))
    assert np.array_equal(full.history.f, res.history.f)


def test_a_float32_checkpoint_is_not_resumed_as_float64(tmp_path, xp):
    fun, grad, x0 = quadratic(xp)
    path = tmp_path / "run.npz"
    dd.minimize(fun, xp.asarray(x0, dtype=xp.float32), "adam", grad=grad, lr=0.05, max_iter=3,
                checkpoint=path)  # fmt: skip
    with pytest.raises(ValueError, match="dtype"):
        dd.minimize(fun, xp.asarray(x0, dtype=xp.float64), "adam", grad=grad, lr=0.05,
                    max_iter=9, checkpoint=path, resume=True)  # fmt: skip


# Bad input -------------------------------------------------------------------------------


def test_dtype_rule(xp):
    fun, grad, _ = quadratic(xp)
    kw = dict(grad=lambda x: grad(xp.astype(x, xp.float64)), lr=0.1, max_iter=2)
    ints = dd.minimize(lambda x: fun(xp.astype(x, xp.float64)), xp.asarray([0, 2, -1, 3]), "gd",
                       **kw)  # fmt: skip
    assert ints.x.dtype == xp.float64  # integers become float64, as in NumPy
    single = dd.minimize(fun, xp.asarray([0.0, 2.0, -1.0, 3.0], dtype=xp.float32), "gd",
                         grad=grad, lr=0.1, max_iter=2)  # fmt: skip
    assert single.x.dtype == xp.float32  # kept, and grad's float64 cast to it
    if hasattr(xp, "float16"):
        half = xp.asarray([0.0, 2.0, -1.0, 3.0], dtype=xp.float16)
        assert dd.minimize(fun, half, "gd", grad=grad, lr=0.1, max_iter=2).x.dtype == xp.float32
    with pytest.raises(TypeError, match="x0 must hold real numbers"):
        dd.minimize(fun, xp.asarray([1 + 2j]), "gd", grad=grad)


def test_mixed_namespaces_name_both_types():
    fun, grad, x0 = quadratic(xs)
    message = r"grad returned numpy\.ndarray for x of type array_api_strict"
    with pytest.raises(TypeError, match=message):
        dd.minimize(fun, xs.asarray(x0), "gd", grad=lambda x: np.ones(4), lr=0.1)
    with pytest.raises(TypeError, match=r"fun returned numpy\.ndarray .*array_api_strict"):
        dd.minimize(lambda x: np.ones(1), xs.asarray(x0), "gd", grad=grad, lr=0.1)
    with pytest.raises(TypeError, match=r"project returned numpy\.ndarray .*array_api_strict"):
        dd.minimize(fun, xs.asarray(x0), "gd", grad=grad, lr=0.1, project=lambda x: np.ones(4))


def test_device_mismatch_names_both_devices():
    fun, grad, x0 = quadratic(xs)
    other = xs.Device("device1")
    with pytest.raises(ValueError, match=r"device1.*CPU_DEVICE"):
        dd.minimize(fun, xs.asarray(x0), "gd", grad=lambda x: xs.asarray(grad(x), device=other))


def test_what_stays_numpy_only_says_so():
    fun, grad, x0 = quadratic(xs)
    with pytest.raises(ValueError, match=r"explain=True records the parts .* NumPy"):
        dd.minimize(fun, xs.asarray(x0), "adam", grad=grad, explain=True)
    rows = xs.asarray(np.ones((6, 4)))
    with pytest.raises(TypeError, match=r"data=.* cannot go with an x0 of array_api_strict"):
        dd.minimize(lambda w, X: fun(w), xs.asarray(x0), "adam", grad=lambda w, X: grad(w),
                    data=(rows,), batch_size=2)  # fmt: skip


# Automatic differentiation in the namespace (where the library is installed) ------------


def test_torch_without_grad_differentiates_with_torch_func():
    torch = pytest.importorskip("torch")
    x0 = torch.tensor([3.0, 1.0, -2.0], dtype=torch.float64, requires_grad=True)
    fun, grad, _ = log_cosh(array_api_compat.array_namespace(x0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to central differences
        res = dd.minimize(fun, x0, "lbfgs", max_iter=10)
    ref = dd.minimize(fun, x0, "lbfgs", grad=grad, max_iter=10)
    assert not res.x.requires_grad and x0.grad is None
    assert close(host(ref.x.detach()), res.x.detach())


def test_jax_without_grad_differentiates_with_jax():
    jnp = pytest.importorskip("jax.numpy")
    x0 = jnp.asarray([3.0, 1.0, -2.0], dtype=jnp.float32)
    res = dd.minimize(log_cosh(jnp)[0], x0, "bb", max_iter=10)
    ref = dd.minimize(log_cosh(np)[0], np.array([3.0, 1.0, -2.0]), "bb", grad=log_cosh(np)[1],
                      max_iter=10)  # fmt: skip
    assert type(res.x) is type(x0) and close(ref.x, np.asarray(res.x), rtol=1e-4)


@pytest.mark.parametrize("method", ["gd", "adam", "bb"])
def test_xtol_and_ftol_stop_where_numpys_do(method, xp):
    kw = dict(max_iter=2000, gtol=0, xtol=1e-9, ftol=1e-300) | (
        {"lr": 0.05} if method != "bb" else {}
    )
    a, b = both(quadratic, xp, method, **kw)
    assert a.status == b.status == "converged" and a.nit == b.nit and a.message == b.message
