"""What :class:`descend.models.MatrixFactorization` accepts: ids, triplets and ratings, checked.

``fit``, ``predict``, ``score`` and ``fit``'s ``validation`` take either three parallel
arrays ``(users, items, ratings)`` or scikit-learn's ``(X, ratings)`` with X of shape
(n, 2); ids of any kind (integers, strings) become row indices. The checks name the
caller and what was wrong, in words.

>>> users, items, ratings = _triplets(np.array([[7, 1], [9, 1]]), [4.0, 5.0], None, "fit")
>>> _index(users)
(array([7, 9]), array([0, 1]))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import _validate

__all__: list[str] = []

Array = np.ndarray


def _held_out(validation: Any, user_ids: Array, item_ids: Array) -> tuple[Array, Array, Array]:
    """The validation triple as rows (-1: unknown) and float ratings, checked."""
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise TypeError(
            "validation must be a tuple (users, items, ratings) or (X, ratings), got "
            f"{type(validation).__name__}"
        )
    first, second, *third = validation
    users, items, ratings = _triplets(first, second, third[0] if third else None, "validation")
    ratings = _ratings("validation ratings", ratings)
    return _rows(user_ids, users), _rows(item_ids, items), ratings


def _triplets(users: Any, items: Any, ratings: Any, call: str) -> tuple[Array, Array, Any]:
    """(users, items, ratings) from either form: three arrays, or X (n, 2) and ratings.

    ``call`` ("fit", "validation", "predict" or "score") names the caller in messages;
    predict has no ratings (None comes back).
    """
    predict = call == "predict"
    if items is None if predict else ratings is None:
        X = np.asarray(users)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(
                f"{call} takes (users, items{'' if predict else ', ratings'}) or X of shape "
                f"(n, 2) with columns [user, item], got X of shape {X.shape}"
            )
        users, items, ratings = X[:, 0], X[:, 1], items
    users, items = _ids("users", users), _ids("items", items)
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


def _ratings(name: str, values: Any) -> Array:
    """Ratings as a new 1-D float64 array of finite numbers (never the caller's)."""
    ratings = _validate.float_array(name, values)
    if ratings.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, one per (user, item) pair, got shape {ratings.shape}"
        )
    return ratings


def _ids(name: str, values: Any) -> Array:
    """Ids as a 1-D array of integers, strings or finite floats."""
    ids = np.asarray(values)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of ids, got shape {ids.shape}")
    if ids.dtype.kind not in "iufUSO":
        raise TypeError(f"{name} must hold integer or string ids, got dtype {ids.dtype}")
    if ids.dtype.kind == "f" and not np.isfinite(ids).all():
        raise ValueError(f"{name} holds NaN or infinite ids; drop those ratings first")
    return ids


def _index(ids: Array) -> tuple[Array, Array]:
    """The distinct ids, sorted, and the position of each id among them: np.unique's
    (values, inverse). Integers in a compact range are counted instead of sorted,
    about ten times faster on a million ratings."""
    if ids.dtype.kind in "iu":
        low, high = int(ids.min()), int(ids.max())
        if high - low < 4 * len(ids):
            present = np.zeros(high - low + 1, dtype=bool)
            present[ids - low] = True
            position = np.cumsum(present) - 1
            return np.flatnonzero(present).astype(ids.dtype) + low, position[ids - low]
    return np.unique(ids, return_inverse=True)


def _rows(known: Array, ids: Array) -> Array:
    """The row of each id among the sorted ``known`` ids, -1 where it is not there."""
    at = np.searchsorted(known, ids).clip(max=len(known) - 1)
    return np.where(known[at] == ids, at, -1)
