"""The data-pass kernels: the NumPy references against independent truth, and the
compiled kernels against the references."""

import subprocess
import sys

import numpy as np
import pytest

import descend as dd
from descend.models import _linear_kernels
from descend.models._linear_kernels import (
    least_squares,
    least_squares_reference,
    sgd_epoch,
    sgd_epoch_reference,
)

RTOL = 1e-10


def problem(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = (X @ rng.normal(size=d) + rng.normal(size=n)).astype(dtype)
    return X, y, rng.normal(size=d), float(rng.normal())


def two_pass(X, y, coef, intercept):
    r = X @ coef + intercept - y
    return r @ r, X.T @ r, r.sum()


def assert_same_least_squares(got, want, rtol=RTOL):
    scale = np.abs(want[1]).max() + abs(want[2])
    assert got[0] == pytest.approx(want[0], rel=rtol)
    np.testing.assert_allclose(got[1], want[1], rtol=rtol, atol=rtol * scale)
    assert got[2] == pytest.approx(want[2], rel=rtol, abs=rtol * scale)


def run_epoch(epoch, X, y, params, velocity, order, batch_size, **settings):
    """Run ``epoch`` on copies; return the new (params, velocity)."""
    params, velocity = np.array(params, dtype=float), np.array(velocity, dtype=float)
    settings = {"lr": 0.01, "momentum": 0.0, "alpha": 0.0, "fit_intercept": True} | settings
    epoch(X, y, params, velocity, order, batch_size, **settings)
    return params, velocity


def start(d, fit_intercept, seed=1):
    rng = np.random.default_rng(seed)
    size = d + 1 if fit_intercept else d
    return rng.normal(size=size), 0.1 * rng.normal(size=size)


# The references against independent truth -----------------------------------------------


@pytest.mark.parametrize("n, d", [(1, 1), (7, 3), (1000, 5), (2001, 40)])
def test_least_squares_reference_matches_the_two_pass_formula(monkeypatch, n, d):
    # Blocks of 7 rows: many blocks and a short last one.
    monkeypatch.setattr(_linear_kernels, "_BLOCK_BYTES", 7 * 8 * d)
    X, y, coef, intercept = problem(n, d)
    assert_same_least_squares(
        least_squares_reference(X, y, coef, intercept), two_pass(X, y, coef, intercept)
    )


def test_least_squares_by_hand():
    X, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0])
    # r = [1 + 0.5 - 1, 3 + 0.5 - 1] = [0.5, 2.5]
    for kernel in (least_squares, least_squares_reference):
        sse, grad, grad_intercept = kernel(X, y, np.array([1.0, 0.0]), 0.5)
        assert sse == 6.5
        np.testing.assert_array_equal(grad, [0.5 * 1 + 2.5 * 3, 0.5 * 2 + 2.5 * 4])
        assert grad_intercept == 3.0


@pytest.mark.parametrize("epoch", [sgd_epoch, sgd_epoch_reference])
def test_one_batch_step_by_hand(epoch):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = np.array([0.0, 9.0, 1.0])
    # Batch rows 2 and 0 at coef (1, -1), intercept 0.5: r = (-1.5, -0.5);
    # g = ((-1.5 (5, 6) - 0.5 (1, 2)) / 2 + 0.1 (1, -1), mean r) = (-3.9, -5.1, -1).
    # v = 0.5 (0.1, 0.2, 0.3) - 0.1 g = (0.44, 0.61, 0.25); params + v.
    params, velocity = run_epoch(
        epoch, X, y, [1.0, -1.0, 0.5], [0.1, 0.2, 0.3], np.array([2, 0]), 2,
        lr=0.1, momentum=0.5, alpha=0.1,
    )  # fmt: skip
    np.testing.assert_allclose(velocity, [0.44, 0.61, 0.25], rtol=1e-14)
    np.testing.assert_allclose(params, [1.44, -0.39, 0.75], rtol=1e-14)


