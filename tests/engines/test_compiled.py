"""engine="numba": the whole loop compiled gives the Python engine's run.

Every compiled optimizer is run against the Python loop on the test functions of
descend.functions, on 20 formulas and on njit functions, for up to 1,000 updates; the
iterates, f and the gradient norms agree to 1e-12 (bit for bit wherever NumPy and the
compiled code call the same operations), and the status, message, nit and counts are
the same; so with learning-rate schedules, clip_norm and the box projections. Each
(objective, method) pair compiles once (about a second and a half), so
the table rotates the methods over the formulas rather than taking every pair.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import descend as dd

numba = pytest.importorskip("numba")
from agreement import agree, exact  # noqa: E402

from descend.engines import compiled  # noqa: E402

METHODS = {
    "gd": dict(lr=1e-3),
    "momentum": dict(lr=1e-3, momentum=0.9),
    "nesterov": dict(lr=1e-3, momentum=0.8),
    "adagrad": dict(lr=0.1),
    "rmsprop": dict(lr=1e-3, rho=0.95),
    "adam": dict(lr=1e-2),
    "adamw": dict(lr=1e-2, weight_decay=0.05),
    "armijo": dict(lr=1.0),
    "bb": dict(lr=1.0, memory=5),
    "dog": dict(r_epsilon=1e-4),
    "prodigy": dict(),
    "schedulefree_sgd": dict(lr=1e-3),
    "schedulefree_adamw": dict(lr=1e-2),
}
NAMES = list(METHODS)

# (formula, x0): smooth, rational, transcendental, non-smooth (abs, min, max), one to 40
# variables; 19, as each compiles for about 3 s.
FORMULAS = [
    ("(x-1)**2 + 3*y**2", [3.0, 4.0]),
    ("100*(y - x**2)**2 + (1-x)**2", [-1.2, 1.0]),
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", [0.5, 0.5]),
    ("exp(x) - 2*x", 1.5),
    ("sin(x) + cos(y) + 0.1*(x**2 + y**2)", [1.0, 1.0]),
    ("log(1 + x**2) + log(1 + y**2)", [0.7, -0.4]),
    ("sqrt(1 + x**2) + sqrt(1 + (y-2)**2)", [1.0, 0.5]),
    ("abs(x - 0.5) + y**2", [2.0, 1.0]),
    ("tanh(x)**2 + (y - 1)**4", [0.8, 2.0]),
    ("cosh(x) + sinh(y)**2", [1.0, 0.5]),
    ("atan(x)**2 + asin(y/2)**2", [1.0, 1.0]),
    ("x**2 + y**2 + z**2 + x*y*z", [0.5, -0.3, 0.2]),
    ("e**(x*y) + pi*x**2", [0.3, 0.4]),  # not with a line search: Armijo's lr=1 bounces
    ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2", [1.0, 1.0]),
    ("x**(-2) + x**2", 2.0),
    ("20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)", [0.2, -0.1]),
    ("log10(x**2 + 1) + log2(y**2 + 1) + tan(0.1*x)", [1.0, 2.0]),
    ("max(x - 1, 0)**2 + min(x, y, 2)**2 + max(abs(x), abs(y))", [3.0, 1.0]),
    # 40 variables: more than Python passes as separate arguments.
    (" + ".join(f"(v{i} - {i % 3})**2" for i in range(40)), list(np.linspace(-1, 1, 40))),
]


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """A fresh cache folder for the generated modules of this file."""
    folder = tmp_path_factory.mktemp("descend-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DESCEND_CACHE_DIR", str(folder))
        yield folder


def same_run(fun, x0, method, **kwargs):
    """Run both engines and check they agree; the compiled Result."""
    a = dd.minimize(fun, x0, method, **kwargs)
    b = dd.minimize(fun, x0, method, engine="numba", **kwargs)
    assert (b.status, b.message, b.nit) == (a.status, a.message, a.nit)
    assert (b.nfev, b.ngev, b.method) == (a.nfev, a.ngev, a.method)
    bitwise = exact(fun)
    for name in ("x", "fun", "grad"):
        agree(getattr(b, name), getattr(a, name), bitwise, name)
    if bitwise:  # else f's last bits may pick another of nearly equal points as the best
        assert (b.best_nit, b.best_fun) == (a.best_nit, a.best_fun)
        agree(b.best_x, a.best_x, bitwise, "best_x")
    for name in ("f", "grad_norm", "lr", "x"):
        got, want = getattr(b.history, name), getattr(a.history, name)
        if want is None:
            assert got is None
        else:
            agree(got, want, bitwise, f"history.{name}")
    assert b.history.time[0] == 0.0 and np.all(np.diff(b.history.time) >= 0)
    assert b.history.time[-1] == b.elapsed and len(b.history.lr) == len(a.history.lr)
    return b


@pytest.mark.parametrize("method", NAMES)
def test_every_method_on_the_rosenbrock_formula(method):
    b = same_run(FORMULAS[1][0], FORMULAS[1][1], method, max_iter=1000, **METHODS[method])
    # BB converges in about 50 updates; the others are still in the valley after 1,000.
    assert b.status == ("converged" if method == "bb" else "max_iter")


FREE = [  # each option of the learning-rate-free rules that changes their arithmetic
    ("dog", dict(weight_decay=0.01, eps=1e-300)),
    ("prodigy", dict(use_bias_correction=True, safeguard_warmup=True, beta3=0.99)),
    ("prodigy", dict(beta1=0.0, weight_decay=0.01, decouple=False, growth_rate=1.02)),
    ("prodigy", dict(weight_decay=0.05, d_coef=2.0, lr=dd.schedules.cosine(1.0, steps=400))),
]


@pytest.mark.parametrize(("method", "options"), FREE, ids=[m for m, _ in FREE])
def test_the_options_of_dog_and_prodigy(method, options):
    # On 2-D Rosenbrock (its loop of each method is compiled above) and on 20 coordinates,
    # where the loop's dot products are NumPy's and Prodigy's sum of |s| is pairwise.
    for fun, x0 in [FORMULAS[1], (dd.functions.rosenbrock, np.linspace(-1, 1, 20))]:
        b = same_run(fun, x0, method, max_iter=1000, **options)
        assert np.all(np.isfinite(b.history.lr[1:]))  # the rule's own step, each update
        assert len(np.unique(b.history.lr[1:])) > 10
    if method == "dog":  # eta_0 needs the first gradient: NaN at the start, as in Python
        assert np.isnan(b.history.lr[0])


def test_prodigy_takes_no_step_while_the_gradient_is_zero():
    # Its s stays 0, so no estimate of d: x stays and d stays d0 (x + 0.0, as Python adds).
    b = same_run("x**4 + y**4", [0.0, -0.0], "prodigy", max_iter=5, gtol=None)
    assert b.nit == 5 and b.x.tolist() == [0.0, 0.0]
    assert b.history.lr.tolist() == [1e-6] * 6


SCHEDULE_FREE = [
    ("schedulefree_sgd", dict(lr=0.1, gtol=1e-3, max_iter=5000)),
    ("schedulefree_adamw", dict(lr=0.05, ftol=1e-10, max_iter=5000)),
    ("schedulefree_sgd", dict(lr=0.05, momentum=0.5, weight_decay=0.01, warmup_steps=20, r=1.0,
                              weight_lr_power=1.0, gtol=0.02, max_iter=5000, keep="best")),
    ("schedulefree_adamw", dict(lr=0.05, beta1=0.8, weight_decay=0.01, warmup_steps=10, r=0.5,
                                xtol=1e-6, max_iter=5000)),
]  # fmt: skip


@pytest.mark.parametrize(("method", "options"), SCHEDULE_FREE, ids=[m for m, _ in SCHEDULE_FREE])
def test_the_schedule_free_methods_answer_with_their_average(method, options):
    # The loop's point is y; an ending by convergence there is confirmed at the average
    # x (f and g evaluated there, counted), the run going on when x does not end it too,
    # and res.x, res.fun and res.grad are x's (a fresh evaluation), as in Python.
    b = same_run("(x-1)**2 + 3*y**2", [3.0, 4.0], method, **options)
    assert b.status == "converged"
    if options.get("keep") is None:
        assert not np.array_equal(b.x, b.history.x[-1])  # x, not the last y
        assert b.nfev > b.nit + 2  # x0, each update, the result, and the confirmations
    rules = ("gtol", "ftol", "xtol", "max_iter")  # and on 20 coordinates, for 300 updates
    rest = {name: value for name, value in options.items() if name not in rules}
    same_run(dd.functions.rosenbrock, np.linspace(-1, 1, 20), method, max_iter=300, **rest)


def test_a_schedule_free_run_that_ends_at_its_start_answers_there():
    b = same_run("(x-1)**2 + 3*y**2", [1.0, 0.0], "schedulefree_sgd", lr=0.1)
    assert (b.nit, b.nfev, b.x.tolist()) == (0, 2, [1.0, 0.0])


@pytest.mark.parametrize("method", ["adam", "adamw", "schedulefree_adamw"])
def test_adam_past_the_powers_of_its_betas(method):
    # beta1**t and beta2**t fall below 2**-60 after 60 and 4,139 updates; the compiled loop
    # then stops computing them, and the bias corrections stay 1.0 as they are in Python.
    f, x0 = FORMULAS[1]
    b = same_run(f, x0, method, lr=1e-3, beta1=0.5, beta2=0.99, max_iter=6000, gtol=0.0)
    assert b.nit == 6000


@pytest.mark.parametrize("k", range(len(FORMULAS)), ids=[f[:60] for f, _ in FORMULAS])
def test_formulas(k):
    formula, x0 = FORMULAS[k]
    method = NAMES[k % len(NAMES)]
    same_run(formula, x0, method, max_iter=1000, **METHODS[method])


# The zoo's other methods are in test_zoo; every (objective, method) pair costs a compile
# of about 3 s, and the suite has 10 minutes on 2 cores.
@pytest.mark.parametrize("method", ["adamw", "armijo", "bb"])
def test_the_methods_test_zoo_leaves_out_on_the_zoo_rosenbrock(method):
    same_run(dd.functions.rosenbrock, [-1.2, 1.0], method, max_iter=1000, **METHODS[method])


def quadratic_100():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((100, 100))
    return dd.functions.quadratic(M @ M.T / 100 + np.eye(100), rng.standard_normal(100))


@pytest.mark.parametrize(
    ("fun", "x0", "method"),
    [
        (dd.functions.beale, [1.0, 1.0], "adam"),
        (dd.functions.booth, [0.0, 0.0], "momentum"),
        (dd.functions.himmelblau, [0.0, 0.0], "gd"),
        (dd.functions.rastrigin, [0.2, -0.1, 0.3], "nesterov"),
        (dd.functions.rosenbrock, np.linspace(-1, 1, 20), "rmsprop"),
        (quadratic_100(), np.zeros(100), "adagrad"),
        (quadratic_100(), np.zeros(100), "gd"),
    ],
    ids=["beale", "booth", "himmelblau", "rastrigin-3", "rosenbrock-20", "quadratic-100",
         "quadratic-100-gd"],
)  # fmt: skip
def test_zoo(fun, x0, method):
    same_run(fun, x0, method, max_iter=1000, **METHODS[method])


S = dd.schedules
SCHEDULES = [  # one method each, on the formula every method is compiled for above
    ("gd", S.cosine(1e-3, steps=300, final=1e-5)),
    ("momentum", S.step(1e-3, drop=0.5, every=100)),
    ("adam", S.warmup(S.exponential(1e-2, rate=0.5, steps=100), steps=50)),
    ("adamw", S.warmup(S.warmup(S.constant(1e-2), steps=7), steps=30)),
    ("rmsprop", S.inverse_time(1e-3, decay=0.01)),
    ("armijo", S.inverse_time(1.0, decay=0.01)),
    ("bb", S.warmup(1.0, steps=3)),
]


@pytest.mark.parametrize(("method", "lr"), SCHEDULES, ids=[m for m, _ in SCHEDULES])
def test_schedules(method, lr):
    kwargs = METHODS[method] | dict(lr=lr)
    b = same_run(FORMULAS[1][0], FORMULAS[1][1], method, max_iter=1000, **kwargs)
    # history.lr: the rate at the start, then each update's, the schedule's own at t.
    if method not in ("armijo", "bb"):  # theirs: the step the search accepted
        np.testing.assert_array_equal(b.history.lr, [lr(0)] + [lr(t) for t in range(b.nit)])


def test_a_constant_rate_is_kept_as_one_number():
    # No schedule and no search: the history's lr takes no memory (a read-only view of
    # the rate, equal to the Python engine's column); a schedule's or a search's steps
    # are recorded, one per update.
    b = same_run(FORMULAS[1][0], FORMULAS[1][1], "adam", max_iter=1000, lr=1e-2)
    assert b.history.lr.strides == (0,) and not b.history.lr.flags.writeable
    assert b.history.lr.shape == (1001,) and np.all(b.history.lr == 1e-2)
    for method, lr in [("gd", S.cosine(1e-3, steps=300)), ("armijo", 1.0)]:
        r = dd.minimize(FORMULAS[1][0], FORMULAS[1][1], method, lr=lr, engine="numba")
        assert r.history.lr.strides == (8,) and len(np.unique(r.history.lr)) > 1


@pytest.mark.parametrize("method", NAMES)
def test_clip_norm(method):
    # Rosenbrock's gradient is about 230 long at the start and stays above 1 for a while.
    kwargs = METHODS[method] | dict(clip_norm=1.0)
    same_run(FORMULAS[1][0], FORMULAS[1][1], method, max_iter=1000, **kwargs)
    if method == "adam":  # with a schedule, and maximising
        kwargs |= dict(lr=S.cosine(1e-2, steps=500), maximize=True)
        same_run("-(" + FORMULAS[1][0] + ")", FORMULAS[1][1], method, max_iter=1000, **kwargs)


P = dd.projections
PROJECTIONS = [  # on the formula every method is compiled for above
    ("gd", P.box([-2.0, 0.5], [0.8, 2.0]), {}),
    ("adam", P.nonnegative(), dict(clip_norm=1.0)),
    ("nesterov", P.box(-0.5, 0.7), dict(gtol=1e-6)),
]


@pytest.mark.parametrize(
    ("method", "project", "more"), PROJECTIONS, ids=[m for m, *_ in PROJECTIONS]
)
def test_projections(method, project, more):
    kwargs = METHODS[method] | more
    b = same_run(FORMULAS[1][0], FORMULAS[1][1], method, max_iter=1000, project=project, **kwargs)
    steps = b.history.x[1:]  # every iterate after x0 is in the set
    assert np.all(steps == project(steps))
    if method == "nesterov":  # on the face x = 0.7, at y = x**2 (variables: y, x)
        assert b.status == "converged" and "projected gradient norm" in b.message
        y, x = b.x
        assert x == 0.7 and y == pytest.approx(0.49, abs=1e-6)


@numba.njit
def njit_fun(x):
    return (x[0] - 1.0) ** 2 + 10.0 * (x[1] + 0.5) ** 2 + np.sum(x[2:] ** 2)


@numba.njit
def njit_grad(x):
    g = 2.0 * x
    g[0] = 2.0 * (x[0] - 1.0)
    g[1] = 20.0 * (x[1] + 0.5)
    return g


@pytest.mark.parametrize("method", ["gd", "adam"])
def test_njit_functions(method):
    same_run(njit_fun, [3.0, 2.0, 1.0], method, grad=njit_grad, max_iter=1000, **METHODS[method])


def test_convergence_and_the_other_rules_end_the_run_alike():
    # gtol: converged early; ftol and xtol: their own words; keep and maximize too.
    f = "(x-1)**2 + 3*y**2"
    b = same_run(f, [3.0, 4.0], "gd", lr=0.1)
    assert b.status == "converged" and 0 < b.nit < 1000
    assert "gtol" in same_run(f, [3.0, 4.0], "gd", lr=0.1, gtol=1e-4).message
    assert "ftol" in same_run(f, [3.0, 4.0], "gd", lr=0.1, ftol=1e-6).message
    assert "xtol" in same_run(f, [3.0, 4.0], "gd", lr=0.1, xtol=1e-6).message
    same_run(f, [3.0, 4.0], "gd", lr=0.1, keep="best", record_x=False)
    m = same_run("-(x-1)**2 - 3*y**2", [3.0, 4.0], "gd", lr=0.1, maximize=True)
    assert m.maximize and m.fun == pytest.approx(0.0, abs=1e-12)


def test_the_start_alone_and_divergence(monkeypatch):
    f = "(x-1)**2 + 3*y**2"
    assert same_run(f, [1.0, 0.0], "gd", lr=0.1).nit == 0  # converged at the start
    assert same_run(f, [3.0, 4.0], "gd", lr=0.1, max_iter=0).nit == 0
    grew = same_run(f, [3.0, 4.0], "gd", lr=1.0)  # |1 - 6 lr| = 5: f grows 25x a step
    assert grew.status == "diverged" and "grew" in grew.message
    broke = same_run("exp(x**2)", 2.0, "gd", lr=1.0)  # exp overflows to inf
    assert broke.status == "diverged" and "non-finite" in broke.message


def test_a_history_too_big_to_allocate_whole_grows(monkeypatch):
    # It starts with a block of rows, and Python doubles it when the loop calls back.
    from descend.engines import _compiled_run

    f = "(x-1)**2 + 3*y**2"
    monkeypatch.setattr(_compiled_run, "HISTORY_BYTES", 8 * 5 * 1000)
    sizes, capacity = [], _compiled_run.Start.capacity
    monkeypatch.setattr(
        _compiled_run.Start, "capacity", lambda start: sizes.append(capacity(start)) or sizes[-1]
    )
    long = same_run(f, [3.0, 4.0], "gd", lr=1e-4, max_iter=3000)
    assert sizes == [_compiled_run.FIRST_CAPACITY + 1]
    assert long.nit == 3000 and len(long.history.f) == 3001 and len(long.history.x) == 3001
    # An update that evaluates itself, a step-size row, and no x recorded.
    same_run(FORMULAS[1][0], FORMULAS[1][1], "lbfgs", max_iter=2500, gtol=0, ftol=0, xtol=0)
    same_run(f, [3.0, 4.0], "adam", lr=1e-3, max_iter=2100, record_x=False)


def test_runs_in_threads_grow_their_own_histories(monkeypatch):
    # A run's callback finds its arrays by its thread (the playground runs in threads).
    from concurrent.futures import ThreadPoolExecutor

    from descend.engines import _compiled_run

    monkeypatch.setattr(_compiled_run, "HISTORY_BYTES", 8 * 5 * 1000)
    starts = [[3.0, 4.0], [-2.0, 1.0], [0.5, -3.0], [4.0, 4.0]]

    def both(x0):
        kwargs = dict(lr=1e-4, max_iter=3000 + int(100 * x0[0]))
        return [dd.minimize("(x-1)**2 + 3*y**2", x0, "gd", engine=e, **kwargs)
                for e in ("numba", "python")]  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        for compiled_run, python_run in pool.map(both, starts * 2):
            np.testing.assert_array_equal(compiled_run.history.x, python_run.history.x)
            np.testing.assert_array_equal(compiled_run.history.f, python_run.history.f)


def test_a_history_that_cannot_grow_raises_after_the_run(monkeypatch):
    from descend.engines import _compiled_history, _compiled_run

    class Full:  # NumPy, out of memory
        @staticmethod
        def empty(shape):
            raise MemoryError(f"cannot allocate {shape}")

    monkeypatch.setattr(_compiled_run, "HISTORY_BYTES", 8 * 5 * 1000)
    monkeypatch.setattr(_compiled_history, "np", Full)
    kwargs = dict(lr=1e-4, max_iter=3000, engine="numba")
    with pytest.raises(MemoryError, match=r"cannot allocate \(3, 2050\)"):
        dd.minimize("(x-1)**2 + 3*y**2", [3.0, 4.0], "gd", **kwargs)
    assert _compiled_history._GROWING == {}  # no run left behind
    monkeypatch.setattr(_compiled_history, "np", np)
    assert dd.minimize("(x-1)**2 + 3*y**2", [3.0, 4.0], "gd", **kwargs).nit == 3000


def test_a_gradient_whose_square_overflows():
    # g = (1e200, 2y): g.g is inf, the norm is finite; the Python loop rescales, and so
    # must the compiled one, with the step's length (xtol) measured too.
    b = same_run("1e200*x + y**2", [0.0, 1.0], "gd", lr=1e-210, max_iter=50, xtol=1e-300)
    assert b.status == "max_iter" and np.all(b.history.grad_norm == pytest.approx(1e200))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(callback=lambda info: None), "callback="),
        (dict(checkpoint="run.npz"), "checkpoint="),
        (dict(explain=True), "explain=True"),
        (dict(on_divergence="rollback"), "on_divergence='rollback'"),
        (dict(progress=True), "progress=True"),
        (dict(project=dd.projections.ball(5.0)), "the compiled projections are box and"),
        (dict(lr=lambda t: 0.1 / (1 + t)), "the compiled schedules are those of"),
        (dict(lr=dd.schedules.warmup(lambda t: 0.1, steps=5)), "lr=warmup("),
    ],
)
def test_what_it_refuses(kwargs, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match="engine='numba' cannot run this problem") as error:
        dd.minimize("(x-1)**2 + y**2", [3.0, 4.0], "gd", engine="numba", **kwargs)
    assert words in str(error.value) and "engine='python'" in str(error.value)
    # auto runs the Python loop instead, as if no engine was named.
    res = dd.minimize("(x-1)**2 + y**2", [3.0, 4.0], "gd", engine="auto", **kwargs)
    assert res.status in ("converged", "stopped", "time_limit", "max_iter")


def test_a_time_limit_stops_the_compiled_loop_as_it_stops_python():
    f = "(x-1)**2 + 4*y**2"  # compiled by no other test (test_auto_compiles_... counts)
    # Not reached: the same run as Python's.
    same_run(f, [3.0, 4.0], "momentum", lr=1e-4, max_iter=2000, time_limit=60.0)
    res = dd.minimize(f, [3.0, 4.0], "gd", lr=1e-12, max_iter=10**9, time_limit=0.05,
                      engine="numba")  # fmt: skip
    assert res.status == "time_limit" and "time_limit=0.05" in res.message
    # The clock is read every CLOCK_EVERY updates: the run stopped at such an update,
    # soon after the limit.
    assert res.nit % compiled.source.CLOCK_EVERY == 0 and 0 < res.nit < 10**9
    assert 0.05 <= res.elapsed < 1.0 and res.history.time[-1] == res.elapsed


def test_what_it_cannot_compile():
    cases = [
        (dict(fun=lambda x: x @ x, grad=lambda x: 2 * x), "is a Python function"),
        (dict(fun=njit_fun, grad=lambda x: 2 * x), "grad must be a numba.njit function"),
        (dict(fun=dd.functions.booth, grad=lambda x: dd.functions.booth.grad(x)), "grad= for"),
        (dict(method=type("MyGD", (dd.GD,), {})(lr=0.1)), "method MyGD is not compiled"),
        (dict(method=type("MyAdam", (dd.Adam,), {})()), "'gd', 'momentum'"),
        (dict(method="bb", project=dd.projections.box(-5, 5)), "projected search is not"),
    ]
    for change, words in cases:
        settings = dict(fun="(x-1)**2 + y**2", method="gd", lr=0.1) | change
        with pytest.raises(ValueError, match="cannot run this problem") as error:
            dd.minimize(settings.pop("fun"), [3.0, 4.0], engine="numba", **settings)
        assert words in str(error.value)
    x, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError, match="data="):
        dd.minimize(lambda w, X, y: 0.0, [0.0, 0.0], "gd", grad=lambda w, X, y: w, data=(x, y),
                    lr=0.1, engine="numba")  # fmt: skip
    with pytest.raises(ValueError, match="engine must be 'python', 'numba', 'auto', got 'numpy'"):
        dd.minimize("x**2", 1.0, "gd", lr=0.1, engine="numpy")


def test_without_numba_it_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now fails
    with pytest.raises(ValueError, match=r"pip install 'descend\[fast\]'"):
        dd.minimize("(x-1)**2", 3.0, "gd", lr=0.1, max_iter=10**6, engine="numba")
    res = dd.minimize("(x-1)**2", 3.0, "gd", lr=0.1, max_iter=10**6, engine="auto")
    assert res.status == "converged"  # auto fell back to Python without a word


@pytest.fixture
def compiles(monkeypatch, tmp_path):
    """The loops this test's process compiles (``CompiledRun.loop`` calls), from an empty
    cache folder and with nothing loaded, as in a new process."""
    monkeypatch.setenv("DESCEND_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiled, "_LOADED", {})
    monkeypatch.setattr(compiled, "_FUNCTIONS", {})
    calls, loop = [], compiled.CompiledRun.loop
    monkeypatch.setattr(compiled.CompiledRun, "loop", lambda self: calls.append(self) or loop(self))
    return calls


def test_auto_compiles_only_when_it_pays(compiles):
    f = "(x-1)**2 + 3*y**2"
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=100, engine="auto")
    assert not compiles  # 100 updates do not repay a compile
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=10**6, engine="auto")
    assert len(compiles) == 1
    # Compiled in this process now: even a short run takes the compiled loop.
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=100, engine="auto")
    assert len(compiles) == 2
    # A new formula of the same size shares the loop: 100,000 updates (about 1 s of the
    # Python loop) repay the compile of its own function, and 100 do not.
    g = "(x+1)**2 + 3*y**4"
    dd.minimize(g, [3.0, 4.0], "momentum", lr=0.01, max_iter=100, engine="auto")
    assert len(compiles) == 2
    assert compiled.FORMULA_COMPILE_SECONDS < 10**5 * compiled.PYTHON_UPDATE_SECONDS
    assert compiled.COMPILE_SECONDS > 10**5 * compiled.PYTHON_UPDATE_SECONDS
    dd.minimize(g, [3.0, 4.0], "momentum", lr=0.01, max_iter=10**5, engine="auto")
    assert len(compiles) == 3


def test_auto_counts_numbas_set_up_in_a_process_that_has_loaded_nothing(compiles, monkeypatch):
    f = "(x-1)**2 + 3*y**2"
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=10**6, engine="auto")
    assert len(compiles) == 1  # compiled, and cached on disk
    # As in a new process: the loop and the formula's function are on disk, and loading
    # them costs Numba's set-up too, more than 20,000 updates of the Python loop.
    monkeypatch.setattr(compiled, "_LOADED", {})
    monkeypatch.setattr(compiled, "_FUNCTIONS", {})
    assert 2 * compiled.LOAD_SECONDS < 20_000 * compiled.PYTHON_UPDATE_SECONDS
    assert compiled.SETUP_SECONDS > 20_000 * compiled.PYTHON_UPDATE_SECONDS
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=20_000, engine="auto")
    assert len(compiles) == 1
    dd.minimize(f, [3.0, 4.0], "momentum", lr=0.01, max_iter=10**5, engine="auto")
    assert len(compiles) == 2


def test_auto_expects_lbfgs_to_compile_longer(compiles):
    # 250,000 updates of the Python loop (about 2.5 s) repay a first-order loop's compile,
    # not L-BFGS's with its formula's (its search makes it the longest to compile), even
    # in a process that has paid Numba's set-up already.
    f = "(x-3)**2 + 7*y**2"
    assert dd.minimize(f, [1.0, 1.0], max_iter=250_000, engine="auto").method == "lbfgs"
    assert not compiles
    lbfgs = compiled.LBFGS_COMPILE_SECONDS + compiled.FORMULA_COMPILE_SECONDS
    assert lbfgs > 250_000 * compiled.PYTHON_UPDATE_SECONDS
    assert compiled.COMPILE_SECONDS < 250_000 * compiled.PYTHON_UPDATE_SECONDS


def test_a_new_process_loads_the_machine_code_from_the_disk_cache(tmp_path):
    cache = tmp_path / "cache"
    f, method = "(x-2)**2 + 5*y**2", "nesterov"
    code = (
        "import sys\n"
        "import descend as dd\n"
        "from descend.engines import compiled\n"
        "def counts(name):\n"
        "    stats = [getattr(m, name).stats for m in compiled._LOADED.values()\n"
        "             if hasattr(m, name)]\n"
        "    return [sum(sum(getattr(s, k).values()) for s in stats)\n"
        "            for k in ('cache_hits', 'cache_misses')]\n"
        "for f in sys.argv[1:]:\n"
        f"    dd.minimize(f, [3.0, 4.0], {method!r}, lr=0.01, engine='numba')\n"
        "    print(*counts('run'), *counts('value_and_grad'))\n"
    )
    env = dict(os.environ, DESCEND_CACHE_DIR=str(cache))

    def run(*formulas):
        out = subprocess.run([sys.executable, "-c", code, *formulas], capture_output=True,
                             text=True, env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    assert run(f) == ["0 1 0 1"]  # the loop and the formula's function compiled
    written = sorted(p.name for p in (cache / "compiled").iterdir() if p.suffix == ".py")
    assert len(written) == 2, written
    assert written[0].startswith("formula_nesterov_") and written[1].startswith("objective_")
    assert any(p.suffix == ".nbi" for p in (cache / "compiled" / "__pycache__").iterdir())
    # Both loaded, not compiled; then a formula no process has compiled compiles its own
    # function alone, its loop the one loaded already.
    assert run(f, "(x+2)**2 + 5*y**4") == ["1 0 1 0", "1 0 1 1"]
    assert len(list((cache / "compiled").glob("formula_*.py"))) == 1


def test_without_any_folder_to_cache_in_it_compiles_in_memory(tmp_path):
    # Numba's locators all decline (as where the package and the home folder are read
    # only): the kernels and the loop are compiled in the process, and the run is the same.
    code = (
        "import descend as dd\n"
        "f, x0 = '(x-1)**2 + 3*y**2', [3.0, 4.0]\n"
        "a = dd.minimize(f, x0, 'adam', lr=0.1, engine='numba')\n"
        "b = dd.minimize(f, x0, 'adam', lr=0.1)\n"
        "assert (a.x == b.x).all() and a.nit == b.nit, (a, b)\n"
        "print(a.nit)\n"
    )
    env = dict(os.environ, DESCEND_CACHE_DIR=str(tmp_path),
               NUMBA_CACHE_LOCATOR_CLASSES="IPythonCacheLocator")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 0 and not list(tmp_path.rglob("*.nbi"))  # nothing cached


def test_the_compiled_dot_is_numpys_to_the_last_bit():
    from numba import njit

    from descend.engines._compiled_kernels import BLOCK, TAIL, dot, short_dot

    call = njit(lambda a, b: dot(a, b))
    tail = njit(lambda a, b: short_dot(a, b, a.size, TAIL))  # what a loop of known size calls
    rng = np.random.default_rng(11)
    for n in range(1, 41):  # the library's short tail, its blocks of 16, and both
        for _ in range(30):
            a, b = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n), rng.standard_normal(n)
            assert call(a, b) == a.dot(b), n
            if n < BLOCK and TAIL != 0:
                assert tail(a, b) == a.dot(b), n
