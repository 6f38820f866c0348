"""Objectives over Dask arrays: f and the gradient as one tree reduction over the blocks.

The user writes ``fun(x, *block)`` and ``grad(x, *block)`` for NumPy blocks of rows, each
returning the block's *sum* (f must be additive over rows: a sum of per-row terms, scaled
by a constant such as ``1 / n`` if a mean is wanted). :func:`block_sums` turns them into
``fun(x)`` and ``grad(x)`` on all the data, for :func:`descend.minimize`: the first call at
a point builds one graph that evaluates both on every block and sums the answers pairwise
(a tree), and materialises it once; the second call at the same point is answered from
that result. Nothing is persisted or gathered whole: every evaluation reads the blocks
through the graph. Dask is imported only when this module's functions are called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from descend._types import Array

__all__ = ["block_sums"]


def block_sums(
    fun: Callable[..., Any], grad: Callable[..., Any], *arrays: Any
) -> tuple[Callable[[Array], float], Callable[[Array], Array]]:
    """``fun(x)`` and ``grad(x)`` on all the rows of Dask ``arrays``, summed over blocks.

    Parameters
    ----------
    fun, grad : callable
        ``fun(x, *block) -> float`` and ``grad(x, *block) -> array`` (shaped like ``x``),
        the sums over a block's rows; ``block`` holds one NumPy block of each array.
    *arrays : dask.array.Array
        Sharing their first dimension and its chunks (X is rechunked to one chunk along
        its columns).

    Returns
    -------
    fun, grad : callable
        Of ``x`` alone; calling both at the same point costs one pass over the data.

    Raises
    ------
    ValueError
        For chunks of unknown size (call ``compute_chunk_sizes()`` first) or row chunks
        that differ between the arrays.

    Examples
    --------
    >>> import dask.array as da, numpy as np, descend as dd
    >>> y = da.from_array(np.array([1.0, 2.0, 6.0]), chunks=2)
    >>> f, g = block_sums(lambda m, y: 0.5 * np.sum((m - y) ** 2), lambda m, y: np.sum(m - y), y)
    >>> round(float(dd.minimize(f, 0.0, grad=g, lr=0.3, max_iter=50).x), 6)
    3.0
    """
    sums = _BlockSums(fun, grad, _blocks(arrays))
    return sums.value, sums.gradient


def _blocks(arrays: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The arrays' row blocks as Delayed objects, one tuple per block; checked."""
    if not arrays:
        raise ValueError("block_sums needs at least one Dask array, got none")
    checked = []
    for i, a in enumerate(arrays):
        if any(np.isnan(c) for chunks in a.chunks for c in chunks):
            raise ValueError(
                f"data[{i}] has chunks of unknown size (NaN in .chunks); call "
                f"data[{i}].compute_chunk_sizes() first"
            )
        if a.ndim > 1:
            a = a.rechunk({k: -1 for k in range(1, a.ndim)})  # whole rows in each block
        checked.append(a)
    rows = [a.chunks[0] for a in checked]
    if any(r != rows[0] for r in rows):
        raise ValueError(
            f"data arrays must share their row chunks, got {[list(r) for r in rows]}; "
            "rechunk them alike, e.g. y.rechunk(X.chunks[0])"
        )
    columns = [a.to_delayed().reshape(len(rows[0]), -1)[:, 0] for a in checked]
    return list(zip(*columns, strict=True))


class _BlockSums:
    """The pair (f, g) at the last point asked, computed together over all the blocks."""

    def __init__(self, fun: Callable[..., Any], grad: Callable[..., Any], blocks: list) -> None:
        self.fun, self.grad, self.blocks = fun, grad, blocks
        self.x: Array | None = None
        self.answer: tuple[float, Array] = (float("nan"), np.empty(0))

    def _pair(self, x: Array) -> tuple[float, Array]:
        if self.x is None or not np.array_equal(x, self.x):
            import dask

            fun, grad = self.fun, self.grad
            x = np.array(x, dtype=float)

            def one(*block: Any) -> tuple[float, Array]:
                return float(fun(x, *block)), np.asarray(grad(x, *block), dtype=float)

            def add(a: tuple[float, Array], b: tuple[float, Array]) -> tuple[float, Array]:
                return a[0] + b[0], a[1] + b[1]

            level = [dask.delayed(one)(*block) for block in self.blocks]
            while len(level) > 1:  # pairwise: a tree, not a chain
                odd = level[len(level) & ~1 :]  # the last one, when their number is odd
                halves = zip(level[0::2], level[1::2], strict=False)
                level = [dask.delayed(add)(a, b) for a, b in halves] + odd
            (self.answer,) = dask.compute(level[0])
            self.x = x
        return self.answer

    def value(self, x: Array) -> float:
        return self._pair(x)[0]

    def gradient(self, x: Array) -> Array:
        return self._pair(x)[1]
