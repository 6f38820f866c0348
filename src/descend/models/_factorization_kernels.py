"""Data passes for the matrix factorisation: loss, SGD epoch and predictions on triplets.

The parameters are two row blocks, U (n_users, k + 1) and V (n_items, k + 1), each row a
bias followed by k factors: U[u] = [b_u, p_u], V[i] = [b_i, q_i]. A rating r of item i
by user u is predicted as mean + b_u + b_i + p_u . q_i, with residual e = prediction - r,
and costs

    l(U, V) = e**2 / 2 + reg/2 (||U[u]||**2 + ||V[i]||**2),

whose gradient touches two rows only:

    dl/dU[u] = e [1, q_i] + reg U[u],    dl/dV[i] = e [1, p_u] + reg V[i].

A batch's objective is the mean of l over its ratings; plain gradient descent on one
rating at a time is Funk's SGD, Surprise's SVD update. On (user, item, rating) triplets:

- :func:`factorization_loss`: the summed loss and its gradient;
- :func:`factorization_epoch`: one epoch of per-rating or mini-batch SGD, in place,
  touching only the rows each rating names;
- :func:`factorization_predict`: predictions, index -1 standing for an unknown user
  or item.

They are what :class:`descend.models.MatrixFactorization` runs on; the linear models'
kernels are in :mod:`descend.models._linear_kernels`.

Each comes twice: a compiled version (Numba, imported the first time it is needed,
so ``import descend`` never pays for it) and a plain NumPy reference with the same
signature, which the tests hold the compiled one to and which runs whenever Numba
is missing or U and V are not C-contiguous float64 (nor writeable, for an epoch). The
indices are checked here first, since the compiled kernels do not check bounds.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from descend._types import Array

from ._kernel_inputs import is_c_float64

__all__ = [
    "factorization_epoch",
    "factorization_epoch_reference",
    "factorization_loss",
    "factorization_loss_reference",
    "factorization_predict",
    "factorization_predict_reference",
]

# Ratings gathered at a time by the NumPy references (two (block, k + 1) gathers).
_RATING_BLOCK = 1 << 14


def factorization_loss_reference(
    users: Any, items: Any, ratings: Array, U: Array, V: Array, mean: float, reg: float
) -> tuple[float, Array, Array]:
    """The summed loss of the ratings and its gradient with respect to U and V (NumPy).

    Returns ``(sum of l, dsum/dU, dsum/dV)``, the gradients shaped like U and V; each
    rating's share is added in the order of the ratings (``np.add.at``).

    >>> U, V = np.array([[0.5, 1.0]]), np.array([[0.0, 2.0], [1.0, 0.0]])
    >>> loss, gU, gV = factorization_loss_reference(
    ...     np.array([0]), np.array([0]), np.array([4.0]), U, V, 3.0, 0.0)
    >>> float(loss), gU, gV  # e = 3 + 0.5 + 0 + 1 * 2 - 4 = 1.5
    (1.125, array([[1.5, 3. ]]), array([[1.5, 1.5],
           [0. , 0. ]]))
    """
    gU, gV, total = np.zeros_like(U), np.zeros_like(V), 0.0
    for start in range(0, len(ratings), _RATING_BLOCK):
        u, i = users[start : start + _RATING_BLOCK], items[start : start + _RATING_BLOCK]
        Uu, Vi = U[u], V[i]
        e = mean + Uu[:, 0] + Vi[:, 0] + np.einsum("ij,ij->i", Uu[:, 1:], Vi[:, 1:])
        e -= ratings[start : start + _RATING_BLOCK]
        total += float(e @ e) + reg * (float(np.vdot(Uu, Uu)) + float(np.vdot(Vi, Vi)))
        for grad, rows, own, other in ((gU, u, Uu, Vi), (gV, i, Vi, Uu)):
            share = e[:, None] * other
            share[:, 0] = e
            share += reg * own
            np.add.at(grad, rows, share)
    return 0.5 * total, gU, gV


def factorization_epoch_reference(
    users: Any,
    items: Any,
    ratings: Array,
    U: Array,
    V: Array,
    mean: float,
    order: Any,
    batch_size: int,
    lr: float,
    reg: float,
) -> None:
    """One epoch of mini-batch SGD on the factorisation loss, in place (NumPy).

    The batches are consecutive chunks of ``order`` (rating indices; a short last
    chunk is kept). For each batch B, with G the gradient of the summed loss of B
    (:func:`factorization_loss_reference`) at the current U and V:

        U <- U - lr * (G_U / |B|),    V <- V - lr * (G_V / |B|),

    :class:`descend.GD`'s step on the batch's mean loss, applied to the rows the
    batch touches (the others have a zero gradient). ``U`` and ``V`` are overwritten;
    nothing else is.
    """
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        rows_u, at_u = np.unique(users[batch], return_inverse=True)
        rows_i, at_i = np.unique(items[batch], return_inverse=True)
        _, gU, gV = factorization_loss_reference(
            at_u, at_i, ratings[batch], U[rows_u], V[rows_i], mean, reg
        )
        U[rows_u] -= lr * (gU / len(batch))
        V[rows_i] -= lr * (gV / len(batch))


def factorization_predict_reference(
    users: Any, items: Any, U: Array, V: Array, mean: float
) -> Array:
    """mean + b_u + b_i + p_u . q_i for each pair, leaving out what index -1 (unknown) lacks:
    an unknown user's bias and factors count as zero, and so do an unknown item's (NumPy).
    """
    out = np.empty(len(users))
    for start in range(0, len(users), _RATING_BLOCK):
        u, i = users[start : start + _RATING_BLOCK], items[start : start + _RATING_BLOCK]
        Uu, Vi = U[u] * (u >= 0)[:, None], V[i] * (i >= 0)[:, None]  # row -1: zeros
        out[start : start + _RATING_BLOCK] = (
            mean + Uu[:, 0] + Vi[:, 0] + np.einsum("ij,ij->i", Uu[:, 1:], Vi[:, 1:])
        )
    return out


@functools.cache
def _compiled_factorization() -> tuple[Any, Any, Any] | None:
    """The Numba kernels ``(loss, epoch, predict)``, or None without Numba.

    They are in :mod:`descend.models._factorization_compiled`, imported here on first
    use and cached on disk, so that only the first process on a machine compiles them.
    """
    try:
        from . import _factorization_compiled as compiled
    except ImportError:
        return None
    return compiled.loss_numba, compiled.epoch_numba, compiled.predict_numba


def _indices(name: str, values: Any, size: int, lowest: int = 0) -> Any:
    """``values`` as an int64 array of indices in [lowest, size), checked: the compiled
    kernels do not check bounds, and a bad index would read stray memory."""
    values = np.asarray(values, dtype=np.int64).ravel()
    if values.size and (values.min() < lowest or values.max() >= size):
        raise ValueError(
            f"{name} must hold indices in [{lowest}, {size}), got {values.min()}..{values.max()}"
        )
    return values


def _check_factors(U: Array, V: Array) -> None:
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1] or U.shape[1] < 1:
        raise ValueError(
            "U and V must be 2-D with the same number of columns (a bias, then the factors), "
            f"got shapes {U.shape} and {V.shape}"
        )


def _triplet_rows(users: Any, items: Any, ratings: Any, U: Array, V: Array) -> tuple[Any, Any]:
    """users and items as checked row indices of U and V, one per rating."""
    _check_factors(U, V)
    if not len(users) == len(items) == len(ratings):
        raise ValueError(
            f"users, items and ratings must have one length, got {len(users)}, {len(items)} "
            f"and {len(ratings)}"
        )
    return _indices("users", users, len(U)), _indices("items", items, len(V))


def factorization_loss(
    users: Any, items: Any, ratings: Array, U: Array, V: Array, mean: float, reg: float
) -> tuple[float, Array, Array]:
    """The summed loss and its gradient (compiled when it can be).

    The quantities of :func:`factorization_loss_reference`, in one pass over the
    ratings with Numba and C-contiguous float64 U and V; otherwise the reference runs.

    Raises
    ------
    ValueError
        Shapes that disagree, or an index outside U's or V's rows.
    """
    users, items = _triplet_rows(users, items, ratings, U, V)
    kernels = _compiled_factorization()
    if kernels is None or not is_c_float64(U, V):
        return factorization_loss_reference(users, items, ratings, U, V, mean, reg)
    ratings = np.ascontiguousarray(ratings, dtype=np.float64)
    loss, gU, gV = kernels[0](users, items, ratings, U, V, float(mean), float(reg))
    return float(loss), gU, gV


def factorization_epoch(
    users: Any,
    items: Any,
    ratings: Array,
    U: Array,
    V: Array,
    mean: float,
    order: Any,
    batch_size: int,
    lr: float,
    reg: float,
) -> None:
    """One epoch of mini-batch SGD on the factorisation loss, in place (compiled when it can be).

    The update of :func:`factorization_epoch_reference`. With Numba and writeable
    C-contiguous float64 U and V it touches only the rows each batch rates (one
    rating at a time, without a gradient buffer, when ``batch_size`` is 1); otherwise
    the reference runs, at about 100 µs a batch (minutes an epoch, one rating a
    step, on a million ratings).

    Raises
    ------
    ValueError
        Shapes that disagree, ``batch_size`` < 1, or an index out of range.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    users, items = _triplet_rows(users, items, ratings, U, V)
    order = _indices("order", order, len(ratings))
    kernels = _compiled_factorization()
    writeable = U.flags.writeable and V.flags.writeable
    if kernels is None or not is_c_float64(U, V) or not writeable:
        factorization_epoch_reference(users, items, ratings, U, V, mean, order, batch_size, lr, reg)
        return
    kernels[1](
        users,
        items,
        np.ascontiguousarray(ratings, dtype=np.float64),
        U,
        V,
        float(mean),
        order,
        int(batch_size),
        float(lr),
        float(reg),
    )


def factorization_predict(users: Any, items: Any, U: Array, V: Array, mean: float) -> Array:
    """mean + b_u + b_i + p_u . q_i for each pair, index -1 meaning unknown (compiled when
    it can be); see :func:`factorization_predict_reference`.

    >>> U, V = np.array([[0.5, 1.0]]), np.array([[0.25, 2.0]])
    >>> factorization_predict([0, -1, 0], [0, 0, -1], U, V, 3.0)  # known, new user, new item
    array([5.75, 3.25, 3.5 ])
    """
    _check_factors(U, V)
    users = _indices("users", users, len(U), lowest=-1)
    items = _indices("items", items, len(V), lowest=-1)
    if len(users) != len(items):
        raise ValueError(f"users and items must have one length, got {len(users)} and {len(items)}")
    kernels = _compiled_factorization()
    if kernels is None or not is_c_float64(U, V):
        return factorization_predict_reference(users, items, U, V, mean)
    return kernels[2](users, items, U, V, float(mean))
