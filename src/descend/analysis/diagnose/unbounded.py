"""``unbounded_below``: f has no minimum along the path the run took.

Three signs of it, read from the history alone:

- f fell to -inf;
- f fell a millionfold below its start's scale: no bounded valley does that;
- f fell *steadily*: over the second half of the run, at a constant rate per update,
  with a constant gradient norm and along a constant direction. That is a linear fall
  (``x**2 + y`` descends y forever at the rate lr * |df/dy|^2). A bounded f flattens
  as its minimum nears: the gradient shrinks and the fall slows; a quadratic model with
  the gradient changing by a share delta over the window has only 1/(2 delta) times the
  window's fall left, so a gradient steady to 1e-4 puts any minimum 5,000 windows away.
  Tiny steps look linear too (the gradient cannot change over a path it hardly
  travels), so the fall must also be large: 1% of |f| over the half.

When maximising, the words are in the user's sign: f rises without bound, with no maximum.
"""

from __future__ import annotations

import math

import numpy as np

from descend.core.result import Status

from .diagnosis import Finding
from .evidence import Run

__all__ = ["falling_steadily", "falling_without_bound", "to_infinity"]

# f a million times its start's scale below the start: no bounded valley does that.
UNBOUNDED_FALL = 1e6
# A steady fall: the rate per update in the last quarter within 1% of the one before,
# the gradient norm within 1e-4 of its size, and the two quarters' displacements at an
# angle whose cosine is above 0.999, over a run of at least 40 updates; and f fell by 1%
# of its size over the half, which steps too small to see the curvature do not give
# (on a quadratic they lower f by about twice the gradient's relative change).
STEADY_FALL = 1e-2
STEADY_RATE_RTOL = 1e-2
STEADY_GRAD_RTOL = 1e-4
STEADY_COSINE = 0.999
STEADY_MIN_UPDATES = 40

_SUGGESTION = "check the formula (a sign, a missing square), or bound x with project="


def _words(run: Run) -> tuple[str, str]:
    """("fell", "decreases without bound ..., it has no minimum there") in the user's sign."""
    if run.maximize:
        return "rose", "f increases without bound along this path, it has no maximum there"
    return "fell", "f decreases without bound along this path, it has no minimum there"


def _f(run: Run, value: float) -> str:
    """f as the user knows it (the run minimised -f when maximising)."""
    return f"{-value if run.maximize else value:.6g}"


def to_infinity(run: Run, at: str) -> Finding:
    """f went to -inf (to +inf when maximising) after falling."""
    moved, unbounded = _words(run)
    end = "+inf" if run.maximize else "-inf"
    return Finding(
        "unbounded_below",
        f"f {moved} from {_f(run, run.f[0])} to {_f(run, run.f[-2])} and then to {end} {at}: "
        f"{unbounded}",
        _SUGGESTION,
    )


def falling_without_bound(run: Run) -> Finding | None:
    """f fell a millionfold below its start's scale and was still falling."""
    f0, f_end = run.f[0], run.f[-1]
    if not (math.isfinite(f_end) and f_end < f0 - UNBOUNDED_FALL * max(abs(f0), 1.0)):
        return None
    moved, unbounded = _words(run)
    return Finding(
        "unbounded_below",
        f"f {moved} from {_f(run, f0)} to {_f(run, f_end)} in {run.nit} {run.steps} and is "
        f"still {'rising' if run.maximize else 'falling'}: {unbounded}",
        _SUGGESTION,
    )


def falling_steadily(run: Run) -> Finding | None:
    """f fell at a constant rate along a constant direction over the run's second half."""
    if run.status not in (Status.MAX_ITER, Status.TIME_LIMIT) or run.x is None:
        return None
    e = run.nit
    if e < STEADY_MIN_UPDATES:
        return None
    a = e // 2
    b = (a + e) // 2
    f, g = run.f, run.grad_norm[a:]
    rate_before, rate_after = (f[a] - f[b]) / (b - a), (f[b] - f[e]) / (e - b)
    if not (rate_before > 0 and abs(rate_after / rate_before - 1) <= STEADY_RATE_RTOL):
        return None
    if not f[a] - f[e] >= STEADY_FALL * max(abs(f[a]), abs(f[e])):
        return None
    if not (np.isfinite(g).all() and g.min() > 0 and g.max() <= (1 + STEADY_GRAD_RTOL) * g.min()):
        return None
    first, second = run.x[b] - run.x[a], run.x[e] - run.x[b]
    sizes = float(np.linalg.norm(first) * np.linalg.norm(second))
    if not (sizes > 0 and float(first @ second) / sizes > STEADY_COSINE):
        return None
    moved, unbounded = _words(run)
    per = run.steps[:-1]
    return Finding(
        "unbounded_below",
        f"f {moved} steadily from {_f(run, f[0])} to {_f(run, f[e])} in {e} {run.steps}, by "
        f"{rate_after:.3g} per {per} along a fixed direction with the gradient norm steady at "
        f"{g[-1]:.3g}: {unbounded}",
        _SUGGESTION,
    )
