"""What a run returns: its status, the answer, and the history of every step."""

from __future__ import annotations

import csv
import os
from array import array
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

import numpy as np

from descend._types import Array
from descend.core.namespaces import namespace, to_host
from descend.gradients.numeric import is_foreign

__all__ = ["Event", "History", "Result", "Status"]


class Status(str, Enum):
    """How a run ended. Compares equal to its name: ``res.status == "converged"``.

    >>> Status.CONVERGED == "converged", str(Status.MAX_ITER)
    (True, 'max_iter')
    """

    CONVERGED = "converged"  # a tolerance (gtol, ftol or xtol) was met
    MAX_ITER = "max_iter"  # the update budget ran out
    DIVERGED = "diverged"  # f, x or the gradient went non-finite, or f exploded
    TIME_LIMIT = "time_limit"
    STOPPED = "stopped"  # the callback asked to stop, or a line search found no lower f
    INTERRUPTED = "interrupted"  # KeyboardInterrupt

    def __str__(self) -> str:
        return self.value


class Event(NamedTuple):
    """Something the loop did besides updating: with ``on_divergence="rollback"``, a return
    to the best point with a smaller learning rate.

    Attributes
    ----------
    nit : int
        The update after which it happened.
    kind : str
        ``"rollback"``.
    cause : str
        What triggered it, in words (``"f became non-finite"``, ``"f rose to 3.2e+07 from a
        best of 0.41"``).
    lr_before, lr_after : float
        The learning rate the next update would have used, and the one it uses.
    to_nit : int
        The update whose point the run went back to (0: the start).
    nepoch : int or None
        In data mode, the epochs done when it happened.
    """

    nit: int
    kind: str
    cause: str
    lr_before: float
    lr_after: float
    to_nit: int
    nepoch: int | None = None


