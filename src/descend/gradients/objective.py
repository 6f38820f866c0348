"""Turn what the user gave into one counted objective with ``value`` and ``value_and_grad``.

The gradient comes from, in this order of preference:

- a callable ``grad`` from the user, or the ``.grad`` of an objective that has one
  (the test functions in :mod:`descend.functions`, parsed formulas);
- a formula string, whose exact gradient SymPy derives;
- automatic differentiation: autograd traces functions written with NumPy operators,
  ``numpy`` ufuncs or ``autograd.numpy``; JAX traces ``jax.numpy`` (when installed);
- central differences, 2n evaluations of f per gradient.

The choice is made once, at the start point, where a traced gradient is also checked
against a finite difference (a NumPy call that autograd cannot see, such as
``np.asarray``, would otherwise give a silently wrong gradient). Below
:func:`descend.minimize` everything works on one flat float array; the user's functions
see ``x`` in the shape of ``x0``.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from descend._caller import caller_level
from descend._types import Array
from descend.gradients.numeric import numeric_grad

GRAD_SOURCES = ("a callable", "'numeric'", "'autograd'", "'jax'", "None")
# A traced gradient passes when its directional derivative agrees with a central
# difference to this relative accuracy (central differences give ~1e-10 on smooth f).
TRACE_CHECK_RTOL = 1e-6
FLOAT32_CHECK_RTOL = 1e-2
# diagnose may differentiate fun numerically only up to this many coordinates.
NUMERIC_DIAGNOSIS_MAX_SIZE = 10

ValueAndGrad = Callable[[Any], tuple[Any, Any]]


class Trace(NamedTuple):
    """A try of automatic differentiation at x0, and what it cost."""

    pair: ValueAndGrad | None  # value_and_grad, or None when it failed
    failure: str  # why it failed ("" when it did not)
    nfev: int  # the calls of fun the trace and its check made (a failed call counts)
    ngev: int  # 1 when a gradient was computed, even one the check then refused


def counting(fun: Callable[..., Any]) -> tuple[Callable[..., Any], list[int]]:
    """``fun`` as a plain function that counts its calls in the list it comes with (a
    tracer calls it like any function, and JAX's jit keeps its name)."""
    calls = [0]

    @functools.wraps(fun)
    def counted(*args: Any) -> Any:
        calls[0] += 1
        return fun(*args)

    return counted, calls


class Objective:
    """``value(x)`` and ``value_and_grad(x)`` on flat arrays, counting evaluations.

    When ``maximize`` is true both are negated, so that the loop always descends.
    """

    def __init__(
        self,
        fun: Callable[..., Any] | str,
        grad: Callable[..., Any] | str | None,
        shape: tuple[int, ...],
        maximize: bool = False,
        variables: Sequence[str] | None = None,
        data: tuple[Array, ...] = (),
    ) -> None:
        self.formula: Any = None  # a parsed formula, which evaluates with NumPy
        self.xp: Any = np  # x's namespace (another in descend.core.namespaces.ForeignObjective)
        if isinstance(fun, str):
            if data:
                raise TypeError(
                    "data needs fun to be a function fun(x, *batch); a formula has no data "
                    "arguments"
                )
            fun = self.formula = _formula(fun, grad, variables, shape)
        elif variables is not None:
            raise TypeError("variables goes with a formula string; fun here is a function")
        if grad is None and callable(getattr(fun, "grad", None)):
            grad = fun.grad  # type: ignore[union-attr]  # test functions and formulas know theirs
        if not callable(fun):
            raise TypeError(
                f"fun must be a callable returning a float, or a formula string, got "
                f"{type(fun).__name__} {fun!r:.60}; define it with def or lambda"
            )
        self.fun = fun
        self.grad = grad
        self.shape = shape
        self.size = math.prod(shape)
        self.sign = -1.0 if maximize else 1.0
        self.data = data  # extra arguments of fun and grad: the full data in data mode
        self.nfev = 0
        self.ngev = 0
        self.source = ""  # how gradients are computed: set by start()
        self._reshape = len(shape) != 1
        self._pair: ValueAndGrad = self._user_pair

    # The gradient sources, each a function (xu, *data) -> (f, g) in the user's shape.
    def _user_pair(self, xu: Array, *args: Any) -> tuple[Any, Any]:
        return self.fun(xu, *args), self.grad(xu, *args)  # type: ignore[operator,misc]

    def _numeric_pair(self, xu: Array, *args: Any) -> tuple[Any, Any]:
        if not np.isfinite(xu).all():  # a diverged point: let the loop report it
            return math.nan, np.full(xu.shape, np.nan)
        self.nfev += 2 * self.size  # central differences
        return self.fun(xu, *args), numeric_grad(self.fun, xu, *args)

    def user_functions(self) -> tuple[Callable[..., Any] | None, Callable[..., Any] | str | None]:
        """fun and the gradient the run used, in the user's shape and sign (for diagnose).

        With finite differences beyond a few coordinates, none: each gradient would cost
        2n evaluations, and a curvature estimate needs dozens of gradients.
        """
        fun, pair, data = self.fun, self._pair, self.data
        if data:
            fun = lambda xu: self.fun(xu, *data)  # noqa: E731  # the full-data objective
        if self.source == "numeric":
            return (fun, "numeric") if self.size <= NUMERIC_DIAGNOSIS_MAX_SIZE else (None, None)
        return fun, lambda xu: np.asarray(pair(xu, *data)[1], dtype=float)

    def value(self, x: Array, batch: tuple[Array, ...] | None = None) -> float:
        """f(x) on ``batch`` (default: all the data; negated when maximising)."""
        self.nfev += 1
        args = self.data if batch is None else batch
        return self.sign * _real(self.fun(x.reshape(self.shape) if self._reshape else x, *args))

    def trials(self) -> Callable[[Array], float]:
        """``value`` for a line search's trials; with a ``many`` method, f at a list of
        points, when fun has one that takes them all in one go (Dask data: one pass)."""
        if getattr(self.fun, "many", None) is None:
            return self.value
        return _Trials(self)

    def values(self, points: list[Array]) -> list[float]:
        """f at each of ``points`` on all the data, through fun's ``many`` (one pass)."""
        self.nfev += len(points)
        shaped = [z.reshape(self.shape) if self._reshape else z for z in points]
        return [self.sign * _real(f) for f in self.fun.many(shaped, *self.data)]  # type: ignore[attr-defined]

    def value_and_grad(
        self, x: Array, batch: tuple[Array, ...] | None = None
    ) -> tuple[float, Array]:
        """f(x) and its gradient as a flat array on ``batch`` (default: all the data;
        both negated when maximising)."""
        self.nfev += 1
        self.ngev += 1
        args = self.data if batch is None else batch
        f, g = self._pair(x.reshape(self.shape) if self._reshape else x, *args)
        return self._checked(_real(f), g, x)

    def grad_at(self, x: Array, batch: tuple[Array, ...]) -> Array:
        """The gradient alone on ``batch``: a user's grad is called without fun."""
        if self.source != "grad":
            return self.value_and_grad(x, batch)[1]
        self.ngev += 1
        g = self.grad(x.reshape(self.shape) if self._reshape else x, *batch)  # type: ignore[operator,misc]
        return self._checked(0.0, g, x)[1]

    def _checked(self, f: float, g: Any, x: Array) -> tuple[float, Array]:
        """f and g as float and flat float64 array (negated when maximising)."""
        g = np.asarray(g)
        if g.dtype != np.float64:
            if g.dtype.kind not in "biuf":
                raise BadValue(
                    f"grad must return real numbers, got {g!r:.60} (dtype {g.dtype}); "
                    "return a float array in the shape of x"
                )
            g = g.astype(np.float64)
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
        """Check fun at x0, choose the gradient source, and return ``value_and_grad(x0)``
        (with the user's own gradient, from that one call of fun and one of grad)."""
        xu = x0.reshape(self.shape)
        value = self.fun(xu, *self.data)
        self.nfev += 1
        _check_value(value)
        if np.ndim(value) > 0:  # a one-element array, as x**2 gives for x0=[5.0]
            fun = self.fun
            self.fun = lambda x, *args: fun(x, *args).reshape(-1)[0]  # indexing traces
        self._choose_gradient(xu)
        if self.source == "grad":  # f(x0) is known: only the gradient is new
            self.ngev += 1
            g = self.grad(xu, *self.data)  # type: ignore[operator,misc]
            f, g = self._checked(float(np.reshape(value, -1)[0]), g, x0)
        else:
            f, g = self.value_and_grad(x0)
        if not np.isfinite(g).all():
            raise ValueError(f"grad returned non-finite values at x0: {g!r:.80}")
        return f, g

    def traced(self, trace: Trace) -> tuple[ValueAndGrad | None, str]:
        """The pair and the failure of ``trace``, its calls counted."""
        self.nfev, self.ngev = self.nfev + trace.nfev, self.ngev + trace.ngev
        return trace.pair, trace.failure

    def _choose_gradient(self, xu: Array) -> None:
        grad = self.grad
        if callable(grad):
            self.source = "grad"
            return
        if grad not in (None, "numeric", "autograd", "jax"):
            raise ValueError(
                f"grad must be {', '.join(GRAD_SOURCES)}, got {grad!r}; for example "
                "grad=lambda x: 2 * x, or grad='numeric' for finite differences"
            )
        if grad in ("autograd", "jax"):
            pair, failure = self.traced(_traced(grad, self.fun, xu, self.data))
            if pair is None:
                raise ValueError(f"grad={grad!r} cannot differentiate fun: {failure}")
            self._pair, self.source = pair, grad
            return
        if grad is None:
            reasons = []
            for backend in _available_backends():
                pair, failure = self.traced(_traced(backend, self.fun, xu, self.data))
                if pair is not None:
                    self._pair, self.source = pair, backend
                    return
                reasons.append(f"{backend}: {failure}")
            why = "; ".join(reasons) or "neither autograd nor JAX is installed"
            warnings.warn(
                f"no gradient given and automatic differentiation failed ({why}); using "
                f"central differences, {2 * self.size} evaluations of fun per step. Pass "
                "grad=..., or write fun with autograd.numpy, or grad='numeric' to silence this",
                UserWarning,
                stacklevel=caller_level(),
            )
        self._pair, self.source = self._numeric_pair, "numeric"


class BadValue(TypeError, ValueError):
    """fun or grad returned what is not a real number (or a scalar): at x0 before any work,
    later as the ending of the run, which returns the result so far."""


def _real(value: Any) -> float:
    """fun's value as a float, checked as at x0: a real scalar (a complex number, a string,
    None or a list is a BadValue, not a silent real part)."""
    if type(value) is float or type(value) is np.float64:  # the hot path: one test
        return float(value)
    _check_kind(value)
    return float(np.reshape(value, -1)[0])


def _check_kind(value: Any) -> None:
    kind = (
        "U"
        if isinstance(value, str)
        else np.asarray(value, dtype=object if value is None else None).dtype.kind
    )
    if kind not in "biuf":
        raise BadValue(f"fun must return a real number, got {type(value).__name__} {value!r:.60}")
    if np.size(value) != 1:
        raise BadValue(
            f"fun must return a scalar, got an array of shape {np.shape(value)}; "
            "reduce it, e.g. with np.sum(...) or x @ x"
        )


def _check_value(value: Any) -> None:
    """fun's value at x0 must be one finite real number."""
    _check_kind(value)
    if not np.isfinite(value).all():
        raise ValueError(f"fun returned {value!r} at x0; start where f is finite")


def _available_backends() -> list[str]:
    """autograd when installed; JAX only when the program has imported it already (a
    function written with jax.numpy cannot exist otherwise, and importing it is slow)."""
    backends = []
    try:
        import autograd  # noqa: F401
    except ImportError:
        pass
    else:
        backends.append("autograd")
    if "jax" in sys.modules:
        backends.append("jax")
    return backends


def _traced(
    backend: str, fun: Callable[..., Any], xu: Array, args: tuple[Array, ...] = ()
) -> Trace:
    """``value_and_grad`` from ``backend``, or why it failed, with the calls it made; the
    gradient is with respect to ``xu``, and ``args`` (the data) are passed along."""
    fun, calls = counting(fun)
    computed = 0  # gradients
    try:
        if backend == "autograd":
            import autograd

            pair: ValueAndGrad = autograd.value_and_grad(fun)
            f, g = pair(xu, *args)
            computed = 1
        else:
            import jax

            pair = jax.value_and_grad(fun)
            try:
                compiled = jax.jit(pair)
                f, g = compiled(xu, *args)
                pair = compiled
            except Exception:  # Python control flow on traced values: run it uncompiled
                f, g = pair(xu, *args)
            computed = 1
        dtype = np.asarray(g).dtype
        g = np.asarray(g, dtype=float)
    except ImportError:
        return Trace(None, f"{backend} is not installed (pip install {backend})", 0, 0)
    except Exception as error:  # tracing fails in many ways; all of them mean "cannot trace"
        return Trace(None, f"{type(error).__name__}: {error}", calls[0], computed)
    if g.shape != np.shape(xu) or not np.isfinite(g).all():
        return Trace(None, f"its gradient at x0 is {g!r:.60}", calls[0], computed)
    # JAX computes in float32 unless jax_enable_x64 is set: check it to float32 accuracy.
    rtol = TRACE_CHECK_RTOL if dtype == np.float64 else FLOAT32_CHECK_RTOL
    mismatch = _directional_mismatch(fun, xu, float(f), g, rtol, args)
    return Trace(None if mismatch else pair, mismatch, calls[0], computed)


def _directional_mismatch(
    fun: Callable[..., Any],
    xu: Array,
    f: float,
    g: Array,
    rtol: float = TRACE_CHECK_RTOL,
    args: tuple[Array, ...] = (),
) -> str:
    """Compare g . d with central differences along a fixed random direction d.

    The step starts at eps^(1/3) max(1, ||x||) and shrinks by 1e3 twice: a smaller step
    follows a strongly curved f near 0 (as log x is) and stays inside its domain. Any
    agreement passes (a wrong gradient disagrees at every step); if no step gives a
    finite difference the check cannot speak, and the traced gradient is trusted.
    """
    d = np.random.default_rng(0).standard_normal(np.shape(xu))
    d /= np.linalg.norm(d)
    traced = float(np.sum(g * d))
    tolerance = rtol * max(1.0, abs(f), float(np.linalg.norm(g)))
    h = np.finfo(float).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(xu)))
    seen = []
    for _ in range(3):
        with np.errstate(all="ignore"):
            numeric = (float(fun(xu + h * d, *args)) - float(fun(xu - h * d, *args))) / (2 * h)
        if abs(numeric - traced) <= tolerance:
            return ""
        if math.isfinite(numeric):
            seen.append(numeric)
        h *= 1e-3
    if not seen:
        return ""
    return (
        f"its directional derivative {traced:.6g} disagrees with finite differences "
        f"({seen[0]:.6g}); fun may call something the tracer cannot see (np.asarray, float())"
    )


