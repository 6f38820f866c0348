"""A fault in the user's fun mid-run: every public function that calls fun, in one table.

The finding: fun returning a complex number, a string, None or a list after a few updates
gave a raw ``float()`` error and lost the result, or silently used the real part. Every
value is now checked as the one at x0: a run ends "stopped" naming the value, with its
result so far; a function that only evaluates fun raises the TypeError that x0 would.
A new public function that takes ``fun`` must join a table here (the last test says so).
"""

import inspect
import re

import numpy as np
import pytest

import descend as dd

BAD_VALUES = {
    "complex": (1 + 2j, r"fun must return a real number, got complex \(1\+2j\)"),
    "str": ("small", r"fun must return a real number, got str 'small'"),
    "None": (None, r"fun must return a real number, got NoneType None"),
    "list": ([1.0, 2.0], r"fun must return a scalar, got an array of shape \(2,\)"),
}
X0 = [3.0, 3.0]


def _grad(x):
    return 2 * (np.asarray(x) - 1)


def _faulty(bad, sign=1.0):
    """sign * sum((x-1)^2) until the iterates come near the minimum, then ``bad``."""

    def fun(x):
        value = float(np.sum((np.asarray(x) - 1) ** 2))
        return bad if value < 2.0 else sign * value

    return fun


# Functions that run updates: each gives the results it made, every one "stopped".
RUNNERS = {
    "minimize": lambda bad: [dd.minimize(_faulty(bad), X0, "gd", grad=_grad, lr=0.1)],
    "maximize": lambda bad: [
        dd.maximize(_faulty(bad, -1.0), X0, "gd", grad=lambda x: -_grad(x), lr=0.1)
    ],
    "sweep": lambda bad: list(
        dd.sweep(_faulty(bad), X0, "gd", grad=_grad, lr=[0.1, 0.2]).results.values()
    ),
    "multistart": lambda bad: list(
        dd.multistart(
            _faulty(bad), [(2.5, 4), (2.5, 4)], 3, seed=0, grad=_grad, method="gd", lr=0.1
        ).results
    ),
}
# Functions that only evaluate fun: the error at the first bad value, as at x0.
EVALUATORS = {
    "check_grad": lambda fun: dd.check_grad(fun, _grad, [0.5, 0.5]),
    "numeric_grad": lambda fun: dd.numeric_grad(fun, [0.5, 0.5]),
}
# find_lr's probe runs end "stopped" like any run; its suggestion comes from the others.
OTHERS = {"find_lr", "diagnose"}  # diagnose reruns fun only to test its own advice


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("runner", RUNNERS)
def test_a_bad_value_mid_run_ends_it_with_the_result_so_far(runner, kind):
    bad, message = BAD_VALUES[kind]
    results = RUNNERS[runner](bad)
    assert results
    for res in results:
        assert res.status == "stopped" and not res.success, res.message
        assert "result so far is returned" in res.message
        assert re.search(message, res.message), res.message
        assert res.nit >= 1 and len(res.history) == res.nit + 1
        assert np.isfinite(res.fun) and np.isfinite(res.x).all()


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_a_bad_value_where_fun_is_only_evaluated_is_the_x0_error(evaluator, kind):
    bad, _ = BAD_VALUES[kind]
    with pytest.raises((TypeError, ValueError), match=r"fun must return a (real number|scalar)"):
        EVALUATORS[evaluator](_faulty(bad))


def test_find_lr_probes_that_meet_a_bad_value_do_not_end_it():
    for bad, _ in BAD_VALUES.values():
        found = dd.find_lr(_faulty(bad), X0, grad=_grad)
        assert 0 < found.lr < 1  # 1/L = 0.5 for this quadratic


def test_every_public_function_that_takes_fun_is_in_a_table():
    takes_fun = {
        name
        for name in dd.__all__
        if inspect.isfunction(getattr(dd, name))
        and "fun" in inspect.signature(getattr(dd, name)).parameters
    }
    assert takes_fun == set(RUNNERS) | set(EVALUATORS) | OTHERS
