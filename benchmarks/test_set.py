"""Time to solution on the Moré–Garbow–Hillstrom test set: descend's methods against SciPy.

The problems (``_mgh.py``): all 35 of J. J. Moré, B. S. Garbow and K. E. Hillstrom,
"Testing Unconstrained Optimization Software", ACM TOMS 7(1):17–41, 1981, from their
standard starting points, each a sum of squares f = Σ r_i(x)² with an exact Jacobian
(gradient 2 Jᵀ r). A self-check first compares every gradient with central differences
(``dd.check_grad``, relative error < 1e-6; where the default step's error is over 1e-7,
the best of it and six other steps) at x0 and at a point near it, and each refined minimum value
with the figure the paper prints; a failure prints FAIL.

The solvers: every method in ``dd.OPTIMIZERS`` at its defaults, as
``dd.minimize(f, x0, method=name, grad=g, gtol=1e-8, max_iter=10_000, time_limit=5)``,
and SciPy's ``minimize`` with ``method="L-BFGS-B"`` and ``method="CG"``
(``jac=g``, ``options=dict(gtol=1e-8, maxiter=10_000)``, the rest at SciPy's defaults;
L-BFGS-B also stops on its relative reduction test, ftol 2.2e-9). descend's gtol bounds
the gradient's 2-norm, SciPy's its largest entry.

Solved: the final f, f at the returned x (evaluated outside the count), is within 1e-6
relative of a published minimum f*: |f - f*| <= 1e-6 * max(1, |f*|). Where the paper
publishes several minima (Freudenstein–Roth 0 and 48.9842, Bard, Kowalik–Osborne, Biggs
EXP6, Brown almost-linear) any of them counts, and so does the trigonometric function's
local minimum 2.79506e-5, which later suites list; ``--verbose`` marks these with ``*``.

Evaluations: f and the gradient go through the same counting wrappers for every solver,
counted separately; "evals" is the larger of the two counts, the points at which a
method asked for f, g or both (SciPy's L-BFGS-B asks for both at every point; descend's
loop evaluates f at every iterate for its history; line searches add f-only trials).
Times are wall-clock seconds of one run, counting wrappers included.

The table gives, per solver: problems solved of N, the median evals and the median time
on the problems it solved, and the total time over all N. Targets, on the problems both
solve: ``lbfgs`` solves at least as many as L-BFGS-B, with a median evals ratio ≤ 1.0;
``bb`` has a median evals ratio to L-BFGS-B ≤ 2.0.

Run: ``python benchmarks/test_set.py`` (about two minutes on two cores, 14 methods;
``--quick`` for eight problems; ``--verbose`` adds a table of evals per problem and
solver). It prints; it asserts nothing. BLAS is held to one thread (with threadpoolctl,
where installed): a second thread stalls SciPy's L-BFGS-B on a busy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy
from scipy.optimize import minimize as scipy_minimize

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # installed with descend[models]; without it BLAS keeps its threads
    threadpool_limits = None

import descend as dd
from _mgh import PROBLEMS, Minimum, Problem

RTOL = 1e-6  # the solved criterion, relative to max(1, |f*|)
GTOL = 1e-8
MAX_ITER = 10_000
TIME_LIMIT = 5.0  # seconds, per descend run: a guard; runs end by max_iter long before
CHECK_TOL = 1e-6  # the gradient self-check
STEPS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)  # its other steps, relative to max(1, |x_i|)
QUICK = (1, 2, 5, 7, 12, 14, 21, 30)  # MGH numbers
SCIPY = ("L-BFGS-B", "CG")


@dataclass
class Run:
    f: float
    nf: int
    ng: int
    seconds: float
    ending: str  # how the run stopped, in a word
    reached: Minimum | None

    @property
    def evals(self) -> int:
        return max(self.nf, self.ng)


class Counted:
    """A problem's f and gradient, each counting its calls."""

    def __init__(self, problem: Problem) -> None:
        self.problem, self.nf, self.ng = problem, 0, 0

    def f(self, x):
        self.nf += 1
        return self.problem.f(x)

    def g(self, x):
        self.ng += 1
        return self.problem.grad(x)


