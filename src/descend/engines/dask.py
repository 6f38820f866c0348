"""Dask data: f and the gradient as one tree reduction over the row blocks.

``descend.minimize(fun, x0, grad=grad, data=(X, y))`` with Dask arrays (importing this
module registers it with core; a NumPy array among them is cut into the same blocks):

- **The convention.** ``fun(x, *block)`` and ``grad(x, *block)`` receive NumPy blocks of
  rows and return the block's *sum* (f must be additive over rows: a sum of per-row
  terms, scaled by a constant such as ``1 / n`` where a mean is wanted, n the number of
  rows of all the data). Full batch, each point costs one graph over all the blocks that
  evaluates both and adds the answers pairwise (a tree), materialised once; f and g at
  the same point come from that one pass. A model's loss may instead give each block's
  share by a ``per_block(x, *block) -> (f, g)`` method (the estimators' losses do).
- **Line searches.** Armijo's backtracking trials are evaluated several at once, in one
  pass for all of them (as many as the last update tried, and one more), and the pair at
  the accepted one is kept for the next update; the step sizes are those of one trial at
  a time, bit for bit, and ``nfev`` counts every trial computed. BB's one trial gives f
  and g together, and its acceptance (the usual case) makes the next pass unneeded.
- **Mini-batches** (``batch_size=k``): each epoch visits the blocks in an order drawn
  from ``seed`` and the rows of each block in an order drawn as the block comes up (see
  :class:`descend.core.batches.Batches`); the batches are cut from that sequence, and
  only the blocks of the current batch are in memory (two, where a batch spans the end
  of one block and the start of the next), with their rows' orders. ``fun`` and ``grad``
  are called on a batch as they are on a NumPy batch, so with terms scaled by 1/n a
  batch's gradient is the batch's sum over n: take ``lr`` about n / k times the
  full-batch one. The trajectory is, bit for bit, NumPy's on the rows laid out in that
  order; checkpoints resume it bit for bit.
- **Nothing is persisted or gathered whole**: every pass reads the blocks through the
  graph, so the data may be larger than the cluster's memory; ``persist=True`` keeps
  them in the cluster's memory when they fit. The runs use whatever scheduler Dask would
  (a ``distributed.Client`` the user made is used as is).
- **Bad input**, before any work: chunks of unknown size are a ValueError that says to
  call ``compute_chunk_sizes()``; arrays whose row chunks differ from the first one's
  are rechunked to its, with a warning; arrays of other lengths are refused. A worker
  lost during a pass is a :class:`WorkerLost` that names the pass (or the mini-batch)
  reached and the updates made; with ``checkpoint=`` the run is saved where it stopped
  and ``resume=True`` continues from there.

Dask is imported only when these functions are called.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend._caller import caller_level
from descend._types import Array
from descend.core.batches import DataLost, register_data_engine

__all__ = [
    "WorkerLost",
    "block_sums",
    "distinct",
    "is_dask",
    "map_rows",
    "rowwise",
    "sample_rows",
    "total",
]


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
        For chunks of unknown size (call ``compute_chunk_sizes()`` first) or arrays of
        other lengths; arrays with other row chunks than the first are rechunked to its,
        with a warning.

    Examples
    --------
    >>> import dask.array as da, numpy as np, descend as dd
    >>> y = da.from_array(np.array([1.0, 2.0, 6.0]), chunks=2)
    >>> f, g = block_sums(lambda m, y: 0.5 * np.sum((m - y) ** 2), lambda m, y: np.sum(m - y), y)
    >>> round(float(dd.minimize(f, 0.0, grad=g, lr=0.3, max_iter=50).x), 6)
    3.0
    """
    sums = _BlockSums(_both(fun, grad), _blocks(arrays))
    return sums.value, sums.gradient


def _both(fun: Callable[..., Any], grad: Callable[..., Any]) -> Callable[..., Any]:
    """``pair(x, *block) -> (fun, grad)`` on one block."""
    return lambda x, *block: (fun(x, *block), grad(x, *block))


