"""Data mode: which rows of the data each update sees.

An epoch is one pass: ``ceil(n / batch_size)`` updates, each on a batch of rows,
the last short batch kept. The rows come in order (``shuffle=False``), in a new
random permutation every epoch (``shuffle=True``), or drawn at random with
replacement (``sampling="replacement"``). The epoch's row order, the random
generator's state and the loop's cursor (how many of the epoch's batches are done)
are the whole position in the stream, which is what a checkpoint saves to resume
mid-epoch.

Data held elsewhere, such as a Dask array's row blocks, is read by an *engine* that a
layer above core registers here (:func:`register_data_engine`; ``descend.engines.dask``
does it on import), as :mod:`descend.core.extensions` lets analysis register its
adviser: core never imports it. The engine hands the loop readers that fetch a batch's
rows block by block, and ``Batches(..., blocks=...)`` then keeps every batch inside as
few blocks as it can: the epoch visits the blocks in a random order and the rows of
each block in a random order, so that one or two blocks are read at a time.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array

__all__ = [
    "Batches",
    "DataLost",
    "as_data",
    "check_settings",
    "engine_data",
    "register_data_engine",
]

SAMPLINGS = (None, "replacement")
# Rows checked for NaN and infinity at a time: a memmap is read once, in pieces.
_CHECK_ROWS = 1 << 16

# engine(fun, grad, data, persist) -> (fun, grad, readers), or None for data it does not
# take. The readers have shape, ndim, dtype, ``row_blocks`` (the rows of each block) and
# ``reader[rows]`` (a NumPy batch); fun and grad called with all the readers are the
# objective on all the data, called with a batch they are the user's own.
DataEngine = Callable[[Any, Any, Sequence[Any], bool], "tuple[Any, Any, tuple[Any, ...]] | None"]
_DATA_ENGINES: list[DataEngine] = []


class DataLost(RuntimeError):
    """An engine's data could not be read mid-run (a Dask worker died): the loop may
    catch it, as it is core's, to say how far the run got."""


def register_data_engine(engine: DataEngine) -> None:
    """Have ``engine`` take the data it recognises from now on (once, however often called)."""
    if engine not in _DATA_ENGINES:
        _DATA_ENGINES.append(engine)


def engine_data(fun: Any, grad: Any, data: Any, persist: Any = False) -> tuple[Any, Any, Any]:
    """``fun``, ``grad`` and ``data`` as the loop will see them: as they are for arrays in
    memory; for Dask arrays, the registered engine's objective and block readers.

    ``persist=True`` keeps Dask data in the cluster's memory for the run (it must fit).
    """
    if _validate.boolean("persist", persist) and data is None:
        raise TypeError("persist goes with data=(X, y, ...) of Dask arrays, and no data was given")
    if not isinstance(data, (tuple, list)):
        return fun, grad, data  # None, or a mistake that as_data names
    for engine in _DATA_ENGINES:
        taken = engine(fun, grad, data, persist)
        if taken is not None:
            return taken
    dask_array = sys.modules.get("dask.array")
    if dask_array is not None and any(isinstance(a, dask_array.Array) for a in data):
        raise TypeError(
            "data holds Dask arrays, and descend's Dask engine is not loaded: import "
            "descend.engines.dask first (it needs dask[array] and distributed)"
        )
    return fun, grad, data


def as_data(data: Any) -> tuple[Array, ...]:
    """``data`` as a tuple of arrays sharing their first dimension, checked.

    Arrays and memmaps are kept as they are (never copied, never written); lists
    become arrays; a Dask engine's block readers (see :func:`engine_data`) are kept
    unread. SciPy sparse matrices and arrays in CSR format are kept too, and each batch
    is then a CSR matrix of the batch's rows (``X[rows]``), handed to ``fun`` and
    ``grad`` as such; other sparse formats, which cannot take rows cheaply, are refused
    with the fix (``X.tocsr()``). Floating-point entries must be finite (Dask data is
    not read to check: a NaN there shows as a diverged run).

    >>> X, y = as_data(([[1.0, 2.0], [3.0, 4.0]], [0, 1]))
    >>> X.shape, y
    ((2, 2), array([0, 1]))
    >>> as_data(([1.0, 2.0], [0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data arrays must share their first dimension ..., got lengths [2, 1]
    """
    if isinstance(data, np.ndarray) or not isinstance(data, (tuple, list)):
        raise TypeError(
            f"data must be a tuple of arrays such as (X, y), got {type(data).__name__}; "
            "for a single array write data=(X,)"
        )
    if not data:
        raise ValueError("data must hold at least one array, got an empty tuple")
    arrays = tuple(_array(i, a) for i, a in enumerate(data))
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"data[{i}] must be an array with one row per sample, got a scalar")
        if a.dtype.kind not in "biufc":
            raise TypeError(f"data[{i}] must hold numbers, got dtype {a.dtype}")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"data arrays must share their first dimension (one row per sample), got lengths "
            f"{lengths}"
        )
    if lengths[0] == 0:
        raise ValueError("data is empty: its arrays have 0 rows")
    for i, a in enumerate(arrays):
        if a.dtype.kind in "fc" and not hasattr(a, "row_blocks") and not _all_finite(a):
            raise ValueError(f"data[{i}] holds NaN or infinite values; remove or impute them first")
    return arrays


