"""The one optimisation loop, as a sequence of named steps.

Every pass: **update** (one optimizer step, or the rest of an epoch of batch steps),
**evaluate** f and the gradient at the new point, **record** them in the history,
**check** the stopping rules, hand the point to the **callback**, and **save** a
checkpoint when one is due. :func:`descend.minimize` checks the arguments and builds a
:class:`Run`; everything else that runs an optimisation calls ``minimize``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from descend._progress import Progress
from descend._types import Array
from descend.core.batches import Batches, DataLost
from descend.core.checkpoint import SAME_F, Checkpoint, Position, Saved, on_device
from descend.core.explain import Explainer
from descend.core.extensions import advise
from descend.core.iteration import NO_EXTRAS, Extras, Iteration
from descend.core.namespaces import namespace, read, reshaped
from descend.core.optimizers import Optimizer
from descend.core.recovery import Best, lost
from descend.core.result import DeviceRows, Event, Recorder, Result, Status
from descend.core.stopping import Ending, Rules, inspect, no_step, non_finite, norm
from descend.gradients.objective import BadValue, Objective, Remembering

__all__ = ["Extras", "Iteration", "Run"]

_sqrt, _isfinite, _clock = math.sqrt, math.isfinite, time.perf_counter  # the loop's hot calls


class Run:
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
        batches: Batches | None,
        data_mode: bool,
        saver: Checkpoint | None,
        extras: Extras = NO_EXTRAS,
    ) -> None:
        self.objective, self.optimizer, self.rules = objective, optimizer, rules
        self.project, self.callback, self.recorder = project, callback, recorder
        self.batches, self.data_mode, self.saver = batches, data_mode, saver
        self.base_optimizer, self.rollback = optimizer, extras.rollback
        self.explainer = Explainer() if extras.explain else None
        self.keep_best = extras.keep == "best"
        self.per_update = (
            callback is not None and batches is not None and (extras.callback_every == "update")
        )
        self.stop_asked = False  # by a per-update callback, inside an epoch
        self.save_failed = ""  # why a checkpoint could not be saved
        self.bad_value = False  # fun or grad returned a value that is not a real number
        self.best: Best | None = None  # set when the run begins or is restored
        self._keeps_stream = self.rollback is not None and batches is not None
        self.started = 0.0  # perf_counter() at the start, less the time of a resumed run
        # A model may bring a compiled kernel for a whole epoch of its own loss; it makes
        # the epoch's updates without stopping between them, so nothing can watch them.
        kernel = getattr(objective.fun, "epoch_kernel", None)
        watched = self.explainer is not None or self.per_update
        self.kernel = kernel if objective.sign > 0 and project is None and not watched else None
        self.update = self._one_update if batches is None else self._epoch_of_updates
        # A rule that answers with another point than its iterate (an average): convergence
        # is confirmed there before the run ends.
        self.averages = type(optimizer).solution is not Optimizer.solution
        # Bound once: the steps below run every update, and each lookup costs.
        self._step = optimizer.update
        self._value_and_grad: Callable[..., tuple[float, Array]] = objective.value_and_grad
        if optimizer.trial_gradients:  # a search that evaluates (f, g) at its trials
            self._value_and_grad = Remembering(objective.value_and_grad)
        self._value: Callable[..., Any] = (
            self._value_and_grad if optimizer.trial_gradients else objective.trials()
        )
        if self.explainer is not None:
            self._value = self.explainer.watch(self._value)
        self._step_norm = lambda x, x_prev: norm(x - x_prev)  # what xtol reads
        if objective.xp is not np:  # x of another namespace: read f and the norms at once
            if extras.explain:
                raise ValueError(
                    f"explain=True records the parts of each update with NumPy, and x0 is "
                    f"of {objective.xp.__name__}; pass x0 as a NumPy array to explain the run"
                )
            self._evaluate = self._evaluate_foreign  # type: ignore[method-assign]
            if not optimizer.trial_gradients:
                self._value_and_grad = objective.device_value_and_grad  # type: ignore[attr-defined]
            if recorder.x is not None:
                recorder.x = DeviceRows()
            self._step_norm = lambda x, x_prev: self.last_step  # read with f by evaluate

    def restore(self, saved: Saved) -> None:
        """Take up the history, counts and batch stream of a saved run, once f at its x
        (between epochs, where it is known) shows that it was made with this objective."""
        if self.objective.xp is not np:  # the file holds NumPy arrays: back to x's device
            like = self.objective._like  # type: ignore[attr-defined]
            on_device(saved, like, self.optimizer.init(namespace(like).reshape(like, (-1,))))
        at, sign = saved.position, self.objective.sign
        now = self.objective.value(at.x) if at.cursor == 0 else at.f  # its count is restored
        if not math.isclose(now, at.f, rel_tol=SAME_F) and not math.isnan(at.f):
            where = "" if self.saver is None else f" {str(self.saver.path)!r}"
            raise ValueError(
                f"checkpoint{where} was made with another objective: f at its saved x is "
                f"{sign * now!r} now and was {sign * at.f!r}; resume with the same function "
                "(and data), or pass resume=False"
            )
        self.recorder.restore(saved.rows, saved.xs)
        self.rules.reset_start(saved.f0)
        self.objective.nfev, self.objective.ngev = saved.nfev, saved.ngev
        if self.batches is not None:
            self.batches.restore(saved.order, saved.order_drawn, saved.rng_state)
        self.best = saved.best or self._best(saved.position)
        if self.rollback is not None:
            self.rollback.events[:] = saved.events
            self.rollback.reversals, self.rollback.step = saved.reversals
            self._use(self.rollback.optimizer(self.base_optimizer, len(saved.events)))
        if self.explainer is not None and saved.parts is not None:
            self.explainer.restore(saved.parts)

    def __call__(self, p: Position, elapsed: float, progress: bool) -> Result:
        """Run from ``p`` (``elapsed`` seconds already spent) to an ending; the Result."""
        ending = self._begin(p, elapsed)
        update, evaluate, record, check = self.update, self._evaluate, self._record, self._check
        callback, saver = self.callback, self.saver
        bar = Progress(self.rules.epochs or self.rules.max_iter) if progress else None
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is a status
                while ending is None:
                    x = p.x
                    x_new, state, nit = update(p)
                    f_new, g_new, grad_norm, broke = evaluate(x_new)
                    elapsed = record(f_new, grad_norm, state.lr, x_new)
                    if self.explainer is not None and self.batches is None:
                        self.explainer.decrease(p.f, f_new)
                    if broke is not None:
                        p.x, p.state, p.nit = x, state, nit  # the last finite point
                        ending = non_finite(nit, broke)
                    else:
                        ending = check(p, x, x_new, f_new, g_new, grad_norm, state, nit, elapsed)
                    if ending is not None and ending.status is Status.DIVERGED and self.rollback:
                        ending = self._roll_back(p, nit, ending, broke is not None)
                        ending = ending or self.rules.budget(
                            nit, elapsed, self._stationarity(p.x, p.g), p.nepoch
                        )
                    if ending is not None and broke is not None:
                        break
                    if bar is not None:
                        done = p.nepoch if self.data_mode else nit
                        bar.update(done, self.objective.sign * p.f, grad_norm, elapsed)
                    if callback is not None and self._asks_to_stop(p, grad_norm, elapsed):
                        ending = ending or Ending(
                            Status.STOPPED,
                            f"stopped: the callback asked to stop after {nit} updates",
                        )
                    if saver is not None and ending is None and saver.due(nit):
                        self._save(p)
                    if self.save_failed and ending is None:
                        ending = Ending(Status.STOPPED, f"stopped: {self.save_failed}")
        except BadValue as error:  # checked as at x0: the run ends, its result stands
            self.bad_value = True
            ending = Ending(
                Status.STOPPED,
                f"stopped: {error} after {p.nit} updates; the result so far is returned",
            )
        except DataLost as error:  # the data went away (a worker died): saved, as for ^C
            at = saver.path if saver is not None and self._save(p) else None
            raise lost(error, p.nit, at) from None
        except KeyboardInterrupt:
            where = f" and saved in {str(saver.path)!r}" if saver is not None else ""
            ending = Ending(
                Status.INTERRUPTED,
                f"interrupted: KeyboardInterrupt after {p.nit} updates; the result so far is "
                f"returned{where}",
            )
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - self.started
        saved = saver is None or self._save(p, ending)
        if not saved and self.save_failed not in ending.message:
            ending = ending._replace(message=f"{ending.message}; {self.save_failed}")
        return advise(self.result(p, ending, elapsed), self.objective)

    # The steps, in the order the loop takes them -----------------------------------------

    def _begin(self, p: Position, elapsed: float) -> Ending | None:
        """Record the start (a fresh run) and start the clock; an ending if already over."""
        grad_norm = self._stationarity(p.x, p.g)
        self.started, self.last_x = time.perf_counter() - elapsed, p.x
        if self.best is None:
            self.best = self._best(p)
        if p.nit == 0 and not len(self.recorder):
            self.recorder.record(p.f, grad_norm, p.state.lr, 0.0, p.x)
            return self.rules.at_start(grad_norm)
        return self.rules.budget(p.nit, elapsed, grad_norm, p.nepoch)  # resumed: budget only

    def _one_update(self, p: Position) -> tuple[Array, Any, int]:
        """Update: one step from ``p``, projected; the new point, state and update count."""
        step, state = self._step(p.g, p.state, p.x, self._value, p.f)
        if self.explainer is not None:
            self.explainer.record(self.optimizer, p.g, p.state, state, step, p.x)
        x = p.x + step
        if self.project is not None:
            x = self.project(x)
        return x, state, p.nit + 1

    def _epoch_of_updates(self, p: Position) -> tuple[Array, Any, int]:
        """Update on the epoch's remaining batches (up to max_iter), advancing ``p``."""
        batches, objective, project = self.batches, self.objective, self.project
        assert batches is not None
        if not batches.drawn:
            batches.start_epoch()
        per_epoch, max_iter, saver = batches.per_epoch, self.rules.max_iter, self.saver
        if self.kernel is not None and p.cursor < per_epoch:
            self._kernel_epoch(p)
        data, update, explainer = objective.data, self._step, self.explainer
        # f on the batch as well as its gradient: for a line search, the parts' decrease
        # and the per-update callback.
        with_f = self.optimizer.uses_fun or explainer is not None or self.per_update
        trial = objective.value_and_grad if self.optimizer.trial_gradients else objective.value
        while p.cursor < per_epoch and p.nit < max_iter:
            rows = batches.rows(p.cursor)
            batch = tuple(a[rows] for a in data)
            if with_f:
                f_batch, g_batch = objective.value_and_grad(p.x, batch)
                fun: Callable[..., Any] = functools.partial(trial, batch=batch)
                if explainer is not None:
                    fun = explainer.watch(fun)
                step, state = update(g_batch, p.state, p.x, fun, f_batch)
            else:
                g_batch = objective.grad_at(p.x, batch)
                step, state = update(g_batch, p.state, p.x)
            if explainer is not None:
                explainer.record(self.optimizer, g_batch, p.state, state, step, p.x)
            x = p.x + step
            if project is not None:
                x = project(x)
            if explainer is not None:
                explainer.decrease(f_batch, objective.value(x, batch=batch))
            p.x, p.state, p.nit, p.cursor = x, state, p.nit + 1, p.cursor + 1
            if self.per_update and self._batch_callback(p, f_batch, g_batch):
                self.stop_asked = True
                break
            # The epoch's last update is saved after its evaluation; a failed save ends it.
            due = saver is not None and saver.due(p.nit) and p.cursor < per_epoch
            if due and not self._save(p):
                break
        return p.x, p.state, p.nit

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

    def _evaluate(self, x: Array) -> tuple[float, Array, float, str | None]:
        """Evaluate: f, the gradient and its norm at ``x``, and which of them broke (or None)."""
        f, g = self._value_and_grad(x)
        grad_norm = _sqrt(g.dot(g))
        # One sum of dot products tests f, g and x for NaN and inf at once; it overflows
        # for finite entries above ~1e154, so a failure is looked at again.
        if _isfinite(f + grad_norm + x.dot(x)):
            if self.project is not None:
                grad_norm = self._stationarity(x, g)
            return f, g, grad_norm, None
        return f, g, *inspect(f, g, x)

    def _evaluate_foreign(self, x: Any) -> tuple[float, Any, float, str | None]:
        """Evaluate for x of another namespace: f, ||g||^2, ||x||^2, with a projection the
        projected gradient's, and with xtol the step's (from the point evaluated last) come
        from x's device in one transfer, the update's one read."""
        f, g = self._value_and_grad(x)
        pg: Any = x - self.project(x - g) if self.project else 0.0
        step = x - self.last_x
        f, gg, xx, pp, ss = read(f, g @ g, x @ x, pg @ pg if self.project else 0.0,
                                 step @ step if self.rules.xtol else 0.0)  # fmt: skip
        self.last_x, self.last_step = x, _sqrt(ss)
        if _isfinite(f + _sqrt(gg) + xx):
            return f, g, _sqrt(pp if self.project else gg), None
        return f, g, *inspect(f, g, x)

    def _stationarity(self, x: Array, g: Array) -> float:
        """What gtol reads: the gradient norm, or with a projection the projected gradient
        norm ||x - P(x - g)||, which is 0 exactly at a constrained stationary point (where
        the gradient itself need not vanish)."""
        if self.project is None:
            return norm(g)
        return norm(x - self.project(x - g))

    def _record(self, f: float, grad_norm: float, lr: float, x: Array) -> float:
        """Record: one history row (and x when recorded); the seconds since the start."""
        elapsed = _clock() - self.started
        self.recorder.record(f, grad_norm, lr, elapsed, x)
        return elapsed

    def _check(
        self,
        p: Position,
        x_prev: Array,
        x: Array,
        f: float,
        g: Array,
        grad_norm: float,
        state: Any,
        nit: int,
        elapsed: float,
    ) -> Ending | None:
        """Check: move ``p`` from ``x_prev`` (where the pass began; mini-batch updates have
        moved ``p.x`` since) to the new point and test the stopping rules on the change."""
        rules = self.rules
        step_norm = self._step_norm(x, x_prev) if rules.xtol is not None else math.inf
        f_change = abs(f - p.f)
        # A mini-batch pass stopped by max_iter inside an epoch does not end it.
        batches = self.batches
        epoch_done = self.data_mode and (batches is None or p.cursor == batches.per_epoch)
        p.x, p.f, p.g, p.state, p.nit = x, f, g, state, nit
        if epoch_done:
            p.nepoch, p.cursor = p.nepoch + 1, 0
            if batches is not None:
                batches.drawn = False
        best = self.best
        assert best is not None
        if f < best.f:  # a tuple of references: iterates and states are never mutated
            stream = self._stream() if self._keeps_stream else None
            self.best = best = Best(x, f, g, nit, p.nepoch, state, stream)
        ending = rules.check(nit, f, f_change, grad_norm, step_norm, elapsed, p.nepoch)
        if ending is None and self.rollback is not None:
            ending = self.rollback.unstable(
                f,
                x - x_prev,
                best,
                rules.f0,
                rules.sign,
                nit,
                p.nepoch,
                self.data_mode,
                settles=not self.averages,
            )
        if ending is not None and ending.status is Status.CONVERGED and self.averages:
            # The rules saw the point the gradient was taken at; the answer is elsewhere.
            f, g = self.objective.value_and_grad(self.optimizer.solution(x, state))
            ending = rules.check(nit, f, f_change, norm(g), step_norm, elapsed, p.nepoch)
        if ending is None and state.lr == 0.0:  # only a line search that took no step
            return no_step(nit, self.optimizer.name, grad_norm, self.optimizer.stall(state))
        return ending

    def _asks_to_stop(self, p: Position, grad_norm: float, elapsed: float) -> bool:
        """Callback: hand the user the new point (unless it saw every batch update
        instead); whether it asks to stop."""
        if self.per_update:
            return self.stop_asked
        return self._callback(p, p.f, p.g, grad_norm, elapsed, batch=False)

    def _batch_callback(self, p: Position, f: float, g: Array) -> bool:
        """The per-update callback of data mode, with the batch's f and gradient."""
        return self._callback(p, f, g, norm(g), _clock() - self.started, batch=True)

    def _callback(
        self, p: Position, f: float, g: Array, grad_norm: float, elapsed: float, batch: bool
    ) -> bool:
        assert self.callback is not None
        sign, shape = self.objective.sign, self.objective.shape
        info = Iteration(
            p.nit,
            _read_only(p.x, shape),
            sign * f,
            _read_only(sign * g, shape),
            grad_norm,
            p.state.lr,
            elapsed,
            p.nepoch if self.data_mode else None,
            batch,
        )
        try:
            answer = self.callback(info)
        except StopIteration:
            return True
        return answer is True or answer is np.True_

    def _roll_back(self, p: Position, nit: int, ending: Ending, broke: bool) -> Ending | None:
        """Back to the best point with a smaller learning rate (None: the run goes on), or
        the ending, when the rollbacks have run out. ``broke``: the pass ended in a
        non-finite value, before ``_check`` counted its epoch."""
        rollback, best = self.rollback, self.best
        assert rollback is not None and best is not None
        done = len(rollback.events)
        if done >= rollback.max_rollbacks:
            tried = f"; {done} rollbacks (max_rollbacks={rollback.max_rollbacks}) did not help"
            return ending._replace(message=ending.message + tried) if done else ending
        lr_before = self.optimizer.rate(best.state.t)
        self._use(rollback.optimizer(self.base_optimizer, done + 1))
        cause = ending.message.removeprefix("diverged: ").split("; ")[0]
        lr_after = self.optimizer.rate(best.state.t)
        if broke and self.data_mode:
            p.nepoch += 1  # the pass was made: the epoch budget counts it
        nepoch = p.nepoch if self.data_mode else None
        rollback.events.append(Event(nit, "rollback", cause, lr_before, lr_after, best.nit, nepoch))
        state = rollback.rescaled(self.optimizer, best.state, rollback.lr_factor)
        p.x, p.f, p.g, p.state, p.nit, p.cursor = best.x, best.f, best.g, state, nit, 0
        self.last_x = best.x
        if self.batches is not None and best.stream is not None:
            self.batches.restore(*best.stream)
        rollback.restart()
        return None

    def _use(self, optimizer: Optimizer) -> None:
        """Update with ``optimizer`` from now on (a rollback's smaller learning rate)."""
        self.optimizer, self._step = optimizer, optimizer.update

    def _best(self, p: Position) -> Best:
        """Where the run stands at ``p``, as the best point (with the batch stream, which
        a rollback restores)."""
        stream = self._stream() if self._keeps_stream else None
        return Best(p.x, p.f, p.g, p.nit, p.nepoch, p.state, stream)

    def _stream(self) -> tuple[Any, bool, Any]:
        """The batch stream's position: the epoch's order, whether drawn, the generator."""
        assert self.batches is not None
        return self.batches.position()

    def _save(self, p: Position, ending: Ending | None = None) -> bool:
        """Save: the run so far to the checkpoint (with its ending, when it has one);
        whether it was saved. A failure (the disk filled, the folder went away) ends the
        run with what it has rather than losing it."""
        assert self.saver is not None
        try:
            self.saver.save(
                p, self.recorder, self.rules.f0, time.perf_counter() - self.started,
                (self.objective.nfev, self.objective.ngev), self.batches,
                None if ending is None else str(ending.status),
                "" if ending is None else ending.message, self.best, self.rollback,
                None if self.explainer is None else self.explainer.table(),
            )  # fmt: skip
        except OSError as error:
            self.save_failed = (
                f"saving the checkpoint {str(self.saver.path)!r} failed after {p.nit} updates "
                f"({error}); the result so far is returned"
            )
            return False
        return True

    def result(self, p: Position, ending: Ending, elapsed: float) -> Result:
        """The Result for a run that stands at ``p``."""
        objective = self.objective
        sign, shape = objective.sign, objective.shape
        best = self.best or self._best(p)
        x, f, g = self.optimizer.solution(p.x, p.state), p.f, p.g
        if self.keep_best:
            x, f, g = best.x, best.f, best.g
        elif x is not p.x or (p.cursor and (ending.status is Status.INTERRUPTED or self.bad_value)):
            with contextlib.suppress(KeyboardInterrupt, BadValue):  # f and g at x returned
                f, g = objective.value_and_grad(x)
        return Result(
            x=reshaped(x, shape),
            fun=sign * f,
            grad=reshaped(np.asarray(sign * g) if objective.xp is np else sign * g, shape),
            nit=p.nit,
            nfev=objective.nfev,
            ngev=objective.ngev,
            status=ending.status,
            message=ending.message,
            history=self.recorder.history(
                sign, shape, None if self.explainer is None else self.explainer.table()
            ),
            elapsed=elapsed,
            method=self.optimizer.name,
            optimizer=self.optimizer,
            nepoch=p.nepoch if self.data_mode else None,
            maximize=sign < 0,
            best_x=reshaped(best.x, shape),
            best_fun=sign * best.f,
            best_nit=best.nit,
            events=() if self.rollback is None else tuple(self.rollback.events),
        )


def _read_only(v: Array, shape: tuple[int, ...]) -> Array:
    """A view in the user's shape that the callback cannot write through (another
    namespace's array has no such flag: the view is handed over as it is)."""
    if not isinstance(v, np.ndarray):
        return reshaped(v, shape)
    view = v.reshape(shape)
    view.flags.writeable = False
    return view
