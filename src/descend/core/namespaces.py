"""Array namespaces: x0's library (NumPy, PyTorch, CuPy, JAX, array-api-strict, ...) and
the few operations the loop needs beyond the array API's operators.

``namespace(x)`` is ``numpy`` itself for a NumPy array, so that the NumPy path runs the
very code it always ran; for any other array it is ``array_api_compat.array_namespace(x)``
(the standard's functions, on x's device). Everything else here exists for the other
namespaces: the start point's dtype rule, reading scalars from the device in one transfer,
the checks that a user's function answered in x's namespace and on its device, and the
objective that calls the user's functions there (:class:`ForeignObjective`).

The dtype rule for a non-NumPy ``x0`` (:func:`start_point`): float32 and float64 are kept;
integers and booleans become float64 (as NumPy's x0 does); float16 and bfloat16 become
float32, since their 3 significant digits cannot carry a step ``lr * g`` against ``x``;
complex numbers are refused. A NumPy ``x0`` (or a list or number) becomes float64, as ever.

Reads from the device per update: one for the elementwise rules (GD ... AdamW) and the
schedule-free ones, f with the squared norms of g, x, the projected gradient and the step
(:func:`read`); DoG and Prodigy add two (their step sizes are host numbers: a distance and
a dot product), a line search (Armijo, BB, L-BFGS) one per trial, ``on_divergence=
"rollback"`` one (its bounce test), ``grad="numeric"`` one (x checked finite). The history's
numbers are Python floats; its recorded x stay on the device during the run and become one
NumPy array at the end. Explain mode and ``data=`` are NumPy-only for now and say so.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from descend import _validate
from descend._caller import caller_level
from descend.gradients.numeric import is_foreign, numeric_grad
from descend.gradients.objective import BadValue, Objective, Trace, _traced, counting

__all__ = [
    "ForeignObjective",
    "check_same",
    "copy",
    "device",
    "dot",
    "from_host",
    "is_numpy",
    "namespace",
    "read",
    "reshaped",
    "start_point",
    "to_host",
    "vector_norm",
    "zeros_like",
]


def is_numpy(x: Any) -> bool:
    """Whether ``x`` is a NumPy array: the path that runs NumPy's own code."""
    return isinstance(x, np.ndarray)


def namespace(x: Any) -> Any:
    """The array namespace of ``x``: ``numpy`` itself for a NumPy array, else the
    array-API namespace of its library (``array_api_compat.array_namespace``).

    >>> import numpy as np
    >>> namespace(np.zeros(2)) is np
    True
    """
    if isinstance(x, np.ndarray) or not is_foreign(x):
        return np
    return array_api_compat.array_namespace(x)


def zeros_like(x: Any) -> Any:
    """Zeros shaped like ``x``: float64 for NumPy (as ever), x's dtype and device else."""
    xp = namespace(x)
    return np.zeros_like(x, dtype=float) if xp is np else xp.zeros_like(x)


def copy(x: Any) -> Any:
    """A float copy of ``x``: float64 for NumPy (as ever), x's dtype and device else."""
    xp = namespace(x)
    return np.array(x, dtype=float) if xp is np else xp.asarray(x, copy=True)