@dataclass(frozen=True, repr=False)
class History:
    """Per-iteration records; index 0 is the start point, index k the point after update k.

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=0.1, max_iter=2, gtol=0)
    >>> res.history.x, res.history.f
    (array([5. , 4. , 3.2]), array([25.  , 16.  , 10.24]))

    Attributes
    ----------
    f : ndarray, shape (k + 1,)
        Objective values.
    grad_norm : ndarray, shape (k + 1,)
        Euclidean norms of the gradient; with ``project=``, of the projected gradient
        ``x - project(x - g)``, which is what gtol reads.
    lr : ndarray, shape (k + 1,)
        Step size of the update that reached each point (entry 0: the first one's). A
        compiled run (``engine="numba"``) whose step size never changes (no schedule, no
        line search) returns a read-only view of that one number, which takes no memory.
    time : ndarray, shape (k + 1,)
        Seconds since the run started.
    x : ndarray, shape (k + 1, *x0.shape), or None
        The iterates, when recorded (by default only when x has at most 1,000 elements).
    explanation : dict of str to ndarray, or None
        With ``explain=True``, the parts of every update (see :meth:`parts`).
    """

    f: Array
    grad_norm: Array
    lr: Array
    time: Array
    x: Array | None = None
    explanation: dict[str, Array] | None = None

    def __len__(self) -> int:
        return len(self.f)

    def __repr__(self) -> str:
        if not len(self):
            return "History(empty)"
        kept = "f, grad_norm, lr, time" + (", x" if self.x is not None else "")
        return f"History({len(self)} points, f {self.f[0]:.6g} -> {self.f[-1]:.6g}; {kept})"

    def parts(self, name: str) -> Array:
        """The part ``name`` of every update of a run with ``explain=True``.

        Row ``k - 1`` belongs to update ``k`` (in data mode with mini-batches, to every
        batch update, not to the epochs the history's points are): shape ``(nit,)`` for a
        number such as ``lr`` or ``angle``, ``(nit, n)`` for a per-coordinate part such as
        ``velocity`` or ``effective_lr`` (x flattened), and ``(nit, k)`` for a list such as
        a line search's ``trial_f``, padded with NaN. Which parts there are depends on the
        method: ``sorted(history.explanation)`` lists them.

        >>> import descend as dd
        >>> res = dd.minimize("x**2 + 10*y**2", [1.0, 1.0], "momentum", lr=0.01, max_iter=3,
        ...                   explain=True)
        >>> res.history.parts("velocity")[0]  # -lr * g at the start
        array([-0.02, -0.2 ])
        """
        if self.explanation is None:
            raise ValueError(
                "this history has no parts: run minimize with explain=True to record them"
            )
        if name not in self.explanation:
            raise ValueError(
                f"no part {name!r} in this history; it has {', '.join(sorted(self.explanation))}"
            )
        return self.explanation[name]

    def to_dict(self) -> dict[str, Array]:
        """The records as a dict of arrays (``x`` only when it was recorded)."""
        names = ["f", "grad_norm", "lr", "time"] + (["x"] if self.x is not None else [])
        return {name: getattr(self, name) for name in names}

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per point: iteration, f, grad_norm, lr, time, then x_0, x_1, ...,
        then the parts of the update that reached the point (empty at the start) when
        they were recorded and there is one update per point (see :meth:`parts`)."""
        columns = self._columns()
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(zip(*(values.tolist() for values in columns.values()), strict=True))

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per point, with the columns of :meth:`to_csv`
        (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - pandas is in the dev extra
            raise ImportError("History.to_frame needs pandas: pip install pandas") from error
        columns = self._columns()
        return pd.DataFrame(columns).set_index("iteration")

    def _columns(self) -> dict[str, Any]:
        columns: dict[str, Any] = {"iteration": np.arange(len(self))}
        columns.update(f=self.f, grad_norm=self.grad_norm, lr=self.lr, time=self.time)
        if self.x is not None:
            flat = self.x.reshape(len(self), -1)
            columns.update({f"x_{i}": flat[:, i] for i in range(flat.shape[1])})
        explanation = self.explanation or {}
        aligned = all(len(values) == len(self) - 1 for values in explanation.values())
        for name, values in explanation.items() if aligned else ():
            values = np.concatenate([np.full((1, *values.shape[1:]), np.nan), values])
            if name in columns:  # the part "lr" repeats the history's column
                if np.array_equal(values[1:], columns[name][1:], equal_nan=True):
                    continue
                name = f"part_{name}"
            if values.ndim == 1:
                columns[name] = values
            else:
                columns.update({f"{name}_{i}": values[:, i] for i in range(values.shape[1])})
        return columns


class Rows:
    """A growing table of float rows kept in preallocated blocks, for the recorded iterates.

    Appending copies a row into the current block; a full block is followed by one twice
    its size, up to :attr:`BLOCK_BYTES`. A list of arrays would cost about 100 bytes of
    object per row beside the data (7x for a 2-D x), and freezing it doubles that again;
    here the blocks hold the data alone, and :meth:`take` moves them into one array block
    by block, so the peak is what is kept plus one block.
    """

    BLOCK_BYTES = 1 << 20
    FIRST = 64  # rows of the first block: a short run allocates little

    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        self.blocks: list[Array] = []
        self.size = 0  # rows in the blocks before the current one
        self._block = np.empty((0, 0))
        self._used = self._capacity = 0  # rows of the current block

    def __len__(self) -> int:
        return self.size + self._used

    def append(self, row: Array) -> None:
        """Copy ``row`` (a flat float array, the same length every time) into the table."""
        used = self._used
        if used == self._capacity:
            self._grow(row.size)
            used = 0
        self._block[used] = row
        self._used = used + 1

    def extend(self, rows: Array) -> None:
        """Append every row of the 2-D array ``rows`` (to an empty table, as one block)."""
        assert not len(self), "extend starts a table"
        self._block = np.array(rows, dtype=float)
        self.blocks = [self._block]
        self._used = self._capacity = len(rows)

    def array(self) -> Array:
        """The rows as one ``(len, width)`` array (a copy: the table may grow on)."""
        if not self.blocks:
            return np.empty((0, 0))
        return np.concatenate([*self.blocks[:-1], self._block[: self._used]])

    def take(self) -> Array:
        """The rows as one ``(len, width)`` array, emptying the table block by block."""
        out = np.empty((len(self), self._block.shape[1]))
        start = 0
        while self.blocks:
            block = self.blocks.pop(0)
            rows = block[: self._used] if block is self._block else block
            out[start : start + len(rows)] = rows
            start += len(rows)
        self._empty()
        return out

    def _grow(self, width: int) -> None:
        self.size += self._used
        cap = max(1, self.BLOCK_BYTES // (8 * max(width, 1)))
        rows = min(cap, 2 * self._capacity if self.blocks else self.FIRST)
        self._block = np.empty((rows, width))
        self.blocks.append(self._block)
        self._used, self._capacity = 0, rows


class DeviceRows:
    """The recorded iterates of an x of another namespace: kept on its device while the
    run goes (no transfer inside the loop) and brought to NumPy in one transfer when the
    history is frozen or saved, so that ``History.x`` is a NumPy array like the rest."""

    def __init__(self) -> None:
        self.head = np.empty((0, 0))  # rows restored from a checkpoint, on the host
        self.rows: list[Any] = []

    def __len__(self) -> int:
        return len(self.head) + len(self.rows)

    def append(self, row: Any) -> None:
        self.rows.append(row)

    def extend(self, rows: Array) -> None:
        self.head = np.array(rows, dtype=float)

    def array(self) -> Array:
        if not self.rows:
            return self.head
        xp = namespace(self.rows[0])
        tail = to_host(xp.stack(self.rows)).astype(float)
        return np.concatenate([self.head, tail]) if len(self.head) else tail

    def take(self) -> Array:
        out = self.array()
        self.head, self.rows = np.empty((0, 0)), []
        return out


class Recorder:
    """Collects history rows compactly: four doubles a point, and x only when asked.

    f, grad_norm, lr and the time of each point go one after another into arrays of
    doubles of at most :attr:`CHUNK` entries each (one growing array would be copied
    whole as it grows, and so would its freezing, for three times the history at the
    peak); the flat iterates go into a :class:`Rows` table.
    """

    COLUMNS = ("f", "grad_norm", "lr", "time")
    CHUNK = Rows.BLOCK_BYTES // 8

    def __init__(self, record_x: bool) -> None:
        self._current = array("d")
        self.chunks = [self._current]
        self.x: Rows | DeviceRows | None = Rows() if record_x else None

    def __len__(self) -> int:
        """Points recorded."""
        return sum(len(chunk) for chunk in self.chunks) // len(self.COLUMNS)

    def record(self, f: float, grad_norm: float, lr: float, elapsed: float, x: Array) -> None:
        """One point's row, and its (flat) x when iterates are recorded."""
        rows = self._current
        rows.extend((f, grad_norm, lr, elapsed))
        if len(rows) >= self.CHUNK:
            self._current = array("d")
            self.chunks.append(self._current)
        if self.x is not None:
            self.x.append(x)

    def table(self) -> Array:
        """The rows recorded so far, one flat array of four doubles a point (a copy)."""
        return np.concatenate([np.frombuffer(chunk) for chunk in self.chunks])

    def restore(self, rows: Array, xs: Array | None) -> None:
        """Take up the records of a saved run (``xs``: one flat iterate per row)."""
        flat = np.ascontiguousarray(rows, dtype=float).reshape(-1)
        self.chunks = []
        for start in range(0, len(flat) + 1, self.CHUNK):  # the last one has room to grow
            self.chunks.append(array("d", flat[start : start + self.CHUNK].tobytes()))
        self._current = self.chunks[-1]
        if self.x is not None and xs is not None:
            self.x.extend(xs)

    def history(
        self, sign: float, shape: tuple[int, ...], explanation: dict[str, Array] | None = None
    ) -> History:
        """Freeze into a History, emptying the recorder chunk by chunk so that the peak is
        the history plus one chunk; ``sign`` undoes the negation used for maximising."""
        # Ctrl-C between a point's row and its x leaves one more row: that point is dropped.
        n = len(self) if self.x is None else min(len(self), len(self.x))
        x = None if self.x is None else self.x.take()[:n].reshape((n, *shape))
        width = len(self.COLUMNS)
        table = np.empty((width, len(self)))
        start = 0
        while self.chunks:
            rows = np.frombuffer(self.chunks.pop(0)).reshape(-1, width)
            table[:, start : start + len(rows)] = rows.T
            start += len(rows)
        self._current = array("d")
        self.chunks.append(self._current)
        columns = dict(zip(self.COLUMNS, table[:, :n], strict=True))
        columns["f"] *= sign
        return History(**columns, x=x, explanation=explanation)


