"""The compiled (Numba) measurements the whole-loop engine shares: dot products, norms and
the finiteness test, each the same operations as the NumPy call of the Python loop.

Imported only when a compiled run is built (by :mod:`descend.engines.compiled` and the
modules it generates), so that ``import descend`` never imports Numba.

:func:`dot` (:func:`dot_with` for a cached caller, which is given :data:`TAIL`) and
:func:`short_dot` are inlined into their callers (``inline="always"``),
as the generated loop's norm is: a call with arrays costs reference counts, 10 ns a
call, as much as a 2-D update's arithmetic.
The helpers of the rare paths (a norm that overflows, a non-finite value, a schedule, a
projection, the arrays a method allocates, the copy of the best
point and the time row when a run ends) and NumPy's pairwise sum are called, and cached
on disk
(``cache=True``, see :func:`cached`), so that a new formula's loop compiles only its own
code; a cache of Numba's is checked
against its own file, and these call nothing outside it (nor :data:`TAIL`, which only
what is inlined reads, and so only the generated loops' caches hold, named by it).

Matching NumPy bit for bit
--------------------------
``a.dot(b)`` on float64 vectors is OpenBLAS's ``ddot``. On x86-64 its kernel sums blocks
of 16 in vector accumulators and the rest one term at a time: fused into the sum
(``s = fma(a[i], b[i], s)``) by the Haswell-class kernels, multiplied then added
(``s += a[i] * b[i]``) by others, the AMD Zen ones among them. A call of ``np.dot`` from
Numba reaches the same ``ddot`` (25 ns a call, most of a 2-D update), so :func:`dot`
calls it for 16 terms or more and below that runs the library's own tail inline
(:func:`short_dot`), the one :func:`descend.engines._dot_tail.small_dot_tail` finds;
where it finds neither, always ``np.dot``. A loop whose vectors have a known length
below 16 calls the tail alone, which compiles faster and runs unrolled.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import time
from typing import Any

import numpy as np
from llvmlite import binding, ir
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from ._dot_tail import BLOCK, FUSED_TAIL, small_dot_tail

__all__ = [
    "BLOCK", "TAIL", "cached", "clip_into", "copy_into", "data", "dot", "dot_with", "filled",
    "finite", "fma", "maximum", "minimum", "now", "pairwise_sum", "power", "rate",
    "rescaled_norm", "short_dot", "spread_time", "step", "which_broke",
]  # fmt: skip


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (LLVM's ``llvm.fma.f64``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fnty = ir.FunctionType(double, [double, double, double])
        function = builder.module.declare_intrinsic("llvm.fma", [double], fnty)
        return builder.call(function, args)

    return sig, codegen


@intrinsic
def data(typingctx, a):
    """The address of the array ``a``'s first element, a pointer that Numba indexes: what
    a loop hands a formula's function (one word, where an array passes seven)."""
    sig = types.CPointer(a.dtype)(a)

    def codegen(context, builder, signature, args):
        return cgutils.create_struct_proxy(signature.args[0])(context, builder, args[0]).data

    return sig, codegen


# The C library's pow under a name LLVM does not know: as "pow" (or Numba's ``**``) LLVM
# rewrites pow(a, 2.0) as a * a, which differs from pow in the last bit now and then,
# while NumPy's scalar ``a**2`` and Python's call pow itself.
_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
binding.add_symbol("descend_pow", ctypes.cast(_LIBM.pow, ctypes.c_void_p).value)


@intrinsic
def power(typingctx, a, b):
    """``a ** b`` as NumPy's scalars and Python's floats compute it: the C library's pow
    (either argument may be an integer; both are taken as float64)."""
    sig = types.float64(a, b)

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fnty = ir.FunctionType(double, [double, double])
        function = builder.module.globals.get("descend_pow") or ir.Function(
            builder.module, fnty, "descend_pow"
        )
        base, exponent = (
            context.cast(builder, value, t, types.float64)
            for value, t in zip(args, signature.args, strict=True)
        )
        return builder.call(function, [base, exponent])

    return sig, codegen


# The C library's clock_gettime, for a compiled loop's time_limit (as time.perf_counter
# reads the monotonic clock): bound under a name of its own, as pow is, so that machine
# code cached on disk finds it again in a new process.
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
binding.add_symbol("descend_clock_gettime", ctypes.cast(_LIBC.clock_gettime, ctypes.c_void_p).value)
MONOTONIC = time.CLOCK_MONOTONIC