def _formula(text: str, grad: Any, variables: Sequence[str] | None, shape: tuple[int, ...]) -> Any:
    """The parsed formula (it carries its exact gradient), checked against x0's length."""
    from descend.gradients.formulas import parse_cached

    formula = parse_cached(text, variables)
    if grad is not None:
        raise TypeError(
            f"grad must be None for a formula: its exact gradient is derived; got {grad!r:.60}"
        )
    if math.prod(shape) != len(formula.variables) or len(shape) > 1:
        raise ValueError(
            f"x0 must hold one value per variable of the formula {formula.variables}, "
            f"got shape {shape}"
        )
    return formula


class _Trials:
    """An objective's ``value``, with its ``values`` as ``many``."""

    __slots__ = ("many", "value")

    def __init__(self, objective: Objective) -> None:
        self.value, self.many = objective.value, objective.values

    def __call__(self, x: Array) -> float:
        return self.value(x)


class Remembering:
    """``value_and_grad`` that keeps its last answer, for a line search that evaluates the
    gradient at its trial points: the loop's evaluation of the accepted point (``x + step``,
    the very sum the search tried) is then answered without calling the user again."""

    __slots__ = ("answer", "pair", "x")

    def __init__(self, pair: Callable[[Array], tuple[float, Array]]) -> None:
        self.pair = pair
        self.x: Array | None = None
        self.answer: tuple[float, Array] = (math.nan, np.empty(0))

    def __call__(self, x: Array) -> tuple[float, Array]:
        if self.x is None or not _same_point(x, self.x):
            self.answer, self.x = self.pair(x), x
        return self.answer


def _same_point(x: Any, y: Any) -> bool:
    """Whether two flat points are equal, in their namespace (read from x's device)."""
    if isinstance(x, np.ndarray):
        return np.array_equal(x, y)
    return x.shape == y.shape and bool(array_api_compat.array_namespace(x).all(x == y))
