"""What descend costs over plain NumPy: per iteration, and per update on a long vector.

Part 1 runs ``dd.minimize`` (history on, x recorded) side by side with the loop a tutorial
would write for the same rule: evaluate f and the gradient every iteration, append x and f
to lists. Both use the same f and gradient callables. Target: at most 1.5x the hand loop.

Part 2 times one ``opt.update`` on a 10-million-element vector against the memory floor:
the bytes the rule must read and write once, at NumPy's copy bandwidth measured in the
same run. Each rule runs twice, side by side: its NumPy reference (block by block) and
its fused Numba kernel (one pass, the default on long vectors; GD has none, its one
NumPy operation being one pass), and the table says whether the two give the same step
and state bit for bit. Target: the default within 2.5x of the floor for GD, Momentum
and Adam.

Part 3 runs the same minimize from an x0 of other array namespaces (array-api-strict, and
torch's CPU build when installed) beside NumPy, on a problem written with array-API
functions: what the namespace path costs per iteration on the CPU, where every operation
of array-api-strict wraps a NumPy one. It prints no target.

Run: ``python benchmarks/overhead.py`` (under a minute). It prints; it asserts nothing.
Timings alternate between the two contenders and report medians, so that a machine busy
with other work slows both alike; on a shared machine, run it twice.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

import _timing
import descend as dd
from descend.core.optimizers import fused

REPEATS = 7  # alternating repeats of each contender; the median is reported


def interleaved(*runs):
    return _timing.interleaved(*runs, repeats=REPEATS)


def verdict(ratio, target):
    return "PASS" if ratio <= target else "MISS"


# Part 1: the loop ------------------------------------------------------------------------


def hand_gd(f, grad, x0, lr, n):
    x = np.array(x0, dtype=float)
    xs, fs = [x], [f(x)]
    for _ in range(n):
        x = x - lr * grad(x)
        xs.append(x)
        fs.append(f(x))
    return x


def hand_adam(f, grad, x0, lr, n, beta1=0.9, beta2=0.999, eps=1e-8):
    x = np.array(x0, dtype=float)
    m, v = np.zeros_like(x), np.zeros_like(x)
    xs, fs = [x], [f(x)]
    for t in range(1, n + 1):
        g = grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        xs.append(x)
        fs.append(f(x))
    return x


def same_rule(hand, f, x0, method, lr, n=50):
    """Whether both loops reach the same point after n updates (the same rule, checked).

    Short runs only: near its minimum Adam with a constant rate hovers, and there
    rounding differences of 1e-16 grow, so long runs part ways by design.
    """
    ours = dd.minimize(f, x0, method, grad=f.grad, lr=lr, max_iter=n, gtol=0).x
    return np.allclose(hand(f, f.grad, x0, lr, n), ours, rtol=1e-12, atol=1e-14)


def compare_loops(problem, f, x0, method, lr, seconds=0.25):
    hand = {"gd": hand_gd, "adam": hand_adam}[method]
    start = time.perf_counter()
    hand(f, f.grad, x0, lr, 200)
    n = max(200, round(seconds * 200 / (time.perf_counter() - start)))  # hand loop ~ seconds

    def run_hand():
        hand(f, f.grad, x0, lr, n)

    def run_ours():
        res = dd.minimize(f, x0, method, grad=f.grad, lr=lr, max_iter=n, gtol=0, record_x=True)
        assert res.nit == n, res.message  # exactly n updates, or the comparison is void

    t_hand, t_ours = (t / n * 1e6 for t in interleaved(run_hand, run_ours))
    same = "yes" if same_rule(hand, f, x0, method, lr) else "NO"
    ratio = t_ours / t_hand
    print(
        f"{problem:16} {method:6} {n:6} {t_hand:9.1f} {t_ours:9.1f} {ratio:6.2f}x"
        f"  1.5x    {verdict(ratio, 1.5):7}  {same}"
    )


def part1():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(1000, 1000)))
    A = (Q * np.geomspace(1.0, 100.0, 1000)) @ Q.T  # SPD, condition number 100
    quadratic = dd.functions.quadratic((A + A.T) / 2, rng.normal(size=1000))
    rosenbrock = dd.functions.rosenbrock
    print("\nPart 1: µs per iteration, dd.minimize (history on, x recorded) vs a hand loop")
    print(
        f"{'problem':16} {'method':6} {'N':>6} {'hand':>9} {'descend':>9} {'ratio':>7}"
        "  target  verdict  same rule"
    )
    compare_loops("rosenbrock 2-D", rosenbrock, [-1.2, 1.0], "gd", lr=5e-4)
    compare_loops("rosenbrock 2-D", rosenbrock, [-1.2, 1.0], "adam", lr=1e-2)
    compare_loops("quadratic 1000-D", quadratic, quadratic.x0, "gd", lr=1e-2)
    compare_loops("quadratic 1000-D", quadratic, quadratic.x0, "adam", lr=1e-2)


# Part 2: one update on a long vector ------------------------------------------------------

SIZE = 10_000_000  # float64: 80 MB per array
# Arrays each rule must read and write once per update (80 MB each):
#   gd        reads g;          writes step                 2
#   momentum  reads g, v;       writes v (v is the step)    3
#   nesterov  reads g, v;       writes v, step              4
#   adagrad   reads g, G;       writes G, step              4
#   rmsprop   reads g, v;       writes v, step              4
#   adam      reads g, m, v;    writes m, v, step           6
#   adamw     also reads x                                  7
ARRAYS = {"gd": 2, "momentum": 3, "nesterov": 4, "adagrad": 4, "rmsprop": 4, "adam": 6, "adamw": 7}
TARGETS = {"gd": 2.5, "momentum": 2.5, "adam": 2.5}


def same_bits(a, b):
    """Whether two (step, state) pairs hold the same arrays, bit for bit."""
    arrays = [(a[0], b[0])]
    arrays += [(p, q) for p, q in zip(a[1], b[1], strict=True) if isinstance(p, np.ndarray)]
    return all(np.array_equal(p.view(np.int64), q.view(np.int64)) for p, q in arrays)


def part2():
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=SIZE), rng.normal(size=SIZE)
    dst = x.copy()  # np.copyto(dst, x) below then writes memory that is already mapped
    print(f"\nPart 2: one update on {SIZE:,} float64 elements vs the memory floor")
    print(
        "(floor = arrays x 80 MB / copy bandwidth; copyto: into mapped memory, the strict\n"
        " floor that the ratios use; numpy: the reference, block by block; fused: the kernel,\n"
        " the default (GD has none: -lr * g is one pass); vs copy: the default against\n"
        " x.copy(), which like an update writes fresh memory; all timed alternately)"
    )
    print(
        f"{'rule':9} {'GB/s':>5} {'floor ms':>8} {'numpy ms':>8} {'ratio':>7} {'fused ms':>8}"
        f" {'ratio':>7} {'vs copy':>8}  target  verdict  same bits"
    )
    for name, cls in dd.OPTIMIZERS.items():
        if name not in ARRAYS:  # line searches and the lr-free rules: no fixed traffic
            continue
        opt = cls()
        _, state = opt.update(g, opt.init(x), x)  # warm-up: moment arrays become non-zero

        def reference(opt=opt, state=state):
            with fused.reference():
                return opt.update(g, state, x)

        def default(opt=opt, state=state):
            return opt.update(g, state, x)

        runs = [lambda: np.copyto(dst, x), x.copy, reference]
        has_kernel = fused.kernel(name, g) is not None
        if has_kernel:
            same = "yes" if same_bits(reference(), default()) else "NO"  # and compiles it
            runs.append(default)
        t_copyto, t_copy, t_numpy, *t_fused = interleaved(*runs)
        t_default = t_fused[0] if has_kernel else t_numpy
        bandwidth = 2 * x.nbytes / t_copyto
        floor = ARRAYS[name] * x.nbytes / bandwidth
        ratio, target = t_default / floor, TARGETS.get(name)
        ratio_copy = t_default / (ARRAYS[name] / 2 * t_copy)
        shown = ("", "") if target is None else (f"{target:.1f}x", verdict(ratio, target))
        kernel = f"{t_default * 1e3:8.1f} {ratio:6.2f}x" if has_kernel else f"{'-':>8} {'-':>7}"
        print(
            f"{name:9} {bandwidth / 1e9:5.1f} {floor * 1e3:8.1f} {t_numpy * 1e3:8.1f}"
            f" {t_numpy / floor:6.2f}x {kernel} {ratio_copy:7.2f}x"
            f"  {shown[0]:6}  {shown[1]:7}  {same if has_kernel else 'no kernel'}"
        )


# Part 3: the same loop from other namespaces -----------------------------------------------


def quadratic_in(xp, n):
    """f = 1/2 sum d (x - 1)^2 with d in [1, 10], written with array-API functions."""
    d = xp.asarray(np.linspace(1.0, 10.0, n))
    return (lambda x: 0.5 * xp.sum(d * (x - 1.0) ** 2)), (lambda x: d * (x - 1.0))


def part3():
    import importlib

    import array_api_compat

    spaces = {"numpy": np}
    for name in ("array_api_strict", "torch"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        spaces[name] = array_api_compat.array_namespace(module.asarray([0.0]))
    print("\nPart 3: µs per iteration, dd.minimize from x0 of each namespace (history on)")
    print(f"{'n':>6} {'method':6} " + " ".join(f"{name:>17}" for name in spaces))
    for n, method in ((2, "gd"), (2, "adam"), (1000, "adam")):
        runs = []
        for xp in spaces.values():
            fun, grad = quadratic_in(xp, n)
            x0 = xp.asarray(np.zeros(n))
            kw = dict(grad=grad, lr=0.01, max_iter=300, gtol=0)
            runs.append(lambda fun=fun, x0=x0, kw=kw, m=method: dd.minimize(fun, x0, m, **kw))
        times = [t / 300 * 1e6 for t in interleaved(*runs)]
        print(f"{n:6} {method:6} " + " ".join(f"{t:12.1f} ({t / times[0]:3.1f}x)" for t in times))


if __name__ == "__main__":
    print(
        f"descend {dd.__version__}, NumPy {np.__version__}, Python {platform.python_version()},"
        f" {os.cpu_count()} CPUs ({platform.machine()})"
    )
    part1()
    part2()
    part3()
