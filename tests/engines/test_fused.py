"""The fused kernels give the NumPy reference's steps and states, bit for bit.

Each elementwise rule with a kernel (all but GD) runs a few hundred updates on long
vectors (just past the size at which the kernels take over, and an odd size past it)
twice in lockstep: by its fused kernel, and by its NumPy reference
(``fused.reference()``, which runs the rule's NumPy closure block by block). The
gradients mix scales from 1e-3 to 1e3 with exact zeros, so that eps, clipping and the
moments' every regime are reached; every step and state array must agree in every bit
(signed zeros included), with and without ``clip_norm``, for several hyperparameter
settings and learning-rate schedules. Whole ``dd.minimize`` runs agree likewise, and
without Numba the reference runs, silently."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import descend as dd
from descend.core.optimizers import fused

# The kernels' tests; the fallback's run with or without Numba.
needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="no numba")

N = fused.MIN_SIZE  # the shortest vector the kernels take
ODD = fused.MIN_SIZE + 12_347  # an odd length, not a multiple of any SIMD width or block
UPDATES = 200

# Two hyperparameter settings per rule; the second has a schedule where it helps, so that
# the kernel's scalars change from one update to the next.
SETTINGS = {
    "momentum": [dict(lr=0.05, momentum=0.9), dict(lr=dd.schedules.exponential(0.3, 0.99))],
    "nesterov": [dict(lr=0.05, momentum=0.5), dict(lr=dd.schedules.cosine(0.1, steps=150))],
    "adagrad": [dict(lr=0.1), dict(lr=0.5, eps=1e-3)],
    "rmsprop": [dict(lr=1e-3, rho=0.99), dict(lr=0.01, rho=0.5, eps=1e-6)],
    "adam": [dict(lr=1e-3), dict(lr=dd.schedules.step(0.1, every=50), beta1=0.5, beta2=0.9)],
    "adamw": [dict(lr=1e-2, weight_decay=0.01), dict(lr=0.1, weight_decay=0.5, eps=1e-4)],
}
CASES = [
    pytest.param(name, i, clip, id=f"{name}-{i}-{'clip' if clip else 'noclip'}")
    for name, settings in SETTINGS.items()
    for i in range(len(settings))
    for clip in (False, True)
]


def gradients(n, seed):
    """UPDATES gradients of length n: normal, scaled by 10^[-3, 3] per coordinate, with
    about one coordinate in ten exactly zero (a zero second moment, where eps decides);
    eight draws, each rescaled as it recurs (drawing 200 would cost more than the test)."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-3, 3, size=n) * (rng.random(n) > 0.1)
    draws = [rng.normal(size=n) * scale for _ in range(8)]
    for k in range(UPDATES):
        yield draws[k % 8] * (1.0 + k / UPDATES)


def bits(a):
    """a's bit patterns: equal bits, not merely equal values (-0.0 differs from 0.0)."""
    return np.ascontiguousarray(a).view(np.int64)


def assert_same_bits(a, b):
    np.testing.assert_array_equal(bits(a), bits(b))


def assert_same_update(fused_run, reference_run):
    (step_f, state_f), (step_r, state_r) = fused_run, reference_run
    assert step_f.dtype == step_r.dtype == np.float64
    assert_same_bits(step_f, step_r)
    assert (state_f.t, state_f.lr) == (state_r.t, state_r.lr)
    for a, b in zip(state_f[2:], state_r[2:], strict=True):
        assert_same_bits(a, b)


@needs_numba
def test_the_kernels_load():
    """Else every comparison below would compare the reference with itself."""
    x = np.zeros(N)
    for name in SETTINGS:
        assert fused.kernel(name, x) is not None, name
    assert fused.kernel("gd", x) is None  # -lr * g is one pass already


@pytest.fixture
def kernels_run(monkeypatch):
    """The names of the kernels the rules ran, one per update, as they run them."""
    names, kernel = [], fused.kernel

    def spy(name, *arrays):
        found = kernel(name, *arrays)
        if found is not None:
            names.append(name)
        return found

    monkeypatch.setattr(fused, "kernel", spy)
    return names


@needs_numba
@pytest.mark.parametrize(("name", "setting", "clip"), CASES)
def test_fused_updates_equal_the_reference_bit_for_bit(name, setting, clip, kernels_run):
    hyper = SETTINGS[name][setting] | ({"clip_norm": 30.0} if clip else {})
    opt = dd.OPTIMIZERS[name](**hyper)
    n = ODD if setting else N
    rng = np.random.default_rng(1)
    x_f = x_r = rng.normal(size=n)
    state_f, state_r = opt.init(x_f), opt.init(x_r)
    clipped = 0
    for g in gradients(n, seed=setting):
        clipped += clip and np.linalg.norm(g) > 30.0
        step_f, state_f = opt.update(g, state_f, x_f)
        with fused.reference():
            step_r, state_r = opt.update(g, state_r, x_r)
        assert_same_update((step_f, state_f), (step_r, state_r))
        x_f, x_r = x_f + step_f, x_r + step_r
    assert state_f.t == UPDATES
    assert kernels_run == [name] * UPDATES  # the fused path ran, and only outside reference()
    assert clipped == (UPDATES if clip else 0)  # clipping acted on every update, or none