@intrinsic
def now(typingctx):
    """Seconds on the monotonic clock, ``time.monotonic()`` (one call costs ~20 ns)."""
    sig = types.float64()

    def codegen(context, builder, signature, args):
        i32, i64, double = ir.IntType(32), ir.IntType(64), ir.DoubleType()
        timespec = ir.LiteralStructType([i64, i64])  # seconds, nanoseconds
        fnty = ir.FunctionType(i32, [i32, timespec.as_pointer()])
        function = builder.module.globals.get("descend_clock_gettime") or ir.Function(
            builder.module, fnty, "descend_clock_gettime"
        )
        slot = cgutils.alloca_once(builder, timespec)
        builder.call(function, [ir.Constant(i32, MONOTONIC), slot])
        zero = ir.Constant(i32, 0)
        seconds, nanoseconds = (
            builder.sitofp(builder.load(builder.gep(slot, [zero, ir.Constant(i32, k)])), double)
            for k in (0, 1)
        )
        return builder.fadd(seconds, builder.fmul(nanoseconds, ir.Constant(double, 1e-9)))

    return sig, codegen


TAIL = small_dot_tail()


@njit(error_model="numpy", inline="always")
def short_dot(a, b, n, tail):
    """``a[:n].dot(b[:n])`` for ``n`` below :data:`BLOCK`, summed as NumPy's tail sums it
    (``tail``: :data:`TAIL`, not 0, passed in so that a cached caller does not keep the
    value it was compiled with). A loop that knows ``n`` passes it as a constant, and the
    sum is written out."""
    s = 0.0
    if tail == FUSED_TAIL:
        for i in range(n):
            s = fma(a[i], b[i], s)
    else:
        for i in range(n):
            s += a[i] * b[i]
    return s


@njit(error_model="numpy", inline="always")
def dot_with(a, b, tail):
    """``a.dot(b)`` as NumPy computes it, its tail summed as ``tail`` says (see the module
    docstring)."""
    if tail == 0 or a.size >= BLOCK:
        return np.dot(a, b)
    return short_dot(a, b, a.size, tail)


@njit(error_model="numpy", inline="always")
def dot(a, b):
    """``a.dot(b)`` as NumPy computes it here."""
    return dot_with(a, b, TAIL)


# A formula's min, max and their slopes, as its NumPy code computes them on scalars.


@njit(error_model="numpy", inline="always")
def maximum(a, b):
    """``np.maximum(a, b)``: NaN if either is, ``b`` when they are equal (so -0.0 or 0.0
    as NumPy picks)."""
    return a if a > b or a != a else b


@njit(error_model="numpy", inline="always")
def minimum(a, b):
    """``np.minimum(a, b)``, as :func:`maximum`."""
    return a if a < b or a != a else b


@njit(error_model="numpy", inline="always")
def step(u):
    """``np.heaviside(u, 0.5)``: the formula's ``_step``, the slope of ``max(u, 0)``."""
    if u > 0:
        return 1.0
    if u < 0:
        return 0.0
    return 0.5 if u == 0 else u  # NaN stays


# The helpers below are called, and cached: loops rather than array expressions, the same
# arithmetic compiled in a fraction of the time.


