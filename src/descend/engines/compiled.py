"""The compiled engine: ``minimize(..., engine="numba")`` runs the whole loop in Numba.

What it compiles: a formula string (its SymPy value and gradient, printed as NumPy code,
with the gradient's common subexpressions computed once), a test function of
:mod:`descend.functions`, or the user's own ``numba.njit`` functions ``fun(x)`` and
``grad(x)`` (a 1-D ``x0``). Methods: ``gd``, ``momentum``, ``nesterov``, ``adagrad``,
``rmsprop``, ``adam``, ``adamw``, ``armijo`` and ``bb`` (unconstrained), with a constant
learning rate or a schedule of :mod:`descend.schedules` (a warmup of a number or of one of
them; the line searches' lr is their first trial step), each rate computed in the loop as
the schedule computes it, ``clip_norm``, and ``project=`` with
:func:`descend.projections.box` or :func:`~descend.projections.nonnegative` for all but
the line searches. The stopping rules (``gtol``, ``ftol``, ``xtol``, ``max_iter``), the
divergence test, ``maximize``, ``keep``, ``record_x`` and the history are the Python
engine's; the run returns the same
:class:`~descend.Result` and :class:`~descend.History`, with the same status, message
and ``nit``, and iterates equal to the Python engine's (bit for bit where both use the
same operations: see :mod:`descend.engines._compiled_source`).

Refused, with the reason: ``callback``, ``checkpoint``, ``data``, ``explain=True``,
``on_divergence="rollback"``, ``progress=True``, ``time_limit``, any other projection (or
a projection with ``armijo`` or ``bb``), any other learning-rate schedule, any other method,
and any other objective.
``engine="auto"`` runs the Python loop instead whenever this engine would refuse, or
when the run is too short to repay compiling.

Compile once: the generated module of each (objective, method) is written to
``$DESCEND_CACHE_DIR/compiled`` (default ``~/.cache/descend/compiled``), named by a hash
of its source, and compiled with ``cache=True``, so that another process loads the
machine code from Numba's cache next to it instead of compiling again.

The history's ``time`` column holds the run's wall time spread evenly over its points:
reading a clock every update would cost more than the update.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from descend._types import Array
from descend.core import schedules
from descend.core.extensions import advise
from descend.core.optimizers import OPTIMIZERS, Optimizer
from descend.core.projections import Box, NonNegative, flat_projection
from descend.core.result import History, Result
from descend.core.stopping import Rules, non_finite, norm
from descend.gradients.formulas import Formula
from descend.gradients.objective import Objective

from . import _compiled_source as source

__all__ = ["ENGINE", "CompiledEngine", "cache_dir", "schedule_spec", "zoo_params"]

# The test functions of descend.functions with a compiled kernel (_compiled_zoo).
ZOO = ("rosenbrock", "beale", "booth", "himmelblau", "rastrigin", "quadratic")
# What engine="auto" expects to pay before the first update, and the Python loop per
# update on a small problem (benchmarks/compiled.py measures both).
COMPILE_SECONDS = 2.0
LOAD_SECONDS = 0.05
IMPORT_SECONDS = 0.4  # importing Numba itself
PYTHON_UPDATE_SECONDS = 10e-6
# The history is allocated whole when it fits in this many bytes (untouched pages cost
# nothing), else in a first block that doubles as it fills.
HISTORY_BYTES = 1 << 27
FIRST_CAPACITY = 1024
# which_broke's codes, in the words of descend.core.stopping.inspect.
BROKE = {1: "x", 2: "f", 3: "the gradient"}
INSTALL = "numba is not installed: pip install 'descend[fast]' (or pip install numba)"

_LOADED: dict[Any, Callable[..., Any]] = {}  # compiled loops of this process, by key
_FORMULAS: dict[tuple[str, tuple[str, ...]], str] = {}  # value_and_grad source by formula


def cache_dir() -> Path:
    """Where generated modules and their machine code are kept: ``$DESCEND_CACHE_DIR``,
    else ``~/.cache/descend``."""
    return Path(os.environ.get("DESCEND_CACHE_DIR") or Path.home() / ".cache" / "descend")


class CompiledEngine:
    """The engine ``"numba"`` (see the module docstring)."""

    def prepare(
        self, objective: Objective, optimizer: Optimizer, rules: dict[str, Any],
        options: dict[str, Any],
    ) -> CompiledRun | str:  # fmt: skip
        """A compiled run of this problem, or why there can be none (every reason)."""
        reasons = _option_reasons(options, rules) + _optimizer_reasons(optimizer)
        reasons += _projection_reasons(options.get("project"), optimizer)
        kind, why = _objective_kind(objective)
        reasons += [why] if why else []
        if not reasons and kind == "formula":
            try:
                part = _formula_part(objective.fun)
            except ValueError as error:
                reasons.append(str(error))
        if not reasons and not _numba_installed():
            reasons.append(INSTALL)
        if reasons:
            return "; ".join(reasons)
        fun = objective.fun
        if kind == "njit":
            run = CompiledRun(source.USER_SOURCE, optimizer.name, (fun, objective.grad), ())
        elif kind == "formula":
            run = CompiledRun(part, optimizer.name, "formula", ())
        else:
            name = fun.name  # type: ignore[attr-defined]
            extra = zoo_params(fun, objective.size)
            run = CompiledRun(source.zoo_source(name), optimizer.name, name, extra)
        run.project = options.get("project")
        return run


class CompiledRun:
    """One objective's compiled loop for one method, loaded on the first call."""

    def __init__(self, objective: str, method: str, what: Any, params: tuple[Array, ...]):
        self.method, self.params = method, params
        self.project: Any = None  # minimize's project=: a box, nonnegative() or None
        self.user = what if isinstance(what, tuple) else None  # njit (fun, grad)
        name = "njit" if self.user is not None else what
        self.source = source.module_source(objective, method, name, cache=self.user is None)
        digest = hashlib.sha256((self.source + _SALT).encode()).hexdigest()[:20]
        self.key: Any = (digest, *self.user) if self.user is not None else digest
        self.path = cache_dir() / "compiled" / f"{name}_{method}_{digest}.py"

    def startup(self) -> float:
        """Seconds expected before the first update: 0 when this process has the loop."""
        if self.key in _LOADED:
            return 0.0
        imported = 0.0 if "numba" in sys.modules else IMPORT_SECONDS
        cached = self.user is None and self.path.exists()
        return imported + (LOAD_SECONDS if cached else COMPILE_SECONDS)

    def worth(self, max_iter: int) -> bool:
        """Whether the compiled loop is expected to repay its start-up over the run."""
        return max_iter * PYTHON_UPDATE_SECONDS > self.startup()

    def loop(self) -> Callable[..., Any]:
        """The compiled ``run`` function: from this process, the disk cache, or compiled."""
        run = _LOADED.get(self.key)
        if run is None:
            run = _LOADED[self.key] = _load(self.source, self.path, self.user)
        return run

    def __call__(
        self, objective: Objective, optimizer: Optimizer, rules: dict[str, Any], x: Array,
        f: float, g: Array, record_x: bool, keep: str,
    ) -> Result:  # fmt: skip
        """Run from ``x`` (f and g known there) to an ending; the Result, as Run's."""
        started = time.perf_counter()
        projected, lower, upper = _bounds(self.project, objective.shape)
        words = "projected gradient norm" if projected else "gradient norm"
        checks = Rules(f0=f, sign=objective.sign, **rules, gradient=words)
        g = np.ascontiguousarray(g, dtype=float)
        grad_norm = norm(g)
        if projected:  # Run's start: the projected gradient norm, as gtol reads it
            project = flat_projection(self.project, x, objective.shape)
            grad_norm = norm(x - project(x - g))
        ending = checks.at_start(grad_norm)
        capacity = 1 if ending is not None else _capacity(checks.max_iter, x.size, record_x)
        rows, xs = np.empty((capacity, 3)), np.empty((capacity if record_x else 1, x.size))
        rows[0], xs[0] = (f, grad_norm, optimizer.rate(0)), x
        work = np.zeros((source.WORK_ROWS + len(source.UPDATES[self.method][0]), x.size))
        work[0], work[1], work[5], work[6] = x, g, x, g  # x, g and the best point so far
        nit, trials, evaluations, best_x, best_g = 0, 0, 0, work[5], work[6]
        best_f, best_nit = f, 0
        if ending is None:
            run = self.loop()
            started = time.perf_counter()  # a compile is not the run's own time
            hyper = source.HYPERPARAMETERS[self.method]
            rest = [float(getattr(optimizer, name)) for name in hyper[1:]]
            h = np.array([optimizer.rate(0), *rest])  # lr first: a schedule's at update 0
            # Rules keeps each disabled rule's threshold as one that cannot be met.
            out = run(
                work, rows, xs, f, self.params, h, schedule_spec(optimizer.lr),
                callable(optimizer.lr), optimizer.clip_norm or 0.0, projected, lower, upper,
                checks.max_iter,
                checks.f_limit, checks._ftol, checks._gtol, checks._xtol,
                checks.xtol is not None, objective.sign, record_x,
            )  # fmt: skip
            x, g, f, nit, broke, f_change, step_norm, grad_norm, rows, xs = out[:10]
            best_f, best_nit, trials, evaluations = out[10:]
            rows, xs = rows[: nit + 1], xs[: nit + 1]
            if len(xs) < capacity // 2:  # a run that ended early keeps only what it used
                xs = xs.copy()
            ending = (
                non_finite(nit, BROKE[broke])
                if broke
                else checks.check(nit, f, f_change, grad_norm, step_norm, 0.0)
            )
        assert ending is not None, "the compiled loop stops only where a rule fires"
        elapsed = time.perf_counter() - started
        # One evaluation per trial point of a search (with the gradient, for a search that
        # takes it: BB) and one per update, unless its point was the search's last trial.
        objective.nfev += evaluations + trials
        objective.ngev += evaluations + (trials if optimizer.trial_gradients else 0)
        sign, shape = objective.sign, objective.shape
        if keep == "best":
            x, g, f = best_x, best_g, best_f
        k = len(rows)
        history = History(
            f=sign * rows[:, 0],
            grad_norm=rows[:, 1].copy(),
            lr=rows[:, 2].copy(),
            time=np.linspace(0.0, elapsed, k),
            x=xs.reshape((k, *shape)) if record_x else None,
        )
        result = Result(
            x=x.reshape(shape),
            fun=sign * f,
            grad=np.asarray(sign * g).reshape(shape),
            nit=nit,
            nfev=objective.nfev,
            ngev=objective.ngev,
            status=ending.status,
            message=ending.message,
            history=history,
            elapsed=elapsed,
            method=optimizer.name,
            optimizer=optimizer,
            maximize=sign < 0,
            best_x=best_x.reshape(shape),
            best_fun=sign * best_f,
            best_nit=best_nit,
        )
        return advise(result, objective)


