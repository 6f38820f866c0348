"""The one optimisation loop: every other part of descend calls it."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _validate
from ._progress import Progress
from ._types import Array, ArrayLike, Projection
from .objective import Objective
from .optimizers import Optimizer, make_optimizer
from .result import Recorder, Result, Status
from .stopping import Ending, Rules, non_finite

__all__ = ["Iteration", "maximize", "minimize"]

# x is recorded in the history by default only up to this many elements.
RECORD_X_MAX_SIZE = 1000
# minimize's own keywords, offered as suggestions when a misspelt one reaches the optimizer.
MINIMIZE_KEYWORDS = (
    "grad", "variables", "lr", "max_iter", "ftol", "gtol", "xtol", "time_limit", "maximize",
    "project", "callback", "record_x", "progress",
)  # fmt: skip


class Iteration(NamedTuple):
    """What ``callback`` receives after every update (read-only views of x and grad).

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
        ``fun(x) -> float``, called with ``x`` shaped like ``x0``; or a formula such
        as ``"(x-1)**2 + 3*y**2"`` (see :func:`descend.parse`), whose exact gradient is
        derived symbolically.
    x0 : float, list or array
        The start point; never modified. A scalar gives a scalar-shaped ``res.x``.
    method : str or Optimizer
        ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
        ``"adam"``, ``"adamw"``, ``"armijo"``, ``"bb"``, or an optimizer object
        such as ``descend.Adam(lr=0.1)``.
    grad : callable, "numeric", "autograd", "jax" or None
        ``grad(x)`` returning the gradient in the shape of ``x``; ``"numeric"`` for
        central differences (2n evaluations of fun per step); ``"autograd"`` or
        ``"jax"`` to differentiate ``fun`` automatically (an error if it cannot);
        ``None``: exact automatic differentiation where autograd or JAX can trace
        ``fun`` (checked once at ``x0``), else central differences with a warning.
    variables : sequence of str, optional
        With a formula: the order of its variables in ``x`` (default: order of
        first appearance).
    lr : float or callable, optional
        Learning rate, or a schedule ``t -> lr`` (see :mod:`descend.schedules`);
        default: the optimizer's own.
    max_iter : int, optional
        Most updates to make (default 1,000).
    ftol, gtol, xtol : float, optional
        Stop when ``|f_k - f_(k-1)| < ftol``, ``||g_k|| <= gtol`` or
        ``||x_k - x_(k-1)|| <= xtol``; ``None`` or ``0`` disables a rule, so
        ``gtol=0`` alone runs exactly ``max_iter`` updates.
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
        asking to stop, Ctrl-C) end it with a status instead.

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
    """
    x_start = _validate.float_array("x0", x0)
    shape = x_start.shape
    max_iter = 1000 if max_iter is None else _validate.count("max_iter", max_iter)
    rules: dict[str, Any] = dict(
        max_iter=max_iter,
        ftol=_validate.tolerance("ftol", ftol),
        gtol=_validate.tolerance("gtol", gtol),
        xtol=_validate.tolerance("xtol", xtol),
        time_limit=None
        if time_limit is None
        else _validate.positive("time_limit", time_limit, "; it is in seconds, e.g. 60"),
    )
    if lr is not None:
        hyperparameters["lr"] = lr
    optimizer = make_optimizer(method, known=MINIMIZE_KEYWORDS, **hyperparameters)
    if max_iter > 0:
        optimizer.rate(max_iter - 1)  # a schedule that fails late fails now
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
    objective = Objective(fun, grad, shape, maximize=maximize, variables=variables)
    x = x_start.reshape(-1)
    project_flat = None if project is None else _flat_projection(project, x, shape)
    f, g = objective.start(x)
    return _run(
        objective,
        optimizer,
        x,
        f,
        g,
        Rules(f0=f, sign=objective.sign, **rules),
        project_flat,
        callback,
        Recorder(record_x),
        progress,
    )


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


def _run(
    objective: Objective,
    optimizer: Optimizer,
    x: Array,
    f: float,
    g: Array,
    rules: Rules,
    project: Callable[[Array], Array] | None,
    callback: Callable[[Iteration], Any] | None,
    recorder: Recorder,
    progress: bool,
) -> Result:
    value, value_and_grad, update = objective.value, objective.value_and_grad, optimizer.update
    sign, shape = objective.sign, objective.shape
    record, xs = recorder.rows.extend, recorder.x  # bound once: this runs every update
    bar = Progress(rules.max_iter) if progress else None
    state = optimizer.init(x)
    grad_norm = _norm(g)
    record((f, grad_norm, state.lr, 0.0))
    if xs is not None:
        xs.append(x)  # iterates are never mutated, so no copy is needed
    sqrt, isfinite, clock = math.sqrt, math.isfinite, time.perf_counter  # hot-loop locals
    nit, started = 0, clock()
    ending = rules.at_start(grad_norm)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is a status, not noise
            while ending is None:
                step, state = update(g, state, x, value, f)
                x_new = x + step
                if project is not None:
                    x_new = project(x_new)
                f_new, g_new = value_and_grad(x_new)
                nit += 1
                grad_norm = sqrt(g_new.dot(g_new))
                # One sum of dot products tests f, g and x for NaN and inf at once; it also
                # overflows for finite entries above ~1e154, so a failure is looked at closely.
                broke = None
                if not isfinite(f_new + grad_norm + x_new.dot(x_new)):
                    grad_norm, broke = _inspect(f_new, g_new, x_new)
                elapsed = clock() - started
                record((f_new, grad_norm, state.lr, elapsed))
                if xs is not None:
                    xs.append(x_new)
                if broke is not None:
                    ending = non_finite(nit, broke)
                    break
                step_norm = _norm(x_new - x) if rules.xtol is not None else math.inf
                f_change = abs(f_new - f)
                x, f, g = x_new, f_new, g_new
                ending = rules.check(nit, f, f_change, grad_norm, step_norm, elapsed)
                if bar is not None:
                    bar.update(nit, sign * f, grad_norm, elapsed)
                if callback is not None:
                    info = Iteration(
                        nit,
                        _read_only(x, shape),
                        sign * f,
                        _read_only(sign * g, shape),
                        grad_norm,
                        state.lr,
                        elapsed,
                    )
                    if _asks_to_stop(callback, info) and ending is None:
                        ending = Ending(
                            Status.STOPPED,
                            f"stopped: the callback asked to stop after {nit} updates",
                        )
    except KeyboardInterrupt:
        ending = Ending(
            Status.INTERRUPTED,
            f"interrupted: KeyboardInterrupt after {nit} updates; the result so far is returned",
        )
    finally:
        if bar is not None:
            bar.close()
    result = Result(
        x=x.reshape(shape),
        fun=sign * f,
        grad=np.asarray(sign * g).reshape(shape),
        nit=nit,
        nfev=objective.nfev,
        ngev=objective.ngev,
        status=ending.status,
        message=ending.message,
        history=recorder.history(sign, shape),
        elapsed=time.perf_counter() - started,
        method=optimizer.name,
        optimizer=optimizer,
        maximize=sign < 0,
    )
    return _explained(result, objective)


def _explained(result: Result, objective: Objective) -> Result:
    """The result with the diagnosis of a failed run appended to its message.

    Only a run that diverged or ended above its start pays for evaluations (a gradient
    check and a curvature estimate, about 2n + 2 evaluations of f and up to 100
    gradients); other endings are read from the history alone. A diagnosis that
    cannot be made leaves the message as it is: it never fails the run.
    """
    if result.status in (Status.CONVERGED, Status.STOPPED, Status.INTERRUPTED):
        return result
    from .diagnose import diagnose

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
