"""Learning-rate schedules: ``t -> lr`` for the ``t``-th update (``t = 0, 1, 2, ...``).

A schedule is any callable ``schedule(t) -> float``; every optimizer accepts one
wherever it accepts a number. The ones here are small frozen dataclasses, so they
print their settings, compare by value and pickle (for parallel sweeps).

Only a schedule changes the learning rate: stopping rules never do.

Examples
--------
>>> from descend import schedules
>>> lr = schedules.step(0.1, drop=0.5, every=10)
>>> [lr(0), lr(9), lr(10), lr(25)]
[0.1, 0.1, 0.05, 0.025]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from descend import _validate
from descend._types import Schedule

__all__ = ["constant", "cosine", "exponential", "inverse_time", "step", "warmup"]


@dataclass(frozen=True)
class constant:
    """lr_t = value.

    >>> constant(0.1)(1000)
    0.1
    """

    value: float

    def __post_init__(self) -> None:
        _validate.positive("value", self.value)

    def __call__(self, t: int) -> float:
        return float(self.value)


@dataclass(frozen=True)
class exponential:
    """lr_t = initial * rate ** (t / steps): multiplied by ``rate`` every ``steps`` updates.

    >>> exponential(1.0, rate=0.5, steps=2)(4)
    0.25
    """

    initial: float
    rate: float
    steps: int = 1

    def __post_init__(self) -> None:
        _validate.positive("initial", self.initial)
        rate = _validate.positive("rate", self.rate)
        if rate > 1:
            raise ValueError(f"rate must be in (0, 1] for a decaying schedule, got {rate!r}")
        _validate.count("steps", self.steps, minimum=1)

    def __call__(self, t: int) -> float:
        return self.initial * self.rate ** (t / self.steps)


@dataclass(frozen=True)
class step:
    """lr_t = initial * drop ** floor(t / every): a staircase.

    >>> step(1.0, drop=0.1, every=5)(12)
    0.010000000000000002
    """

    initial: float
    drop: float = 0.5
    every: int = 10

    def __post_init__(self) -> None:
        _validate.positive("initial", self.initial)
        drop = _validate.positive("drop", self.drop)
        if drop > 1:
            raise ValueError(f"drop must be in (0, 1], got {drop!r}")
        _validate.count("every", self.every, minimum=1)

    def __call__(self, t: int) -> float:
        return self.initial * self.drop ** (t // self.every)


@dataclass(frozen=True)
class inverse_time:
    """lr_t = initial / (1 + decay * t): the Robbins-Monro rate for stochastic descent.

    >>> inverse_time(1.0, decay=0.5)(2)
    0.5
    """

    initial: float
    decay: float

    def __post_init__(self) -> None:
        _validate.positive("initial", self.initial)
        _validate.nonnegative("decay", self.decay)

    def __call__(self, t: int) -> float:
        return self.initial / (1.0 + self.decay * t)


@dataclass(frozen=True)
class cosine:
    """lr_t = final + (initial - final) * (1 + cos(pi * min(t, T) / T)) / 2, with T = ``steps``.

    Loshchilov & Hutter, "SGDR", ICLR 2017 (without restarts). After ``steps``
    updates the rate stays at ``final``, which must be > 0 so that descent goes on.

    >>> lr = cosine(1.0, steps=100, final=0.01)
    >>> lr(0), lr(50), lr(100), lr(500)
    (1.0, 0.505, 0.01, 0.01)
    """

    initial: float
    steps: int
    final: float = 1e-6

    def __post_init__(self) -> None:
        initial = _validate.positive("initial", self.initial)
        _validate.count("steps", self.steps, minimum=1)
        final = _validate.positive("final", self.final)
        if final > initial:
            raise ValueError(f"final must be <= initial ({initial!r}), got {final!r}")

    def __call__(self, t: int) -> float:
        progress = min(t, self.steps) / self.steps
        return self.final + (self.initial - self.final) * (1 + math.cos(math.pi * progress)) / 2


@dataclass(frozen=True)
class warmup:
    """lr_t = after(t) * min(1, (t + 1) / steps): a linear ramp into another rate.

    ``after`` is a number or a schedule, evaluated at the same ``t``.

    >>> lr = warmup(0.1, steps=4)
    >>> [round(lr(t), 3) for t in range(5)]
    [0.025, 0.05, 0.075, 0.1, 0.1]
    """

    after: float | Schedule
    steps: int

    def __post_init__(self) -> None:
        if not callable(self.after):
            _validate.positive("after", self.after)
        _validate.count("steps", self.steps, minimum=1)

    def __call__(self, t: int) -> float:
        base = self.after(t) if callable(self.after) else self.after
        return float(base) * min(1.0, (t + 1) / self.steps)
