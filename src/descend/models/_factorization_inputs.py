"""What :class:`descend.models.MatrixFactorization` accepts: triplets and ratings, checked.

``fit``, ``score`` and ``fit``'s ``validation`` take three parallel arrays
``(users, items, ratings)``, scikit-learn's ``(X, ratings)`` with X of shape (n, 2), or
a SciPy sparse matrix R alone, users x items, whose stored entries are the ratings (the
ids are then R's row and column indices); ``predict`` takes ``(users, items)`` or X.
Ids are checked by :mod:`descend.models._ids` (integers or strings, one kind per
column). The checks name the caller and what was wrong, in words.

>>> users, items, ratings = _triplets(np.array([[7, 1], [9, 1]]), [4.0, 5.0], None, "fit")
>>> users, items
(array([7, 9]), array([1, 1]))
>>> R = sparse.csr_array(([4.0, 5.0], ([0, 2], [1, 1])), shape=(3, 2))
>>> _triplets(R, None, None, "fit")
(array([0, 2]), array([1, 1]), array([4., 5.]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from descend import _validate

from . import _ids

__all__: list[str] = []

Array = np.ndarray


def _held_out(validation: Any, user_ids: Array, item_ids: Array) -> tuple[Array, Array, Array]:
    """The validation ratings as rows (-1: unknown) and float ratings, checked."""
    if sparse.issparse(validation):
        validation = (validation, None)
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise TypeError(
            "validation must be a tuple (users, items, ratings) or (X, ratings), or a SciPy "
            f"sparse users x items matrix of ratings, got {type(validation).__name__}"
        )
    first, second, *third = validation
    users, items, ratings = _triplets(first, second, third[0] if third else None, "validation")
    ratings = _ratings("validation ratings", ratings)
    return (
        _ids.rows(user_ids, users, "user ids", "validation"),
        _ids.rows(item_ids, items, "item ids", "validation"),
        ratings,
    )


def _triplets(users: Any, items: Any, ratings: Any, call: str) -> tuple[Array, Array, Any]:
    """(users, items, ratings) from any form: three arrays, X (n, 2) and ratings, or a
    sparse ratings matrix; the ids checked.

    ``call`` ("fit", "validation", "predict" or "score") names the caller in messages;
    predict has no ratings (None comes back).
    """
    predict = call == "predict"
    source = ("users", "items")
    if sparse.issparse(users):
        users, items, ratings = _entries(users, items, ratings, call)
        source = ("R's rows", "R's columns")
    elif items is None if predict else ratings is None:
        X = _ids.array(users)
        if X.ndim != 2 or X.shape[1] != 2:
            hint = ""
            if X.ndim == 2 and not predict:
                hint = "; a users x items matrix of ratings goes in as a SciPy sparse matrix"
            raise ValueError(
                f"{call} takes (users, items{'' if predict else ', ratings'}) or X of shape "
                f"(n, 2) with columns [user, item], got X of shape {X.shape}{hint}"
            )
        users, items, ratings = X[:, 0], X[:, 1], items
        source = ("X[:, 0]", "X[:, 1]")
    users = _ids.checked(users, f"user ids ({source[0]})", call)
    items = _ids.checked(items, f"item ids ({source[1]})", call)
    lengths = [len(users), len(items)]
    if not predict:
        if ratings is None:
            raise ValueError(f"{call} needs ratings, one per (user, item) pair")
        lengths.append(len(np.atleast_1d(ratings)))
    if len(set(lengths)) > 1:
        names = "users and items" if predict else "users, items and ratings"
        raise ValueError(f"{call}: {names} must have one length, got lengths {lengths}")
    if not lengths[0] and not predict:
        raise ValueError(f"{call} needs at least one rating, got empty arrays")
    return users, items, ratings


def _entries(R: Any, items: Any, ratings: Any, call: str) -> tuple[Array, Array, Array]:
    """The stored entries of a SciPy sparse users x items matrix R: (rows, columns,
    values), duplicates added up (as ``R.toarray()`` would) and in row-major order, so
    that every sparse format of one matrix gives one fit. Explicit zeros are ratings."""
    if call == "predict":
        raise TypeError(
            "predict takes (users, items) or X of shape (n, 2), got a SciPy sparse matrix; "
            "to predict its stored entries: R = R.tocoo(); predict(R.row, R.col)"
        )
    if items is not None or ratings is not None:
        raise TypeError(
            f"{call} takes a SciPy sparse matrix alone, as the users x items matrix of "
            f"ratings ({call}(R)), but more arrays came with it"
        )
    if R.ndim != 2:
        raise ValueError(f"{call}: a sparse matrix of ratings must be 2-D, got shape {R.shape}")
    entries = R.tocoo(copy=True)  # R itself is never touched
    entries.sum_duplicates()
    return entries.row.astype(np.int64), entries.col.astype(np.int64), entries.data


def _ratings(name: str, values: Any) -> Array:
    """Ratings as a new 1-D float64 array of finite numbers (never the caller's)."""
    ratings = _validate.float_array(name, values)
    if ratings.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, one per (user, item) pair, got shape {ratings.shape}"
        )
    return ratings
