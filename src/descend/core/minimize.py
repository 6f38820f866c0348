"""minimize: the one entry point. It checks every argument before any work, builds the
run, and hands it to the loop (:mod:`descend.core.loop`); every other part of descend
calls it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from descend import _validate
from descend._types import Array, ArrayLike, Projection
from descend.core.batches import Batches, as_data, check_settings, engine_data
from descend.core.checkpoint import Position, checked_checkpoint, describe_optimizer
from descend.core.engines import Job, dispatch, select_engine
from descend.core.extensions import advise
from descend.core.loop import Extras, Iteration, Run
from descend.core.namespaces import ForeignObjective, is_numpy, namespace, start_point
from descend.core.optimizers import Optimizer, make_optimizer
from descend.core.projections import flat_projection
from descend.core.recovery import ON_DIVERGENCE, Rollback
from descend.core.result import Recorder, Result, Status
from descend.core.stopping import Ending, Rules
from descend.gradients.objective import Objective

__all__ = ["build_optimizer", "check_run_settings", "maximize", "minimize", "stopping_rules"]

# x is recorded in the history by default only up to this many elements.
RECORD_X_MAX_SIZE = 1000
# minimize's own keywords, offered as suggestions when a misspelt one reaches the optimizer.
MINIMIZE_KEYWORDS = (
    "grad", "variables", "lr", "max_iter", "ftol", "gtol", "xtol", "time_limit", "maximize",
    "project", "callback", "record_x", "data", "batch_size", "epochs", "shuffle", "sampling",
    "seed", "checkpoint", "checkpoint_every", "resume", "progress", "explain", "on_divergence",
    "lr_factor", "rise_factor", "max_rollbacks", "keep", "callback_every", "persist", "engine",
)  # fmt: skip
# Passes over the data when data is given and epochs is not.
DEFAULT_EPOCHS = 100
# The method for mini-batches when none is named and no lr is given.
STOCHASTIC_DEFAULT = "dog"
# A run saved with one of these endings is over: resuming it returns it as it was.
FINAL_STATUSES = ("converged", "diverged")


def minimize(
    fun: Callable[..., Any] | str,
    x0: ArrayLike,
    method: str | Optimizer | None = None,
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
    persist: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = False,
    explain: bool = False,
    on_divergence: str = "stop",
    lr_factor: float = 0.5,
    rise_factor: float = 10.0,
    max_rollbacks: int = 10,
    keep: str = "last",
    callback_every: str = "epoch",
    engine: str = "python",
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
        derived symbolically. A text is parsed once per process (the 128 most recently
        used are kept), so many short runs on one formula pay for parsing once.
    x0 : float, list or array
        The start point; never modified. A scalar gives a scalar-shaped ``res.x``.
        NumPy input (and lists) are float64. An array of another array-API namespace
        (PyTorch, CuPy, JAX, array-api-strict) stays in it and on its device: ``res.x``,
        ``res.grad`` and the optimizer's state are of its type, the history's numbers
        Python floats, and f and the norms are read from the device once per update.
        There, float32 and float64 are kept, integers and bools become float64, float16
        and bfloat16 float32; complex is refused. ``explain=True`` and ``data=`` need
        NumPy (see :mod:`descend.core.namespaces`).
    method : str, Optimizer or None
        A name from ``descend.OPTIMIZERS`` (``"gd"``, ``"momentum"``, ``"nesterov"``,
        ``"adagrad"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``, ``"armijo"``, ``"bb"``,
        ``"lbfgs"``, ...), or an optimizer object such as ``descend.Adam(lr=0.1)``.
        Default: a method that needs no learning rate, ``"lbfgs"`` (``"bb"``, the spectral
        projected gradient, with ``project=``; ``"dog"`` with mini-batches); but plain
        gradient descent, ``"gd"``, when ``lr`` is given. (SciPy's default is BFGS; the
        tutorial's rule is one word away: ``method="gd"``.)
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
        ``gtol=0`` alone runs exactly ``max_iter`` updates, unless a line search finds no
        step at all (f and its slope at their minimum to rounding, or a gradient that
        disagrees with f), which ends the run with a message that says so. With ``data``,
        k counts epochs and f and g are on all the data. With ``project``, gtol reads the
        projected gradient ``||x_k - project(x_k - g_k)||`` instead, which is 0 at a
        constrained minimum where g itself is not (SciPy's L-BFGS-B tests the same).
    time_limit : float, optional
        Seconds after which the run stops.
    maximize : bool
        Ascend instead: maximise ``fun`` (the result reports ``fun``'s own values).
    project : callable, optional
        ``x -> x`` applied after every update, e.g. ``descend.projections.simplex()``.
    callback : callable, optional
        ``callback(info)`` after every update (in data mode after every epoch, unless
        ``callback_every="update"``), with ``info.nit``, ``.x``, ``.fun``, ``.grad``
        (see :class:`~descend.core.loop.Iteration`); returning True or raising
        StopIteration stops the run.
    record_x : bool, optional
        Keep every iterate in ``res.history.x``; default: when x has at most 1,000
        elements.
    data : tuple of arrays, optional
        ``(X, y, ...)``, arrays (or memmaps) sharing their first dimension, one row
        per sample; never modified. Each update then uses a batch of rows, and the
        history holds one point per epoch, evaluated on all the data. A SciPy sparse
        matrix or array in CSR format is taken as it is: each batch is then the CSR
        matrix of its rows, handed to ``fun`` and ``grad`` (which must accept it); other
        sparse formats are refused (use ``X.tocsr()``). Dask arrays are read block by
        block, never whole: see :mod:`descend.engines.dask` for what fun and grad return.
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
    persist : bool
        With Dask arrays in ``data``: keep them in the cluster's memory for the run
        (``dask.persist``), when they fit; by default every pass reads them afresh.
    checkpoint : str or path, optional
        A file to save the run to, atomically (``.npz`` with JSON metadata): every
        ``checkpoint_every`` updates, at the end, when interrupted, and when its data is
        lost (a Dask worker died). Its folder is checked writable before any work; a save
        that fails later ends the run as ``"stopped"`` with the result so far and the
        failure in its message.
    checkpoint_every : int, optional
        Updates between saves (default: only at the end).
    resume : bool
        Continue from ``checkpoint`` (when the file exists) exactly where it stopped:
        the resumed run ends bit for bit where an uninterrupted one would. A run saved
        as converged or diverged is returned as it was. Resuming another problem
        (shape, method, hyperparameters, data, batching, or an objective whose f at the
        saved x differs from the saved f by more than rounding, 1.5e-8 relative: BLAS
        sums in another order under another number of threads) is a ValueError.
    progress : bool
        Show a progress line on stderr.
    explain : bool
        Record the parts of every update as the optimizer defines them (Adam's moments,
        momentum's velocity, the effective learning rates, a line search's trials) and,
        for every method, the step's length, its angle to -∇f and the predicted and
        actual decrease of f: ``res.history.parts(name)``, also in ``to_frame()``. Off,
        nothing is recorded and nothing is spent. With mini-batches the parts are per
        batch update, at one more evaluation of f on the batch each.
    on_divergence : {"stop", "rollback"}
        ``"stop"`` ends a diverging run as ``"diverged"`` with its last finite point.
        ``"rollback"`` goes back to the best point so far (x, the optimizer's state and
        schedule step, the batch stream) when f, x or the gradient goes non-finite or f
        rises above ``rise_factor`` times its best, multiplies the learning rate by
        ``lr_factor`` and goes on; after ``max_rollbacks`` it ends as ``"diverged"``. A
        run that bounces (three steps in a row reversing the last with f above its best)
        or stalls above its best (for longer than it took to reach it, and 100 updates or
        5 epochs) is rolled back too while rollbacks are left (see
        :mod:`descend.core.recovery`). ``res.events`` lists the rollbacks. Keras, PyTorch
        and Lightning stop instead (or go on with NaN).
    lr_factor : float
        In (0, 1): the learning rate's multiplier at each rollback (a schedule is
        multiplied as a whole). Default 0.5.
    rise_factor : float
        Above 1: f counts as diverging once it exceeds its best by ``rise_factor - 1``
        times the larger of ``|best|`` and the decrease made since the start. Default 10.
    max_rollbacks : int
        Most rollbacks in a run (default 10).
    keep : {"last", "best"}
        Which point ``res.x`` is: the last one (default, as SciPy) or the best one
        evaluated (``res.best_x``, kept on every result either way).
    callback_every : {"epoch", "update"}
        In data mode, call ``callback`` after every epoch (default), with f and the
        gradient on all the data, or after every batch update, with the batch's
        (``info.batch`` is True). Without data every update is both.
    engine : {"python", "numba", "auto"}
        ``"numba"`` runs the whole loop compiled (see :mod:`descend.engines.compiled` for what
        it compiles; it refuses callback, checkpoint, data, explain, rollback, progress,
        Python schedules, ball, simplex and optimizers outside the registry); ``"auto"``:
        numba where it can and pays.
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
    x_start = start_point("x0", x0)  # NumPy as ever; another namespace stays in it
    shape = x_start.shape
    fun, grad, data = engine_data(fun, grad, data, persist)  # Dask arrays: block readers
    arrays, batching = _data_settings(data, batch_size, epochs, shuffle, sampling, seed)
    rules = stopping_rules(max_iter, ftol, gtol, xtol, time_limit, batching.epochs)
    max_iter = None if rules["max_iter"] == sys.maxsize else rules["max_iter"]
    if method is None:
        method = default_method(lr, batching.batches is not None, project is not None)
    updates = max_iter  # the most updates the run can make: a schedule is checked up to it
    if updates is None and batching.epochs is not None:
        per_epoch = 1 if batching.batches is None else batching.batches.per_epoch
        updates = batching.epochs * per_epoch
    optimizer = build_optimizer(method, lr, updates, **hyperparameters)
    if optimizer.full_batch_only and batching.batches is not None:
        raise ValueError(
            f"method {optimizer.name!r} needs the gradient on all the data (its curvature "
            f"pairs are misled by mini-batch noise), got batch_size={batch_size!r}; use "
            "batch_size=None, or a stochastic method such as 'adam', 'dog' or 'prodigy'"
        )
    x = namespace(x_start).reshape(x_start, (-1,))
    project_flat = None if project is None else flat_projection(project, x, shape)
    if project_flat is not None:
        optimizer = optimizer.constrained(project_flat)
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback must be callable or None, got {callback!r:.60}; pass a function of one "
            "argument, such as lambda info: print(info.nit, info.fun)"
        )
    maximize = _validate.boolean("maximize", maximize)
    progress = _validate.boolean("progress", progress)
    if record_x is None:
        record_x = x.shape[0] <= RECORD_X_MAX_SIZE
    record_x = _validate.boolean("record_x", record_x)
    extras = _extras(explain, on_divergence, lr_factor, rise_factor, max_rollbacks, keep,
                     callback_every)  # fmt: skip
    problem = dict(shape=list(shape), **describe_optimizer(optimizer), maximize=maximize,
                   record_x=record_x, **batching.problem)  # fmt: skip
    if not is_numpy(x):  # a float32 run resumes as float32
        problem["dtype"] = str(x.dtype)
    if extras.explain:  # a resumed run must have recorded the parts from the start
        problem["explain"] = True
    if extras.rollback is not None:
        problem.update(on_divergence="rollback", **extras.rollback.settings())
    saver = checked_checkpoint(checkpoint, checkpoint_every, resume, problem)
    kind = Objective if is_numpy(x) else ForeignObjective
    objective = kind(fun, grad, shape, maximize=maximize, variables=variables, data=arrays)
    compiled = select_engine(engine, objective, optimizer, rules, callback=callback, data=data,
        checkpoint=checkpoint, progress=progress, project=project, extras=extras)  # fmt: skip
    f, g = objective.start(x)
    if compiled is not None:
        return dispatch(Job(compiled, objective, optimizer, rules, x, f, g, record_x, extras.keep))
    run = Run(
        objective,
        optimizer,
        Rules(f0=f, sign=objective.sign, **rules, gradient=_gradient_name(project_flat)),
        project_flat,
        callback,
        Recorder(record_x),
        batching.batches,
        batching.epochs is not None,
        saver,
        extras,
    )
    state = optimizer.init(x)
    saved = saver.load(type(state)) if resume and saver is not None else None
    if saved is None:
        return run(Position(x, f, g, state), 0.0, progress)
    run.restore(saved)
    if saved.status in FINAL_STATUSES:  # nothing left to do: the saved run is the answer
        ending = Ending(Status(saved.status), saved.message)
        return advise(run.result(saved.position, ending, saved.elapsed), objective)
    return run(saved.position, saved.elapsed, progress)


def _gradient_name(project: Any) -> str:
    """What the rules call the norm gtol reads: with a projection, the projected gradient's."""
    return "gradient norm" if project is None else "projected gradient norm"