def _array(i: int, a: Any) -> Array:
    """data[i] as an array: an ndarray or a CSR matrix as it is, anything else converted."""
    if isinstance(a, np.ndarray) or hasattr(a, "row_blocks"):
        return a
    if not _validate.is_sparse(a):
        return np.asarray(a)
    if a.format != "csr":
        raise TypeError(
            f"data[{i}] is a SciPy sparse matrix in {a.format.upper()} format; data mode takes "
            f"each batch's rows, which needs CSR: pass data[{i}].tocsr() (or a dense array)"
        )
    return a


def _all_finite(a: Array) -> bool:
    if _validate.is_sparse(a):
        return bool(np.isfinite(a.data).all())  # the stored entries; the rest are zeros
    return all(np.isfinite(a[i : i + _CHECK_ROWS]).all() for i in range(0, len(a), _CHECK_ROWS))


class Batches:
    """The stream of batches over ``n`` rows: an epoch's order and a cursor into it.

    >>> batches = Batches(5, batch_size=2, shuffle=False)
    >>> [batches.rows(i) for i in range(batches.per_epoch)]
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]

    With ``blocks`` (the rows of each block, in order), a shuffled epoch is the blocks
    in the order ``rng.permutation(len(blocks))``, each block's rows in the order
    ``rng.permutation(rows)`` drawn as the block comes up, and the batches are cut from
    that sequence (a batch may span the end of one block and the start of the next):

    >>> batches = Batches(7, 2, blocks=(4, 3), rng=np.random.default_rng(0))
    >>> batches.start_epoch()
    >>> np.concatenate([batches.rows(i) for i in range(4)])  # block 0's rows, then block 1's
    array([2, 0, 1, 3, 6, 5, 4])

    Each block's order is drawn when a batch first reaches it, so the epoch's order is
    never held whole (a number per row): the position saved by a checkpoint is the
    order of the blocks and the generator's state before the first block's rows.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool = True,
        sampling: str | None = None,
        rng: np.random.Generator | None = None,
        blocks: Sequence[int] | None = None,
    ) -> None:
        if blocks is not None and sampling == "replacement":
            raise ValueError(
                "sampling='replacement' draws every batch from all the blocks of the data, "
                "reading many blocks per update; with data in blocks (Dask arrays) use "
                "sampling=None: the blocks, and the rows within each, are shuffled"
            )
        self.blocks = None if blocks is None else np.asarray(blocks, dtype=np.int64)
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampling = sampling
        self.rng = rng if rng is not None else np.random.default_rng()
        self.per_epoch = math.ceil(n / batch_size)
        self.order: np.ndarray | None = None  # the epoch's rows; None when they come in order
        self.stream: _BlockStream | None = None  # or the epoch's blocks, drawn as they come
        self.drawn = False  # whether order belongs to the current epoch

    def start_epoch(self) -> None:
        """Draw the epoch's rows (nothing to draw when they come in order)."""
        if self.sampling == "replacement":
            self.order, self.drawn = self.rng.integers(0, self.n, size=self.n), True
        elif self.shuffle and self.blocks is not None:
            visit = self.rng.permutation(len(self.blocks))
            self.stream, self.drawn = _BlockStream(self.blocks, visit, self.rng), True
        elif self.shuffle:
            self.order, self.drawn = self.rng.permutation(self.n), True
        else:
            self.drawn = True

    def position(self) -> tuple[np.ndarray | None, bool, Mapping[str, Any]]:
        """The stream's position, for :meth:`restore`: the epoch's order (of the rows, or
        of the blocks), whether it is drawn, and the generator's state (in a block
        stream, the state before the first block's rows were drawn)."""
        if self.stream is not None and self.drawn:
            return self.stream.visit, True, self.stream.start_state
        return self.order, self.drawn, self.rng.bit_generator.state

    def restore(
        self, order: np.ndarray | None, drawn: bool, rng_state: Mapping[str, Any] | None
    ) -> None:
        """Take up a saved position (what :meth:`position` gave)."""
        self.order, self.stream, self.drawn = None, None, drawn
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        if order is None or not drawn:
            self.order = order
        elif self.blocks is not None and self.sampling is None and len(order) < self.n:
            self.stream = _BlockStream(self.blocks, order, self.rng)
        else:
            self.order = order

    def rows(self, i: int) -> slice | np.ndarray:
        """The rows of batch ``i`` of the epoch: a slice (a view, no copy) or indices."""
        start = i * self.batch_size
        stop = min(start + self.batch_size, self.n)
        if self.stream is not None:
            return self.stream.rows(start, stop)
        if self.order is None:
            return slice(start, stop)
        return self.order[start:stop]

    def remaining(self, cursor: int) -> np.ndarray:
        """The rows of the epoch's batches from batch ``cursor`` on, as one index array."""
        start = cursor * self.batch_size
        if self.stream is not None:
            return self.stream.rows(start, self.n)
        if self.order is None:
            return np.arange(start, self.n)
        return self.order[start:]


