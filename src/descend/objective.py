"""Turn what the user gave (a function and a gradient source) into one counted objective.

Below :func:`descend.minimize` everything works on one flat float array; the user's
functions see ``x`` in the shape of ``x0``. The objective is checked once, at the
start point, so that a bad function fails before any iteration runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._types import Array
from .differentiate import numeric_grad

GRAD_SOURCES = ("a callable", "'numeric'", "None")


class Objective:
    """``value(x)`` and ``value_and_grad(x)`` on flat arrays, counting evaluations.

    When ``maximize`` is true both are negated, so that the loop always descends.
    """

    def __init__(
        self,
        fun: Callable[..., Any],
        grad: Callable[..., Any] | str | None,
        shape: tuple[int, ...],
        maximize: bool = False,
    ) -> None:
        if not callable(fun):
            raise TypeError(
                f"fun must be a callable returning a float, got {type(fun).__name__} "
                f"{fun!r:.60}; define it with def or lambda"
            )
        self.fun = fun
        self.shape = shape
        self.size = int(np.prod(shape))
        self.sign = -1.0 if maximize else 1.0
        self.nfev = 0
        self.ngev = 0
        self._reshape = len(shape) != 1
        self._grad = self._gradient_source(grad)

    def _gradient_source(self, grad: Any) -> Callable[[Array], Any]:
        if callable(grad):
            return grad
        if grad is None:
            warnings.warn(
                f"no gradient given: using central differences, {2 * self.size} evaluations of "
                "fun per step; pass grad=... for exact gradients and speed, or grad='numeric' "
                "to silence this warning",
                UserWarning,
                stacklevel=4,
            )
            grad = "numeric"
        if grad == "numeric":
            return self._numeric_grad
        raise ValueError(
            f"grad must be {', '.join(GRAD_SOURCES)}, got {grad!r}; for example "
            "grad=lambda x: 2 * x, or grad='numeric' for finite differences"
        )

    def _numeric_grad(self, x: Array) -> Array:
        if not np.isfinite(x).all():  # a diverged point: let the loop report it
            return np.full(x.shape, np.nan)
        self.nfev += 2 * self.size
        return numeric_grad(self.fun, x)

    def _user(self, x: Array) -> Array:
        return x.reshape(self.shape) if self._reshape else x

    def value(self, x: Array) -> float:
        """f(x) (negated when maximising)."""
        self.nfev += 1
        return self.sign * float(self.fun(self._user(x)))

    def value_and_grad(self, x: Array) -> tuple[float, Array]:
        """f(x) and its gradient as a flat array (both negated when maximising)."""
        xu = x.reshape(self.shape) if self._reshape else x  # inlined: this runs every update
        self.nfev += 1
        self.ngev += 1
        f = float(self.fun(xu))
        g = np.asarray(self._grad(xu), dtype=float)
        if g.shape != x.shape:
            if g.shape != self.shape and not (self.shape == () and g.size == 1):
                raise ValueError(
                    f"grad returned an array of shape {g.shape} for x of shape {self.shape}; "
                    "it must return the gradient in the shape of x"
                )
            g = g.reshape(x.shape)
        if self.sign < 0:
            return -f, -g
        return f, g

    def start(self, x0: Array) -> tuple[float, Array]:
        """``value_and_grad(x0)``, checking in words that fun and grad can be minimised."""
        value = self.fun(self._user(x0))
        kind = "U" if isinstance(value, str) else np.asarray(value).dtype.kind
        if kind not in "biuf":
            raise TypeError(
                f"fun must return a real number, got {type(value).__name__} {value!r:.60}"
            )
        if np.size(value) != 1:
            raise ValueError(
                f"fun must return a scalar, got an array of shape {np.shape(value)}; "
                "reduce it, e.g. with np.sum(...) or x @ x"
            )
        if np.ndim(value) > 0:  # a one-element array, as x**2 gives for x0=[5.0]: accept it
            fun = self.fun
            self.fun = lambda x: fun(x).item()
        if not np.isfinite(value).all():
            raise ValueError(f"fun returned {value!r} at x0; start where f is finite")
        f, g = self.value_and_grad(x0)
        if not np.isfinite(g).all():
            raise ValueError(f"grad returned non-finite values at x0: {g!r:.80}")
        return f, g
