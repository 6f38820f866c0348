"""Trial runs: a learning rate is offered only after a short run with it made progress.

A curvature estimate or a rule of thumb gives a candidate lr; a short run of
:func:`descend.minimize` from the same start, with the same method and settings, tells
whether it works. A trial *succeeds* when it did not diverge, f fell clearly below its
start, f ended near the lowest value it reached, and it did not bounce without progress
(steps reversing update after update while neither f nor the gradient fell). A failed
candidate is halved and tried again, a bounded number of times; when none succeeds, the
advice names the direction (a smaller lr) without a number.

Every trial is bounded: at most 200 updates, and at most a tenth of the failed run's own
updates but never fewer than 10, since a shorter run cannot tell a stable lr from one
that diverges slowly. A proposal costs at most five trials. Trials run without data
(a run on batches is not retried: its trials would not see the same batches) and
without the failed run's projection and tolerances, which its Result does not keep.

Trials run inside :func:`quiet`: a run there gets no diagnosis of its own, so that
advice never recurses and a scan of many runs (:func:`~descend.find_lr`) pays for none.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from descend.core.result import Result, Status

from .evidence import Run

__all__ = ["Offer", "Trial", "judge", "quiet", "quiet_now", "trial_updates", "try_halving"]

MAX_TRIAL_UPDATES = 200
TRIAL_SHARE = 0.1  # of the failed run's updates
MIN_TRIAL_UPDATES = 10
HALVINGS = 4  # a candidate and up to four halves: at most five trials
# f must end below its start by this share of its size: a fall lost in rounding, or a
# wobble at the start, is not progress.
CLEAR_FALL = 1e-3
# Like find_lr's stability test: a run that ends more than 10% of its fall above the
# lowest f it reached went down and came back up.
NEAR_BEST = 0.1
# Bouncing: the steps reverse in 8 of the last 10 updates while the gradient norm kept
# more than half its size and f fell by under a tenth of the trial's whole fall.
BOUNCE_SHARE = 0.8
RECENT = 10

_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("descend_quiet", default=False)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Runs of :func:`descend.minimize` inside get no diagnosis (and so run no trials)."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def quiet_now() -> bool:
    """Whether the caller is inside :func:`quiet` (a trial or a scan)."""
    return _QUIET.get()


def trial_updates(cost: int) -> int:
    """Updates per trial for a run that cost ``cost`` updates (see the module notes).

    >>> trial_updates(38), trial_updates(1000), trial_updates(10**6)
    (10, 100, 200)
    """
    return min(MAX_TRIAL_UPDATES, max(MIN_TRIAL_UPDATES, math.ceil(TRIAL_SHARE * cost)))


@dataclass(frozen=True)
class Trial:
    """One trial run's verdict, with f in the user's sign."""

    lr: float
    ok: bool
    why: str  # what went wrong ("diverged", ...), "" when ok
    f0: float = math.nan
    f_end: float = math.nan
    updates: int = 0
    converged: bool = False
    maximize: bool = False

    def story(self) -> str:
        """What the trial did, e.g. ``"f fell from 25 to 0 in 1 update, converged"``."""
        moved = "rose" if self.maximize else "fell"
        plural = "" if self.updates == 1 else "s"
        done = ", converged" if self.converged else ""
        span = f"from {self.f0:.3g} to {self.f_end:.3g}"
        return f"f {moved} {span} in {self.updates} update{plural}{done}"


def judge(res: Result, lr: float, maximize: bool) -> Trial:
    """The verdict on one trial run (see the module notes for the rules)."""
    sign = -1.0 if maximize else 1.0
    f = sign * np.asarray(res.history.f, float)
    # + 0.0: a maximised 0 reads "0", not "-0"
    said = dict(f0=sign * f[0] + 0.0, f_end=sign * f[-1] + 0.0, updates=res.nit, maximize=maximize)
    converged = res.status is Status.CONVERGED
    if res.status is Status.DIVERGED or not np.isfinite(f).all():
        return Trial(lr, False, "diverged", **said)
    f0, f_end, best = f[0], f[-1], float(f.min())
    clear = CLEAR_FALL * max(abs(f0), abs(f_end), np.finfo(float).tiny)
    if not (f_end < f0 - clear or (converged and f_end < f0)):
        return Trial(lr, False, "did not lower f", **said)
    if f_end > best + NEAR_BEST * (f0 - best):
        return Trial(lr, False, "went down and came back up", **said)
    if not converged and _bouncing(res, f):
        return Trial(lr, False, "bounced without progress", **said)
    return Trial(lr, True, "", converged=converged, **said)


def _bouncing(res: Result, f: np.ndarray) -> bool:
    """Steps reversing update after update while neither f nor the gradient falls."""
    w = min(RECENT, res.nit - 1)
    if w < 2:
        return False
    x = res.history.x
    if x is not None:
        steps = np.diff(np.asarray(x, float).reshape(len(x), -1)[-w - 2 :], axis=0)
        turns = np.einsum("ij,ij->i", steps[1:], steps[:-1]) < 0
    else:
        changes = np.diff(f[-w - 2 :])
        turns = changes[1:] * changes[:-1] < 0
    if turns.sum() < BOUNCE_SHARE * len(turns):
        return False
    g = res.history.grad_norm
    shrinking = g[-1] <= 0.5 * g[-w - 1]
    falling = f[-w - 1] - f[-1] >= NEAR_BEST * (f[0] - f[-1])
    return not (shrinking or falling)


def try_halving(
    attempt: Callable[[float], Trial], lr: float, floor: float = 0.0
) -> tuple[Trial | None, list[Trial]]:
    """Try ``lr``, then its halves (at most HALVINGS of them, none at or below ``floor``):
    the first trial that succeeds (or None), and all the trials made."""
    tried: list[Trial] = []
    for _ in range(HALVINGS + 1):
        if lr <= floor or not math.isfinite(lr):
            break
        trial = attempt(lr)
        tried.append(trial)
        if trial.ok or trial.why.startswith("failed"):
            return (trial if trial.ok else None), tried
        lr /= 2
    return None, tried


def phrase(found: Trial | None, tried: list[Trial], direction: str) -> str:
    """The suggestion's words for a tried candidate: its lr and what the trial did."""
    if found is not None:
        failed = [t for t in tried if not t.ok]
        before = f"; lr={failed[0].lr:.3g} {failed[0].why}" if failed else ""
        return f"lr={found.lr:.3g} (tried: {found.story()}{before})"
    if not tried:
        return f"a {direction} lr"
    first, last = tried[0], tried[-1]
    span = f"lr={first.lr:.3g}" + (f" down to {last.lr:.3g}" if len(tried) > 1 else "")
    return f"a {direction} lr (tried {span}: {first.why})"


