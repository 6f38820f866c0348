"""Checkpoints: save a run atomically, resume it bit for bit.

A checkpoint is one NumPy ``.npz`` file that loads with ``allow_pickle=False``: the
arrays (x, the gradient, the optimizer state's arrays, the epoch's row order, the
history, the best point so far with its state, and the parts of ``explain=True``) plus a
JSON string ``meta`` with everything else (counters, f, the optimizer state's numbers,
the random generator's state, the stopping rules' reference value, the rollbacks made,
and a description of the problem that a resume must match).
Floats pass through JSON as their shortest round-trip repr, so nothing is rounded.

The arrays of a run whose x is of another namespace (torch, CuPy, ...) are saved as
float64 NumPy arrays and brought back to x's namespace, dtype and device on resume
(:func:`on_device`): float32 and float64 both pass through float64 exactly.

It is written to a temporary file beside the target, flushed and fsynced, then
renamed over it: a crash at any moment leaves either the old checkpoint or the new
one, never half of one.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from descend import _validate
from descend._types import Array
from descend.core.batches import Batches
from descend.core.namespaces import from_host, to_host
from descend.core.recovery import Best, Rollback
from descend.core.result import Event, Recorder
from descend.gradients.numeric import is_foreign

__all__ = ["SAME_F", "Checkpoint", "Position", "checked_checkpoint"]

FORMAT = "descend-checkpoint-1"
# How close f at a checkpoint's x must come to the f saved with it for the run to resume:
# the same objective sums in another order under another number of BLAS threads (0.5 x @ x
# on 2,000,000 coordinates moved by 1.7e-12 relative between 1 and 2 threads), so f is
# compared to within sqrt(eps), not bit for bit; another objective differs far more.
SAME_F = 1.5e-8


class Position:
    """Where a run stands between updates: what the loop advances and a checkpoint holds.

    The loop assigns the fields of one update together, so that an interrupt always
    finds them consistent.
    """

    __slots__ = ("cursor", "f", "g", "nepoch", "nit", "state", "x")

    def __init__(self, x: Array, f: float, g: Array, state: Any) -> None:
        self.x, self.f, self.g, self.state = x, f, g, state
        self.nit = 0  # updates made
        self.nepoch = 0  # passes over the data completed
        self.cursor = 0  # batches of the current epoch done


@dataclass
class Saved:
    """What a checkpoint restores besides the position."""

    position: Position
    rows: Array  # the history's rows, four doubles each
    xs: Array | None  # the recorded iterates, one flat row each
    f0: float  # the start's f: the reference of the divergence rule
    elapsed: float
    nfev: int
    ngev: int
    order: np.ndarray | None
    order_drawn: bool
    rng_state: dict[str, Any] | None
    status: str | None
    message: str
    best: Best | None = None
    events: list[Event] = field(default_factory=list)
    reversals: tuple[int, Array | None] = (0, None)  # the bounce test's memory
    parts: dict[str, Array] | None = None


class Checkpoint:
    """A checkpoint file for one problem, saved every ``every`` updates and at the end."""

    def __init__(self, path: str | os.PathLike[str], every: int | None, problem: dict[str, Any]):
        self.path = Path(path)
        self.every = every
        self.problem = problem

    @staticmethod
    def temporary(path: str | os.PathLike[str]) -> Path:
        """The file a save writes before renaming it over ``path``."""
        path = Path(path)
        return path.with_name(f".{path.name}.partial")

    def due(self, nit: int) -> bool:
        """Whether update ``nit`` is one to checkpoint after."""
        return self.every is not None and nit % self.every == 0

    def save(
        self,
        p: Position,
        recorder: Recorder,
        f0: float,
        elapsed: float,
        counts: tuple[int, int],
        batches: Batches | None,
        status: str | None = None,
        message: str = "",
        best: Best | None = None,
        rollback: Rollback | None = None,
        parts: dict[str, Array] | None = None,
    ) -> None:
        """Write the run's state atomically."""
        arrays: dict[str, np.ndarray] = {"x": _host(p.x), "g": _host(p.g)}
        numbers = _split_state("state", p.state, arrays)
        best_meta = None
        if best is not None:
            arrays["best.x"], arrays["best.g"] = _host(best.x), _host(best.g)
            order, drawn, rng = best.stream or (None, False, None)
            if order is not None:
                arrays["best.order"] = order
            best_meta = dict(
                f=best.f, nit=best.nit, nepoch=best.nepoch, stream=best.stream is not None,
                drawn=drawn, rng=rng, state=_split_state("best.state", best.state, arrays),
            )  # fmt: skip
        for name, values in (parts or {}).items():
            arrays[f"parts.{name}"] = values
        if rollback is not None and rollback.step is not None:
            arrays["rollback.step"] = _host(rollback.step)
        arrays["history"] = recorder.table()
        if recorder.x is not None:
            arrays["history_x"] = recorder.x.array().reshape(len(recorder.x), -1)
        order, drawn, rng = (None, False, None) if batches is None else batches.position()
        if order is not None:
            arrays["order"] = order
        meta = {
            "format": FORMAT,
            "problem": self.problem,
            "f": p.f,
            "f0": f0,
            "nit": p.nit,
            "nepoch": p.nepoch,
            "cursor": p.cursor,
            "state": numbers,
            "elapsed": elapsed,
            "nfev": counts[0],
            "ngev": counts[1],
            "order_drawn": drawn,
            "rng": rng,
            "status": status,
            "message": message,
            "best": best_meta,
            "events": [] if rollback is None else [list(event) for event in rollback.events],
            "reversals": 0 if rollback is None else rollback.reversals,
        }
        arrays["meta"] = np.array(json.dumps(meta, default=_to_json))
        _write_atomically(self.path, arrays)

    def load(self, state_type: type) -> Saved | None:
        """The saved run, or None when there is no checkpoint file yet.

        Raises ValueError when the file is not a checkpoint or was made for another
        problem (shape, method, hyperparameters, data or batching).
        """
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            meta = json.loads(str(arrays.pop("meta")), object_hook=_from_json)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise self._malformed(error) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise self._malformed("no descend format mark")
        if not isinstance(meta.get("problem"), dict):
            raise self._malformed("no problem description")
        self._check_problem(meta["problem"])
        try:
            saved = self._saved(arrays, meta, state_type)
            _check_fields(saved, int(np.prod(self.problem["shape"])))
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as error:
            raise self._malformed(f"{type(error).__name__}: {error}") from None
        return saved

    def _malformed(self, why: Any) -> ValueError:
        return ValueError(
            f"checkpoint {str(self.path)!r} is not a descend checkpoint ({why}); delete it or "
            "pass resume=False"
        )

    def _saved(self, arrays: dict[str, Any], meta: dict[str, Any], state_type: type) -> Saved:
        """The run that ``arrays`` and ``meta`` hold (a KeyError when a field is missing)."""
        state = _join_state("state", state_type, arrays, meta["state"])
        p = Position(arrays["x"], meta["f"], arrays["g"], state)
        p.nit, p.nepoch, p.cursor = meta["nit"], meta["nepoch"], meta["cursor"]
        xs = arrays.get("history_x")
        best, saved = None, meta.get("best")
        if saved is not None:
            stream = None
            if saved["stream"]:
                stream = (arrays.get("best.order"), saved["drawn"], saved["rng"])
            best_state = _join_state("best.state", state_type, arrays, saved["state"])
            best = Best(arrays["best.x"], saved["f"], arrays["best.g"], saved["nit"],
                        saved["nepoch"], best_state, stream)  # fmt: skip
        parts = {name[6:]: a for name, a in arrays.items() if name.startswith("parts.")}
        return Saved(
            position=p,
            rows=arrays["history"],
            xs=xs,
            f0=meta["f0"],
            elapsed=meta["elapsed"],
            nfev=meta["nfev"],
            ngev=meta["ngev"],
            order=arrays.get("order"),
            order_drawn=meta["order_drawn"],
            rng_state=meta["rng"],
            status=meta["status"],
            message=meta["message"],
            best=best,
            events=[Event(*event) for event in meta.get("events", [])],
            reversals=(meta.get("reversals", 0), arrays.get("rollback.step")),
            parts=parts or None,
        )

    def _check_problem(self, saved: dict[str, Any]) -> None:
        differences = [
            f"{key} was {saved.get(key)!r}, now {self.problem.get(key)!r}"
            for key in {**saved, **self.problem}
            if saved.get(key) != self.problem.get(key)
        ]
        if differences:
            raise ValueError(
                f"checkpoint {str(self.path)!r} belongs to a different problem: "
                f"{'; '.join(differences)}. Resume with the same settings, or pass "
                "resume=False (or another checkpoint path) to start afresh"
            )