def solve(solver: str, problem: Problem) -> Run:
    counted = Counted(problem)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if solver in SCIPY:
                options = dict(gtol=GTOL, maxiter=MAX_ITER)
                res = scipy_minimize(
                    counted.f, problem.x0, jac=counted.g, method=solver, options=options
                )
                ending = "converged" if res.success else "stopped"
            else:
                res = dd.minimize(
                    counted.f, problem.x0, method=solver, grad=counted.g, gtol=GTOL,
                    max_iter=MAX_ITER, time_limit=TIME_LIMIT,
                )  # fmt: skip
                ending = str(res.status.value)
            seconds = time.perf_counter() - start
            fx = problem.f(res.x)
    except Exception as error:  # a method that raises has not solved the problem
        seconds = time.perf_counter() - start
        return Run(np.nan, counted.nf, counted.ng, seconds, type(error).__name__, None)
    reached = problem.reached(fx, RTOL) if np.isfinite(fx) else None
    return Run(fx, counted.nf, counted.ng, seconds, ending, reached)


# Self-check -------------------------------------------------------------------------------


def gradient_error(problem: Problem, x: np.ndarray) -> tuple[float, float, float]:
    """check_grad at x: (the error, the default step's error, the step factor c used).

    With the default step (h ~ 6e-6 max(1, |x_i|)) where its error is under a tenth of the
    tolerance, else the smallest over it and h = c max(1, |x_i|), c = 1e-3 ... 1e-8. The
    default is too short for Brown badly scaled, where f ~ 1e12 and its rounding swamps
    the difference, and too long where f varies on scales much shorter than 1 (Osborne
    1's exponentials in x4, x5 ~ 0.01 with t up to 320). A correct gradient agrees at some
    step; a wrong one is off by far more than the tolerance at every step.
    """
    with np.errstate(all="ignore"):
        default = dd.check_grad(problem.f, problem.grad, x)
        if default < CHECK_TOL / 10:
            return default, default, 0.0
        scale = np.maximum(1, abs(x))
        errors = {c: dd.check_grad(problem.f, problem.grad, x, step=c * scale) for c in STEPS}
    best = min(errors, key=errors.__getitem__)
    return (errors[best], default, best) if errors[best] < default else (default, default, 0.0)


def self_check(problems: list[Problem]) -> bool:
    print(f"\nSelf-check: {len(problems)} problems of Moré, Garbow & Hillstrom (1981)")
    print(
        f"{'#':>2} {'problem':42} {'n':>2} {'m':>2}  {'grad err x0':>11}  {'at x1':>7}"
        "  published minima (refined f)"
    )
    failures = 0
    for p in problems:
        shift = np.random.default_rng(p.number).uniform(-1, 1, p.n)
        x1 = p.x0 + 0.1 * np.maximum(abs(p.x0), 0.1) * shift  # a generic point near x0
        checks = [gradient_error(p, p.x0), gradient_error(p, x1)]
        bad = [error for error, _, _ in checks if not error < CHECK_TOL]
        bad += [m.printed for m in p.minima if not m.matches_printed()]
        failures += bool(bad)
        minima = ", ".join(
            m.printed if m.f == float(m.printed) else f"{m.printed} ({m.f:.10g})" for m in p.minima
        )
        flag = "  <-- FAIL" if bad else ""
        (e0, _, _), (e1, _, _) = checks
        print(f"{p.number:2} {p.name:42} {p.n:2} {p.m:2}  {e0:11.1e}  {e1:7.1e}  {minima}{flag}")
        for where, (error, default, c) in zip(("x0", "x1"), checks, strict=True):
            if c:
                print(f"{'':6}at {where}: default step {default:.1e}, c = {c:g}: {error:.1e}")
    if failures:
        print(f"FAIL: {failures} problem(s) failed the self-check; the results below are void")
    else:
        print(
            f"all gradients agree with central differences (< {CHECK_TOL:g}); every refined"
            " minimum matches the paper's printed figure"
        )
    return not failures


