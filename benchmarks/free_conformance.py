"""The learning-rate-free rules against their authors' PyTorch code, iterate by iterate.

Each case runs ``dd.minimize`` (100 updates, ``gtol=0``, iterates recorded) and the
reference optimizer on a float64 torch tensor from the same start, handing both the same
NumPy gradient function at their own points. It prints, per case, the largest relative
difference of the iterates, max_t ||ours_t - ref_t||_inf / ||ref_t||_inf, and PASS when it
is at most 1e-12. For the schedule-free rules the iterates are y (the points the gradient
is taken at, in the reference's ``train()`` mode), and a second figure compares the
average x, our ``res.x`` against the reference after ``eval()``.

Problems: a 10-D quadratic f = 1/2 sum_i l_i (x_i - c_i)^2 with l_i from 1 to 1000
(log-spaced), and the 2-D Rosenbrock function from (-1.2, 1).

Run: ``python benchmarks/free_conformance.py`` (a few seconds). It needs ``torch`` and the
references ``dog-optimizer``, ``prodigyopt`` and ``schedulefree``; a reference that is not
installed is reported and skipped. It prints; it asserts nothing; it exits 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.metadata
import io
import math
import traceback
from typing import Any, NamedTuple

import numpy as np

import descend as dd
from descend.core.optimizers.free import DoG, Prodigy, ScheduleFreeAdamW, ScheduleFreeSGD
from descend.problems.functions import rosenbrock

STEPS = 100
TARGET = 1e-12

# The 10-D quadratic: condition number 1000.
CURVATURE = np.logspace(0, 3, 10)
CENTRE = np.linspace(-1.0, 1.0, 10)


def quadratic(x):
    return 0.5 * float(CURVATURE @ (x - CENTRE) ** 2)


def quadratic_grad(x):
    return CURVATURE * (x - CENTRE)


PROBLEMS = {
    "quadratic-10": (quadratic, quadratic_grad, np.full(10, 2.0)),
    "rosenbrock-2": (rosenbrock, rosenbrock.grad, np.array(rosenbrock.x0, dtype=float)),
}


class Case(NamedTuple):
    label: str
    package: str  # the reference's import name
    ours: Any  # our optimizer
    reference: str  # the reference's class in that package
    settings: dict[str, Any]  # its keyword arguments, the same hyperparameters as ours
    lr: dict[str, float] | None = None  # per problem, for both sides; None: the defaults


# Schedule-free SGD's step must stay below about 2 / ((1 - momentum) L) at curvature L.
SF_SGD_LR = {"quadratic-10": 1e-3, "rosenbrock-2": 2e-4}
PRODIGY_ON = dict(use_bias_correction=True, safeguard_warmup=True, growth_rate=1.02)
SF_ADAMW = dict(lr=0.01, warmup_steps=10, r=0.5, weight_lr_power=1.0, weight_decay=0.01)
CASES = [
    Case("DoG", "dog", DoG(), "DoG", {}),
    Case(
        "DoG weight_decay=1e-3, r_epsilon=1e-4", "dog",
        DoG(weight_decay=1e-3, r_epsilon=1e-4), "DoG", dict(weight_decay=1e-3, reps_rel=1e-4),
    ),
    Case("Prodigy", "prodigyopt", Prodigy(), "Prodigy", {}),
    Case(
        "Prodigy bias correction, safeguard warm-up, growth 1.02, decay 0.01", "prodigyopt",
        Prodigy(**PRODIGY_ON, weight_decay=0.01), "Prodigy", dict(**PRODIGY_ON, weight_decay=0.01),
    ),
    Case(
        "Prodigy beta1=0, coupled decay 0.01, d_coef=0.5, beta3=0.99", "prodigyopt",
        Prodigy(beta1=0.0, weight_decay=0.01, decouple=False, d_coef=0.5, beta3=0.99), "Prodigy",
        dict(betas=(0.0, 0.999), weight_decay=0.01, decouple=False, d_coef=0.5, beta3=0.99),
    ),
    Case("ScheduleFreeSGD", "schedulefree", ScheduleFreeSGD(), "SGDScheduleFree", {}, SF_SGD_LR),
    Case(
        "ScheduleFreeSGD warmup 10, r=1, momentum 0.8, decay 1e-3", "schedulefree",
        ScheduleFreeSGD(warmup_steps=10, r=1.0, momentum=0.8, weight_decay=1e-3),
        "SGDScheduleFree", dict(warmup_steps=10, r=1.0, momentum=0.8, weight_decay=1e-3),
        SF_SGD_LR,
    ),
    Case("ScheduleFreeAdamW", "schedulefree", ScheduleFreeAdamW(), "AdamWScheduleFree", {}),
    Case(
        "ScheduleFreeAdamW lr 0.01, warmup 10, r=0.5, power 1, betas (0.8, 0.99), decay 0.01",
        "schedulefree", ScheduleFreeAdamW(**SF_ADAMW, beta1=0.8, beta2=0.99),
        "AdamWScheduleFree", dict(**SF_ADAMW, betas=(0.8, 0.99)),
    ),
]  # fmt: skip


def ours(optimizer, fun, grad, x0):
    """Our iterates (the loop's points) and the answer res.x."""
    res = dd.minimize(fun, x0, method=optimizer, grad=grad, max_iter=STEPS, gtol=0, record_x=True)
    return np.asarray(res.history.x), np.asarray(res.x), res.message


def reference(torch, make, grad, x0, schedule_free):
    """The reference's iterates and its answer (x after eval() for schedule-free)."""
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    with contextlib.redirect_stdout(io.StringIO()):  # prodigyopt prints its decay mode
        opt = make([p])
    if schedule_free:
        opt.train()
    xs = [p.detach().numpy().copy()]
    for _ in range(STEPS):
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
        opt.step()
        xs.append(p.detach().numpy().copy())
    if schedule_free:
        opt.eval()
    return np.array(xs), p.detach().numpy().copy()


def relative(a, b):
    """max over rows of ||a_t - b_t||_inf / ||b_t||_inf."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if a.shape != b.shape:
        return math.inf
    scale = np.maximum(np.abs(b).max(axis=1), 1e-300)
    return float((np.abs(a - b).max(axis=1) / scale).max())


def verdict(diff):
    return "PASS" if diff <= TARGET else "MISS"


def load(name):
    try:
        return importlib.import_module(name), None
    except Exception as error:  # not installed, or a broken install
        return None, f"{type(error).__name__}: {error}"


def main():
    torch, why = load("torch")
    if torch is None:
        print(f"torch is not installed ({why}); every reference needs it: skipped all")
        return
    packages = {name: load(name) for name in ("dog", "prodigyopt", "schedulefree")}
    pip_names = {"dog": "dog-optimizer", "prodigyopt": "prodigyopt", "schedulefree": "schedulefree"}
    versions = []
    for pip_name in pip_names.values():
        try:
            versions.append(f"{pip_name} {importlib.metadata.version(pip_name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{pip_name} (not installed)")
    print(f"torch {torch.__version__}; " + ", ".join(versions))
    print(f"{STEPS} updates in float64; PASS when the max relative difference <= {TARGET:g}.")
    print("'1 ulp' is the reference against itself from x0 moved by one ulp: how much")
    print("rounding alone can grow on that problem.")
    print(f"\n  {'problem':<14} {'iterates':>9} {'average':>9} {'1 ulp':>9}  verdict")
    worst, compared = 0.0, 0
    for case in CASES:
        package, why = packages[case.package]
        if package is None:
            name = pip_names[case.package]
            print(f"{case.label}: skipped, {name} is not available ({why}); pip install {name}")
            continue
        print(case.label)
        schedule_free = isinstance(case.ours, (ScheduleFreeSGD, ScheduleFreeAdamW))
        for problem, (fun, grad, x0) in PROBLEMS.items():
            mine, settings = case.ours, dict(case.settings)
            if case.lr is not None:
                mine = dataclasses.replace(mine, lr=case.lr[problem])
                settings["lr"] = case.lr[problem]
            make = functools.partial(getattr(package, case.reference), **settings)

            nudged = x0.copy()
            nudged[0] = np.nextafter(nudged[0], 0.0)
            try:
                xs, answer, message = ours(mine, fun, grad, x0)
                ref_xs, ref_answer = reference(torch, make, grad, x0, schedule_free)
                ulp_xs, _ = reference(torch, make, grad, nudged, schedule_free)
            except Exception:
                print(f"  {problem:<14} failed:\n{traceback.format_exc()}")
                continue
            diff = relative(xs, ref_xs)
            average = relative(answer, ref_answer) if schedule_free else math.nan
            both = max(diff, 0.0 if math.isnan(average) else average)
            worst, compared = max(worst, both), compared + 1
            shown = "" if math.isnan(average) else f"{average:9.1e}"
            note = "" if len(xs) == STEPS + 1 else f" (ours stopped early: {message})"
            print(
                f"  {problem:<14} {diff:9.1e} {shown:>9} {relative(ulp_xs, ref_xs):9.1e}"
                f"  {verdict(both)}{note}"
            )
    if compared:
        print(f"\nworst relative difference: {worst:.1e} ({verdict(worst)}) over {compared} runs")
    else:
        print("\nno reference could run: nothing was compared")


if __name__ == "__main__":
    main()
