"""``schedule_ended``: the learning-rate schedule reached its floor and the run slowed.

A schedule (``lr=dd.schedules.cosine(0.1, steps=100)``) that decays to a tiny rate long
before the budget runs out leaves the rest of the run crawling: the budget ran out
because of the schedule, not the method. The finding names the update at which the
schedule ended: the first update after its peak at which lr was down to 1% of the peak or
within 1% of its final value, whichever came first.
"""

from __future__ import annotations

import numpy as np

from descend.core.result import Status

from .diagnosis import Finding
from .evidence import Run

__all__ = ["schedule_ended"]

# The schedule ended when lr fell to 1% of its peak (or settled at its final value).
FLOOR_SHARE = 1e-2
# The run slowed after it: f fell per update by under a tenth of its rate before.
SLOWDOWN = 0.1
# It slowed for long enough to matter: at least a tenth of the run (and 5 updates).
MIN_AFTER_SHARE = 0.1
# A gradient a million times smaller than at the start is nearly stationary: a decayed
# lr there is the schedule doing its job.
NEAR_STATIONARY = 1e-6


def schedule_ended(run: Run) -> Finding | None:
    """The schedule reached its floor at update k and the run slowed down after it."""
    schedule = getattr(run.optimizer, "lr", None)
    if not callable(schedule) or run.status not in (Status.MAX_ITER, Status.TIME_LIMIT):
        return None
    lr = run.lr[1:]  # lr[k - 1]: the rate of update k
    if len(lr) < 10 or not np.isfinite(lr).all():
        return None
    peak_at = int(np.argmax(lr))
    peak, final = float(lr[peak_at]), float(lr[-1])
    if not final <= FLOOR_SHARE * peak:
        return None
    floor = max(FLOOR_SHARE * peak, final * (1 + 1e-2))
    k = peak_at + int(np.argmax(lr[peak_at:] <= floor)) + 1  # the update that reached it
    after = run.nit - k
    if after < max(5, MIN_AFTER_SHARE * run.nit):
        return None
    f, g = run.f, run.grad_norm
    fall_before, fall_after = f[0] - f[k], f[k] - f[-1]
    if not (fall_before > 0 and fall_after / after < SLOWDOWN * fall_before / k):
        return None
    if not g[-1] > NEAR_STATIONARY * max(g[0], np.finfo(float).tiny):
        return None
    return Finding(
        "schedule_ended",
        f"the schedule ended at update {k}: lr fell from {peak:.3g} to {lr[k - 1]:.3g}, and "
        f"in the {after} {run.steps} since, {run.name} fell by {fall_after:.3g}, against "
        f"{fall_before:.3g} in the {k} before",
        f"a longer or softer schedule: {_softer(schedule, run.nit)}",
    )


def _softer(schedule: object, nit: int) -> str:
    """How to stretch this kind of schedule over the whole run."""
    kind = type(schedule).__name__
    if kind == "cosine":
        return f"cosine(..., steps={nit}) spreads it over the run, or raise final="
    if kind == "exponential":
        return "a rate closer to 1, so that lr is still useful at the end"
    if kind == "step":
        return "a larger every= or a drop closer to 1"
    if kind == "inverse_time":
        return "a smaller decay="
    return f"one that reaches its floor near update {nit}, or a constant lr"