def cached(function: Any) -> Any:
    """``function`` compiled by Numba and cached on disk, or compiled in each process
    where Numba finds no folder it may write its cache in."""
    try:
        return njit(cache=True, error_model="numpy")(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(error_model="numpy")(function)


@cached
def finite(v):
    """``np.isfinite(v).all()``."""
    for i in range(v.size):  # noqa: SIM110  # all() of a generator does not compile
        if not math.isfinite(v[i]):
            return False
    return True


@cached
def rescaled_norm(v):
    """What :func:`descend.core.stopping.norm` makes of ``v`` when ``v.dot(v)`` is
    infinite: its norm rescaled by its largest entry when every entry is finite (above
    ~1e154), else inf. The dot is NumPy's, through BLAS, as the Python loop's is."""
    if not finite(v):
        return math.inf
    largest = 0.0
    for i in range(v.size):
        largest = max(largest, abs(v[i]))
    w = np.empty(v.size)
    for i in range(v.size):
        w[i] = v[i] / largest
    return largest * math.sqrt(np.dot(w, w))


@cached
def which_broke(f, g, x):
    """:func:`descend.core.stopping.inspect`'s verdict as a code: 1 for x, 2 for f, 3 for
    the gradient (tested in that order), 0 when all are finite."""
    if not finite(x):
        return 1
    if not math.isfinite(f):
        return 2
    if not finite(g):
        return 3
    return 0


@cached
def copy_into(out, a):
    """``out[:] = a``, element by element: an array assignment brings Numba's broadcasting
    error message with it, and that alone takes seconds to compile."""
    for i in range(a.size):
        out[i] = a[i]


@cached
def filled(size, value):
    """``np.full(size, value)`` (which a loop would compile for itself)."""
    out = np.empty(size)
    for i in range(size):
        out[i] = value
    return out


@cached
def spread_time(rows, nit, elapsed):
    """The history's time row (row 2 of ``rows``) up to point ``nit`` > 0: ``elapsed``
    spread evenly over the points, as ``np.linspace(0, elapsed, nit + 1)`` spreads it."""
    step = elapsed / nit
    for k in range(nit):
        rows[2, k] = k * step
    rows[2, nit] = elapsed


BLOCK_SUM = 128  # NumPy's PW_BLOCKSIZE: a pairwise sum's leaves are this long at most


@njit(error_model="numpy", inline="always")
def _block_sum(a, start, n):
    """``a[start:start + n].sum()`` for ``n`` up to :data:`BLOCK_SUM`, as NumPy adds it: one
    by one below 8 terms, else in eight interleaved partial sums."""
    s = -0.0
    if n < 8:
        for i in range(start, start + n):
            s += a[i]
        return s
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    while i < n - n % 8:
        k = start + i
        r0, r1, r2, r3 = r0 + a[k], r1 + a[k + 1], r2 + a[k + 2], r3 + a[k + 3]
        r4, r5, r6, r7 = r4 + a[k + 4], r5 + a[k + 5], r6 + a[k + 6], r7 + a[k + 7]
        i += 8
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(start + i, start + n):
        s += a[k]
    return s


@cached
def pairwise_sum(a, start, n):
    """``a[start:start + n].sum()`` as NumPy adds it: blocks of at most :data:`BLOCK_SUM`
    (:func:`_block_sum`), above that the sum of two halves, the first a multiple of 8 long.
    NumPy recurses; this walks the same halves with a stack (a function that calls itself
    cannot be cached), each node's halves summed left to right, then added. The sum is
    added to 0.0, the reduction's start (so that -0.0 terms sum to 0.0)."""
    if n <= BLOCK_SUM:
        return 0.0 + _block_sum(a, start, n)
    starts, sizes = np.empty(128, np.int64), np.empty(128, np.int64)  # 2 frames a level
    sums = np.empty(64)  # one a level: the left halves waiting for their right
    starts[0], sizes[0], top, done = start, n, 1, 0
    while top > 0:
        top -= 1
        first, size = starts[top], sizes[top]
        if size < 0:  # both halves summed: their sum replaces them
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        elif size <= BLOCK_SUM:
            sums[done] = _block_sum(a, first, size)
            done += 1
        else:  # the halves to sum, left first, then the frame that adds them
            half = size // 2
            half -= half % 8
            sizes[top] = -1
            starts[top + 1], sizes[top + 1] = first + half, size - half
            starts[top + 2], sizes[top + 2] = first, half
            top += 3
    return 0.0 + sums[0]


@cached
def rate(spec, t):
    """The learning rate of update ``t`` from a schedule of :mod:`descend.core.schedules`,
    the same operations in the same order: ``spec``'s last row is the schedule (its code in
    :data:`descend.engines._compiled_source.SCHEDULES`, then its fields), every row above
    it a warmup (its ``steps`` in column 1) wrapped around the rows below."""
    last = spec.shape[0] - 1
    kind, a, b, c = spec[last, 0], spec[last, 1], spec[last, 2], spec[last, 3]
    if kind == 0:  # constant(value)
        lr = a
    elif kind == 1:  # exponential(initial, rate, steps)
        lr = a * power(b, t / int(c))
    elif kind == 2:  # step(initial, drop, every)
        lr = a * power(b, t // int(c))
    elif kind == 3:  # inverse_time(initial, decay)
        lr = a / (1.0 + b * t)
    else:  # cosine(initial, steps, final)
        steps = int(b)
        progress = min(t, steps) / steps
        lr = c + (a - c) * (1 + math.cos(math.pi * progress)) / 2
    for k in range(last - 1, -1, -1):  # warmup(after, steps), innermost first
        lr = lr * min(1.0, (t + 1) / int(spec[k, 1]))
    return lr


@cached
def clip_into(x, lower, upper):
    """What the loop's projection onto a box does to ``x`` (in place): ``np.clip(x, lower,
    upper)``, a max then a min, unless ``x`` holds a non-finite value, which stays for the
    divergence test to see."""
    if not finite(x):
        return
    for i in range(x.size):
        v = x[i] if x[i] > lower[i] else lower[i]
        x[i] = v if v < upper[i] else upper[i]
