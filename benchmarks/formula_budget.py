"""Time to parse, differentiate, evaluate and take the Hessian of hostile formulas.

The cases are the table of ``tests/gradients/test_formula_budget.py`` (nested
``log(abs(...))``, long products, power towers, deep mixed compositions, long sums), each
timed from a cold SymPy cache in one process, after one warm-up formula has paid for
SymPy's first imports. For each stage it prints the seconds, marked "refused" where a
derivative went over the node budget (the time is then that of the refusal), and the
worst of all. Before the budget, SymPy's ``diff`` took 40 s for ``log(abs(...))`` 14 deep
(ending in an error), 69 s for the Hessian of a 100-factor product and 27 s for 90
``sin`` factors. Target (the issue's): every stage of every case under 1 s on the 2-core
development machine.

Run: ``python benchmarks/formula_budget.py`` (about 20 seconds). It prints; it asserts nothing.
"""

from __future__ import annotations

import runpy
import time
from pathlib import Path

import numpy as np
from sympy.core.cache import clear_cache

import descend as dd

TABLE = Path(__file__).parents[1] / "tests" / "gradients" / "test_formula_budget.py"


def stages(text: str) -> list[tuple[str, float, bool]]:
    """(stage, seconds, refused) for parse, f and grad, value_and_grad, Hessian."""
    times: list[tuple[str, float, bool]] = []
    formula = None
    x = None
    for stage in ("parse", "f, grad", "value_and_grad", "hessian"):
        start = time.perf_counter()
        try:
            if formula is None:
                formula = dd.parse(text)
                x = np.linspace(0.15, 0.45, len(formula.variables))
            elif stage == "f, grad":
                formula(x), formula.grad(x)
            elif stage == "value_and_grad":
                formula.value_and_grad(x)
            else:
                formula.hessian(x)
        except ValueError:
            times.append((stage, time.perf_counter() - start, True))
            break
        times.append((stage, time.perf_counter() - start, False))
    return times


def main() -> None:
    cases = runpy.run_path(str(TABLE))["CASES"]
    stages("sin(x)*cos(y) + tan(x)*asin(y/2) + atan(x)*exp(y) + log(abs(x)) + sqrt(y)**x")
    worst = 0.0
    print(f"{'class':22} {'formula':34} stages (s)")
    for kind, text, _ in cases:
        clear_cache()
        with np.errstate(all="ignore"):
            timed = stages(text)
        worst = max([worst, *(t for _, t, _ in timed)])
        shown = ", ".join(f"{s} {t:.2f}{' refused' * refused}" for s, t, refused in timed)
        print(f"{kind:22} {text[:32]:34} {shown}", flush=True)
    print(f"worst stage: {worst:.2f} s (target: under 1 s)")


if __name__ == "__main__":
    main()
