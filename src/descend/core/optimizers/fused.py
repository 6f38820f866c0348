"""The table of fused kernels: one compiled pass per update for the elementwise rules.

Each elementwise rule of :mod:`~descend.core.optimizers.first_order` is written as NumPy
operations on whole arrays, the reference. On a long float64 vector a rule with state
(Momentum ... AdamW; GD's one operation is one pass already) runs instead a *fused
kernel*, if one is registered for it: a single loop that reads each array and
writes each result once, evaluating the same IEEE operations in the same order, so that
the steps and states are the reference's bit for bit at a fraction of its memory traffic
(Adam makes about a dozen passes). Core compiles nothing itself and imports no layer
above it: ``descend/__init__.py`` registers a *loader* (:func:`register_fused`) that
imports :mod:`descend.engines.fused`, and with it Numba, the first time a long vector
asks for a kernel; a loader that raises ImportError (no Numba) leaves the NumPy
reference to run, silently.

A kernel is ``kernel(*arrays, *scalars) -> outputs``: the rule's arrays flat,
C-contiguous float64 and of one length, then its scalars as floats; it returns fresh
arrays. What the scalars are is each rule's business (``first_order.py`` names them).

>>> import numpy as np
>>> from descend import Adam
>>> from descend.core.optimizers import fused
>>> opt, g = Adam(), np.full(fused.MIN_SIZE, 0.5)
>>> with fused.reference():
...     step_reference, _ = opt.update(g, opt.init(g))
>>> step, _ = opt.update(g, opt.init(g))
>>> bool((step == step_reference).all())
True
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from descend._types import Array

__all__ = ["MIN_SIZE", "Kernel", "kernel", "reference", "register_fused"]

Kernel = Callable[..., tuple[Array, ...]]

# Below this many elements the NumPy reference runs. Past it each kernel is faster per
# update (measured on this project's 2-core x86-64 machine: Adam 1.1 ns an element
# instead of 7 at 10^5, 3.7 instead of 9.7 at 10^7; momentum 0.3 instead of 1.4 at
# 10^5), so the size is set by the one-time cost: the first long vector imports Numba
# and loads its kernel, about 0.5 s from Numba's disk cache (0.2 s more per kernel where
# it must compile). At 10^5 elements Adam's kernel saves 0.6 ms an update, which repays
# that within the default run of 1,000 updates; runs on shorter vectors, most runs,
# never load Numba at all.
MIN_SIZE = 100_000

_LOADERS: list[Callable[[], Mapping[str, Kernel]]] = []
_KERNELS: dict[str, Kernel] | None = None  # what the loaders gave, once asked
_REFERENCE = contextvars.ContextVar("descend_fused_reference", default=False)


def register_fused(loader: Callable[[], Mapping[str, Kernel]]) -> None:
    """Have ``loader()`` supply the kernels, by rule name, when a long vector first asks.

    The loader is called at most once (again after another registration); if it raises
    ImportError, its kernels are absent and the rules run their NumPy reference.
    """
    global _KERNELS
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {loader!r:.60}")
    _LOADERS.append(loader)
    _KERNELS = None


def kernel(name: str, *arrays: Array) -> Kernel | None:
    """The fused kernel for the rule ``name`` on ``arrays``, or None where the reference
    must run: fewer than :data:`MIN_SIZE` elements, an array that is not C-contiguous
    float64 NumPy of the first one's shape, inside :func:`reference`, or no kernel."""
    first = arrays[0]
    if not isinstance(first, np.ndarray) or first.size < MIN_SIZE or _REFERENCE.get():
        return None
    for a in arrays:
        if not (
            type(a) is np.ndarray
            and a.dtype == np.float64
            and a.flags.c_contiguous
            and a.shape == first.shape
        ):
            return None
    return _loaded().get(name)


def _loaded() -> dict[str, Kernel]:
    global _KERNELS
    if _KERNELS is None:
        kernels: dict[str, Kernel] = {}
        for loader in _LOADERS:
            try:
                kernels.update(loader())
            except ImportError:  # no Numba: the NumPy reference is the whole story
                continue
        _KERNELS = kernels
    return _KERNELS


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Within this block (in this thread or task), every rule runs its NumPy reference:
    what the tests and ``benchmarks/overhead.py`` compare the kernels with."""
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)
