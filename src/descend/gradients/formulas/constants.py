"""Constants in a formula, valued in float64 arithmetic as they are built.

Never exactly, so never slowly: SymPy's ``evalf``, asked for ``exp(exp(exp(10)))``, would
try. A constant that is not a finite real number is reported by the parser at the node
that made it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["NotFinite", "approximate"]

Expr = Any  # a sympy.Expr


class NotFinite(Exception):
    """A constant that is not a finite real number; the message says which way."""


# Python's float functions for the SymPy functions a constant can hold.
_TRIG = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log")
_MATH: dict[str, Callable[[float], float]] = {name: getattr(math, name) for name in _TRIG}
_MATH["Abs"] = abs
_EXTREMES: dict[str, Callable[[Any], float]] = {"Max": max, "Min": min}
_TOO_LARGE = "too large for floating point (above 1.8e308)"


def approximate(sp: Any, expr: Expr, values: dict[Expr, float]) -> float:
    """A constant's value in float64 arithmetic, remembered in ``values``."""
    if expr in values:
        return values[expr]
    try:
        if expr.is_Rational:
            value: Any = expr.p / expr.q
        elif expr.is_Float:
            value = float(expr)
        elif expr in (sp.pi, sp.E):
            value = math.pi if expr is sp.pi else math.e
        elif expr.is_Add:
            value = math.fsum(approximate(sp, a, values) for a in expr.args)
        elif expr.is_Mul:
            value = math.prod(approximate(sp, a, values) for a in expr.args)
        elif expr.is_Pow:
            base, exponent = (approximate(sp, a, values) for a in expr.args)
            value = base**exponent  # complex for a negative base and a fractional exponent
        elif type(expr).__name__ in _EXTREMES:
            value = _EXTREMES[type(expr).__name__](approximate(sp, a, values) for a in expr.args)
        elif type(expr).__name__ in _MATH and len(expr.args) == 1:
            value = _MATH[type(expr).__name__](approximate(sp, expr.args[0], values))
        elif expr in (sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise NotFinite("undefined (a division by zero, log(0), ...)")
        else:
            raise NotFinite(f"not a real number ({expr})")
    except OverflowError:
        raise NotFinite(_TOO_LARGE) from None
    except (ZeroDivisionError, ValueError):  # math domain errors: log(-1), asin(2), 0**-1
        raise NotFinite(
            "undefined (a division by zero, or a function outside its domain)"
        ) from None
    if isinstance(value, complex):
        raise NotFinite("not a real number")
    if not math.isfinite(value):
        raise NotFinite(_TOO_LARGE)
    values[expr] = value
    return value