def _capacity(max_iter: int, n: int, record_x: bool) -> int:
    """History rows to allocate before the loop: all of them when they fit in
    :data:`HISTORY_BYTES`, else a first block."""
    width = 3 + (n if record_x else 0)  # f, gradient norm, lr, and x
    whole = max_iter + 1
    return whole if whole * width * 8 <= HISTORY_BYTES else min(whole, FIRST_CAPACITY + 1)


def _option_reasons(options: dict[str, Any], rules: dict[str, Any]) -> list[str]:
    """Why the settings of the run rule the compiled loop out (none: [])."""
    refused = {
        "callback": "callback= (the compiled loop cannot call Python after each update)",
        "checkpoint": "checkpoint= (the compiled loop saves nothing while it runs)",
        "data": "data= (the compiled loop takes no batches)",
    }
    reasons = [why for name, why in refused.items() if options.get(name) is not None]
    extras = options.get("extras")
    if extras is not None and extras.rollback is not None:
        reasons.append("on_divergence='rollback' (the compiled loop stops where it diverges)")
    if extras is not None and extras.explain:
        reasons.append("explain=True (the parts of each update are not recorded compiled)")
    if options.get("progress"):
        reasons.append("progress=True (the compiled loop draws no progress line)")
    if rules.get("time_limit") is not None:
        reasons.append("time_limit= (the compiled loop reads no clock)")
    return reasons


