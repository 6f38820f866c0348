"""Room for a compiled run's history: a loop that fills its arrays asks Python for larger
ones, and goes on in them.

The loop calls :func:`room`, which calls back into this module through a C function
pointer (a symbol LLVM resolves, as ``descend_pow`` in
:mod:`~descend.engines._compiled_kernels`). Python allocates the doubled array, copies the
old one into its top left and keeps it, in the list that :class:`Growing` hands the
caller; the loop writes on at its address (:func:`array_at`). So no loop compiles an
allocation of its own: ``np.empty`` and the copy, linked into every loop's module and
optimised again there, took 0.1 s of each first compile.

A loop's ``run`` runs in its caller's thread, and so does the callback (ctypes takes the
GIL, which ``run`` holds already): that is how it finds the caller's arrays. ``run_many``'s
runs, in Numba's threads, never grow.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["Growing", "array_at", "room"]

# Each thread's run in progress: [rows, xs, what stopped a growth (or None)].
_GROWING: dict[int, list[Any]] = {}


def _room(which: int, size: int) -> int:
    """The address of ``rows`` (``which`` 0) with ``size`` columns or ``xs`` (1) with
    ``size`` rows, the old one copied in; 0 where it could not be made (the error is
    kept for the caller, since a callback cannot raise into compiled code)."""
    arrays = _GROWING.get(threading.get_ident())
    if arrays is None:  # not a run that may grow (run_many's arrays hold every update)
        return 0
    try:
        old = arrays[which]
        new = np.empty((old.shape[0], size) if which == 0 else (size, old.shape[1]))
        new[: old.shape[0], : old.shape[1]] = old
    except BaseException as error:  # MemoryError, or an interrupt
        arrays[2] = error
        return 0
    arrays[which] = new
    return int(new.ctypes.data)


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(_room)
binding.add_symbol("descend_room", ctypes.cast(_CALLBACK, ctypes.c_void_p).value)


@intrinsic
def room(typingctx, which, size):
    """``_room(which, size)`` from compiled code: the new array's address, or 0."""
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        word = ir.IntType(64)
        callback = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(word, [word, word]), "descend_room"
        )
        return builder.call(callback, args)

    return sig, codegen


@intrinsic
def array_at(typingctx, like, address, rows, columns):
    """The ``rows`` x ``columns`` C-ordered float64 array at ``address``, of ``like``'s
    Numba type, owned by Python (no meminfo, as ``numba.carray``'s, which compiles more)."""
    sig = like(like, types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        _, at, n, m = args
        array = context.make_array(signature.return_type)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        context.populate_array(
            array,
            data=builder.inttoptr(at, array.data.type),
            shape=cgutils.pack_array(builder, [n, m]),
            strides=cgutils.pack_array(builder, [builder.mul(m, itemsize), itemsize]),
            itemsize=itemsize,
            meminfo=None,
        )
        return array._getvalue()

    return sig, codegen


class Growing:
    """``with Growing(rows, xs) as arrays:`` around a call of a loop's ``run``: then
    ``arrays[0]`` and ``arrays[1]`` are the history's arrays it wrote last, grown or not.
    What stopped a growth (the loop then ended) is raised on leaving."""

    def __init__(self, rows: np.ndarray, xs: np.ndarray) -> None:
        self.arrays: list[Any] = [rows, xs, None]

    def __enter__(self) -> list[Any]:
        _GROWING[threading.get_ident()] = self.arrays
        return self.arrays

    def __exit__(self, *exc: object) -> None:
        del _GROWING[threading.get_ident()]
        if self.arrays[2] is not None and exc[0] is None:
            raise self.arrays[2]
