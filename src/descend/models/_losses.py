"""The losses the linear models minimise, with their gradients and a compiled SGD epoch.

Each loss is the objective of one call of :func:`descend.minimize` in data mode,

    L(W, b) = (1/n) sum_i loss(z_i, t_i) + (alpha/2) ||W||^2,    z_i = W x_i + b,

on one flat vector ``x = [W.ravel(), b]`` (the intercepts last, and only with
``fit_intercept``), called as ``fun(x, X, T)`` and ``grad(x, X, T)``. With ``shift``
and ``scale`` (``scale=True`` in the estimators) x holds the coefficients of the
standardised features x' = (x - shift) / scale instead, W' = W * scale and
b' = b + W . shift: the same model and the same L, penalty included (it stays on the
user's W), in better-conditioned coordinates. The data are never copied: f and the
gradient are computed in the user's units and the gradient is carried over by the
chain rule,

    dL/dW'_kj = (dL/dW_kj - dL/db_k shift_j) / scale_j,    dL/db' = dL/db.

- :class:`_Squared`: loss = ||z - t||^2 / 2, for :class:`descend.models.LinearRegression`
  and :class:`descend.models.LinearClassifier`. One target column runs through
  :mod:`descend.models._linear_kernels`, and its ``epoch_kernel`` hands minimize's data
  loop a compiled epoch of GD or heavy-ball steps.
- :class:`_Logistic` and :class:`_Softmax`: the binary and multinomial cross-entropy of
  :class:`descend.models.LogisticRegression`.
- :class:`_PerBlock`: any of them on data in blocks (Dask arrays), whose sums over the
  blocks :mod:`descend.engines.dask` adds up.

They live apart from the estimators (:mod:`descend.models.linear`), which pick one,
encode the targets for it, hand it to :func:`descend.minimize` and unpack its solution.

>>> import numpy as np
>>> loss = _Squared(n_features=1, n_outputs=1, alpha=0.0, fit_intercept=True)
>>> X, t = np.array([[1.0], [2.0]]), np.array([1.0, 3.0])
>>> loss(np.array([2.0, 0.0]), X, t), loss.grad(np.array([2.0, 0.0]), X, t)  # r = [1, 1]
(0.5, array([1.5, 1. ]))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import expit, log_softmax

from descend.core.optimizers import GD, Momentum

from . import _linear_kernels
from ._kernel_inputs import is_c_float64

Array = np.ndarray


# The losses, on packed parameters x = [W.ravel(), b]. minimize calls them as
# fun(x, X, T) and grad(x, X, T), T being the encoded targets of the batch X.


class _Loss:
    """(1/n) sum_i loss(z_i, t_i) + (alpha/2) ||W||^2 with z = X W^T + b, and its gradient.

    With dL/dz_i = e_i (``pointwise`` gives them): dL/dW = E^T X / n + alpha W and
    dL/db = sum_i e_i / n. ``fun`` and ``grad`` at the same point and batch share one
    evaluation (a line search calls ``fun`` at a point whose gradient comes next).
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        alpha: float,
        fit_intercept: bool,
        shift: Array | None = None,
        scale: Array | None = None,
    ):
        self.shape = (n_outputs, n_features)
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.size = n_outputs * n_features + (n_outputs if fit_intercept else 0)
        # The standardisation x' = (x - shift) / scale, or None for the user's own units.
        self.standardised = scale is not None
        self.shift = np.zeros(n_features) if shift is None else np.asarray(shift, dtype=float)
        self.scale = np.ones(n_features) if scale is None else np.asarray(scale, dtype=float)
        if not fit_intercept and np.any(self.shift):
            raise ValueError("shift needs fit_intercept=True: a shift moves the intercept")
        # The last evaluation: x (a copy), the batch arrays (kept alive, so that an
        # identity test cannot meet a recycled id), f and the gradient.
        self._last: tuple[Array, Array, Array, float, Array] | None = None

    def unpack(self, x: Array) -> tuple[Array, Array]:
        """W (n_outputs, n_features) and b (n_outputs,) in the user's units.

        Views of x where they can be (no standardisation); with it, W = W' / scale and
        b = b' - W . shift.
        """
        k, d = self.shape
        W = x[: k * d].reshape(k, d)
        b = x[k * d :] if self.fit_intercept else np.zeros(k)
        if not self.standardised:
            return W, b
        W = W / self.scale
        return W, (b - W @ self.shift if self.fit_intercept else b)

    def pack(self, W: Array, b: Array) -> Array:
        """The flat x for the user's W and b: the inverse of :meth:`unpack`."""
        W = np.asarray(W, dtype=float).reshape(self.shape)
        if self.standardised:
            W, b = W * self.scale, np.asarray(b) + W @ self.shift
        return np.concatenate([W.ravel(), np.ravel(b)]) if self.fit_intercept else W.ravel()

    def chain(self, grad_W: Array, grad_b: Array) -> Array:
        """The flat gradient in x's coordinates from dL/dW (k, d) and dL/db (k,) in the
        user's units (the chain rule through :meth:`unpack`)."""
        if self.standardised:
            grad_W = grad_W - np.outer(grad_b, self.shift) if self.fit_intercept else grad_W
            grad_W = grad_W / self.scale
        return np.concatenate([grad_W.ravel(), grad_b]) if self.fit_intercept else grad_W.ravel()

    def __call__(self, x: Array, X: Array, T: Array) -> float:
        return self._evaluate(x, X, T)[0]

    def grad(self, x: Array, X: Array, T: Array) -> Array:
        return self._evaluate(x, X, T)[1]

    def _evaluate(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        last = self._last
        if last is not None and last[1] is X and last[2] is T and np.array_equal(last[0], x):
            return last[3], last[4]
        f, g = self.value_and_grad(x, X, T)
        self._last = (np.array(x), X, T, f, g)
        return f, g

    def value_and_grad(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        W, b = self.unpack(x)
        n = X.shape[0]
        total, E = self.pointwise(X @ W.T + b, T.reshape(n, -1))
        f = total / n + 0.5 * self.alpha * float(np.vdot(W, W))
        return f, self.chain(E.T @ X / n + self.alpha * W, E.sum(axis=0) / n)

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        """The summed loss over the rows of scores Z (n, k) and targets T, and dloss/dZ."""
        raise NotImplementedError


class _Squared(_Loss):
    """loss = ||z - t||^2 / 2; dloss/dz = z - t.

    One target column of a dense X runs through :mod:`descend.models._linear_kernels`:
    one read of X per gradient, and for :class:`descend.GD` and :class:`descend.Momentum`
    a compiled epoch (:meth:`epoch_kernel`, which minimize's data loop looks for). A
    sparse X takes the base class's products, ``X @ W.T`` and ``E.T @ X``, and minimize's
    own loop.
    """

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        R = Z - T
        return 0.5 * float(np.vdot(R, R)), R

    def value_and_grad(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        if T.ndim != 1 or not isinstance(X, np.ndarray):  # several targets, or sparse X
            return super().value_and_grad(x, X, T)
        W, b = self.unpack(x)
        n, coef = len(X), W[0]
        sse, grad_coef, grad_b = _linear_kernels.least_squares(X, T, coef, float(b[0]))
        f = 0.5 * sse / n + 0.5 * self.alpha * float(coef @ coef)
        g = grad_coef / n + self.alpha * coef
        return f, self.chain(g[None, :], np.array([grad_b / n]))

    def epoch_kernel(
        self, x: Array, state: Any, optimizer: Any, order: Any, batch_size: int | None, *data: Any
    ) -> tuple[Array, Any] | None:
        """One epoch of GD or heavy-ball steps on the batches of ``order``, compiled.

        The same updates as minimize's own loop (velocity <- momentum velocity - lr g;
        x <- x + velocity), in standardised coordinates when the loss has them (the
        kernel standardises each row as it reads it), with the optimizer's state
        carried in and out: ``t`` advances by the number of batches. None (use the
        loop) for any other optimizer, a schedule, clipping, several target columns or
        an X that is not C-contiguous float64 (a sparse one). ``x`` and ``state`` are not
        modified.
        """
        kind = type(optimizer)
        if kind is not GD and kind is not Momentum:
            return None
        if callable(optimizer.lr) or optimizer.clip_norm is not None or len(data) != 2:
            return None
        X, y = data
        if not is_c_float64(X):
            return None
        if np.ndim(y) != 1:
            return None
        size = len(order) if batch_size is None else int(batch_size)
        lr = float(optimizer.lr)
        params = np.array(x, dtype=np.float64)
        if kind is Momentum:
            velocity, momentum = np.array(state.v, dtype=np.float64), float(optimizer.momentum)
        else:
            velocity, momentum = np.zeros_like(params), 0.0
        _linear_kernels.sgd_epoch(
            X, y, params, velocity, order, size, lr, momentum, self.alpha, self.fit_intercept,
            shift=self.shift if self.standardised else None,
            scale=self.scale if self.standardised else None,
        )  # fmt: skip
        t = state.t + math.ceil(len(order) / size)
        if kind is Momentum:
            return params, state._replace(t=t, lr=lr, v=velocity)
        return params, state._replace(t=t, lr=lr)


class _Logistic(_Loss):
    """loss = log(1 + e^z) - t z for t in {0, 1}; dloss/dz = sigmoid(z) - t."""

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        return float(np.sum(np.logaddexp(0.0, Z) - T * Z)), expit(Z) - T


class _Softmax(_Loss):
    """loss = logsumexp(z) - z . t for one-hot t; dloss/dz = softmax(z) - t."""

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        log_p = log_softmax(Z, axis=1)
        return -float(np.vdot(T, log_p)), np.exp(log_p) - T


class _PerBlock:
    """A loss on data in blocks of rows (Dask arrays), as :mod:`descend.engines.dask` sums it.

    On a mini-batch it is the loss itself, the batch's mean (as with NumPy data);
    ``per_block`` gives a block of n_b of the n rows its share n_b / n of the block's
    mean loss and of the penalty, so that the shares add up over the blocks to L.
    """

    def __init__(self, loss: _Loss, n: int) -> None:
        self.loss, self.n, self.grad = loss, n, loss.grad

    def __call__(self, x: Array, X: Array, T: Array) -> float:
        return self.loss(x, X, T)

    def per_block(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        f, g = self.loss.value_and_grad(x, X, T)
        share = X.shape[0] / self.n
        return share * f, share * g