def _optimizer_reasons(optimizer: Optimizer) -> list[str]:
    """Why the optimizer rules the compiled loop out (none: [])."""
    name = optimizer.name
    if name not in source.HYPERPARAMETERS or type(optimizer) is not OPTIMIZERS.get(name):
        methods = ", ".join(repr(m) for m in source.HYPERPARAMETERS)
        what = repr(name) if type(optimizer) is OPTIMIZERS.get(name) else type(optimizer).__name__
        return [f"method {what} is not compiled (the compiled methods are {methods})"]
    if callable(optimizer.lr) and schedule_spec(optimizer.lr) is None:
        return [
            f"lr={optimizer.lr!r} (the compiled schedules are those of descend.schedules, "
            "and a warmup of a number or of one of them)"
        ]
    return []


def schedule_spec(lr: Any) -> Array | None:
    """``lr``, a schedule of :mod:`descend.core.schedules`, as the rows that the compiled
    :func:`~descend.engines._compiled_kernels.rate` reads: a warmup's row (its code and
    ``steps``) above the rows of what it warms up, a number as ``constant``; None for any
    other callable."""
    if not callable(lr):
        return np.array([[source.SCHEDULES["constant"], float(lr), 0.0, 0.0]])
    if type(lr).__module__ != schedules.__name__ or type(lr).__name__ not in source.SCHEDULES:
        return None
    code = source.SCHEDULES[type(lr).__name__]
    if type(lr).__name__ == "warmup":
        inner = schedule_spec(lr.after)
        return None if inner is None else np.vstack([[[code, float(lr.steps), 0.0, 0.0]], inner])
    fields = [float(getattr(lr, f.name)) for f in dataclasses.fields(lr)]
    return np.array([[code, *fields, *[0.0] * (3 - len(fields))]])


