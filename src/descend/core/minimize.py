"""The one optimisation loop: every other part of descend calls it."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from descend import _validate
from descend._progress import Progress
from descend._types import Array, ArrayLike, Projection
from descend.core.batches import Batches, as_data, check_settings
from descend.core.checkpoint import Checkpoint, Position, Saved, describe_optimizer
from descend.core.optimizers import Optimizer, make_optimizer
from descend.core.result import Recorder, Result, Status
from descend.core.stopping import Ending, Rules, non_finite
from descend.gradients.objective import Objective

__all__ = ["Iteration", "maximize", "minimize"]

# x is recorded in the history by default only up to this many elements.
RECORD_X_MAX_SIZE = 1000
# minimize's own keywords, offered as suggestions when a misspelt one reaches the optimizer.
MINIMIZE_KEYWORDS = (
    "grad", "variables", "lr", "max_iter", "ftol", "gtol", "xtol", "time_limit", "maximize",
    "project", "callback", "record_x", "data", "batch_size", "epochs", "shuffle", "sampling",
    "seed", "checkpoint", "checkpoint_every", "resume", "progress",
)  # fmt: skip
# Passes over the data when data is given and epochs is not.
DEFAULT_EPOCHS = 100
# A run saved with one of these endings is over: resuming it returns it as it was.
FINAL_STATUSES = ("converged", "diverged")


class Iteration(NamedTuple):
    """What ``callback`` receives after every update (read-only views of x and grad).

    In data mode it comes after every epoch, with f and the gradient on all the data.

    >>> import descend as dd
    >>> seen = []
    >>> _ = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=0.1, max_iter=2, gtol=0,
    ...                 callback=lambda info: seen.append((info.nit, float(info.x))))
    >>> seen
    [(1, 4.0), (2, 3.2)]
    """

    nit: int
    x: Array
    fun: float
    grad: Array
    grad_norm: float
    lr: float
    elapsed: float
    nepoch: int | None = None


def minimize(
    fun: Callable[..., Any] | str,
    x0: ArrayLike,
    method: str | Optimizer = "gd",
    *,
    grad: Callable[..., Any] | str | None = None,
    variables: Sequence[str] | None = None,
    lr: float | Callable[[int], float] | None = None,
    max_iter: int | None = None,
    ftol: float | None = None,
    gtol: float | None = 1e-8,
    xtol: float | None = None,
    time_limit: float | None = None,
    maximize: bool = False,
    project: Projection | None = None,
    callback: Callable[[Iteration], Any] | None = None,
    record_x: bool | None = None,
    data: Sequence[ArrayLike] | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    shuffle: bool = True,
    sampling: str | None = None,
    seed: int | np.random.Generator | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = False,
    **hyperparameters: Any,
) -> Result:
    """Minimise ``fun`` from ``x0`` by a gradient method, recording every step.

    Each update is ``x <- project(x + step)``, where the optimizer turns the
    gradient at ``x`` into ``step``. The run stops at the first rule that fires:
    ``gtol``, ``ftol``, ``xtol``, divergence, ``time_limit`` or ``max_iter``.

    Parameters
    ----------
    fun : callable or str
        ``fun(x) -> float`` (``fun(x, *batch)`` with ``data``), called with ``x``
        shaped like ``x0``; or a formula such
        as ``"(x-1)**2 + 3*y**2"`` (see :func:`descend.parse`), whose exact gradient is
        derived symbolically.
    x0 : float, list or array
        The start point; never modified. A scalar gives a scalar-shaped ``res.x``.
    method : str or Optimizer
        ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
        ``"adam"``, ``"adamw"``, ``"armijo"``, ``"bb"``, or an optimizer object
        such as ``descend.Adam(lr=0.1)``.
    grad : callable, "numeric", "autograd", "jax" or None
        ``grad(x)`` (``grad(x, *batch)`` with ``data``) returning the gradient in
        the shape of ``x``; ``"numeric"`` for central differences (2n evaluations
        of fun per step); ``"autograd"`` or ``"jax"`` to differentiate ``fun``
        automatically (an error if it cannot); ``None``: exact automatic
        differentiation where autograd or JAX can trace ``fun`` (checked once at
        ``x0``), else central differences with a warning.
    variables : sequence of str, optional
        With a formula: the order of its variables in ``x`` (default: order of
        first appearance).
    lr : float or callable, optional
        Learning rate, or a schedule ``t -> lr`` (see :mod:`descend.schedules`);
        default: the optimizer's own.
    max_iter : int, optional
        Most updates to make (default 1,000; with ``data``, no bound besides ``epochs``).
    ftol, gtol, xtol : float, optional
        Stop when ``|f_k - f_(k-1)| < ftol``, ``||g_k|| <= gtol`` or
        ``||x_k - x_(k-1)|| <= xtol``; ``None`` or ``0`` disables a rule, so
        ``gtol=0`` alone runs exactly ``max_iter`` updates. With ``data``, k counts
        epochs and f and g are on all the data.
    time_limit : float, optional
        Seconds after which the run stops.
    maximize : bool
        Ascend instead: maximise ``fun`` (the result reports ``fun``'s own values).
    project : callable, optional
        ``x -> x`` applied after every update, e.g. ``descend.projections.simplex()``.
    callback : callable, optional
        ``callback(info)`` after every update, with ``info.nit``, ``.x``, ``.fun``,
        ``.grad``; returning True or raising StopIteration stops the run.
    record_x : bool, optional
        Keep every iterate in ``res.history.x``; default: when x has at most 1,000
        elements.
    data : tuple of arrays, optional
        ``(X, y, ...)``, arrays (or memmaps) sharing their first dimension, one row
        per sample; never modified. Each update then uses a batch of rows, and the
        history holds one point per epoch, evaluated on all the data.
    batch_size : int, optional
        Rows per update: None for all of them (full batch), 1 for single samples,
        k for mini-batches (the last short batch of an epoch is kept).
    epochs : int, optional
        Most passes over the data (default 100).
    shuffle : bool
        Visit the rows in a new random order every epoch (True) or in order.
    sampling : {None, "replacement"}
        ``"replacement"`` draws each batch's rows at random, with replacement.
    seed : int or numpy.random.Generator, optional
        Makes shuffling and sampling repeatable; a Generator is used (and advanced)
        as is.
    checkpoint : str or path, optional
        A file to save the run to, atomically (``.npz`` with JSON metadata): every
        ``checkpoint_every`` updates, at the end, and when interrupted.
    checkpoint_every : int, optional
        Updates between saves (default: only at the end).
    resume : bool
        Continue from ``checkpoint`` (when the file exists) exactly where it stopped:
        the resumed run ends bit for bit where an uninterrupted one would. A run saved
        as converged or diverged is returned as it was. Resuming another problem
        (shape, method, hyperparameters, data, batching) is a ValueError.
    progress : bool
        Show a progress line on stderr.
    **hyperparameters
        Passed to the optimizer: ``momentum``, ``beta1``, ``beta2``, ``eps``,
        ``rho``, ``weight_decay``, ``clip_norm``, ...; an unknown name is a TypeError.

    Returns
    -------
    Result
        ``x``, ``fun``, ``grad``, ``nit``, ``nfev``, ``ngev``, ``status``,
        ``success``, ``message``, ``history``, ``elapsed``, ``method``.

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any iteration runs; the message names the
        argument and a fix. Problems met during the run (divergence, a callback
        asking to stop, Ctrl-C: status ``"interrupted"``, with the checkpoint saved)
        end it with a status instead.

    Notes
    -----
    Divergence (f, x or the gradient non-finite, or f above its start by a factor
    of a million) returns the last finite point with a message that suggests a
    stable learning rate where it can estimate one. Gradient descent on x**2
    with lr=1.0 bounces between 5 and -5 forever: that ends as ``"max_iter"``.

    Examples
    --------
    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=0.1, max_iter=3, gtol=0)
    >>> res.x, res.status  # 5 * 0.8**3
    (array(2.56), <Status.MAX_ITER: 'max_iter'>)

    With data, one update per batch and one history point per epoch: the mean of
    ``y`` by single samples in order (0 -> 0.5 -> 1.25 -> 3.625 in the first epoch).

    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 6.0])
    >>> res = dd.minimize(lambda m, y: 0.5 * np.mean((m - y) ** 2), 0.0,
    ...                   grad=lambda m, y: np.mean(m - y), lr=0.5, data=(y,),
    ...                   batch_size=1, shuffle=False, epochs=2)
    >>> res.nit, res.nepoch, res.history.x
    (6, 2, array([0.      , 3.625   , 4.078125]))
    """
    x_start = _validate.float_array("x0", x0)
    shape = x_start.shape
    arrays, batching = _data_settings(data, batch_size, epochs, shuffle, sampling, seed)
    if max_iter is not None:
        max_iter = _validate.count("max_iter", max_iter)
    elif data is None:
        max_iter = 1000
    rules: dict[str, Any] = dict(
        max_iter=sys.maxsize if max_iter is None else max_iter,
        ftol=_validate.tolerance("ftol", ftol),
        gtol=_validate.tolerance("gtol", gtol),
        xtol=_validate.tolerance("xtol", xtol),
        time_limit=None
        if time_limit is None
        else _validate.positive("time_limit", time_limit, "; it is in seconds, e.g. 60"),
        epochs=batching.epochs,
    )
    optimizer = build_optimizer(method, lr, max_iter, **hyperparameters)
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback must be callable or None, got {callback!r:.60}; pass a function of one "
            "argument, such as lambda info: print(info.nit, info.fun)"
        )
    maximize = _validate.boolean("maximize", maximize)
    progress = _validate.boolean("progress", progress)
    if record_x is None:
        record_x = x_start.size <= RECORD_X_MAX_SIZE
    record_x = _validate.boolean("record_x", record_x)
    saver = _checkpoint(
        checkpoint, checkpoint_every, resume, dict(
            shape=list(shape), **describe_optimizer(optimizer), maximize=maximize,
            record_x=record_x, **batching.problem,
        ),
    )  # fmt: skip
    objective = Objective(fun, grad, shape, maximize=maximize, variables=variables, data=arrays)
    x = x_start.reshape(-1)
    project_flat = None if project is None else _flat_projection(project, x, shape)
    f, g = objective.start(x)
    run = _Run(
        objective,
        optimizer,
        Rules(f0=f, sign=objective.sign, **rules),
        project_flat,
        callback,
        Recorder(record_x),
        batching,
        saver,
    )
    state = optimizer.init(x)
    saved = saver.load(type(state)) if resume and saver is not None else None
    if saved is None:
        return run(Position(x, f, g, state), 0.0, progress)
    run.restore(saved)
    if saved.status in FINAL_STATUSES:  # nothing left to do: the saved run is the answer
        ending = Ending(Status(saved.status), saved.message)
        return _explained(run.result(saved.position, ending, saved.elapsed), run.objective)
    return run(saved.position, saved.elapsed, progress)


def build_optimizer(
    method: str | Optimizer, lr: Any = None, max_iter: int | None = None, **hyperparameters: Any
) -> Optimizer:
    """The optimizer a run of minimize uses, checked as minimize checks it: ``lr`` and the
    hyperparameters applied, and a schedule evaluated at the last update it will reach."""
    if lr is not None:
        hyperparameters["lr"] = lr
    optimizer = make_optimizer(method, known=MINIMIZE_KEYWORDS, **hyperparameters)
    if max_iter:
        optimizer.rate(max_iter - 1)  # a schedule that fails late fails now
    return optimizer


def maximize(
    fun: Callable[..., Any] | str, x0: ArrayLike, method: str | Optimizer = "gd", **kwargs: Any
) -> Result:
    """Maximise ``fun`` by gradient ascent: ``minimize(..., maximize=True)``.

    >>> import descend as dd
    >>> res = dd.maximize(lambda x: -((x - 2) ** 2), 0.0, grad=lambda x: -2 * (x - 2), lr=0.25)
    >>> float(res.x), float(res.fun)
    (2.0, -0.0)
    """
    return minimize(fun, x0, method, maximize=True, **kwargs)


class _Batching(NamedTuple):
    """Data mode's settings: the batch stream (None for the full batch), the epoch
    budget (None without data), and what a checkpoint must match."""

    batches: Batches | None
    epochs: int | None
    problem: dict[str, Any]


def _data_settings(
    data: Any, batch_size: Any, epochs: Any, shuffle: Any, sampling: Any, seed: Any
) -> tuple[tuple[Array, ...], _Batching]:
    """The data arrays and the batching, checked; data-mode keywords need data."""
    if data is None:
        given = dict(batch_size=batch_size, epochs=epochs, sampling=sampling, seed=seed)
        for name, value in given.items():
            if value is not None:
                raise TypeError(
                    f"{name} goes with data=(X, y, ...), and no data was given; without data "
                    "every update uses fun itself"
                )
        if shuffle is not True:
            raise TypeError("shuffle goes with data=(X, y, ...), and no data was given")
        return (), _Batching(None, None, {})
    arrays = as_data(data)
    n = len(arrays[0])
    size, shuffle, sampling, rng = check_settings(n, batch_size, shuffle, sampling, seed)
    epochs = DEFAULT_EPOCHS if epochs is None else _validate.count("epochs", epochs, minimum=1)
    batches = None if batch_size is None else Batches(n, size, shuffle, sampling, rng)
    problem = dict(
        data=[[list(a.shape), str(a.dtype)] for a in arrays],
        batch_size=None if batch_size is None else size,
        shuffle=shuffle,
        sampling=sampling,
    )
    return arrays, _Batching(batches, epochs, problem)


def _checkpoint(path: Any, every: Any, resume: Any, problem: dict[str, Any]) -> Checkpoint | None:
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
    if every is not None:
        every = _validate.count("checkpoint_every", every, minimum=1)
    return Checkpoint(path, every, problem)


def _flat_projection(project: Any, x: Array, shape: tuple[int, ...]) -> Callable[[Array], Array]:
    """Check ``project`` once at x0 and adapt it to flat arrays."""
    if not callable(project):
        raise TypeError(
            f"project must be a callable x -> x such as descend.projections.simplex(), "
            f"got {project!r:.60}"
        )
    trial = np.asarray(project(x.reshape(shape).copy()), dtype=float)
    if trial.shape != shape:
        raise ValueError(
            f"project must return an array of x's shape {shape}, got shape {trial.shape}"
        )

    def project_flat(x: Array) -> Array:
        return np.asarray(project(x.reshape(shape)), dtype=float).reshape(-1)

    return project_flat


def _norm(v: Array) -> float:
    """Euclidean norm of a flat array: one dot product, rescaled if that overflows."""
    with np.errstate(over="ignore"):
        norm = math.sqrt(v.dot(v))
    if norm == math.inf and np.isfinite(v).all():  # finite entries above ~1e154
        largest = float(np.abs(v).max())
        norm = largest * math.sqrt((v / largest).dot(v / largest))
    return norm


class _Run:
    """The loop, with the parts that stay fixed while a Position moves.

    Without data, or with the full batch, every pass of the loop is one update
    followed by f and the gradient at the new point. With mini-batches, every pass
    is the rest of an epoch of batch updates followed by f and the gradient on all
    the data. Either way the history, the callback and the stopping rules see one
    point per pass.
    """

    def __init__(
        self,
        objective: Objective,
        optimizer: Optimizer,
        rules: Rules,
        project: Callable[[Array], Array] | None,
        callback: Callable[[Iteration], Any] | None,
        recorder: Recorder,
        batching: _Batching,
        saver: Checkpoint | None,
    ) -> None:
        self.objective, self.optimizer, self.rules = objective, optimizer, rules
        self.project, self.callback, self.recorder = project, callback, recorder
        self.batches, self.data_mode = batching.batches, batching.epochs is not None
        self.saver = saver
        self.started = 0.0  # perf_counter() at the start, less the time of a resumed run
        # A model may bring a compiled kernel for a whole epoch of its own loss.
        kernel = getattr(objective.fun, "epoch_kernel", None)
        self.kernel = kernel if objective.sign > 0 and project is None else None

    def restore(self, saved: Saved) -> None:
        """Take up the history, counts and batch stream of a saved run."""
        self.recorder.restore(saved.rows, saved.xs)
        self.rules.reset_start(saved.f0)
        self.objective.nfev, self.objective.ngev = saved.nfev, saved.ngev
        if self.batches is not None:
            self.batches.restore(saved.order, saved.order_drawn, saved.rng_state)

    def __call__(self, p: Position, elapsed: float, progress: bool) -> Result:
        objective, rules, batches, saver = self.objective, self.rules, self.batches, self.saver
        value, value_and_grad, update = (
            objective.value,
            objective.value_and_grad,
            self.optimizer.update,
        )
        sign, shape, project, callback = (
            objective.sign,
            objective.shape,
            self.project,
            self.callback,
        )
        record, xs = self.recorder.rows.extend, self.recorder.x  # bound once: runs every update
        bar = Progress(rules.epochs or rules.max_iter) if progress else None
        sqrt, isfinite, clock = math.sqrt, math.isfinite, time.perf_counter  # hot-loop locals
        data_mode = self.data_mode
        grad_norm = _norm(p.g)
        if p.nit == 0 and not self.recorder.rows:
            record((p.f, grad_norm, p.state.lr, 0.0))
            if xs is not None:
                xs.append(p.x)  # iterates are never mutated, so no copy is needed
            ending = rules.at_start(grad_norm)
        else:  # resumed: only a budget already spent stops it
            ending = rules.budget(p.nit, elapsed, grad_norm, p.nepoch)
        self.started = started = clock() - elapsed
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is a status
                while ending is None:
                    x, f = p.x, p.f
                    if batches is None:
                        step, state = update(p.g, p.state, x, value, f)
                        x_new = x + step
                        if project is not None:
                            x_new = project(x_new)
                        nit = p.nit + 1
                    else:
                        self._batch_updates(p)
                        x_new, state, nit = p.x, p.state, p.nit
                    f_new, g_new = value_and_grad(x_new)
                    grad_norm = sqrt(g_new.dot(g_new))
                    # One sum of dot products tests f, g and x for NaN and inf at once; it
                    # overflows for finite entries above ~1e154, so a failure is looked at again.
                    broke = None
                    if not isfinite(f_new + grad_norm + x_new.dot(x_new)):
                        grad_norm, broke = _inspect(f_new, g_new, x_new)
                    elapsed = clock() - started
                    record((f_new, grad_norm, state.lr, elapsed))
                    if xs is not None:
                        xs.append(x_new)
                    if broke is not None:
                        p.x, p.state, p.nit = x, state, nit  # the last finite point
                        ending = non_finite(nit, broke)
                        break
                    step_norm = _norm(x_new - x) if rules.xtol is not None else math.inf
                    f_change = abs(f_new - f)
                    # A mini-batch pass stopped by max_iter inside an epoch does not end it.
                    epoch_done = data_mode and (batches is None or p.cursor == batches.per_epoch)
                    p.x, p.f, p.g, p.state, p.nit = x_new, f_new, g_new, state, nit
                    if epoch_done:
                        p.nepoch, p.cursor = p.nepoch + 1, 0
                        if batches is not None:
                            batches.drawn = False
                    ending = rules.check(
                        nit, f_new, f_change, grad_norm, step_norm, elapsed, p.nepoch
                    )
                    if bar is not None:
                        bar.update(p.nepoch if data_mode else nit, sign * f_new, grad_norm, elapsed)
                    if callback is not None:
                        info = Iteration(
                            nit,
                            _read_only(x_new, shape),
                            sign * f_new,
                            _read_only(sign * g_new, shape),
                            grad_norm,
                            state.lr,
                            elapsed,
                            p.nepoch if data_mode else None,
                        )
                        if _asks_to_stop(callback, info) and ending is None:
                            ending = Ending(
                                Status.STOPPED,
                                f"stopped: the callback asked to stop after {nit} updates",
                            )
                    if saver is not None and ending is None and saver.due(nit):
                        self._save(p)
        except KeyboardInterrupt:
            ending = Ending(
                Status.INTERRUPTED,
                f"interrupted: KeyboardInterrupt after {p.nit} updates; the result so far is "
                "returned" + (f" and saved in {str(saver.path)!r}" if saver is not None else ""),
            )
        finally:
            if bar is not None:
                bar.close()
        elapsed = clock() - self.started
        if saver is not None:
            self._save(p, ending)
        return _explained(self.result(p, ending, elapsed), objective)

    def _batch_updates(self, p: Position) -> None:
        """Update on the epoch's remaining batches (up to max_iter), advancing ``p``."""
        batches, objective, optimizer, project = (
            self.batches,
            self.objective,
            self.optimizer,
            self.project,
        )
        assert batches is not None
        if not batches.drawn:
            batches.start_epoch()
        per_epoch, max_iter, saver = batches.per_epoch, self.rules.max_iter, self.saver
        if self.kernel is not None and p.cursor < per_epoch:
            self._kernel_epoch(p)
        data, update, uses_fun = objective.data, optimizer.update, optimizer.uses_fun
        while p.cursor < per_epoch and p.nit < max_iter:
            rows = batches.rows(p.cursor)
            batch = tuple(a[rows] for a in data)
            if uses_fun:  # a line search: f and its trials on this batch
                f_batch, g_batch = objective.value_and_grad(p.x, batch)
                fun = functools.partial(objective.value, batch=batch)
                step, state = update(g_batch, p.state, p.x, fun, f_batch)
            else:
                step, state = update(objective.grad_at(p.x, batch), p.state, p.x)
            x = p.x + step
            if project is not None:
                x = project(x)
            p.x, p.state, p.nit, p.cursor = x, state, p.nit + 1, p.cursor + 1
            if saver is not None and saver.due(p.nit) and p.cursor < per_epoch:
                self._save(p)  # the epoch's last update is saved after its evaluation

    def _kernel_epoch(self, p: Position) -> None:
        """The rest of the epoch in the model's compiled kernel, when it can take it:
        the same updates in the same order, with the optimizer's own state."""
        batches, saver = self.batches, self.saver
        assert batches is not None and self.kernel is not None
        left = batches.per_epoch - p.cursor
        if p.nit + left > self.rules.max_iter:
            return
        every = None if saver is None else saver.every
        if every is not None and (p.nit // every + 1) * every < p.nit + left:
            return  # a save falls inside the epoch
        done = self.kernel(
            p.x, p.state, self.optimizer, batches.remaining(p.cursor), batches.batch_size,
            *self.objective.data,
        )  # fmt: skip
        if done is not None:
            x, state = done
            p.x, p.state, p.nit, p.cursor = x, state, p.nit + left, batches.per_epoch

    def _save(self, p: Position, ending: Ending | None = None) -> None:
        assert self.saver is not None
        self.saver.save(
            p,
            self.recorder,
            self.rules.f0,
            time.perf_counter() - self.started,
            (self.objective.nfev, self.objective.ngev),
            self.batches,
            None if ending is None else str(ending.status),
            "" if ending is None else ending.message,
        )

    def result(self, p: Position, ending: Ending, elapsed: float) -> Result:
        """The Result for a run that stands at ``p``."""
        objective = self.objective
        sign, shape = objective.sign, objective.shape
        f, g = p.f, p.g
        if ending.status is Status.INTERRUPTED and p.cursor:
            with contextlib.suppress(KeyboardInterrupt):  # f and g at the point returned
                f, g = objective.value_and_grad(p.x)
        return Result(
            x=p.x.reshape(shape),
            fun=sign * f,
            grad=np.asarray(sign * g).reshape(shape),
            nit=p.nit,
            nfev=objective.nfev,
            ngev=objective.ngev,
            status=ending.status,
            message=ending.message,
            history=self.recorder.history(sign, shape),
            elapsed=elapsed,
            method=self.optimizer.name,
            optimizer=self.optimizer,
            nepoch=p.nepoch if self.data_mode else None,
            maximize=sign < 0,
        )


def _explained(result: Result, objective: Objective) -> Result:
    """The result with the diagnosis of a failed run appended to its message.

    Only a run that diverged or ended above its start pays for evaluations (a gradient
    check and a curvature estimate, about 2n + 2 evaluations of f and up to 100
    gradients); other endings are read from the history alone. A diagnosis that
    cannot be made leaves the message as it is: it never fails the run.
    """
    if result.status in (Status.CONVERGED, Status.STOPPED, Status.INTERRUPTED):
        return result
    from descend.analysis.diagnose import diagnose

    f = result.history.f * objective.sign  # as minimised
    worse = result.status is Status.DIVERGED or not f[-1] <= f[0]
    fun, grad = objective.user_functions() if worse else (None, None)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # probes far out may overflow; that is expected
            main = diagnose(result, fun, grad).main
    except Exception:  # a diagnosis is advice: without one the result still stands
        return result
    return dataclasses.replace(
        result, message=f"{result.message}; {main.message}; {main.suggestion}"
    )


def _asks_to_stop(callback: Callable[[Iteration], Any], info: Iteration) -> bool:
    """Run the callback: returning True (or NumPy's True) or raising StopIteration stops."""
    try:
        answer = callback(info)
    except StopIteration:
        return True
    return answer is True or answer is np.True_


def _read_only(v: Array, shape: tuple[int, ...]) -> Array:
    """A view in the user's shape that the callback cannot write through."""
    view = v.reshape(shape)
    view.flags.writeable = False
    return view


def _inspect(f: float, g: Array, x: Array) -> tuple[float, str | None]:
    """The exact gradient norm, and which of f, x or the gradient is not finite (or None)."""
    broke = None
    if not np.isfinite(x).all():
        broke = "x"
    elif not math.isfinite(f):
        broke = "f"
    elif not np.isfinite(g).all():
        broke = "the gradient"
    return _norm(g), broke