@pytest.mark.parametrize("epoch", [sgd_epoch, sgd_epoch_reference])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_full_batch_epoch_is_one_gradient_step(epoch, fit_intercept):
    X, y, _, _ = problem(300, 6)
    params, _ = start(6, fit_intercept)
    lr, alpha = 0.05, 0.3
    coef, intercept = params[:6], params[6] if fit_intercept else 0.0
    _, grad, grad_intercept = two_pass(X, y, coef, intercept)
    g = grad / 300 + alpha * coef
    if fit_intercept:
        g = np.append(g, grad_intercept / 300)
    got, _ = run_epoch(
        epoch, X, y, params, np.zeros_like(params), np.arange(300), 300,
        lr=lr, alpha=alpha, fit_intercept=fit_intercept,
    )  # fmt: skip
    np.testing.assert_allclose(got, params - lr * g, rtol=RTOL)


@pytest.mark.parametrize("epoch", [sgd_epoch, sgd_epoch_reference])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_an_epoch_is_descends_own_momentum_update(epoch, momentum):
    X, y, _, _ = problem(50, 4)
    order = np.random.default_rng(2).permutation(50)
    x0, _ = start(4, True)
    opt = dd.Momentum(lr=0.05, momentum=momentum) if momentum else dd.GD(lr=0.05)
    x, state = x0.copy(), opt.init(x0)
    for batch in np.array_split(order, [16, 32, 48]):  # batches of 16, 16, 16 and 2
        _, grad, grad_intercept = two_pass(X[batch], y[batch], x[:4], x[4])
        step, state = opt.update(np.append(grad, grad_intercept) / len(batch), state)
        x = x + step
    got, _ = run_epoch(epoch, X, y, x0, np.zeros(5), order, 16, lr=0.05, momentum=momentum)
    np.testing.assert_allclose(got, x, rtol=1e-13)


# The compiled kernels against the references ---------------------------------------------


@pytest.fixture
def numba_kernels():
    pytest.importorskip("numba")
    kernels = _linear_kernels._compiled()
    assert kernels is not None
    return kernels


# least_squares leaves X smaller than a reference block to the reference; these
# call the compiled kernel directly, at every size.
@pytest.mark.parametrize("n, d", [(1, 1), (3, 2), (63, 1), (1000, 5), (517, 100)])
def test_compiled_least_squares_matches_the_reference(numba_kernels, n, d):
    X, y, coef, intercept = problem(n, d)
    assert_same_least_squares(
        numba_kernels[0](X, y, coef, intercept), least_squares_reference(X, y, coef, intercept)
    )


def test_least_squares_runs_the_compiled_kernel_on_large_input(numba_kernels, monkeypatch):
    X, y, coef, intercept = problem(3001, 64)  # 1.5 MB: past one reference block
    want = least_squares_reference(X, y, coef, intercept)
    monkeypatch.setattr(_linear_kernels, "least_squares_reference", None)  # not called
    assert_same_least_squares(least_squares(X, y, coef, intercept), want)


