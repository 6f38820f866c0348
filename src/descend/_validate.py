"""Shared argument checks, so that every message has the same shape.

A message names the argument, says what was expected, shows what came in and,
where one exists, suggests a fix: ``lr must be a positive number or a schedule,
got -0.1``.
"""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np

from descend._types import Array


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the nearest choice, or ``""``."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def real_number(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise TypeError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating)):
        quoted = "; pass a number, not a string" if isinstance(value, str) else ""
        raise TypeError(f"{name} must be a real number, got {value!r}{quoted}")
    return float(value)


def positive(name: str, value: Any, fix: str = "") -> float:
    """Check that ``value`` is a finite number > 0."""
    number = real_number(name, value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}{fix}")
    return number


def nonnegative(name: str, value: Any, fix: str = "") -> float:
    """Check that ``value`` is a finite number >= 0."""
    number = real_number(name, value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}{fix}")
    return number


def in_unit_interval(name: str, value: Any) -> float:
    """Check that ``value`` lies in [0, 1), as a decay or momentum coefficient must."""
    number = real_number(name, value)
    if not 0 <= number < 1:
        raise ValueError(
            f"{name} must be in [0, 1), got {value!r}; values near 1 (e.g. 0.9) keep a long memory"
        )
    return number


def count(name: str, value: Any, minimum: int = 0) -> int:
    """Check that ``value`` is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}; write it without a point")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def boolean(name: str, value: Any) -> bool:
    """Check that ``value`` is True or False (a string such as "no" is not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def tolerance(name: str, value: Any) -> float | None:
    """A stopping tolerance: ``None`` or ``0`` disables the rule, else a finite number > 0."""
    if value is None:
        return None
    number = nonnegative(name, value, "; use None or 0 to disable the rule")
    return number or None


def is_sparse(value: Any) -> bool:
    """Whether ``value`` is a SciPy sparse matrix or array, without importing SciPy
    (whoever made one has imported it)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(value))


def float_array(name: str, value: Any) -> Array:
    """Return a new finite float64 array from ``value``; never a view of the caller's array."""
    if is_sparse(value):
        raise TypeError(
            f"{name} is a SciPy sparse matrix; {name} needs a dense array: pass {name}.toarray()"
        )
    try:
        raw = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise TypeError(
            f"{name} must be a number or a rectangular array, got {value!r:.80}"
        ) from error
    if raw.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a number or an array of real numbers, got {value!r:.80}"
            f" (dtype {raw.dtype})"
        )
    array = np.array(raw, dtype=np.float64)  # a copy: the caller's data is never touched
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r:.80}; replace NaN or inf entries")
    return array