@dataclass(frozen=True, repr=False)
class Result:
    """The outcome of :func:`descend.minimize`, with SciPy's vocabulary.

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: (x - 1) ** 2, 3.0, grad=lambda x: 2 * (x - 1), lr=0.5)
    >>> res.x, res.fun, res.nit, res.success
    (array(1.), 0.0, 1, True)

    Attributes
    ----------
    x : ndarray
        The final point, shaped like ``x0`` (a scalar ``x0`` gives shape ``()``).
    fun : float
        The objective at ``x``.
    grad : ndarray
        The gradient at ``x``.
    nit : int
        Updates made.
    nepoch : int or None
        Passes over the data (data mode only).
    nfev, ngev : int
        Evaluations of the objective and of the gradient (finite differences count
        their function evaluations in ``nfev``), every call of the user's functions
        included: those of the run and those of its diagnosis.
    diagnosis_nfev, diagnosis_ngev : int
        The part of ``nfev`` and ``ngev`` that the diagnosis of a failed run spent on its
        probes (gradient check, curvature estimates, trial runs of a suggested lr); 0
        when the run needed no diagnosis or the diagnosis called nothing.
    status : Status
        ``"converged"``, ``"max_iter"``, ``"diverged"``, ``"time_limit"``,
        ``"stopped"`` or ``"interrupted"``.
    success : bool
        Whether the run converged.
    message : str
        Which rule fired, with its values, and a hint when the run failed.
    history : History
        Every point's f, gradient norm, learning rate, time, and x when recorded.
    elapsed : float
        Wall-clock seconds.
    method : str
        The optimizer's registry name.
    optimizer : Optimizer
        The optimizer object with all its hyperparameters.
    maximize : bool
        Whether the run maximised ``fun``.
    best_x, best_fun, best_nit : ndarray, float, int
        The best point the run evaluated (lowest ``fun``; highest when maximising), its
        value and the update that reached it (0: the start). In data mode the points are
        the epochs' ends, compared on all the data. ``keep="best"`` makes it ``x``.
    events : tuple of Event
        What the loop did besides updating: the rollbacks of ``on_divergence="rollback"``.
    """

    x: Array
    fun: float
    grad: Array
    nit: int
    nfev: int
    ngev: int
    status: Status
    message: str
    history: History
    elapsed: float
    method: str
    optimizer: Any = None
    nepoch: int | None = None
    maximize: bool = False
    diagnosis_nfev: int = 0
    diagnosis_ngev: int = 0
    best_x: Array | None = None
    best_fun: float = float("nan")
    best_nit: int = 0
    events: tuple[Event, ...] = ()

    @property
    def success(self) -> bool:
        return self.status is Status.CONVERGED

    def __repr__(self) -> str:
        with np.printoptions(precision=8, threshold=12, edgeitems=3):
            rows = {
                "status": str(self.status),
                "success": str(self.success),
                "message": self.message,
                "x": np.array2string(_printable(self.x), separator=", "),
                "fun": f"{self.fun:.10g}",
                "grad": np.array2string(_printable(self.grad), separator=", "),
                "nit": str(self.nit),
                "nfev": str(self.nfev),
                "ngev": str(self.ngev),
                "elapsed": f"{self.elapsed:.3g} s",
                "method": repr(self.optimizer) if self.optimizer is not None else self.method,
                "history": repr(self.history),
            }
        if self.nepoch is not None:
            rows["nepoch"] = str(self.nepoch)
        if self.best_nit != self.nit and self.best_x is not None:
            rows["best"] = f"fun {self.best_fun:.10g} at update {self.best_nit}"
        if self.events:
            last = self.events[-1].nit
            rows["events"] = f"{len(self.events)} rollbacks, the last at update {last}"
        width = max(map(len, rows))
        indent = "\n" + " " * (width + 2)  # continuation lines of 2-D arrays line up
        return "\n".join(
            f"{key.rjust(width)}: {value.replace(chr(10), indent)}" for key, value in rows.items()
        )


def _printable(v: Any) -> Array:
    """``v`` as a NumPy array to print (an array of another namespace read from its device)."""
    return to_host(v) if is_foreign(v) else np.asarray(v)