def stopping_rules(
    max_iter: Any, ftol: Any, gtol: Any, xtol: Any, time_limit: Any, epochs: int | None = None
) -> dict[str, Any]:
    """The stopping rules' settings, checked (``epochs``: data mode's, already checked);
    without data ``max_iter`` defaults to 1,000, with data to no bound besides epochs."""
    if max_iter is not None:
        max_iter = _validate.count("max_iter", max_iter)
    elif epochs is None:
        max_iter = 1000
    if time_limit is not None:
        time_limit = _validate.positive("time_limit", time_limit, "; it is in seconds, e.g. 60")
    return dict(
        max_iter=sys.maxsize if max_iter is None else max_iter,
        ftol=_validate.tolerance("ftol", ftol),
        gtol=_validate.tolerance("gtol", gtol),
        xtol=_validate.tolerance("xtol", xtol),
        time_limit=time_limit,
        epochs=epochs,
    )


def check_run_settings(method: Any = None, **settings: Any) -> None:
    """Raise what minimize would raise for ``settings`` before it calls anything: the
    optimizer, the stopping rules and the extras. Sweep checks every combination with it
    before the first run."""
    get = settings.get
    stopping_rules(get("max_iter"), get("ftol"), get("gtol", 1e-8), get("xtol"),
                   get("time_limit"))  # fmt: skip
    _extras(get("explain", False), get("on_divergence", "stop"), get("lr_factor", 0.5),
            get("rise_factor", 10.0), get("max_rollbacks", 10), get("keep", "last"),
            get("callback_every", "epoch"))  # fmt: skip
    if method is None:
        mini_batches = get("data") is not None and get("batch_size") is not None
        method = default_method(get("lr"), mini_batches, get("project") is not None)
    hyperparameters = {k: v for k, v in settings.items() if k not in MINIMIZE_KEYWORDS}
    build_optimizer(method, get("lr"), get("max_iter"), **hyperparameters)