def _blocks(arrays: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The arrays' row blocks as Delayed objects, one tuple per block; checked."""
    return _delayed_rows(_aligned(arrays))


def _delayed_rows(arrays: list[Any]) -> list[tuple[Any, ...]]:
    """Block i of every array, as Delayed objects, for each i. Unoptimised, so that the
    tasks the arrays share (y made from X) stay one task, read once per pass."""
    blocks = len(arrays[0].chunks[0])
    columns = [a.to_delayed(optimize_graph=False).reshape(blocks, -1)[:, 0] for a in arrays]
    return list(zip(*columns, strict=True))


def _aligned(arrays: Sequence[Any]) -> list[Any]:
    """The data as Dask arrays with whole rows in each block and the first one's row
    chunks (NumPy arrays among them cut alike); checked before anything is read."""
    import dask.array as da

    if not arrays:
        raise ValueError("block_sums needs at least one Dask array, got none")
    first = next(a for a in arrays if isinstance(a, da.Array))
    checked = []
    for i, a in enumerate(arrays):
        if not isinstance(a, da.Array):  # in memory already: cut into the same blocks
            a = np.asarray(a)
            a = da.from_array(a, chunks=(first.chunks[0], *a.shape[1:]))
        if any(np.isnan(c) for chunks in a.chunks for c in chunks):
            raise ValueError(
                f"data[{i}] has chunks of unknown size (NaN in .chunks); call "
                f"data[{i}].compute_chunk_sizes() first"
            )
        if a.ndim > 1:
            a = a.rechunk({k: -1 for k in range(1, a.ndim)})  # whole rows in each block
        checked.append(a)
    rows = [a.chunks[0] for a in checked]
    lengths = [sum(r) for r in rows]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"data arrays must share their first dimension (one row per sample), got lengths "
            f"{lengths}"
        )
    for i, a in enumerate(checked):
        if a.chunks[0] != rows[0]:
            warnings.warn(
                f"data[{i}] has other row chunks than data[0] ({_short(a.chunks[0])} against "
                f"{_short(rows[0])}); rechunking it to data[0]'s, which reads it in pieces "
                f"of other sizes every pass: rechunk it once yourself, "
                f"data[{i}].rechunk({{0: data[0].chunks[0]}}), to avoid that",
                UserWarning,
                stacklevel=caller_level(),
            )
            checked[i] = a.rechunk({0: rows[0]})
    return checked


def _short(chunks: tuple[int, ...]) -> str:
    return str(list(chunks)) if len(chunks) <= 4 else f"[{chunks[0]}, {chunks[1]}, ...]"


class _BlockSums:
    """The pairs (f, g) at the last points asked, computed together over all the blocks."""

    def __init__(self, pair: Callable[..., Any], blocks: list) -> None:
        self.pair, self.blocks = pair, blocks
        self.passes = 0  # over all the data, for the message when a pass fails
        self.known: list[tuple[Array, tuple[float, Array]]] = []  # from the last pass

    def many(self, points: Sequence[Array]) -> list[tuple[float, Array]]:
        """(f, g) at each of ``points``: one pass over the data for all of them, each
        block read once and each point's block sums added in the same pairwise tree (so
        a point's answer is, bit for bit, the one it gets alone)."""
        import dask

        pair = self.pair
        xs = [np.array(x, dtype=float) for x in points]

        def one(*block: Any) -> list[tuple[float, Array]]:
            answers = [pair(x, *block) for x in xs]
            return [(float(f), np.asarray(g, dtype=float)) for f, g in answers]

        def add(a: list, b: list) -> list[tuple[float, Array]]:
            return [(fa + fb, ga + gb) for (fa, ga), (fb, gb) in zip(a, b, strict=True)]

        level = [dask.delayed(one)(*block) for block in self.blocks]
        while len(level) > 1:  # pairwise: a tree, not a chain
            odd = level[len(level) & ~1 :]  # the last one, when their number is odd
            halves = zip(level[0::2], level[1::2], strict=False)
            level = [dask.delayed(add)(a, b) for a, b in halves] + odd
        self.passes += 1
        what = f"pass {self.passes} over the data (the start is pass 1, an update 1 more"
        (answers,) = _compute([level[0]], what + ", a line search's trials more)")
        self.known = list(zip(xs, answers, strict=True))
        return answers

    def _pair(self, x: Array) -> tuple[float, Array]:
        for known, answer in self.known:
            if np.array_equal(x, known):
                return answer
        return self.many([x])[0]

    def value(self, x: Array) -> float:
        return self._pair(x)[0]

    def gradient(self, x: Array) -> Array:
        return self._pair(x)[1]