def device(x: Any) -> Any:
    """The device ``x`` lives on (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def reshaped(v: Any, shape: tuple[int, ...]) -> Any:
    """``v`` in ``shape``, in its own namespace (a view where it can be)."""
    return v.reshape(shape) if isinstance(v, np.ndarray) else namespace(v).reshape(v, shape)


def dot(a: Any, b: Any) -> float:
    """The dot product of two flat arrays, as a Python float (read from the device)."""
    if isinstance(a, np.ndarray):
        return float(np.vdot(a, b))
    return float(a @ b)


def vector_norm(v: Any) -> float:
    """The Euclidean norm of a flat array, as a Python float (read from the device)."""
    if isinstance(v, np.ndarray):
        return float(np.linalg.norm(v))
    return math.sqrt(float(v @ v))


def start_point(name: str, value: Any) -> Any:
    """A new, finite, floating copy of the start point, in its own namespace and on its
    own device (the dtype rule is in the module docstring); NumPy input, lists and numbers
    become float64 NumPy arrays exactly as before."""
    if not is_foreign(value):
        return _validate.float_array(name, value)
    xp = array_api_compat.array_namespace(value)
    if array_api_compat.is_torch_array(value):
        value = value.detach()  # a leaf with requires_grad would trace every update
    dtype = value.dtype
    if xp.isdtype(dtype, "complex floating"):
        raise TypeError(
            f"{name} must hold real numbers, got {type(value).__name__} of dtype {dtype}; "
            "pass its real part, or split real and imaginary parts into two coordinates"
        )
    if xp.isdtype(dtype, ("integral", "bool")):
        dtype = xp.float64
    elif xp.finfo(dtype).bits < 32:  # float16, bfloat16
        dtype = xp.float32
    x = xp.asarray(value, dtype=dtype, copy=True)  # the caller's array is never touched
    if array_api_compat.size(x) == 0:
        raise ValueError(f"{name} must not be empty, got {type(value).__name__} of shape {x.shape}")
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} must be finite, got {value!r:.80}; replace NaN or inf entries")
    return x


def read(*values: Any) -> list[float]:
    """Python floats of 0-D arrays of one namespace and device, read in one transfer
    (Python numbers pass as they are)."""
    arrays = [v for v in values if not isinstance(v, (int, float))]
    if not arrays:
        return [float(v) for v in values]
    xp = array_api_compat.array_namespace(*arrays)
    dtype = xp.result_type(*arrays)
    host = iter(to_host(xp.stack([xp.astype(v, dtype) for v in arrays])).tolist())
    return [float(v) if isinstance(v, (int, float)) else next(host) for v in values]


def to_host(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (itself when it is one): one transfer from its device."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(np.from_dlpack(x))  # CPU arrays of any library, without a copy
    except (BufferError, RuntimeError, TypeError, ValueError, AttributeError):
        pass
    return np.asarray(array_api_compat.to_device(x, "cpu"))  # GPU arrays (torch, CuPy)


def from_host(a: Any, like: Any) -> Any:
    """The NumPy array ``a`` in the namespace, dtype and on the device of ``like``."""
    if isinstance(like, np.ndarray):
        return a
    xp = array_api_compat.array_namespace(like)
    x = xp.asarray(np.ascontiguousarray(a))  # on the default device first: no device from NumPy
    return array_api_compat.to_device(xp.astype(x, like.dtype), array_api_compat.device(like))


def check_same(what: str, value: Any, x: Any) -> Any:
    """``value``, an array that ``what`` returned for the point ``x``, checked to be of x's
    namespace and on x's device (a TypeError naming both types, a ValueError naming both
    devices), and cast to x's floating dtype."""
    if type(value) is not type(x):  # the same array type is the same namespace
        mine = array_api_compat.array_namespace(x)
        try:
            theirs = array_api_compat.array_namespace(value)
        except TypeError:
            theirs = None
        if theirs is not mine:
            raise TypeError(
                f"{what} returned {_type(value)} for x of type {_type(x)}; return it in x's "
                f"namespace, built from x with {_library(mine)} functions (no NumPy calls)"
            )
    here, there = array_api_compat.device(x), array_api_compat.device(value)
    if here != there:
        raise ValueError(
            f"{what} returned an array on device {there} for x on device {here}; return it "
            f"on x's device ({here})"
        )
    if value.dtype != x.dtype:
        xp = array_api_compat.array_namespace(x)
        if not xp.isdtype(value.dtype, ("real floating", "integral", "bool")):
            return value  # the caller's dtype check names it
        value = xp.astype(value, x.dtype)
    return value


