"""Schedules against their formulas, evaluated by hand."""

import math
import pickle

import pytest

from descend import schedules


@pytest.mark.parametrize(
    ("schedule", "t", "expected"),
    [
        (schedules.constant(0.3), 7, 0.3),
        (schedules.exponential(0.8, rate=0.5), 3, 0.1),
        (schedules.exponential(0.8, rate=0.25, steps=2), 3, 0.8 * 0.25**1.5),
        (schedules.step(1.0, drop=0.5, every=4), 3, 1.0),
        (schedules.step(1.0, drop=0.5, every=4), 4, 0.5),
        (schedules.step(1.0, drop=0.5, every=4), 13, 0.125),
        (schedules.inverse_time(1.0, decay=0.1), 10, 0.5),
        (schedules.cosine(1.0, steps=4, final=0.2), 0, 1.0),
        (schedules.cosine(1.0, steps=4, final=0.2), 2, 0.6),
        (schedules.cosine(1.0, steps=4, final=0.2), 1, 0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2),
        (schedules.cosine(1.0, steps=4, final=0.2), 99, 0.2),
        (schedules.warmup(0.2, steps=4), 0, 0.05),
        (schedules.warmup(0.2, steps=4), 3, 0.2),
        (schedules.warmup(schedules.step(0.2, drop=0.5, every=5), steps=2), 6, 0.1),
    ],
)
def test_values(schedule, t, expected):
    assert schedule(t) == pytest.approx(expected, rel=1e-15)


def test_schedules_print_compare_and_pickle():
    lr = schedules.cosine(0.1, steps=100)
    assert repr(lr) == "cosine(initial=0.1, steps=100, final=1e-06)"
    assert pickle.loads(pickle.dumps(lr)) == lr