def _projection_reasons(project: Any, optimizer: Optimizer) -> list[str]:
    """Why ``project=`` rules the compiled loop out (none: [])."""
    if project is None:
        return []
    if type(project) not in (Box, NonNegative):
        return [f"project={project!r:.60} (the compiled projections are box and nonnegative)"]
    if optimizer.uses_fun:
        return [f"project= with {optimizer.name!r} (its projected search is not compiled)"]
    return []


def _bounds(project: Any, shape: tuple[int, ...]) -> tuple[bool, Array, Array]:
    """Whether the run projects, and the box's flat lower and upper bounds (empty if not)."""
    if project is None:
        return False, np.empty(0), np.empty(0)
    if type(project) is NonNegative:
        return True, np.zeros(shape).ravel(), np.full(shape, np.inf).ravel()
    lower, upper = (np.broadcast_to(b, shape).ravel() for b in (project.lower, project.upper))
    return True, np.ascontiguousarray(lower, float), np.ascontiguousarray(upper, float)


def _objective_kind(objective: Objective) -> tuple[str, str]:
    """``("formula" | "zoo" | "njit", "")`` for what the engine compiles, else
    ``("", why not)``."""
    fun, grad = objective.fun, objective.grad
    if type(objective) is not Objective:
        return "", "x0 of another array namespace (the compiled loop runs on NumPy arrays)"
    if isinstance(fun, Formula):
        return "formula", ""
    if type(fun).__module__ == "descend.problems.functions" and getattr(fun, "name", "") in ZOO:
        if grad == fun.grad:  # type: ignore[attr-defined]
            return "zoo", ""
        return "", f"grad= for {fun.name} (the compiled kernel has its own exact gradient)"  # type: ignore[attr-defined]
    if _is_njit(fun):
        if not _is_njit(grad):
            return "", "grad must be a numba.njit function too when fun is one"
        if len(objective.shape) != 1:
            return "", f"x0 of shape {objective.shape} (njit functions are compiled for 1-D x)"
        return "njit", ""
    return "", (
        f"fun {getattr(fun, '__name__', type(fun).__name__)!r} is a Python function; the "
        "compiled engine compiles formula strings, descend.functions test functions and "
        "numba.njit functions (fun and grad both)"
    )


def zoo_params(fun: Any, n: int) -> tuple[Array, ...]:
    """The ``params`` of the compiled kernel of the test function ``fun`` at ``n``
    coordinates: the arrays it carries, then the scratch vectors the kernel writes."""
    scratch = {"rosenbrock": (n - 1, n - 1), "rastrigin": (n,), "quadratic": (n,)}
    carried = (fun.A, fun.b) if fun.name == "quadratic" else ()
    return (*carried, *(np.empty(size) for size in scratch.get(fun.name, ())))


def _formula_part(formula: Any) -> str:
    """The formula's ``value_and_grad`` source, made once per formula in a process."""
    key = (formula.text, formula.variables)
    if key not in _FORMULAS:
        _FORMULAS[key] = source.formula_source(formula)
    return _FORMULAS[key]


def _is_njit(fun: Any) -> bool:
    """Whether ``fun`` is a Numba dispatcher (without importing Numba)."""
    return type(fun).__module__.startswith("numba.") and hasattr(fun, "py_func")


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except ValueError:  # sys.modules["numba"] is None: imports of it are blocked
        return False


def _load(text: str, path: Path, user: tuple[Any, Any] | None) -> Callable[..., Any]:
    """The ``run`` of the generated module ``text``: from the file ``path`` (written if
    missing, so that Numba caches its machine code beside it), or, for the user's own
    functions or when the cache folder cannot be written, compiled in memory."""
    name = f"descend_compiled_{path.stem}"
    if user is None:
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                partial.write_text(text)
                os.replace(partial, path)  # whole or not at all, for a process reading it
        except OSError:
            text = text.replace("cache=True", "cache=False")
        else:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module.run
    namespace: dict[str, Any] = {"__name__": name}
    if user is not None:
        namespace["user_fun"], namespace["user_grad"] = user
    exec(compile(text, f"<{name}>", "exec"), namespace)
    return namespace["run"]


def _salt() -> str:
    """What the generated modules import besides their own text: a change to these files
    gives every module a new name, so no stale machine code is loaded."""
    here = Path(__file__).parent
    parts = [(here / f"_compiled_{name}.py").read_bytes() for name in ("kernels", "zoo")]
    return hashlib.sha256(b"".join(parts)).hexdigest()


_SALT = _salt()
ENGINE = CompiledEngine()