def _type(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"


class ForeignObjective(Objective):
    """:class:`~descend.gradients.objective.Objective` for an x0 of another namespace: fun
    and grad see arrays of x0's namespace and device and must answer in kind (a TypeError
    names both types otherwise, a ValueError both devices).

    Without ``grad`` a torch x0 is differentiated by ``torch.func.grad_and_value``, a JAX
    one by ``jax.value_and_grad``, any other by central differences in its namespace (with
    the same warning as NumPy's fallback). A formula evaluates with NumPy: x goes to the
    host and the gradient comes back once per evaluation. ``device_value_and_grad`` leaves
    f on the device, for the loop to read with the gradient's norm in one transfer.
    """

    def start(self, x0: Any) -> tuple[float, Any]:
        self.xp, self._like, shape = (xp := array_api_compat.array_namespace(x0)), x0, self.shape
        if self.data:
            raise TypeError(
                f"data=(X, y, ...) cannot go with an x0 of {_library(xp)} yet: the batches are "
                "cut with NumPy, so fun would see NumPy rows beside x; pass x0 as a NumPy "
                "array, or let fun close over the data and run without data="
            )
        self._unflat = (lambda x: xp.reshape(x, shape)) if self._reshape else (lambda x: x)
        if self.formula is not None:
            formula = self.formula
            self.fun = lambda x, *args: formula(to_host(x))
        xu = self._unflat(x0)
        value = self.fun(xu, *self.data)
        self.nfev += 1
        f0 = _scalar(value, x0)
        if not math.isfinite(float(f0)):
            raise ValueError(f"fun returned {value!r} at x0; start where f is finite")
        if getattr(value, "ndim", 0) > 0:  # a one-element array
            fun = self.fun
            self.fun = lambda x, *args: xp.reshape(fun(x, *args), (-1,))[0]
        self._choose(xu)
        if self.source == "grad" and self.formula is None:  # f(x0) is known
            self.ngev += 1
            f, g = self._checked(f0, self.grad(xu, *self.data), x0)  # type: ignore[misc,operator]
            f = float(f)
        else:
            f, g = self.value_and_grad(x0)
        if not bool(xp.all(xp.isfinite(g))):
            raise ValueError(f"grad returned non-finite values at x0: {g!r:.80}")
        return f, g

    def _choose(self, xu: Any) -> None:
        """The gradient source for a foreign x0 (see the class docstring)."""
        grad, library = self.grad, _library(self.xp)
        if self.formula is not None:
            self._pair, self.source = self._host_pair, "grad"
        elif callable(grad):
            self.source = "grad"
        elif grad not in (None, "numeric", "autograd", "jax"):
            self._choose_gradient(xu)  # raises, naming the values allowed
        elif grad in ("autograd", "jax") and grad != library:
            raise ValueError(
                f"grad={grad!r} cannot differentiate fun for x0 of {library} arrays; pass "
                "grad=None (torch.func for torch, jax for JAX, else central differences)"
            )
        elif grad == "numeric" or library not in ("torch", "jax"):
            if grad is None:
                self._warn(f"{library} has none that descend can use; torch and JAX do")
            self._pair, self.source = self._numeric_pair, "numeric"
        else:
            trace = _torch_pair if library == "torch" else functools.partial(_traced, library)
            pair, failure = self.traced(trace(self.fun, xu, self.data))
            if pair is not None:
                self._pair, self.source = pair, library
                return
            if grad is not None:
                raise ValueError(f"grad={grad!r} cannot differentiate fun: {failure}")
            self._warn(f"{library}: {failure}")
            self._pair, self.source = self._numeric_pair, "numeric"

    def _warn(self, why: str) -> None:
        warnings.warn(
            f"no gradient given and automatic differentiation failed ({why}); using central "
            f"differences, {2 * self.size} evaluations of fun per step. Pass grad=..., or "
            "grad='numeric' to silence this",
            UserWarning,
            stacklevel=caller_level(),
        )

    def _host_pair(self, xu: Any) -> tuple[float, Any]:
        """A formula's f and gradient: x to NumPy, and the gradient back to x's device."""
        f, g = self.formula.value_and_grad(to_host(xu))
        return f, from_host(g, xu)

    def _numeric_pair(self, xu: Any, *args: Any) -> tuple[Any, Any]:
        xp = self.xp
        if not bool(xp.all(xp.isfinite(xu))):  # a diverged point: let the loop report it
            return math.nan, xp.full(xu.shape, math.nan, dtype=xu.dtype)
        self.nfev += 2 * self.size
        return self.fun(xu, *args), numeric_grad(self.fun, xu, *args)

    def user_functions(self) -> tuple[Callable[..., Any] | None, Callable[..., Any] | str | None]:
        """fun and its gradient on NumPy points, for the diagnosis's probes."""
        fun, pair, data, like = self.fun, self._pair, self.data, self._like
        return (
            lambda xh: float(fun(from_host(xh, like), *data)),
            lambda xh: to_host(pair(from_host(xh, like), *data)[1]).astype(float),
        )

    def value(self, x: Any, batch: tuple[Any, ...] | None = None) -> float:
        self.nfev += 1
        value = self.fun(self._unflat(x), *(self.data if batch is None else batch))
        return self.sign * float(_scalar(value, x))

    def device_value_and_grad(
        self, x: Any, batch: tuple[Any, ...] | None = None
    ) -> tuple[Any, Any]:
        """``value_and_grad`` with f left on x's device (a 0-D array, or a Python float
        when fun returned one)."""
        self.nfev += 1
        self.ngev += 1
        f, g = self._pair(self._unflat(x), *(self.data if batch is None else batch))
        return self._checked(_scalar(f, x), g, x)

    def value_and_grad(self, x: Any, batch: tuple[Any, ...] | None = None) -> tuple[float, Any]:
        f, g = self.device_value_and_grad(x, batch)
        return float(f), g

    def grad_at(self, x: Any, batch: tuple[Any, ...]) -> Any:
        if self.source != "grad" or self.formula is not None:
            return self.device_value_and_grad(x, batch)[1]
        self.ngev += 1
        g = self.grad(self._unflat(x), *batch)  # type: ignore[operator,misc]
        return self._checked(0.0, g, x)[1]

    def _checked(self, f: Any, g: Any, x: Any) -> tuple[Any, Any]:
        """f, and g in x's namespace, device and dtype, flat (negated when maximising)."""
        g = check_same("grad", g, x)
        xp = self.xp
        if not xp.isdtype(g.dtype, "real floating"):
            raise BadValue(f"grad must return real numbers, got {g!r:.60} (dtype {g.dtype})")
        if g.shape != x.shape:
            if g.shape != self.shape and not (self.shape == () and array_api_compat.size(g) == 1):
                raise ValueError(
                    f"grad returned an array of shape {g.shape} for x of shape {self.shape}; "
                    "it must return the gradient in the shape of x"
                )
            g = xp.reshape(g, x.shape)
        return (-f, -g) if self.sign < 0 else (f, g)


def _library(xp: Any) -> str:
    """The name users know a namespace by: "torch", "jax", "cupy", "array_api_strict"."""
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_jax_namespace(xp):
        return "jax"
    return xp.__name__.rpartition(".")[2]


def _scalar(value: Any, x: Any) -> Any:
    """fun's value at a foreign x: a Python float for a host number, else a 0-D array of
    x's namespace on its device, checked without reading it."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    value = check_same("fun", value, x)
    xp = namespace(value)
    if not xp.isdtype(value.dtype, "real floating"):
        raise BadValue(f"fun must return a real number, got {value!r:.60}")
    if array_api_compat.size(value) != 1:
        raise BadValue(
            f"fun must return a scalar, got an array of shape {value.shape}; reduce it, "
            "e.g. with a sum or x @ x"
        )
    return xp.reshape(value, ())


def _torch_pair(fun: Callable[..., Any], xu: Any, args: tuple[Any, ...]) -> Trace:
    """(f, g) by ``torch.func.grad_and_value``, or why it failed; torch sees every
    operation on a tensor, so NumPy's directional check is not needed."""
    fun, calls = counting(fun)
    try:
        from torch.func import grad_and_value

        both = grad_and_value(fun)
        g, _ = both(xu, *args)
    except Exception as error:  # fun reads a value (float(), .item()) or is not torch code
        return Trace(None, f"{type(error).__name__}: {error}", calls[0], 0)
    if g.shape != xu.shape or not bool(g.isfinite().all()):
        return Trace(None, f"its gradient at x0 is {g!r:.60}", calls[0], 1)
    return Trace(lambda x, *a: both(x, *a)[::-1], "", calls[0], 1)