class _BlockStream:
    """An epoch over blocks of rows: the blocks in the order ``visit``, and each block's
    rows in an order ``rng.permutation`` draws when the epoch first reaches the block
    (the blocks' orders drawn one after another, in visiting order, from ``rng``).

    Only the orders of the blocks of the last rows asked are kept. Rows asked out of
    turn (after a restore, or behind the last ones) are found by drawing again from the
    state ``rng`` had at the start, so any position gives the same rows.
    """

    def __init__(self, blocks: np.ndarray, visit: np.ndarray, rng: np.random.Generator) -> None:
        self.blocks, self.visit, self.rng = blocks, np.asarray(visit, dtype=np.int64), rng
        self.start_state = rng.bit_generator.state  # before the first block's rows
        self.first_row = np.concatenate([[0], np.cumsum(blocks)[:-1]])
        self.ends = np.cumsum(blocks[self.visit])  # epoch positions where each visit ends
        self.drawn = 0  # the visits whose rows rng has drawn
        self.kept: dict[int, np.ndarray] = {}  # visit -> its rows (global indices)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The rows at epoch positions ``start`` to ``stop`` (exclusive)."""
        first = int(np.searchsorted(self.ends, start, side="right"))
        last = int(np.searchsorted(self.ends, stop - 1, side="right"))
        if first < self.drawn and first not in self.kept:  # out of turn: draw again
            self.rng.bit_generator.state = self.start_state
            self.drawn, self.kept = 0, {}
        while self.drawn <= last:
            b = int(self.visit[self.drawn])
            rows = self.first_row[b] + self.rng.permutation(int(self.blocks[b]))
            if self.drawn >= first:
                self.kept[self.drawn] = rows
            self.drawn += 1
        self.kept = {k: self.kept[k] for k in range(first, last + 1)}
        begins = self.ends - self.blocks[self.visit]
        parts = [self.kept[k][max(start - begins[k], 0) : stop - begins[k]]
                 for k in range(first, last + 1)]  # fmt: skip
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def check_settings(
    n: int,
    batch_size: Any,
    shuffle: Any,
    sampling: Any,
    seed: Any,
) -> tuple[int, bool, str | None, np.random.Generator]:
    """Validated ``batch_size`` (None: all ``n`` rows), ``shuffle``, ``sampling``, ``seed``."""
    if batch_size is None:
        size = n
    else:
        size = _validate.count("batch_size", batch_size, minimum=1)
        if size > n:
            raise ValueError(
                f"batch_size must be at most the number of samples ({n}), got {batch_size}; "
                "use batch_size=None for the full batch"
            )
    shuffle = _validate.boolean("shuffle", shuffle)
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"sampling must be None (each row once per epoch) or 'replacement', got {sampling!r}"
        )
    return size, shuffle, sampling, generator(seed)


def generator(seed: Any) -> np.random.Generator:
    """A Generator from ``seed`` (None, an int, a SeedSequence, or a Generator, used as is).

    >>> rng = generator(0)
    >>> generator(rng) is rng, generator(0).integers(10, size=3)
    (True, array([8, 6, 5]))
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not (
        seed is None or isinstance(seed, (int, np.integer, np.random.SeedSequence))
    ):
        raise TypeError(
            f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__} "
            f"{seed!r:.40}"
        )
    try:
        return np.random.default_rng(seed)
    except ValueError as error:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}: {error}") from None