def describe_optimizer(optimizer: Any) -> dict[str, Any]:
    """The optimizer's name and hyperparameters as JSON-comparable values.

    >>> from descend import Momentum, schedules
    >>> describe_optimizer(Momentum(lr=schedules.exponential(0.1, 0.5)))["lr"]
    'exponential(initial=0.1, rate=0.5, steps=1)'
    """
    settings = {f.name: _describe(getattr(optimizer, f.name)) for f in fields(optimizer)}
    return {"method": optimizer.name, **settings}


def _describe(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):  # schedules: their repr is their settings
        return repr(value)
    return getattr(value, "__qualname__", type(value).__qualname__)


def _check_fields(saved: Saved, size: int) -> None:
    """The fields a resume computes with: the right kinds and sizes (a ValueError if not)."""
    p = saved.position
    for name, value in (("x", p.x), ("g", p.g)):
        if not (
            isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == (size,)
        ):
            raise ValueError(f"{name} is not {size} float64 values")
    for name in ("nit", "nepoch", "cursor"):
        count = getattr(p, name)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} is not a count: {count!r:.40}")
    for name, number in (("f", p.f), ("f0", saved.f0), ("elapsed", saved.elapsed)):
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"{name} is not a number: {number!r:.40}")
    rows = saved.rows
    if rows.dtype != np.float64 or rows.ndim != 1 or len(rows) % 4:
        raise ValueError("the history is not rows of four numbers")