class Offer:
    """Turns a candidate lr into words, trying it first when the run allows it.

    ``offer(lr, "smaller")`` returns the phrase and the lr offered (None when none was
    tried with success). Trials need ``fun``, a gradient, the recorded start and an
    optimizer with an ``lr``; without them the phrase names the direction only.
    """

    def __init__(self, run: Run, fun: Any, grad: Any, updates: int) -> None:
        self.run, self.fun, self.grad, self.updates = run, fun, grad, updates
        self.cache: dict[float, Trial] = {}
        self.why_not = self._why_not()

    def _why_not(self) -> str:
        """Why trials cannot run here ("" when they can)."""
        run = self.run
        if self.fun is None:
            return "dd.diagnose(res, fun, grad) tries one"
        if quiet_now():
            return "untried: this run is itself a trial"
        if run.steps == "epochs":
            return "untried: trials do not run on batches"
        if run.x is None:
            return "untried: pass record_x=True to let the diagnosis try one"
        if self.grad is None and run.x_final.size > 100:
            return "untried: no gradient to run a trial with"
        if not (dataclasses.is_dataclass(run.optimizer) and hasattr(run.optimizer, "lr")):
            return "untried: the optimizer has no lr to change"
        return ""

    def __call__(self, lr: float, direction: str, floor: float = 0.0) -> tuple[str, float | None]:
        if self.why_not:
            return f"a {direction} lr ({self.why_not})", None
        found, tried = try_halving(self._attempt, lr, floor)
        return phrase(found, tried, direction), None if found is None else found.lr

    def _attempt(self, lr: float) -> Trial:
        key = float(f"{lr:.3g}")  # the lr as the advice will print it is the lr tried
        if key not in self.cache:
            self.cache[key] = self._trial(key)
        return self.cache[key]

    def _trial(self, lr: float) -> Trial:
        from descend.core.minimize import minimize  # analysis runs minimize; core never imports up

        run = self.run
        grad = "numeric" if self.grad is None else self.grad
        try:
            optimizer = dataclasses.replace(run.optimizer, lr=lr)
            with quiet(), warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                res = minimize(
                    self.fun,
                    run.x[0].reshape(run.shape),  # type: ignore[index]
                    optimizer,
                    grad=grad,
                    max_iter=self.updates,
                    maximize=run.maximize,
                )
        except (ValueError, TypeError, ArithmeticError) as error:
            return Trial(lr, False, f"failed ({type(error).__name__})", maximize=run.maximize)
        return judge(res, lr, run.maximize)
