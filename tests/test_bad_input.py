"""Bad input fails before any work, with a message that names the argument and the value."""

import numpy as np
import pytest

import descend as dd
from descend import schedules


def fun(x):
    return float(np.sum(x**2))


def grad(x):
    return 2 * x


GOOD = dict(fun=fun, x0=[1.0, 2.0], grad=grad)

# (what changes from GOOD, the error type, a regex the message must match)
CASES = [
    (dict(lr=0), ValueError, r"lr must be a finite number > 0, got 0"),
    (dict(lr=-0.1), ValueError, r"lr must be .* > 0, got -0.1"),
    (dict(lr=float("nan")), ValueError, r"lr must be .*got nan"),
    (dict(lr=float("inf")), ValueError, r"lr must be .*got inf"),
    (dict(lr="fast"), TypeError, r"lr must be a real number, got 'fast'"),
    (dict(lr=lambda t: -0.1), ValueError, r"lr schedule .* returned -0.1 at t=0"),
    (dict(lr=lambda t: 0.1 - 0.01 * t, max_iter=100), ValueError, r"lr schedule .* at t=99"),
    (dict(method="momentum", momentum=1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (dict(method="momentum", momentum=-0.1), ValueError, r"momentum must be in \[0, 1\), got -0.1"),
    (dict(method="adam", beta1=1.0), ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
    (dict(method="adam", beta2=1.5), ValueError, r"beta2 must be in \[0, 1\), got 1.5"),
    (dict(method="rmsprop", rho=1), ValueError, r"rho must be in \[0, 1\), got 1"),
    (
        dict(method="adam", eps=-1e-8),
        ValueError,
        r"eps must be a finite number > 0, got -1e-08; eps guards",
    ),
    (dict(method="adam", eps=0.0), ValueError, r"eps must be a finite number > 0, got 0.0"),
    (dict(maximize="no"), TypeError, r"maximize must be True or False, got .no."),
    (dict(method="adam", max_iters=10), TypeError, r"did you mean .max_iter."),
    (dict(method="adamw", weight_decay=-1), ValueError, r"weight_decay must be .*>= 0, got -1"),
    (dict(clip_norm=0.0), ValueError, r"clip_norm must be .*> 0, got 0.0"),
    (
        dict(method="adamm"),
        ValueError,
        r"method must be one of gd, .*got 'adamm'; did you mean 'adam'\?",
    ),
    (dict(method=42), TypeError, r"method must be a name such as 'adam'.*got 42"),
    (dict(method="gd", momentum=0.9), TypeError, r"'momentum' is not a hyperparameter of GD"),
    (
        dict(method="adam", beta_1=0.9),
        TypeError,
        r"'beta_1' is not a hyperparameter of Adam.*did you mean 'beta1'",
    ),
    (dict(tol=1e-6), TypeError, r"'tol' is not a hyperparameter of LBFGS.*did you mean 'xtol'"),
    (dict(x0=[]), ValueError, r"x0 must not be empty, got \[\]"),
    (dict(x0="abc"), TypeError, r"x0 must be a number or an array of real numbers, got 'abc'"),
    (dict(x0=[1.0, np.nan]), ValueError, r"x0 must be finite, got \[1.0, nan\]"),
    (dict(x0=[1.0, np.inf]), ValueError, r"x0 must be finite, got \[1.0, inf\]"),
    (dict(x0=[[1.0, 2.0], [3.0]]), TypeError, r"x0 must be a number or a rectangular array"),
    (
        dict(fun=42),
        TypeError,
        r"fun must be a callable returning a float, or a formula string, got int 42",
    ),
    (
        dict(fun=lambda x: x * 2),
        ValueError,
        r"fun must return a scalar, got an array of shape \(2,\)",
    ),
    (dict(fun=lambda x: np.nan), ValueError, r"fun returned nan at x0"),
    (dict(fun=lambda x: "small"), TypeError, r"fun must return a real number, got str 'small'"),
    (
        dict(grad=lambda x: np.ones(3)),
        ValueError,
        r"grad returned an array of shape \(3,\) for x of shape \(2,\)",
    ),
    (
        dict(grad=lambda x: np.array([np.nan, 1.0])),
        ValueError,
        r"grad returned non-finite values at x0",
    ),
    (
        dict(grad="magic"),
        ValueError,
        r"grad must be a callable, 'numeric', 'autograd', 'jax', None, got 'magic'",
    ),
    (dict(max_iter=-1), ValueError, r"max_iter must be an integer >= 0, got -1"),
    (dict(max_iter=1.5), TypeError, r"max_iter must be an integer, got 1.5"),
    (
        dict(gtol=-1),
        ValueError,
        r"gtol must be a finite number >= 0, got -1; use None or 0 to disable",
    ),
    (dict(ftol=-1e-3), ValueError, r"ftol must be a finite number >= 0, got -0.001"),
    (dict(xtol=float("nan")), ValueError, r"xtol must be a finite number >= 0, got nan"),
    (dict(time_limit=0), ValueError, r"time_limit must be a finite number > 0, got 0"),
    (
        dict(project=lambda x: x[:1]),
        ValueError,
        r"project must return an array of x's shape \(2,\), got shape \(1,\)",
    ),
    (dict(project=5), TypeError, r"project must be a callable x -> x.*got 5"),
    (dict(callback=5), TypeError, r"callback must be callable or None, got 5"),
    (dict(method="armijo", shrink=1.0), ValueError, r"shrink must be in \(0, 1\), got 1.0"),
    (
        dict(method="bb", min_step=1.0, max_step=0.1),
        ValueError,
        r"min_step \(1.0\) must not exceed max_step",
    ),
]


def _case_id(change: dict) -> str:
    """A stable id (the same in every process, as pytest-xdist needs): functions by name."""
    shown = {k: getattr(v, "__name__", v) for k, v in change.items()}
    return str(shown)[:40]


@pytest.mark.parametrize(("change", "error", "message"), CASES, ids=[_case_id(c[0]) for c in CASES])
def test_bad_input_is_refused_before_any_update(change, error, message):
    kwargs = {**GOOD, **change}
    updates = []
    with pytest.raises(error, match=message):
        callback = kwargs.pop("callback", updates.append)
        dd.minimize(kwargs.pop("fun"), kwargs.pop("x0"), callback=callback, **kwargs)
    assert updates == []


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (schedules.exponential, dict(initial=0.1, rate=1.5), r"rate must be in \(0, 1\]"),
        (schedules.step, dict(initial=0.1, every=0), r"every must be an integer >= 1"),
        (schedules.cosine, dict(initial=0.1, steps=10, final=1.0), r"final must be <= initial"),
        (
            schedules.inverse_time,
            dict(initial=-1.0, decay=0.1),
            r"initial must be a finite number > 0",
        ),
        (schedules.warmup, dict(after=0.1, steps=0), r"steps must be an integer >= 1"),
        (
            schedules.constant,
            dict(value=float("inf")),
            r"value must be a finite number > 0, got inf",
        ),
    ],
)
def test_bad_schedules_are_refused(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)