@needs_numba
@pytest.mark.parametrize("method", list(SETTINGS))
def test_minimize_on_a_long_quadratic_is_the_same_run(method, kernels_run):
    d = np.linspace(1.0, 10.0, ODD)

    def fun(x):
        return 0.5 * float(d @ (x - 1.0) ** 2)

    def grad(x):
        return d * (x - 1.0)

    hyper = {k: v for k, v in SETTINGS[method][0].items() if k != "lr"}
    kw = dict(grad=grad, lr=0.05, max_iter=60, gtol=0, **hyper)
    ran = dd.minimize(fun, np.zeros(ODD), method, **kw)
    with fused.reference():
        reference = dd.minimize(fun, np.zeros(ODD), method, **kw)
    assert ran.nit == reference.nit == 60
    assert kernels_run == [method] * 60
    assert_same_bits(ran.x, reference.x)
    assert_same_bits(ran.history.f, reference.history.f)
    assert_same_bits(ran.history.grad_norm, reference.history.grad_norm)
    assert ran.history.f[-1] < 0.5 * ran.history.f[0]  # it descended: the rule did run


@needs_numba
def test_a_matrix_keeps_its_shape_and_the_inputs_are_untouched(kernels_run):
    g = np.random.default_rng(2).normal(size=(N // 100 + 1, 100))
    opt = dd.AdamW(lr=0.1)
    _, state = opt.update(g, opt.init(g), g)
    before = [g.copy(), state.m.copy(), state.v.copy()]
    step, new = opt.update(g, state, g)
    with fused.reference():
        step_r, new_r = opt.update(g, state, g)
    assert kernels_run == ["adamw", "adamw"]
    assert step.shape == new.m.shape == new.v.shape == g.shape
    assert_same_update((step, new), (step_r, new_r))
    for a, b in zip([g, state.m, state.v], before, strict=True):
        assert_same_bits(a, b)  # the old state stays as it was: updates are pure


@needs_numba
def test_other_arrays_take_the_reference():
    x = np.linspace(-1.0, 1.0, 2 * N)
    assert fused.kernel("adam", x) is not None
    assert fused.kernel("adam", x[: N - 1]) is None  # short
    assert fused.kernel("adam", x[::2]) is None  # strided
    assert fused.kernel("adam", x.astype(np.float32)) is None
    assert fused.kernel("adam", x, x[:N]) is None  # shapes differ
    assert fused.kernel("no such rule", x) is None
    with fused.reference():
        assert fused.kernel("adam", x) is None
    xp = pytest.importorskip("array_api_strict")
    assert fused.kernel("adam", xp.asarray(x)) is None


def test_float32_and_array_api_vectors_run_the_reference():
    g = np.random.default_rng(3).normal(size=N).astype(np.float32).astype(np.float64)
    opt = dd.AdamW(lr=0.1, clip_norm=1.0)
    with fused.reference():
        expected, _ = opt.update(g, opt.init(g), g)
    g32 = g.astype(np.float32)
    step, _ = opt.update(g32, opt.init(g32), g32)
    # NumPy's float32 operations (the clipped gradient, its moments' terms) round to
    # 7 digits: the step is float64's to float32's rounding.
    np.testing.assert_allclose(step, expected, rtol=1e-5)
    xp = pytest.importorskip("array_api_strict")
    g_api = xp.asarray(g)
    step_api, state_api = opt.update(g_api, opt.init(g_api), g_api)
    assert isinstance(step_api, type(g_api)) and isinstance(state_api.m, type(g_api))
    # The namespace path clips by its own dot product, summed in another order than
    # NumPy's vdot: the norms, and so the steps, may differ in the last bits.
    np.testing.assert_allclose(np.asarray(step_api), expected, rtol=1e-12)


def test_register_fused_refuses_a_non_callable():
    with pytest.raises(TypeError, match="loader must be callable"):
        fused.register_fused("descend.engines.fused")


SCRIPT = """
import sys, warnings
warnings.simplefilter("error")
{setup}
import numpy as np
import descend as dd
from descend.core.optimizers import fused
g = np.random.default_rng(0).normal(size={n})
opt = dd.Adam(lr=0.1)
step, state = opt.update(g, opt.init(g))
with fused.reference():
    reference, _ = opt.update(g, opt.init(g))
print(bool((step.view(np.int64) == reference.view(np.int64)).all()),
      sys.modules.get("numba") is not None)
"""


def run(setup, n):
    code = SCRIPT.format(setup=setup, n=n)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(), done.stderr


def test_without_numba_the_reference_runs_silently():
    # sys.modules[name] = None makes "import numba" raise ImportError, as if absent.
    out, err = run("sys.modules['numba'] = None", n=2 * N)
    assert out == ["True", "False"] and err == ""


def test_short_vectors_never_load_numba():
    out, _ = run("", n=N - 1)
    assert out == ["True", "False"]
