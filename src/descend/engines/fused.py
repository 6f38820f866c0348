"""Fused kernels for the elementwise rules with state: one pass over memory per update.

NumPy runs Adam's update as about a dozen operations, each a pass over its operands;
:mod:`descend.core.optimizers.first_order` runs them block by block so that the
temporaries stay in cache, yet the blocks' loop and the operations' calls still cost
about 4x the time the rule's bytes take to move. Each kernel here reads every input once
and writes every output once, in one loop compiled by Numba: Adam on 10^7 elements takes
about 1.8x that memory floor instead of 4x (``benchmarks/overhead.py``, Part 2). The rules
are Momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW; GD's ``-lr * g`` is one NumPy
operation, one pass already, and a kernel for it measured no faster.

The kernels are the NumPy rules' twins, not approximations of them: each evaluates the
same IEEE operations in the same order (``g * g`` where NumPy squares, the scalars folded
as the rule folds them), without ``fastmath``, so that LLVM neither reorders nor fuses a
multiply and an add. ``error_model="numpy"`` makes a division by zero give inf or NaN,
as NumPy's does, instead of testing every divisor for Python's ZeroDivisionError, which
lets LLVM run the loop in SIMD lanes; each lane's division and square root are IEEE's,
correctly rounded, like NumPy's. The steps and states are therefore NumPy's bit for bit
(``tests/engines/test_fused.py`` checks every rule). Core calls them through the table of
:mod:`descend.core.optimizers.fused`, into which ``import descend`` registers a loader
that imports this module (and Numba) only when a long vector first needs it.

Each entry of :data:`KERNELS` is ``kernel(*arrays, *scalars) -> outputs``: the rule's
arrays, flat, C-contiguous float64 and of one length, in the order the rule takes them,
then its scalars as floats; it returns fresh arrays, in the order the rule returns them.
The outputs are allocated by NumPy (which asks Linux for huge pages on long arrays),
and the kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from descend._types import Array
from descend.core.optimizers.fused import Kernel

__all__ = ["KERNELS"]

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")  # and no fastmath


@_jit
def _momentum(g, v, v_new, lr, mu):
    for i in range(g.size):
        v_new[i] = mu * v[i] - lr * g[i]


@_jit
def _nesterov(g, v, step, v_new, lr, mu):
    for i in range(g.size):
        vi = mu * v[i] - lr * g[i]
        step[i] = mu * vi - lr * g[i]
        v_new[i] = vi


@_jit
def _adagrad(g, G, step, G_new, lr, eps):
    for i in range(g.size):
        Gi = G[i] + g[i] * g[i]
        step[i] = -lr * g[i] / (np.sqrt(Gi) + eps)
        G_new[i] = Gi


@_jit
def _rmsprop(g, v, step, v_new, lr, rho, eps):
    for i in range(g.size):
        vi = rho * v[i] + (1 - rho) * (g[i] * g[i])
        step[i] = -lr * g[i] / (np.sqrt(vi) + eps)
        v_new[i] = vi


@_jit
def _adam(g, m, v, step, m_new, v_new, lr_t, eps_t, beta1, beta2):
    for i in range(g.size):
        mi = beta1 * m[i] + (1 - beta1) * g[i]
        vi = beta2 * v[i] + (1 - beta2) * (g[i] * g[i])
        step[i] = -lr_t * mi / (np.sqrt(vi) + eps_t)
        m_new[i] = mi
        v_new[i] = vi


@_jit
def _adamw(g, m, v, x, step, m_new, v_new, lr_t, eps_t, beta1, beta2, decay):
    for i in range(g.size):
        mi = beta1 * m[i] + (1 - beta1) * g[i]
        vi = beta2 * v[i] + (1 - beta2) * (g[i] * g[i])
        step[i] = -lr_t * mi / (np.sqrt(vi) + eps_t) - decay * x[i]
        m_new[i] = mi
        v_new[i] = vi


def _fused(loop: Callable[..., None], inputs: int, outputs: int) -> Kernel:
    """``loop`` (which writes into its output arguments) as ``kernel(*arrays, *scalars)``
    returning ``outputs`` fresh arrays."""

    def kernel(*args: Any) -> tuple[Array, ...]:
        out = tuple(np.empty_like(args[0]) for _ in range(outputs))
        loop(*args[:inputs], *out, *args[inputs:])
        return out

    kernel.__name__ = loop.__name__.lstrip("_")
    return kernel


# rule name -> kernel; arrays as the rule takes them: (g, state arrays..., x for AdamW).
KERNELS: dict[str, Kernel] = {
    "momentum": _fused(_momentum, 2, 1),
    "nesterov": _fused(_nesterov, 2, 2),
    "adagrad": _fused(_adagrad, 2, 2),
    "rmsprop": _fused(_rmsprop, 2, 2),
    "adam": _fused(_adam, 3, 3),
    "adamw": _fused(_adamw, 4, 3),
}