def total(pair: Callable[..., Any], x: Array, *arrays: Any) -> tuple[float, Array]:
    """The sums over the blocks of ``pair(x, *block) -> (f, g)``: one pass over the data."""
    return _BlockSums(pair, _blocks(arrays))._pair(x)


# What the estimators need of Dask arrays, besides minimize ------------------------------


def is_dask(*arrays: Any) -> bool:
    """Whether any of ``arrays`` is a Dask array (False when Dask was never imported)."""
    da = sys.modules.get("dask.array")
    return da is not None and any(isinstance(a, da.Array) for a in arrays)


def sample_rows(X: Any, rows: int) -> np.ndarray:
    """Every k-th row of X as NumPy, k = max(1, n // rows): the rows that NumPy's
    ``X[::k]`` gives, read in one pass."""
    return np.asarray(X[:: max(1, X.shape[0] // rows)].compute())


def distinct(y: Any) -> np.ndarray:
    """The sorted distinct values of ``y``, in one pass."""
    import dask.array as da

    return np.unique(np.asarray(da.unique(y).compute()))


def map_rows(fn: Callable[[np.ndarray], np.ndarray], y: Any) -> Any:
    """``fn`` applied to each row block of ``y`` (lazily), ``fn`` giving one row per row:
    a vector, or a matrix whose columns are those of ``fn`` of the first row."""
    import dask.array as da

    first = fn(np.asarray(y[:1].compute()))  # its errors (a wrong shape) come now
    if y.ndim > 1:
        y = y.rechunk({k: -1 for k in range(1, y.ndim)})
    chunks = (y.chunks[0], *((c,) for c in first.shape[1:]))
    if first.ndim == y.ndim:
        return y.map_blocks(fn, dtype=first.dtype, chunks=chunks)
    if first.ndim > y.ndim:
        return da.map_blocks(fn, y, dtype=first.dtype, new_axis=1, chunks=chunks)
    return da.map_blocks(fn, y, dtype=first.dtype, drop_axis=list(range(1, y.ndim)), chunks=chunks)


def rowwise(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """An estimator's ``method(self, X)`` (one answer per row) that, given a Dask ``X``,
    answers with a Dask array: the method on each row block, lazily, never gathering X."""

    @functools.wraps(method)
    def on_rows(self: Any, X: Any) -> Any:
        if is_dask(X):
            return map_rows(lambda block: method(self, block), X)
        return method(self, X)

    return on_rows


# The engine minimize's data mode calls (registered with core below) -------------------


def _engine(
    fun: Any, grad: Any, data: Sequence[Any], persist: bool
) -> tuple[Any, Any, tuple[_Rows, ...]] | None:
    """``fun``, ``grad`` and block readers for data holding Dask arrays; None for other data.

    Called with all the readers, the returned functions are the sums over the blocks
    (:func:`block_sums`); called with a batch (NumPy rows that the readers fetched), they
    are the user's own.
    """
    da = sys.modules.get("dask.array")
    if da is None or not any(isinstance(a, da.Array) for a in data):
        return None
    if grad is None:
        grad = getattr(fun, "grad", None)  # a model's loss knows its gradient
    if not callable(fun) or not callable(grad):
        raise TypeError(
            "with Dask arrays in data, fun and grad must both be functions of (x, *block) "
            "returning the sums over the block's rows, got "
            f"grad={grad!r:.40}; finite differences and automatic differentiation would "
            "read every block many times per update"
        )
    arrays = _aligned(data)
    if persist:  # in the cluster's memory (or this process's, without a cluster)
        import dask

        arrays = list(dask.persist(*arrays))
    store = _Store(arrays)
    readers = tuple(_Rows(store, i) for i in range(len(arrays)))
    # A model's loss may give each block's share of it (fun itself then being the
    # mean on a mini-batch, as in NumPy data mode).
    sums = _BlockSums(getattr(fun, "per_block", None) or _both(fun, grad), store.delayed)

    def all_data(args: tuple[Any, ...]) -> bool:
        return len(args) == len(readers) and all(a is r for a, r in zip(args, readers, strict=True))

    def value(x: Array, *args: Any) -> Any:
        return sums.value(x) if all_data(args) else fun(x, *args)

    def gradient(x: Array, *args: Any) -> Any:
        return sums.gradient(x) if all_data(args) else grad(x, *args)

    def many(points: list[Array], *args: Any) -> list[Any]:
        """f at each point: on all the data, one pass for all (a line search's trials)."""
        if all_data(args):
            return [f for f, _ in sums.many(points)]
        return [fun(x, *args) for x in points]

    value.many = many  # type: ignore[attr-defined]
    return value, gradient, readers


class _Store:
    """The data's row blocks and the few of them in memory: those of the last batch."""

    def __init__(self, arrays: list[Any]) -> None:
        self.arrays = arrays
        self.row_blocks = tuple(int(c) for c in arrays[0].chunks[0])
        self.starts = np.concatenate([[0], np.cumsum(self.row_blocks)]).astype(np.int64)
        self.delayed = _delayed_rows(arrays)
        self.loaded: dict[int, tuple[np.ndarray, ...]] = {}
        self.batches = 0  # read so far: one per mini-batch update

    def take(self, i: int, rows: slice | np.ndarray) -> np.ndarray:
        """Array ``i``'s ``rows`` (global indices, in their order), read block by block."""
        if isinstance(rows, slice):
            start, stop, _ = rows.indices(int(self.starts[-1]))
            first = int(np.searchsorted(self.starts, start, side="right")) - 1
            last = int(np.searchsorted(self.starts, stop - 1, side="right")) - 1
            self._load(range(first, last + 1))
            parts = [
                self.loaded[b][i][max(start - self.starts[b], 0) : stop - self.starts[b]]
                for b in range(first, last + 1)
            ]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        rows = np.asarray(rows)
        blocks = np.searchsorted(self.starts, rows, side="right") - 1
        needed = np.unique(blocks)
        self._load(needed.tolist())
        if len(needed) == 1:
            b = int(needed[0])
            return self.loaded[b][i][rows - self.starts[b]]
        sample = self.loaded[int(needed[0])][i]
        out = np.empty((len(rows), *sample.shape[1:]), dtype=sample.dtype)
        for b in needed.tolist():
            mask = blocks == b
            out[mask] = self.loaded[b][i][rows[mask] - self.starts[b]]
        return out

    def _load(self, needed: Sequence[int] | range) -> None:
        """Keep the ``needed`` blocks in memory (reading those not there), and no others."""
        missing = [b for b in needed if b not in self.loaded]
        kept = {b: self.loaded[b] for b in needed if b in self.loaded}
        self.loaded = kept  # the others go before the new ones are read: two blocks at most
        if missing:
            what = f"the read of mini-batch {self.batches} (after {self.batches - 1} updates)"
            read = _compute([self.delayed[b] for b in missing], what)
            kept.update(zip(missing, read, strict=True))


class _Rows:
    """One data array as minimize's loop sees it: its shape and dtype, and ``[rows]``."""

    def __init__(self, store: _Store, i: int) -> None:
        self.store, self.i = store, i
        array = store.arrays[i]
        self.shape, self.ndim, self.dtype = array.shape, array.ndim, array.dtype
        self.row_blocks = store.row_blocks

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        if self.i == 0:  # the loop reads every array's rows of a batch, the first one first
            self.store.batches += 1
        return self.store.take(self.i, rows)

    def __len__(self) -> int:
        return int(self.shape[0])


class WorkerLost(DataLost):
    """The cluster lost a worker (or all of them) while a pass over the data ran."""


def _compute(things: list[Any], what: str) -> tuple[Any, ...]:
    """``dask.compute(*things)``; a lost worker is a :class:`WorkerLost` saying ``what``
    was being computed. (Errors of the user's own functions pass as they are.)"""
    import dask

    try:
        return tuple(dask.compute(*things))
    except Exception as error:
        if not _lost_worker(error):
            raise
        why = f"{type(error).__name__}: {error}"
    # Raised out here, without the lost computation's traceback: that holds its futures,
    # and while they live the scheduler keeps their tasks failed, so a resumed run on
    # the same data would fail at once.
    raise WorkerLost(
        f"the Dask cluster lost a worker during {what} ({why}); the run stops there (checkpoint= "
        "saves it there for resume=True)"
    )


def _lost_worker(error: BaseException) -> bool:
    """Whether ``error`` says a worker died or went away, rather than a task failing."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    from distributed.comm.core import CommClosedError

    return isinstance(error, (distributed.KilledWorker, CommClosedError))


register_data_engine(_engine)
