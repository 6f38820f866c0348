"""The compiled (Numba) kernels of :mod:`descend.models._factorization_kernels`.

Imported only by :func:`descend.models._factorization_kernels._compiled_factorization`,
the first time a kernel is needed, so that ``import descend`` never imports Numba.

They live at module level, not inside that function, so that Numba's disk cache
(``cache=True``) finds them again in the next process: a kernel that calls another
compiled function held in a closure (``residual``, ``add_shares``) gets a new cache key
in every process and was compiled afresh each time (about 1.5 s on the first fit).
Here the helpers are module globals, and a second process loads all of them from
``__pycache__`` in milliseconds.

One thread each: an epoch of SGD is sequential, and the summed loss scatters into rows
shared by every part of the data. See :mod:`descend.models._factorization_kernels` for
what each computes and the NumPy references they are tested against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["epoch_numba", "loss_numba", "predict_numba"]

_FASTMATH = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FASTMATH)
def residual(u, i, r, U, V, mean):
    e = mean + U[u, 0] + V[i, 0] - r
    for f in range(1, U.shape[1]):
        e += U[u, f] * V[i, f]
    return e


@njit(cache=True, fastmath=_FASTMATH)
def add_shares(e, u, i, U, V, gU, gV, reg):
    """gU[u] += e [1, q_i] + reg U[u] and gV[i] += e [1, p_u] + reg V[i]."""
    gU[u, 0] += e + reg * U[u, 0]
    gV[i, 0] += e + reg * V[i, 0]
    for f in range(1, U.shape[1]):
        gU[u, f] += e * V[i, f] + reg * U[u, f]
        gV[i, f] += e * U[u, f] + reg * V[i, f]


@njit(cache=True, fastmath=_FASTMATH)
def loss_numba(users, items, ratings, U, V, mean, reg):
    gU, gV, sse = np.zeros_like(U), np.zeros_like(V), 0.0
    count_U, count_V = np.zeros(U.shape[0]), np.zeros(V.shape[0])
    for j in range(ratings.shape[0]):
        u, i = users[j], items[j]
        e = residual(u, i, ratings[j], U, V, mean)
        sse += e * e
        gU[u, 0] += e
        gV[i, 0] += e
        for f in range(1, U.shape[1]):
            gU[u, f] += e * V[i, f]
            gV[i, f] += e * U[u, f]
        count_U[u] += 1.0
        count_V[i] += 1.0
    # Each rating's reg U[u] and reg V[i], added once per row: n_u reg U[u].
    penalty = 0.0
    for G, W, count in ((gU, U, count_U), (gV, V, count_V)):
        for r in range(W.shape[0]):
            c = count[r]
            for f in range(W.shape[1]):
                G[r, f] += c * reg * W[r, f]
                penalty += c * W[r, f] * W[r, f]
    return 0.5 * (sse + reg * penalty), gU, gV


@njit(cache=True, fastmath=_FASTMATH)
def epoch_numba(users, items, ratings, U, V, mean, order, batch_size, lr, reg):
    n, width = order.shape[0], U.shape[1]
    # The epoch's ratings gathered in visiting order first: these loads do not wait
    # on one another, while inside the update loop each would stall it (3-4x slower).
    us, its, rs = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)
    for k in range(n):
        j = order[k]
        us[k], its[k], rs[k] = users[j], items[j], ratings[j]
    if batch_size == 1:  # Funk's SGD: each rating's step at once, no gradient buffer
        for k in range(n):
            u, i = us[k], its[k]
            e = residual(u, i, rs[k], U, V, mean)
            b_u, b_i = U[u, 0], V[i, 0]
            U[u, 0] = b_u - lr * (e + reg * b_u)
            V[i, 0] = b_i - lr * (e + reg * b_i)
            for f in range(1, width):
                p, q = U[u, f], V[i, f]
                U[u, f] = p - lr * (e * q + reg * p)
                V[i, f] = q - lr * (e * p + reg * q)
        return
    gU, gV = np.zeros_like(U), np.zeros_like(V)  # zero again after every batch
    e = np.empty(batch_size)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        for k in range(start, stop):  # every residual at the batch's starting point
            e[k - start] = residual(us[k], its[k], rs[k], U, V, mean)
        for k in range(start, stop):
            add_shares(e[k - start], us[k], its[k], U, V, gU, gV, reg)
        # Step each touched row and zero its gradient; a row met again in the batch
        # then steps by lr * 0 and stays as it is.
        for k in range(start, stop):
            u, i = us[k], its[k]
            for f in range(width):
                U[u, f] -= lr * (gU[u, f] / m)
                V[i, f] -= lr * (gV[i, f] / m)
                gU[u, f] = 0.0
                gV[i, f] = 0.0


@njit(cache=True, fastmath=_FASTMATH)
def predict_numba(users, items, U, V, mean):
    out = np.empty(users.shape[0])
    for j in range(users.shape[0]):
        u, i = users[j], items[j]
        r = mean
        if u >= 0:
            r += U[u, 0]
        if i >= 0:
            r += V[i, 0]
        if u >= 0 and i >= 0:
            for f in range(1, U.shape[1]):
                r += U[u, f] * V[i, f]
        out[j] = r
    return out