def _extras(
    explain: Any,
    on_divergence: Any,
    lr_factor: Any,
    rise_factor: Any,
    max_rollbacks: Any,
    keep: Any,
    callback_every: Any,
) -> Extras:
    """The run's extras, checked: explain, rollback, keep and callback_every."""
    if not isinstance(explain, (bool, np.bool_)):
        raise ValueError(f"explain must be True or False, got {explain!r}")
    choices = {"on_divergence": (on_divergence, ON_DIVERGENCE),
               "keep": (keep, ("last", "best")),
               "callback_every": (callback_every, ("epoch", "update"))}  # fmt: skip
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            words = " or ".join(repr(word) for word in allowed)
            hint = _validate.closest(value, allowed) if isinstance(value, str) else ""
            raise ValueError(f"{name} must be {words}, got {value!r}{hint}")
    rollback = Rollback(lr_factor, rise_factor, max_rollbacks)  # checked even when unused
    return Extras(bool(explain), rollback if on_divergence == "rollback" else None, keep,
                  callback_every)  # fmt: skip


def default_method(lr: Any, mini_batches: bool, projected: bool) -> str:
    """The method minimize runs when none is named: plain gradient descent for a user who
    gives a learning rate; else one that needs none, chosen by what the run allows."""
    if lr is not None:
        return "gd"
    if mini_batches:  # noisy gradients: DoG sets its step from the distance travelled
        return STOCHASTIC_DEFAULT
    return "bb" if projected else "lbfgs"


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
    fun: Callable[..., Any] | str,
    x0: ArrayLike,
    method: str | Optimizer | None = None,
    **kwargs: Any,
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
    n = arrays[0].shape[0]  # len() of a SciPy sparse matrix is an error
    size, shuffle, sampling, rng = check_settings(n, batch_size, shuffle, sampling, seed)
    epochs = DEFAULT_EPOCHS if epochs is None else _validate.count("epochs", epochs, minimum=1)
    blocks = getattr(arrays[0], "row_blocks", None)  # Dask data: batches keep to its blocks
    batches = None if batch_size is None else Batches(n, size, shuffle, sampling, rng, blocks)
    problem = dict(
        data=[[list(a.shape), str(a.dtype)] for a in arrays],
        batch_size=None if batch_size is None else size,
        shuffle=shuffle,
        sampling=sampling,
    )
    return arrays, _Batching(batches, epochs, problem)
