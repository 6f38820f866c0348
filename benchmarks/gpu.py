"""descend on a CUDA GPU through PyTorch: the registry's conformance, and Adam at scale.

Part 1 runs every optimizer in the registry from a CUDA float64 tensor on three smooth
problems and compares the iterates with the same run from NumPy (relative 1e-12).

Part 2 runs Adam on 10^8 float32 parameters of f(x) = 1/2 sum d (x - c)^2 (d in [1, 10]):

- the step time of descend's ``Adam.update`` plus ``x + step``, against
  ``torch.optim.Adam(fused=True)`` on the same gradient, alternately timed (target: 1.3x);
- no host sync inside the update: the timed updates run under
  ``torch.cuda.set_sync_debug_mode("error")``, which raises at any synchronising call;
- the iterates after the timed updates against a float64 NumPy run of the same updates
  (relative 1e-5, float32's rounding over a few dozen steps);
- ``dd.minimize`` itself on the same problem: one read from the device per update.

Run: ``python benchmarks/gpu.py`` (a few minutes on one GPU). Without torch or without a
CUDA device it prints why and exits 0. It prints; it asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import descend as dd

SIZE = 10**8
STEPS = 20  # timed Adam updates, each side
TARGET = 1.3


def problems(xp, device):
    """(fun, grad, x0) of three smooth problems in namespace ``xp``."""
    d = xp.asarray([1.0, 3.0, 10.0, 0.5], dtype=xp.float64, device=device)
    c = xp.asarray([0.5, -1.0, 2.0], dtype=xp.float64, device=device)
    return {
        "rosenbrock": (
            lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2,
            lambda x: xp.stack(
                [-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200 * (x[1] - x[0] ** 2)]
            ),
            [-1.2, 1.0],
        ),
        "quadratic": (
            lambda x: 0.5 * xp.sum(d * (x - 1.0) ** 2),
            lambda x: d * (x - 1.0),
            [0.0, 2.0, -1.0, 3.0],
        ),
        "log_cosh": (
            lambda x: xp.sum(xp.log(xp.cosh(x - c))),
            lambda x: xp.tanh(x - c),
            [3.0, 1.0, -2.0],
        ),
    }


def part1(torch, xp):
    print("Part 1: the registry on CUDA float64 vs NumPy, 25 updates each")
    worst, on_host = 0.0, problems(np, None)
    for method in dd.OPTIMIZERS:
        for name, (fun, grad, x0) in problems(xp, "cuda").items():
            kw = dict(max_iter=25, gtol=0)
            if method not in ("armijo", "bb", "lbfgs", "dog", "prodigy"):
                kw["lr"] = 1e-3 if name == "rosenbrock" else 0.05
            f_np, g_np, _ = on_host[name]
            ref = dd.minimize(f_np, np.array(x0), method, grad=g_np, **kw)
            x = torch.tensor(x0, dtype=torch.float64, device="cuda")
            res = dd.minimize(fun, x, method, grad=grad, **kw)
            assert res.x.device.type == "cuda", res.x.device
            diff = np.abs(ref.history.x - res.history.x) / np.maximum(1, abs(ref.history.x))
            err = float(np.max(diff))
            worst = max(worst, err)
            print(f"  {method:20} {name:11} max rel. difference {err:.1e}")
    print(f"  worst {worst:.1e} (target 1e-12): {'PASS' if worst <= 1e-12 else 'MISS'}")


def part2(torch):
    print(f"\nPart 2: Adam on {SIZE:,} float32 parameters")
    gen = torch.Generator(device="cuda").manual_seed(0)
    d = 1 + 9 * torch.rand(SIZE, device="cuda", generator=gen)
    c = torch.randn(SIZE, device="cuda", generator=gen)
    x0 = torch.randn(SIZE, device="cuda", generator=gen)
    grad = lambda x: d * (x - c)  # noqa: E731
    opt = dd.Adam(lr=1e-2)

    # descend's update, under the sync checker: any read of a value raises.
    x, state = x0.clone(), opt.init(x0)
    ours = []
    torch.cuda.synchronize()
    for _ in range(STEPS):
        g = grad(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        torch.cuda.set_sync_debug_mode("error")
        step, state = opt.update(g, state, x)
        x = x + step
        torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
        ours.append(time.perf_counter() - start)

    p = torch.nn.Parameter(x0.clone())
    reference = torch.optim.Adam([p], lr=1e-2, fused=True)
    theirs = []
    for _ in range(STEPS):
        p.grad = grad(p.detach())
        torch.cuda.synchronize()
        start = time.perf_counter()
        reference.step()
        torch.cuda.synchronize()
        theirs.append(time.perf_counter() - start)
    t_ours, t_theirs = statistics.median(ours[2:]), statistics.median(theirs[2:])
    ratio = t_ours / t_theirs
    print(
        f"  ms/update: descend {t_ours * 1e3:.2f}, torch.optim.Adam(fused=True) "
        f"{t_theirs * 1e3:.2f}: {ratio:.2f}x (target {TARGET}x) "
        f"{'PASS' if ratio <= TARGET else 'MISS'}; no host sync inside the update: PASS"
    )

    # The same updates in float64 NumPy, from the same start.
    xh, dh, ch = (t.double().cpu().numpy() for t in (x0, d, c))
    ref_state = opt.init(xh)
    for _ in range(STEPS):
        step, ref_state = opt.update(dh * (xh - ch), ref_state, xh)
        xh = xh + step
    ours_h, torch_h = x.double().cpu().numpy(), p.detach().double().cpu().numpy()
    for who, values in (("descend", ours_h), ("torch fused", torch_h)):
        rel = float(np.max(np.abs(values - xh) / np.maximum(1.0, np.abs(xh))))
        print(f"  {who:11} vs float64 NumPy after {STEPS} updates: max rel. {rel:.1e} "
              f"(target 1e-5) {'PASS' if rel <= 1e-5 else 'MISS'}")  # fmt: skip

    res = dd.minimize(lambda x: 0.5 * torch.sum(d * (x - c) ** 2), x0, "adam", grad=grad,
                      lr=1e-2, max_iter=STEPS, gtol=0)  # fmt: skip
    per = res.elapsed / res.nit
    print(f"  dd.minimize: {per * 1e3:.2f} ms/update ({per / t_ours:.2f}x the bare update), "
          f"res.x on {res.x.device}, dtype {res.x.dtype}")  # fmt: skip


def main() -> int:
    try:
        import torch
    except ImportError:
        print("skipped: PyTorch is not installed (pip install torch); nothing was run")
        return 0
    if not torch.cuda.is_available():
        print("skipped: torch sees no CUDA device; nothing was run")
        return 0
    import array_api_compat

    xp = array_api_compat.array_namespace(torch.zeros(1))
    print(f"descend {dd.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}")
    part1(torch, xp)
    part2(torch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