# Tables -----------------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def summary(results: dict[str, list[Run]], n: int) -> None:
    print(f"\nSummary over {n} problems (evals = max(f calls, gradient calls))")
    print(
        f"{'solver':18} {'solved':>7} {'median evals':>13} {'median ms':>10} {'total s':>8}"
        "  (medians over the problems solved)"
    )
    for solver, runs in results.items():
        solved = [run for run in runs if run.reached]
        label = f"scipy {solver}" if solver in SCIPY else solver
        evals = f"{median([run.evals for run in solved]):.0f}" if solved else "-"
        ms = f"{median([run.seconds * 1e3 for run in solved]):.2f}" if solved else "-"
        total = sum(run.seconds for run in runs)
        print(f"{label:18} {len(solved):3} /{n:2} {evals:>13} {ms:>10} {total:8.1f}")


def ratio_to(results: dict[str, list[Run]], solver: str, peer: str) -> tuple[float, int]:
    """The median of solver's evals over peer's, on the problems both solve."""
    both = [
        (a, b)
        for a, b in zip(results[solver], results[peer], strict=True)
        if a.reached and b.reached
    ]
    return median([a.evals / b.evals for a, b in both]), len(both)


def targets(results: dict[str, list[Run]]) -> None:
    print("\nTargets (against scipy L-BFGS-B, on the problems both solve)")
    peer = results["L-BFGS-B"]
    peer_solved = sum(bool(run.reached) for run in peer)
    if "lbfgs" in results:
        solved = sum(bool(run.reached) for run in results["lbfgs"])
        ratio, both = ratio_to(results, "lbfgs", "L-BFGS-B")
        verdict = "PASS" if solved >= peer_solved and ratio <= 1.0 else "MISS"
        print(
            f"lbfgs: solves {solved} against {peer_solved} (target ≥), median evals ratio"
            f" {ratio:.2f} on {both} (target ≤ 1.0): {verdict}"
        )
    else:
        print("lbfgs not in the registry yet")
    if "bb" in results:
        ratio, both = ratio_to(results, "bb", "L-BFGS-B")
        verdict = "PASS" if ratio <= 2.0 else "MISS"
        print(f"bb: median evals ratio {ratio:.2f} on {both} (target ≤ 2.0): {verdict}")
    else:
        print("bb not in the registry")


SHORT = {"max_iter": "max", "diverged": "div", "time_limit": "time", "converged": "conv"}


def per_problem(results: dict[str, list[Run]], problems: list[Problem]) -> None:
    """Evals where solved (* at a local published minimum), else how the run ended."""
    solvers = list(results)
    print("\nEvals per problem where solved (* a published local minimum); else how it ended")
    labels = [s.replace("schedulefree_", "sf_")[:8] for s in solvers]
    print(f"{'#':>2} {'problem':24}" + "".join(f" {label:>8}" for label in labels))
    for i, p in enumerate(problems):
        cells = []
        for solver in solvers:
            run = results[solver][i]
            if run.reached:
                star = "" if run.reached.where == "global" else "*"
                cells.append(f"{run.evals}{star}")
            else:
                cells.append(SHORT.get(run.ending, run.ending)[:8])
        name = p.name.split(" (")[0][:24]  # without the sizes
        print(f"{p.number:2} {name:24}" + "".join(f" {c:>8}" for c in cells))
    print(
        "conv: stopped by its own test (descend: gtol) away from every published minimum;"
        " max: max_iter; div: diverged; stopped: SciPy reported failure"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK)} problems only")
    parser.add_argument("--verbose", action="store_true", help="a table per problem too")
    args = parser.parse_args()
    problems = [p for p in PROBLEMS if not args.quick or p.number in QUICK]
    print(
        f"descend {dd.__version__}, NumPy {np.__version__}, SciPy {scipy.__version__},"
        f" Python {platform.python_version()}, {os.cpu_count()} CPUs ({platform.machine()}),"
        f" BLAS {'on one thread' if threadpool_limits else 'at its default threads'}"
    )
    self_check(problems)
    start = time.perf_counter()
    solvers = [*dd.OPTIMIZERS, *SCIPY]
    # One BLAS thread: these problems are tiny, and on a busy machine a second thread
    # stalls each BLAS call of SciPy's L-BFGS-B, up to half a second a run.
    one_thread = threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()
    with one_thread:
        results = {solver: [solve(solver, p) for p in problems] for solver in solvers}
    summary(results, len(problems))
    targets(results)
    if args.verbose:
        per_problem(results, problems)
    elapsed = time.perf_counter() - start
    print(f"\n{len(solvers)} solvers x {len(problems)} problems in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