ORDERS = {
    "permutation": lambda n, rng: rng.permutation(n),
    "in order": lambda n, rng: np.arange(n),
    "with repeats, longer than n": lambda n, rng: rng.integers(0, n, size=n + n // 2),
    "shorter than n": lambda n, rng: rng.permutation(n)[: n // 3],
}


def standardisation(d, seed=5):
    """A shift and scale per column, far from 0 and 1."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), np.exp(rng.normal(size=d))


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("batch_size", [1, 7, 8, 61, 300, 1000])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("momentum, alpha", [(0.0, 0.0), (0.9, 0.1)])
@pytest.mark.parametrize("standardised", [False, True])
def test_compiled_sgd_epoch_matches_the_reference(
    numba_kernels, order, batch_size, fit_intercept, momentum, alpha, standardised
):
    # n = 700 is a multiple of no batch size; the kernel takes rows eight at a time,
    # then the rest (7 and 61 leave 7 and 5).
    X, y, _, _ = problem(700, 13)
    rows = ORDERS[order](700, np.random.default_rng(3))
    params, velocity = start(13, fit_intercept)
    settings = dict(lr=0.01, momentum=momentum, alpha=alpha, fit_intercept=fit_intercept)
    if standardised:
        shift, scale = standardisation(13)
        settings.update(shift=shift if fit_intercept else None, scale=scale)
    want = run_epoch(sgd_epoch_reference, X, y, params, velocity, rows, batch_size, **settings)
    got = run_epoch(sgd_epoch, X, y, params, velocity, rows, batch_size, **settings)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=RTOL * np.abs(w).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_standardised_epoch_is_the_epoch_on_standardised_rows(fit_intercept):
    # The oracle: X' = (X - shift) / scale written out, and the penalty on coef / scale,
    # that is (alpha / scale**2) on each coef' (one batch: the full gradient step).
    X, y, _, _ = problem(50, 4)
    shift, scale = standardisation(4)
    shift = shift if fit_intercept else np.zeros(4)
    params, velocity = start(4, fit_intercept)
    alpha, lr = 0.3, 0.05
    got = run_epoch(
        sgd_epoch, X, y, params, velocity, np.arange(50), 50, lr=lr, alpha=alpha,
        fit_intercept=fit_intercept, shift=shift, scale=scale,
    )  # fmt: skip
    Xs = (X - shift) / scale
    r = Xs @ params[:4] - y + (params[4] if fit_intercept else 0.0)
    grad = np.append(Xs.T @ r / 50 + alpha * params[:4] / scale**2, r.mean())
    step = -lr * grad[: len(params)]
    np.testing.assert_allclose(got[0], params + step, rtol=RTOL)
    np.testing.assert_allclose(got[1], step, rtol=RTOL, atol=1e-15)


# Other inputs: fallbacks, memmaps, nothing else written -------------------------------------


def refuse_to_compile(monkeypatch):
    """Make any use of the compiled kernels fail, to prove the reference ran."""

    def refuse(*args):
        raise AssertionError("the compiled kernel ran on input it should leave to NumPy")

    monkeypatch.setattr(_linear_kernels, "_compiled", lambda: (refuse, refuse))


FALLBACKS = {
    "float32": lambda X: X.astype(np.float32),
    "Fortran order": np.asfortranarray,
    "strided": lambda X: np.repeat(X, 2, axis=1)[:, ::2],
}


@pytest.mark.parametrize("kind", list(FALLBACKS))
def test_least_squares_leaves_other_layouts_to_the_reference(monkeypatch, kind):
    X, y, coef, intercept = problem(200, 5)
    want = least_squares_reference(X, y, coef, intercept)
    refuse_to_compile(monkeypatch)
    got = least_squares(FALLBACKS[kind](X), y, coef, intercept)
    assert_same_least_squares(got, want, rtol=1e-5 if kind == "float32" else RTOL)


@pytest.mark.parametrize("kind", list(FALLBACKS))
def test_sgd_epoch_leaves_other_layouts_to_the_reference(monkeypatch, kind):
    X, y, _, _ = problem(200, 5)
    params, velocity = start(5, True)
    order = np.random.default_rng(4).permutation(200)
    want = run_epoch(sgd_epoch_reference, X, y, params, velocity, order, 16)
    refuse_to_compile(monkeypatch)
    got = run_epoch(sgd_epoch, FALLBACKS[kind](X), y, params, velocity, order, 16)
    rtol = 1e-5 if kind == "float32" else RTOL
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol)


def test_sgd_epoch_takes_order_as_any_integer_sequence():
    X, y, _, _ = problem(100, 3)
    params, velocity = start(3, True)
    order = np.random.default_rng(7).permutation(100)
    want = run_epoch(sgd_epoch, X, y, params, velocity, order, 8)
    for same in (order.tolist(), order.astype(np.int32)):
        got = run_epoch(sgd_epoch, X, y, params, velocity, same, 8)
        np.testing.assert_array_equal(got[0], want[0])


def test_sgd_epoch_updates_float32_parameters_in_place(monkeypatch):
    X, y, _, _ = problem(100, 3)
    params, velocity = np.zeros(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
    refuse_to_compile(monkeypatch)
    sgd_epoch(X, y, params, velocity, np.arange(100), 10, 0.01, 0.9, 0.0, True)
    assert params.dtype == np.float32 and np.abs(params).max() > 0


def test_without_numba_the_reference_runs(monkeypatch):
    monkeypatch.setattr(_linear_kernels, "_compiled", lambda: None)
    X, y, coef, intercept = problem(300, 4)
    assert_same_least_squares(least_squares(X, y, coef, intercept), two_pass(X, y, coef, intercept))
    params, velocity = start(4, True)
    got = run_epoch(sgd_epoch, X, y, params, velocity, np.arange(300), 32)
    want = run_epoch(sgd_epoch_reference, X, y, params, velocity, np.arange(300), 32)
    np.testing.assert_array_equal(got[0], want[0])


def test_a_memmap_works(tmp_path):
    X, y, coef, intercept = problem(500, 6)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")  # read-only, C-contiguous float64
    assert_same_least_squares(
        least_squares(X_map, y, coef, intercept), two_pass(X, y, coef, intercept)
    )
    params, velocity = start(6, True)
    order = np.random.default_rng(5).permutation(500)
    got = run_epoch(sgd_epoch, X_map, y, params, velocity, order, 300)
    want = run_epoch(sgd_epoch_reference, X, y, params, velocity, order, 300)
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL)


def test_only_params_and_velocity_are_written():
    X, y, coef, intercept = problem(2000, 40)
    order = np.random.default_rng(6).integers(0, 2000, size=2500)
    inputs = [X, y, coef, order]
    copies = [a.copy() for a in inputs]
    for kernel in (least_squares, least_squares_reference):
        kernel(X, y, coef, intercept)
    params, velocity = start(40, True)
    for epoch in (sgd_epoch, sgd_epoch_reference):
        for batch_size in (8, 256):
            p, v = params.copy(), velocity.copy()
            epoch(X, y, p, v, order, batch_size, 0.01, 0.9, 0.1, True)
            assert not np.array_equal(p, params) and not np.array_equal(v, velocity)
    for a, copy in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(a, copy)


def test_bad_input_is_refused_in_words():
    X, y, coef, intercept = problem(10, 3)
    with pytest.raises(ValueError, match=r"y of shape \(10,\) and coef of shape \(3,\)"):
        least_squares(X, y[:5], coef, intercept)
    params, velocity = start(3, True)
    with pytest.raises(ValueError, match=r"params and velocity of shape \(4,\)"):
        sgd_epoch(X, y, params[:3], velocity, np.arange(10), 2, 0.1, 0.0, 0.0, True)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        sgd_epoch(X, y, params, velocity, np.arange(10), 0, 0.1, 0.0, 0.0, True)
    with pytest.raises(ValueError, match=r"order must hold row indices in \[0, 10\), got -1\.\.9"):
        sgd_epoch(X, y, params, velocity, np.arange(-1, 10), 2, 0.1, 0.0, 0.0, True)
    with pytest.raises(ValueError, match=r"scale must have shape \(3,\), one per column"):
        sgd_epoch(X, y, params, velocity, np.arange(10), 2, 0.1, 0.0, 0.0, True, scale=np.ones(2))
    with pytest.raises(ValueError, match="shift needs fit_intercept=True"):
        sgd_epoch(X, y, params[:3], velocity[:3], np.arange(10), 2, 0.1, 0.0, 0.0, False,
                  shift=np.ones(3))  # fmt: skip


def test_importing_descend_does_not_import_numba():
    code = "import sys, descend; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
