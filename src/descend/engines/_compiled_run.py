"""One compiled run from its start to its :class:`~descend.Result`, and many runs of one
problem in one parallel call: what :class:`descend.engines.compiled.CompiledRun` hands
the generated loop and makes of what it returns (see :mod:`descend.engines.compiled`)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from typing import Any

import numpy as np

from descend._types import Array
from descend.core import schedules
from descend.core.engines import Job
from descend.core.extensions import advise
from descend.core.projections import NonNegative, flat_projection
from descend.core.result import History, Result
from descend.core.stopping import Rules, no_step, non_finite, norm
from descend.gradients.objective import BadValue

from . import _compiled_source as source
from ._compiled_objective import ZOO_SCRATCH

__all__ = [
    "HISTORY_BYTES", "MANY_BYTES", "Start", "many", "schedule_spec", "together",
]  # fmt: skip

# The history is allocated whole when it fits in this many bytes (untouched pages cost
# nothing), else in a first block that doubles as it fills.
HISTORY_BYTES = 1 << 27
# The most bytes of history that one parallel call of many runs allocates.
MANY_BYTES = 1 << 30
FIRST_CAPACITY = 1024
# which_broke's codes, in the words of descend.core.stopping.inspect.
BROKE = {1: "x", 2: "f", 3: "the gradient"}
# The loop's stalled codes, in the words of descend.Optimizer.stall.
STALLED = {1: "rounding", 2: "no_decrease"}
_MANY_LOCK = threading.Lock()


class Start:
    """One run up to its loop: its rules, the projection's bounds, the loop's settings and
    the start that row 0 of its history records; and its Result from what the loop
    returns."""

    def __init__(self, job: Job) -> None:
        optimizer, objective = job.optimizer, job.objective
        run: Any = job.prepared  # a CompiledRun
        self.job, self.run, self.place = job, run, 0
        self.projected, self.lower, self.upper = bounds(run.project, objective.shape)
        words = "projected gradient norm" if self.projected else "gradient norm"
        self.checks = Rules(f0=job.f, sign=objective.sign, **job.rules, gradient=words)
        self.g = np.ascontiguousarray(job.g, dtype=float)
        self.grad_norm = norm(self.g)
        if self.projected:  # Run's start: the projected gradient norm, as gtol reads it
            project = flat_projection(run.project, job.x, objective.shape)
            self.grad_norm = norm(job.x - project(job.x - self.g))
        self.ending = self.checks.at_start(self.grad_norm)
        hyper = source.HYPERPARAMETERS[run.method]
        rest = [_number(getattr(optimizer, name)) for name in hyper[1:]]
        self.h = np.array([optimizer.rate(0), *rest])  # lr first: a schedule's at update 0
        schedule = schedule_spec(optimizer.lr)
        assert schedule is not None, "prepare refused the schedules it cannot compile"
        self.schedule = schedule
        self.clip = optimizer.clip_norm or 0.0
        self.rows = source.history_rows(run.method, run.features)

    def rules(self) -> tuple[Any, ...]:
        """The loop's stopping arguments (Rules keeps a disabled rule's threshold as one
        that cannot be met)."""
        c = self.checks
        return (c.max_iter, c.f_limit, c._ftol, c._gtol, c._xtol, self.job.record_x,
                c._time_limit)  # fmt: skip

    def group(self) -> tuple[Any, ...] | None:
        """What the runs of one parallel call share, or None for a run that goes alone:
        one ended at its start, or one whose whole history does not fit in memory."""
        run, c = self.run, self.checks
        if self.ending is not None or (c.max_iter + 1) * self.width() * 8 > HISTORY_BYTES:
            return None
        return (
            run.identity(), run.size, c.max_iter, self.rules()[2:],
            self.lower.tobytes(), self.upper.tobytes(), self.schedule.shape,
        )  # fmt: skip

    def width(self) -> int:
        """The doubles of history an update of this run records."""
        return self.rows + (self.run.size if self.job.record_x else 0)

    def capacity(self) -> int:
        """History rows to allocate before the loop: all of them when they fit in
        :data:`HISTORY_BYTES`, else a first block (1: the run ended at its start)."""
        whole = self.checks.max_iter + 1
        if self.ending is not None:
            return 1
        if whole * self.width() * 8 <= HISTORY_BYTES:
            return whole
        return min(whole, FIRST_CAPACITY + 1)

    def arrays(self, runs: int, capacity: int) -> tuple[Array, Array, Array]:
        """``work``, ``rows`` and ``xs`` for this many runs like this one."""
        n, state = self.run.size, len(source.UPDATES[self.run.method][0])
        xs_rows = capacity if self.job.record_x else 1
        work = np.zeros((runs, source.WORK_ROWS + state, n))
        return work, np.empty((runs, self.rows, capacity)), np.empty((runs, xs_rows, n))

    def fill(self, work: Array, rows: Array, xs: Array) -> None:
        """Write the start into this run's arrays (``work``'s state rows are zeros)."""
        x, g = self.job.x, self.g
        rows[:3, 0], xs[0] = (self.job.f, self.grad_norm, 0.0), x
        if self.rows > 3:  # the step size the start records, as Run's: its state's
            rows[3, 0] = self.job.optimizer.init(x).lr
        work[0], work[1], work[5], work[6] = x, g, x, g  # x, g and the best point so far

    def result(
        self, work: Array, rows: Array, xs: Array, outcome: tuple[Array, np.ndarray] | None
    ) -> Result:
        """The Result of the loop's arrays and the ``floats`` and ``ints`` it wrote its
        outcome in (None: the run ended at its start, and ``rows`` and ``xs`` hold it)."""
        job, checks = self.job, self.checks
        objective, optimizer = job.objective, job.optimizer
        x, g, best_x, best_g = work[0], work[1], work[5], work[6]
        if outcome is None:
            f, nit, best_f, best_nit, trials, evaluations, elapsed = (
                job.f, 0, job.f, 0, 0, 0, 0.0
            )  # fmt: skip
            ending = self.ending
        else:
            f, f_change, step_norm, grad_norm, best_f, elapsed = outcome[0].tolist()
            nit, broke, best_nit, trials, evaluations, stalled = outcome[1].tolist()
            used = nit + 1
            # A run that ended early keeps only what it used.
            xs = xs[:used] if 2 * used >= len(xs) else xs[:used].copy()
            rows = rows[:, :used] if 2 * used >= rows.shape[1] else rows[:, :used].copy()
            ending = (
                non_finite(nit, BROKE[broke])
                if broke
                else checks.check(nit, f, f_change, grad_norm, step_norm, elapsed)
            )
            if ending is None and stalled:  # L-BFGS took no step
                ending = no_step(nit, optimizer.name, grad_norm, STALLED[stalled])
        assert ending is not None, "the compiled loop stops only where a rule fires"
        # One evaluation per trial point of a search (with the gradient, for a search that
        # takes it: BB), and ``evaluations``: the loop's own, one per update, or what an
        # update that evaluates itself counts (L-BFGS every evaluation it makes, BB the
        # step past its search's trials when none was accepted).
        objective.nfev += evaluations + trials
        objective.ngev += evaluations + (trials if optimizer.trial_gradients else 0)
        sign, shape = objective.sign, objective.shape
        answer = source.answer_row(self.run.method)
        if job.keep == "best":
            x, g, f = best_x, best_g, best_f
        elif answer is not None:  # Run's answer away from the loop's point, evaluated there
            x = job.x if outcome is None else work[answer]
            with contextlib.suppress(KeyboardInterrupt, BadValue):
                f, g = objective.value_and_grad(x)
        k = rows.shape[1]
        history = History(  # the columns of the loop's rows, not copies
            f=rows[0] if sign > 0 else -rows[0],
            grad_norm=rows[1],
            lr=rows[3] if self.rows > 3 else np.broadcast_to(self.h[0], (k,)),
            time=rows[2],
            x=xs.reshape((k, *shape)) if job.record_x else None,
        )
        result = Result(
            x=x.reshape(shape).copy(),
            fun=sign * f,
            grad=np.asarray(sign * g).reshape(shape),
            nit=nit,
            nfev=objective.nfev,
            ngev=objective.ngev,
            status=ending.status,
            message=ending.message,
            history=history,
            elapsed=elapsed,
            method=optimizer.name,
            optimizer=optimizer,
            maximize=sign < 0,
            best_x=best_x.reshape(shape).copy(),
            best_fun=sign * best_f,
            best_nit=best_nit,
        )
        return advise(result, objective)


def many(jobs: list[Job]) -> list[Result]:
    """The runs of ``jobs``, those of one :meth:`Start.group` in parallel calls of
    :func:`together` of at most :data:`MANY_BYTES` of history, the others one by one."""
    results: dict[int, Result] = {}
    groups: dict[Any, list[Start]] = {}
    for i, job in enumerate(jobs):
        start = Start(job)
        start.place = i
        groups.setdefault(start.group() or ("alone", i), []).append(start)
    for starts in groups.values():
        if len(starts) == 1:
            results[starts[0].place] = starts[0].job()
            continue
        per_run = (starts[0].checks.max_iter + 1) * starts[0].width()
        chunk = max(1, MANY_BYTES // (8 * per_run))  # bounded memory, however many runs
        for i in range(0, len(starts), chunk):
            some = starts[i : i + chunk]
            results.update(zip((s.place for s in some), together(some), strict=True))
    return [results[i] for i in range(len(jobs))]


def together(starts: list[Start]) -> list[Result]:
    """The runs of ``starts`` (one :meth:`Start.group`) in one call of the compiled
    ``run_many``, in parallel over runs."""
    first, count = starts[0], len(starts)
    run = first.run
    work, rows, xs = first.arrays(count, first.checks.max_iter + 1)
    for r, start in enumerate(starts):
        start.fill(work[r], rows[r], xs[r])
    name = run.name
    scratch = tuple(np.empty((count, run.size - k)) for k in ZOO_SCRATCH.get(name, ()))
    floats, ints = np.empty((count, 6)), np.zeros((count, 6), dtype=np.int64)
    loop = run.loop()
    with _MANY_LOCK:  # one parallel call at a time in a process (the playground's threads)
        loop.run_many(
            work, rows, xs, np.array([s.job.f for s in starts]), run.carried(), *run.kernels,
            scratch, np.stack([s.h for s in starts]), np.stack([s.schedule for s in starts]),
            np.array([s.clip for s in starts]), first.lower, first.upper, first.checks.max_iter,
            np.array([s.checks.f_limit for s in starts]), *first.rules()[2:], floats, ints,
        )  # fmt: skip
    return [
        start.result(work[r], rows[r], xs[r], (floats[r], ints[r]))
        for r, start in enumerate(starts)
    ]


def _number(value: Any) -> float:
    """A hyperparameter as the loop reads it from ``h``: a float (True is 1.0), and NaN
    for None (Prodigy's beta3, which the loop then derives)."""
    return math.nan if value is None else float(value)


def schedule_spec(lr: Any) -> Array | None:
    """``lr``, a schedule of :mod:`descend.core.schedules`, as the rows that the compiled
    :func:`~descend.engines._compiled_kernels.rate` reads: a warmup's row (its code and
    ``steps``) above the rows of what it warms up, a number as ``constant``; None for any
    other callable."""
    if not callable(lr):
        return np.array([[source.SCHEDULES["constant"], float(lr), 0.0, 0.0]])
    if type(lr).__module__ != schedules.__name__ or type(lr).__name__ not in source.SCHEDULES:
        return None
    code = source.SCHEDULES[type(lr).__name__]
    if type(lr).__name__ == "warmup":
        inner = schedule_spec(lr.after)
        return None if inner is None else np.vstack([[[code, float(lr.steps), 0.0, 0.0]], inner])
    fields = [float(getattr(lr, f.name)) for f in dataclasses.fields(lr)]
    return np.array([[code, *fields, *[0.0] * (3 - len(fields))]])


def bounds(project: Any, shape: tuple[int, ...]) -> tuple[bool, Array, Array]:
    """Whether the run projects, and the box's flat lower and upper bounds (empty if not)."""
    if project is None:
        return False, np.empty(0), np.empty(0)
    if type(project) is NonNegative:
        return True, np.zeros(shape).ravel(), np.full(shape, np.inf).ravel()
    lower, upper = (np.broadcast_to(b, shape).ravel() for b in (project.lower, project.upper))
    return True, np.ascontiguousarray(lower, float), np.ascontiguousarray(upper, float)