def _split_state(prefix: str, state: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Put the arrays of an optimizer state in ``arrays`` (as ``prefix.name``); its numbers."""
    numbers: dict[str, Any] = {}
    for name, value in state._asdict().items():
        if isinstance(value, np.ndarray) or is_foreign(value):
            arrays[f"{prefix}.{name}"] = _host(value)
        else:
            numbers[name] = value
    return numbers


def _host(value: Any) -> np.ndarray:
    """An array to save: itself for NumPy, else a float64 NumPy copy (exact for float32)."""
    return value if isinstance(value, np.ndarray) else to_host(value).astype(np.float64)


def on_device(saved: Saved, like: Any, template: Any) -> None:
    """Bring the arrays of ``saved`` (NumPy, as loaded) to the namespace, dtype and device
    of ``like`` (the run's x) and, for the optimizer state, of ``template`` (a fresh state
    of the run): each field that is an array of x's namespace there becomes one again."""

    def state(s: Any) -> Any:
        fields = {
            name: from_host(getattr(s, name), value)
            for name, value in template._asdict().items()
            if is_foreign(value)
        }
        return s._replace(**fields)

    p = saved.position
    p.x, p.g, p.state = from_host(p.x, like), from_host(p.g, like), state(p.state)
    if saved.best is not None:
        b = saved.best
        x, g = from_host(b.x, like), from_host(b.g, like)
        saved.best = b._replace(x=x, g=g, state=state(b.state))
    count, step = saved.reversals
    saved.reversals = (count, None if step is None else from_host(step, like))


def _join_state(
    prefix: str, state_type: Any, arrays: dict[str, np.ndarray], numbers: dict[str, Any]
) -> Any:
    """The optimizer state that :func:`_split_state` took apart."""
    return state_type(**{
        name: arrays[f"{prefix}.{name}"] if f"{prefix}.{name}" in arrays else numbers[name]
        for name in state_type._fields
    })  # fmt: skip


def _to_json(value: Any) -> Any:
    """JSON for what json cannot write: NumPy arrays and scalars (in generator states)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in a checkpoint")


def _from_json(obj: dict[str, Any]) -> Any:
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=obj["dtype"])
    return obj


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an .npz at ``path``: temporary file, flush, fsync, rename."""
    temporary = Checkpoint.temporary(path)
    with open(temporary, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # names, not allow_pickle
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def checked_checkpoint(
    path: Any, every: Any, resume: Any, problem: dict[str, Any]
) -> Checkpoint | None:
    """The Checkpoint for ``path``, checked; checkpoint_every and resume need a path."""
    resume = _validate.boolean("resume", resume)
    if path is None:
        for name, value in (("checkpoint_every", every), ("resume", resume or None)):
            if value is not None:
                raise TypeError(f"{name} needs checkpoint=path, the file to save the run to")
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path, got {type(path).__name__} {path!r:.60}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint {str(path)!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(
            f"checkpoint {str(path)!r} is a folder; pass a file path such as "
            f"{os.path.join(str(path), 'run.npz')!r}"
        )
    _check_writable(path, folder)
    if every is not None:
        every = _validate.count("checkpoint_every", every, minimum=1)
    return Checkpoint(path, every, problem)


def _check_writable(path: Any, folder: str) -> None:
    """Create and remove the checkpoint's temporary file: a save that cannot succeed fails
    now, before any work, not after the run."""
    probe = Checkpoint.temporary(path)
    try:
        with open(probe, "xb"):
            pass
        os.remove(probe)
    except FileExistsError:
        pass  # an earlier save was cut short: the next save replaces it
    except OSError as error:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be written in {folder!r} ({error.strerror}); "
            "choose a folder you can write to"
        ) from None
