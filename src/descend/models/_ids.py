"""Ids for :class:`descend.models.MatrixFactorization`: one kind per column, checked.

A fit's user ids are all integers (Python or NumPy integers, or floats of integral
value) or all strings; its item ids likewise, each column on its own. Anything else is
refused in words, naming the call, the column and the first offending value: a mix of
kinds (NumPy would turn ``[0, "0"]`` into two equal strings, merging two users), a
missing id (None, NaN), a float that is not an integer, a boolean or another object.
Later calls (``predict``, ``score``, ``recommend``, ``fit``'s ``validation``) must pass
ids of the fit's kind: a string on a model fitted with integer ids is refused, not
silently taken for an id never seen.

>>> ids = checked([3, 1.0, 3], "user ids (users)", "fit")
>>> ids, index(ids)
(array([3, 1, 3]), (array([1, 3]), array([1, 0, 1])))
>>> checked([0, "0"], "user ids (users)", "fit")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: fit: user ids (users) mix integers and strings: 0 at position 0 and '0' at ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array", "checked", "index", "rows"]

Array = np.ndarray

_KINDS = "ids must be integers (Python or NumPy) or strings"


def array(values: Any) -> Array:
    """``values`` as an array: an array-like with a dtype as it is, anything else (a
    list, a DataFrame) through object dtype, so that no id changes kind on the way."""
    # np.asarray([0, "0"]) would make both strings.
    return np.asarray(values) if hasattr(values, "dtype") else np.asarray(values, dtype=object)


def checked(values: Any, label: str, call: str) -> Array:
    """``values`` as a 1-D array of integer or string ids, all of one kind, checked.

    ``label`` names the column in messages ("user ids (users)"), ``call`` the caller.
    Integer and string arrays come back as they are (never written); lists, object
    arrays and integral floats become int64 or str arrays. Empty ids are int64.
    """
    ids = array(values)
    where = f"{call}: {label}"
    if ids.ndim != 1:
        raise ValueError(f"{where} must be a 1-D array of ids, got shape {ids.shape}")
    kind = ids.dtype.kind
    if not len(ids):
        return np.empty(0, dtype=np.int64)
    if kind in "iuU":
        return ids
    if kind == "f":
        return _integral(ids, where)
    if kind == "O":
        return _from_objects(ids, where)
    hint = "; decode them: ids.astype(str)" if kind == "S" else ""
    raise TypeError(f"{where} must hold integer or string ids, got dtype {ids.dtype}{hint}")


def _from_objects(ids: Array, where: str) -> Array:
    """An object array of ids as int64 or str, checked one Python type at a time."""
    types = {t: _kind(t) for t in set(map(type, ids))}
    kinds = set(types.values())
    others = [t for t, kind in types.items() if kind not in ("integer", "float", "string")]
    if others:
        at = min(_first(ids, t) for t in others)  # the first, whatever the set's order
        if ids[at] is None:
            raise ValueError(
                f"{where} hold a missing id, None at position {at}; drop those ratings first"
            )
        raise TypeError(
            f"{where} hold an id of type {type(ids[at]).__name__}, {_show(ids[at])} at "
            f"position {at}; {_KINDS}"
        )
    if "string" in kinds and len(kinds) > 1:
        number = min(_first(ids, t) for t, kind in types.items() if kind != "string")
        text = min(_first(ids, t) for t, kind in types.items() if kind == "string")
        raise TypeError(
            f"{where} mix integers and strings: {_show(ids[number])} at position {number} and "
            f"{_show(ids[text])} at position {text}; the ids of one column must be of one "
            "kind, so that 0 and '0' are neither merged nor confused: make them all str (if "
            "such pairs name the same thing) or all integers"
        )
    if "string" in kinds:
        return ids.astype(str)
    if "float" in kinds:
        return _integral(ids.astype(np.float64), where)
    try:
        return ids.astype(np.int64)
    except OverflowError:
        raise ValueError(f"{where} hold integers beyond int64; map them to smaller ids") from None


def _kind(t: type) -> str:
    """What values of a Python or NumPy type are as ids: "integer", "float", "string",
    or else the type's name."""
    if issubclass(t, (bool, np.bool_)):
        return "bool"
    if issubclass(t, (int, np.integer)):
        return "integer"
    if issubclass(t, (float, np.floating)):
        return "float"
    return "string" if issubclass(t, str) else t.__name__


def _first(ids: Array, t: type) -> int:
    """The position of the first id of type ``t``."""
    return next(k for k, value in enumerate(ids) if type(value) is t)


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _integral(ids: Array, where: str) -> Array:
    """Float ids as int64 when every one is a finite integer; else refused, naming one."""
    missing = ~np.isfinite(ids)
    if missing.any():
        at = int(np.argmax(missing))
        raise ValueError(
            f"{where} hold a missing id, {_show(ids[at])} at position {at} (NaN or "
            "infinite); drop those ratings first"
        )
    fractional = ids != np.round(ids)
    if fractional.any():
        at = int(np.argmax(fractional))
        raise ValueError(
            f"{where} hold ids that are not integers, {_show(ids[at])} at position {at}; {_KINDS}"
        )
    return ids.astype(np.int64)


def index(ids: Array) -> tuple[Array, Array]:
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


def rows(known: Array, ids: Array, what: str, call: str) -> Array:
    """The row of each of the checked ``ids`` among a fit's sorted ``known`` ids, -1
    where it is not there; ``what`` ("user ids") and ``call`` name them in messages.
    Ids of another kind than the fit's are refused."""
    if not len(ids):
        return np.empty(0, dtype=np.intp)
    fitted, given = _kind_of(known), _kind_of(ids)
    if fitted != given:
        raise TypeError(
            f"{call}: got {given} {what} (e.g. {_show(ids[0])}), but the model was fitted "
            f"with {fitted} {what} (e.g. {_show(known[0])}); pass {fitted}s (those not seen "
            "in fit contribute nothing of their own)"
        )
    at = np.searchsorted(known, ids).clip(max=len(known) - 1)
    return np.where(known[at] == ids, at, -1)


def _kind_of(ids: Array) -> str:
    return "integer" if ids.dtype.kind in "iu" else "string"
