"""Data passes for the linear models: one read of X per gradient or per epoch.

On a large data matrix the cost of a gradient is the time to read X from memory;
the arithmetic (two flops per element for the residual, two for the gradient) is
cheap beside it. NumPy's two-pass form ``X.T @ (X @ w - y)`` reads X twice, so it
runs at half the speed the memory allows. The kernels here read each row once
and use it twice while it is still in cache:

- :func:`least_squares`: the full-batch sum of squared residuals and its gradient,
  r = X w + b - y, sse = r . r, grad_w = X^T r, grad_b = sum(r).
- :func:`sgd_epoch`: one epoch of mini-batch heavy-ball SGD on the mean squared
  error, the same update as :class:`descend.Momentum`, in place, optionally on
  standardised rows (x - shift) / scale without copying X. Each batch's rows
  are read straight from X in the shuffled order, never gathered into a copy, and
  eight at a time, so that eight rows' cache misses are waited for together.

They are what :class:`descend.models.LinearRegression` and
:class:`descend.models.LinearClassifier` run on (through the squared loss of
:mod:`descend.models._losses`); the matrix factorisation's kernels are in
:mod:`descend.models._factorization_kernels`.

Each comes twice: a compiled version (Numba, imported the first time it is needed,
so ``import descend`` never pays for it) and a plain NumPy reference with the same
signature, which the tests hold the compiled one to and which runs whenever Numba
is missing or the data are not C-contiguous float64 (a float32 or strided X, say;
a memmap is fine), and for an X small enough to sit in cache whole. A SciPy sparse X
never comes here: the losses take it through sparse products of their own.

>>> import numpy as np
>>> X, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0])
>>> sse, grad, grad_b = least_squares(X, y, np.array([1.0, 0.0]), 0.5)
>>> float(sse), grad, float(grad_b)  # r = [0.5, 2.5]
(6.5, array([ 8., 11.]), 3.0)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from descend._types import Array

from ._kernel_inputs import is_c_float64

__all__ = [
    "least_squares",
    "least_squares_reference",
    "sgd_epoch",
    "sgd_epoch_reference",
]

# The reference works in row blocks of about this many bytes: small enough that a
# block read for X_blk @ w is still in the last-level cache (tens of MiB) when
# X_blk.T @ r reads it again, large enough that NumPy's per-call overhead stays small
# and that BLAS shares each product among threads. On 2,000,000 x 64, 4 MiB blocks
# took 1.8-1.9x the time of X.sum(), 0.5-1 MiB blocks 2.0-2.3x, the two-pass form 2.1-2.3x.
_BLOCK_BYTES = 1 << 22

# The compiled least_squares splits X into this many row chunks, shared among the
# threads. X of at most _SMALL bytes goes to the reference instead: it sits in cache
# and is read once there too, and starting threads would cost more than the work.
_CHUNKS = 64
_SMALL = 1 << 19


def least_squares_reference(
    X: Array, y: Array, coef: Array, intercept: float
) -> tuple[float, Array, float]:
    """Squared residuals and their gradient, in cache-sized row blocks (NumPy).

    With r = X coef + intercept - y: ``sse = r . r``, ``grad_coef = X^T r`` and
    ``grad_intercept = sum(r)`` (the gradient of sse / 2). Each block of rows is
    read from memory once: ``X_blk @ coef`` brings it into cache and
    ``X_blk.T @ r_blk`` reuses it there (NumPy's ``X.T @ (X @ coef + intercept - y)``
    reads all of X twice).

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
    coef : array, shape (d,)
    intercept : float

    Returns
    -------
    sse : float
    grad_coef : array, shape (d,)
    grad_intercept : float
    """
    n, d = X.shape
    coef = np.asarray(coef, dtype=float)
    rows = max(1, _BLOCK_BYTES // max(1, X.itemsize * d))
    sse, grad_coef, grad_intercept = 0.0, np.zeros(d), 0.0
    for start in range(0, n, rows):
        block = X[start : start + rows]
        r = block @ coef
        r += intercept - y[start : start + rows]
        sse += float(r @ r)
        grad_coef += block.T @ r
        grad_intercept += float(r.sum())
    return sse, grad_coef, grad_intercept


def sgd_epoch_reference(
    X: Array,
    y: Array,
    params: Array,
    velocity: Array,
    order: Any,
    batch_size: int,
    lr: float,
    momentum: float,
    alpha: float,
    fit_intercept: bool,
    shift: Array | None = None,
    scale: Array | None = None,
) -> None:
    """One epoch of mini-batch heavy-ball SGD for ridge regression, in place (NumPy).

    ``params`` is coef (d values) followed by the intercept when ``fit_intercept``,
    the coefficients of the standardised rows x' = (x - shift) / scale (of the rows
    themselves when ``shift`` and ``scale`` are None). The batches are consecutive
    chunks of ``order`` (row indices; a short last chunk is kept). For each batch B,
    with r_i = x'_i . coef + intercept - y[i]:

        g = grad of (1/|B|) sum_B r_i**2 / 2 + alpha/2 ||coef / scale||**2
        velocity <- momentum * velocity - lr * g
        params <- params + velocity

    which is :class:`descend.Momentum`'s update (plain ``params - lr * g`` when
    ``momentum`` is 0). The penalty is on the coefficients of the rows as given,
    coef / scale (the intercept is not penalised). ``params`` and ``velocity`` are
    overwritten; nothing else is.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
    params, velocity : array, shape (d,) or (d + 1,)
    order : int array
        Row indices in visiting order; any length, repeats allowed.
    batch_size : int
    lr, momentum, alpha : float
    fit_intercept : bool
    shift, scale : array, shape (d,), optional
        The standardisation; None is shift 0 and scale 1. A shift needs
        ``fit_intercept`` (:func:`sgd_epoch` refuses one without it).
    """
    d = X.shape[1]
    shift = np.zeros(d) if shift is None else shift
    scale = np.ones(d) if scale is None else scale
    coef = params[:d]  # a view: updated with params
    g = np.empty(params.shape)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        X_b = (X[batch] - shift) / scale  # a random batch has to be gathered anyway
        r = X_b @ coef - y[batch]
        if fit_intercept:
            r += params[d]
            g[d] = r.mean()
        g[:d] = X_b.T @ r / len(batch) + alpha * coef / scale**2
        velocity[:] = momentum * velocity - lr * g
        params += velocity


@functools.cache
def _compiled() -> tuple[Any, Any] | None:
    """The Numba kernels ``(least_squares, sgd_epoch)``, or None without Numba.

    Compiled on first use and cached on disk (``cache=True``), so later processes
    load them in about a second.
    """
    try:
        from numba import njit, prange
    except ImportError:
        return None

    # reassoc lets LLVM vectorise the dot products (a sum in any order);
    # NaN and infinity keep their IEEE meaning.
    fastmath = {"reassoc", "contract"}

    @njit(cache=True, parallel=True, fastmath=fastmath)
    def least_squares_numba(X, y, coef, intercept):
        n, d = X.shape
        # Partial sums per chunk of rows, added at the end. A fixed number of chunks
        # (not one per thread) gives the same rounding however many threads run.
        # Plain loops only: Numba would run each array expression as a parallel
        # region of its own, and starting threads costs more than these sums.
        chunks = max(1, min(n, _CHUNKS))
        partial_grad = np.empty((chunks, d))
        partial_sse = np.empty(chunks)
        partial_sum = np.empty(chunks)
        for c in prange(chunks):
            g = partial_grad[c]
            for j in range(d):
                g[j] = 0.0
            sse, total = 0.0, 0.0
            for i in range(c * n // chunks, (c + 1) * n // chunks):
                row = X[i]
                r = intercept - y[i]
                for j in range(d):
                    r += row[j] * coef[j]
                for j in range(d):  # the row is still in L1: the one read of X
                    g[j] += r * row[j]
                sse += r * r
                total += r
            partial_sse[c] = sse
            partial_sum[c] = total
        grad = np.empty(d)
        sse, total = 0.0, 0.0
        for j in range(d):
            grad[j] = 0.0
        for c in range(chunks):
            for j in range(d):
                grad[j] += partial_grad[c, j]
            sse += partial_sse[c]
            total += partial_sum[c]
        return sse, grad, total

    # One thread: a batch of a few hundred rows is a few tens of µs of work, and
    # splitting every batch between threads made an epoch 100x slower at times
    # when another process held one of the two cores.
    # The standardisation costs O(d) a batch, not a copy of X: the residual of a row is
    # x' . coef + intercept = x . w + b with w = coef / scale and b = intercept - w .
    # shift, and the gradient in coef is (sum r x - shift sum r) / scale.
    @njit(cache=True, fastmath=fastmath)
    def sgd_epoch_numba(
        X, y, params, velocity, order, batch_size, lr, momentum, alpha, fit_intercept,
        shift, scale,
    ):  # fmt: skip
        d = X.shape[1]
        g = np.empty(params.shape[0])
        w = np.empty(d)
        for start in range(0, order.shape[0], batch_size):
            stop = min(start + batch_size, order.shape[0])
            g[:] = 0.0
            b = params[d] if fit_intercept else 0.0
            for j in range(d):
                w[j] = params[j] / scale[j]
                b -= w[j] * shift[j]
            # Eight rows at a time: rows come in random order, so the hardware
            # cannot fetch ahead, and one row's cache misses would be waited for
            # one after another; eight rows read side by side keep eight in
            # flight (about 1.7x faster). g is also read and written once per
            # eight rows instead of once per row.
            rest = start
            while rest + 8 <= stop:
                k = rest
                i0, i1, i2, i3 = order[k], order[k + 1], order[k + 2], order[k + 3]
                i4, i5, i6, i7 = order[k + 4], order[k + 5], order[k + 6], order[k + 7]
                x0, x1, x2, x3 = X[i0], X[i1], X[i2], X[i3]
                x4, x5, x6, x7 = X[i4], X[i5], X[i6], X[i7]
                r0, r1, r2, r3 = b - y[i0], b - y[i1], b - y[i2], b - y[i3]
                r4, r5, r6, r7 = b - y[i4], b - y[i5], b - y[i6], b - y[i7]
                for j in range(d):
                    c = w[j]
                    r0 += x0[j] * c
                    r1 += x1[j] * c
                    r2 += x2[j] * c
                    r3 += x3[j] * c
                    r4 += x4[j] * c
                    r5 += x5[j] * c
                    r6 += x6[j] * c
                    r7 += x7[j] * c
                for j in range(d):
                    g[j] += (r0 * x0[j] + r1 * x1[j] + r2 * x2[j] + r3 * x3[j]) + (
                        r4 * x4[j] + r5 * x5[j] + r6 * x6[j] + r7 * x7[j]
                    )
                if fit_intercept:
                    g[d] += (r0 + r1 + r2 + r3) + (r4 + r5 + r6 + r7)
                rest += 8
            for k in range(rest, stop):  # the last few rows, one at a time
                i = order[k]
                row = X[i]
                r = b - y[i]
                for j in range(d):
                    r += row[j] * w[j]
                for j in range(d):
                    g[j] += r * row[j]
                if fit_intercept:
                    g[d] += r
            m = stop - start
            for j in range(params.shape[0]):
                if j < d:  # the intercept is not penalised
                    gj = (g[j] - shift[j] * g[d]) / scale[j] if fit_intercept else g[j] / scale[j]
                    gj = gj / m + alpha * w[j] / scale[j]
                else:
                    gj = g[j] / m
                velocity[j] = momentum * velocity[j] - lr * gj
                params[j] += velocity[j]

    return least_squares_numba, sgd_epoch_numba


def least_squares(X: Array, y: Array, coef: Array, intercept: float) -> tuple[float, Array, float]:
    """Squared residuals and their gradient in one pass over X (compiled when it can be).

    The same quantities as :func:`least_squares_reference`: with
    r = X coef + intercept - y, ``sse = r . r``, ``grad_coef = X^T r`` and
    ``grad_intercept = sum(r)``. With Numba and a C-contiguous float64 X (a
    memmap is fine), each row's residual and its share of the gradient are
    computed together, in parallel over row chunks; otherwise the reference runs.

    Raises
    ------
    ValueError
        The shapes of X, y and coef disagree.
    """
    n, d = X.shape
    if np.shape(y) != (n,) or np.shape(coef) != (d,):
        raise ValueError(
            f"least_squares needs y of shape ({n},) and coef of shape ({d},) for X of shape "
            f"{X.shape}, got {np.shape(y)} and {np.shape(coef)}"
        )
    kernels = _compiled()
    if kernels is None or not is_c_float64(X) or X.nbytes <= _SMALL:
        return least_squares_reference(X, y, coef, intercept)
    y = np.ascontiguousarray(y, dtype=np.float64)  # O(n), beside O(n d) for X
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    sse, grad_coef, grad_intercept = kernels[0](np.asarray(X), y, coef, float(intercept))
    return float(sse), grad_coef, float(grad_intercept)


def sgd_epoch(
    X: Array,
    y: Array,
    params: Array,
    velocity: Array,
    order: Any,
    batch_size: int,
    lr: float,
    momentum: float,
    alpha: float,
    fit_intercept: bool,
    shift: Array | None = None,
    scale: Array | None = None,
) -> None:
    """One epoch of mini-batch heavy-ball SGD, in place (compiled when it can be).

    The update of :func:`sgd_epoch_reference` (that of :class:`descend.Momentum`
    on the mean squared error of each batch plus ``alpha/2 ||coef / scale||**2``,
    on rows standardised as (x - shift) / scale when those are given). With
    Numba, a C-contiguous float64 X and float64 ``params`` and ``velocity``, a
    batch's rows are read straight from X, never copied; otherwise the reference
    runs.

    Raises
    ------
    ValueError
        Shapes that disagree, ``batch_size`` < 1, or an index in ``order``
        outside ``[0, n)``.
    """
    n, d = X.shape
    size = d + 1 if fit_intercept else d
    if np.shape(y) != (n,) or np.shape(params) != (size,) or np.shape(velocity) != (size,):
        raise ValueError(
            f"sgd_epoch needs y of shape ({n},) and params and velocity of shape ({size},) "
            f"for X of shape {X.shape} (fit_intercept={fit_intercept}), got {np.shape(y)}, "
            f"{np.shape(params)} and {np.shape(velocity)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    order = np.asarray(order, dtype=np.int64).ravel()
    # The compiled loop does not check bounds: a bad index would read stray memory.
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError(
            f"order must hold row indices in [0, {n}), got {order.min()}..{order.max()}"
        )
    for name, values in (("shift", shift), ("scale", scale)):
        if values is not None and np.shape(values) != (d,):
            raise ValueError(
                f"{name} must have shape ({d},), one per column, got {np.shape(values)}"
            )
    if shift is not None and not fit_intercept and np.any(shift):
        raise ValueError(
            "shift needs fit_intercept=True: shifting the columns moves the intercept; "
            "pass shift=None to scale them alone"
        )
    kernels = _compiled()
    writeable = params.flags.writeable and velocity.flags.writeable
    if kernels is None or not is_c_float64(X, params, velocity) or not writeable:
        sgd_epoch_reference(
            X, y, params, velocity, order, batch_size, lr, momentum, alpha, fit_intercept,
            shift, scale,
        )  # fmt: skip
        return
    kernels[1](
        np.asarray(X),
        np.ascontiguousarray(y, dtype=np.float64),
        params,
        velocity,
        order,
        int(batch_size),
        float(lr),
        float(momentum),
        float(alpha),
        bool(fit_intercept),
        np.zeros(d) if shift is None else np.ascontiguousarray(shift, dtype=np.float64),
        np.ones(d) if scale is None else np.ascontiguousarray(scale, dtype=np.float64),
    )
