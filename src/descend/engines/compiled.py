"""The compiled engine: ``minimize(..., engine="numba")`` runs the whole loop in Numba.

What it compiles: a formula string (its SymPy value and gradient, printed as NumPy code,
with the gradient's common subexpressions computed once; ``min`` and ``max`` and their
slopes as NumPy computes them), a test function of
:mod:`descend.functions`, or the user's own ``numba.njit`` functions ``fun(x)`` and
``grad(x)`` (a 1-D ``x0``). Methods: ``gd``, ``momentum``, ``nesterov``, ``adagrad``,
``rmsprop``, ``adam``, ``adamw``, ``armijo``, ``bb`` (unconstrained), ``lbfgs`` (the
default method; see :mod:`descend.engines._compiled_lbfgs`) and the learning-rate-free
``dog``, ``prodigy``, ``schedulefree_sgd`` and ``schedulefree_adamw`` (every option of
theirs; see :mod:`descend.engines._compiled_free`): every method of the registry, with a
constant
learning rate or a schedule of :mod:`descend.schedules` (a warmup of a number or of one of
them; the line searches' lr is their first trial step), each rate computed in the loop as
the schedule computes it, ``clip_norm``, and ``project=`` with
:func:`descend.projections.box` or :func:`~descend.projections.nonnegative` for all but
the line searches. The stopping rules (``gtol``, ``ftol``, ``xtol``, ``max_iter``,
``time_limit``), the divergence test, ``maximize``, ``keep``, ``record_x`` and the history
are the Python engine's; the run returns the same :class:`~descend.Result` and
:class:`~descend.History`, with the same status, message and ``nit``, and iterates equal
to the Python engine's (bit for bit where both use the same operations: see
:mod:`descend.engines._compiled_source`). One difference: the compiled loop reads the
clock every :data:`~descend.engines._compiled_source.CLOCK_EVERY` updates, not after
each, so a run past its ``time_limit`` stops at the first such update after it.

Refused, with the reason: ``callback``, ``checkpoint``, ``data``, ``explain=True``,
``on_divergence="rollback"``, ``progress=True``, any other projection (or a projection
with ``armijo`` or ``bb``), any other learning-rate schedule, any other optimizer (a
subclass or a class of the user's), and any other objective.
``engine="auto"`` runs the Python loop instead whenever this engine would refuse, or
when the run is too short to repay its start-up (compiling, or loading from the disk
cache, and in a process that has loaded no compiled loop yet, Numba's own set-up).

Many runs in one call: the runs that :func:`descend.sweep`, :func:`descend.multistart`
and the playground make in this process reach :meth:`CompiledRun.many` together (see
:func:`descend.core.engines.deferred`). Those of one objective, method and set of
loop settings (the number of updates and the other rules, the projection, a schedule
or not) run in one call of the generated ``run_many``, in parallel over runs (Numba's
``prange``, one thread per core), each with its own start, hyperparameters, rate and
``clip_norm``, and each gets the Result it would get alone, bit for bit. A call holds
at most :data:`MANY_BYTES` of history; runs whose own history passes
:data:`HISTORY_BYTES`, or that end at their start, run alone. A run's ``elapsed`` is
its own time in the loop.

Compile once: the generated module of each objective, method and set of the loop's
:class:`~descend.engines._compiled_source.Features` (a schedule, a projection, xtol,
``clip_norm``, ``maximize``), made for the objective's number of coordinates (a
formula's, or any below 16, so that its loops are written out), is written to
``$DESCEND_CACHE_DIR/compiled`` (default ``~/.cache/descend/compiled``), named by a hash
of its source, of the files it imports and of how NumPy's dot sums here, and compiled
with ``cache=True``, so that another process loads the machine code from Numba's cache
next to it instead of compiling again. A formula's loop is not the formula's own: it
calls the formula's compiled ``value_and_grad`` through its address (one of Numba's
first-class functions, :class:`~numba.core.types.function_type.CompileResultWAP`), and
that function has a module of its own (``objective_<hash>.py``,
:mod:`descend.engines._compiled_formula`). So one loop serves every formula of its
method, features and size, and a new formula compiles one small function (0.1-0.4 s)
once its loop is cached; the price is a call that the loop cannot inline (about 10 ns
an update on 2-D Rosenbrock). The helpers the loops call on rare paths are cached by
Numba beside :mod:`descend.engines._compiled_kernels`, once for all loops, and so is
L-BFGS's update (:mod:`descend.engines._compiled_search`), which its loops call through
addresses too, so that no loop links and optimises that code again.

The history's ``time`` column holds the run's time in the loop spread evenly over its
points: reading a clock every update would cost more than the update. Its ``lr`` column
is recorded only where the step size changes (a schedule, a line search); otherwise it
is a read-only view of the one rate, so that a long run's history takes f, the gradient
norm, the time and x alone.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from descend._types import Array
from descend.core.engines import Job
from descend.core.optimizers import OPTIMIZERS, Optimizer
from descend.core.projections import Box, NonNegative
from descend.core.result import Result
from descend.gradients.formulas import Formula
from descend.gradients.objective import Objective

from . import _compiled_objective as objective_source
from . import _compiled_source as source
from ._compiled_formula import SIGNATURE, formula_source
from ._compiled_run import Start, many, schedule_spec
from ._dot_tail import small_dot_tail

__all__ = ["ENGINE", "CompiledEngine", "cache_dir", "schedule_spec", "zoo_params"]

# The test functions of descend.functions with a compiled kernel (_compiled_zoo).
ZOO = ("rosenbrock", "beale", "booth", "himmelblau", "rastrigin", "quadratic")
# What engine="auto" expects to pay before the first update (a loop's first compile,
# L-BFGS's larger, a formula's own function, the load of a cached module), and the Python
# loop per update on a small problem (benchmarks/compiled.py measures them).
COMPILE_SECONDS = 1.7
LBFGS_COMPILE_SECONDS = 2.4
FORMULA_COMPILE_SECONDS = 0.4
LOAD_SECONDS = 0.025
IMPORT_SECONDS = 0.4  # importing Numba itself
# Numba's own set-up, once a process, on its first compile or load of a cached function:
# the registries of its typing and lowering, which import NumPy's and SciPy's linear
# algebra among them (0.4-0.5 s here, whatever is compiled).
SETUP_SECONDS = 0.45
PYTHON_UPDATE_SECONDS = 10e-6
INSTALL = "numba is not installed: pip install 'descend[fast]' (or pip install numba)"

_LOADED: dict[Any, Any] = {}  # the generated modules of this process, by key
_FORMULAS: dict[tuple[str, tuple[str, ...]], str] = {}  # a formula's own module, by formula
_FUNCTIONS: dict[str, Any] = {}  # a formula's compiled function, by its module's key


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
        fun, project = objective.fun, options.get("project")
        features = source.Features(
            scheduled=callable(optimizer.lr),
            projected=project is not None,
            step_norm=rules.get("xtol") is not None,
            clipped=bool(optimizer.clip_norm),
            maximize=objective.sign < 0,
        )
        if kind == "njit":
            text = objective_source.user_source(objective.size)
            run = CompiledRun(text, optimizer.name, features, (fun, objective.grad))
        elif kind == "formula":
            calls = objective_source.formula_calls(objective.size)
            run = CompiledRun(calls, optimizer.name, features, "formula", formula=part)
        else:
            name = fun.name  # type: ignore[attr-defined]
            text = objective_source.zoo_source(name, objective.size)
            run = CompiledRun(text, optimizer.name, features, name)
            run.params = zoo_params(fun, objective.size)
        run.project, run.size = project, objective.size
        return run


class CompiledRun:
    """One objective's compiled loop for one method, loaded on the first call."""

    def __init__(
        self, objective: str, method: str, features: source.Features, what: Any,
        formula: str | None = None,
    ) -> None:  # fmt: skip
        self.method, self.features = method, features
        self.params: Any = ()  # what the objective is given: arrays, or a formula's function
        self.kernels: tuple[Any, ...] = ()  # the update's kernels the loop calls by address
        self.project: Any = None  # minimize's project=: a box, nonnegative() or None
        self.size = 0  # the number of coordinates
        self.user = what if isinstance(what, tuple) else None  # njit (fun, grad)
        self.name = name = "njit" if self.user is not None else what
        self.source, digest = _module(objective, method, features, name)
        self.path = cache_dir() / "compiled" / f"{name}_{method}_{digest}.py"
        self.loop_key: Any = (digest, *self.user) if self.user is not None else digest
        self.formula = formula  # the formula's own module, whose function params becomes
        if formula is not None:
            self.formula_key = _digest(formula)
            self.formula_path = cache_dir() / "compiled" / f"objective_{self.formula_key}.py"
        # What the run compiles, all of it: the loop, and the formula's function.
        self.key: Any = self.loop_key if formula is None else (digest, self.formula_key)

    def startup(self) -> float:
        """Seconds expected before the first update: 0 when this process has the loop and
        the formula's function; Numba's set-up too when it has loaded no compiled module."""
        seconds = SETUP_SECONDS if not _LOADED else 0.0
        if self.loop_key not in _LOADED:
            cached = self.user is None and self.path.exists()
            compiles = LBFGS_COMPILE_SECONDS if self.method == "lbfgs" else COMPILE_SECONDS
            seconds += LOAD_SECONDS if cached else compiles
        if self.formula is not None and self.formula_key not in _LOADED:
            seconds += LOAD_SECONDS if self.formula_path.exists() else FORMULA_COMPILE_SECONDS
        return seconds + (IMPORT_SECONDS if seconds and "numba" not in sys.modules else 0.0)

    def worth(self, max_iter: int) -> bool:
        """Whether the compiled loop is expected to repay its start-up over the run."""
        return max_iter * PYTHON_UPDATE_SECONDS > self.startup()

    def loop(self) -> Any:
        """The generated module, with its compiled ``run`` and ``run_many``: from this
        process, the disk cache, or compiled (each function on its first call); and a
        formula's function in :attr:`params`, compiled or loaded now."""
        module = _LOADED.get(self.loop_key)
        if module is None:
            module = _LOADED[self.loop_key] = _load(self.source, self.path, self.user)
        if self.formula is not None:
            self.params = _function(self.formula, self.formula_key, self.formula_path)
        if self.method == "lbfgs":
            self.kernels = _lbfgs_kernels()
        return module

    def carried(self) -> Any:
        """What the objective carries, which many runs share: the quadratic's arrays, a
        formula's function (once :meth:`loop` has loaded it)."""
        if self.formula is not None:
            return self.params
        return self.params[: objective_source.ZOO_CARRIED.get(self.name, 0)]

    def identity(self) -> tuple[Any, ...]:
        """What tells this run's compiled objective from another's: its code (the loop's,
        a formula's) and the arrays it carries."""
        shared = () if self.formula is not None else tuple(map(id, self.carried()))
        return (self.key, *shared)

    def __call__(
        self, objective: Objective, optimizer: Optimizer, rules: dict[str, Any], x: Array,
        f: float, g: Array, record_x: bool, keep: str,
    ) -> Result:  # fmt: skip
        """Run from ``x`` (f and g known there) to an ending; the Result, as Run's."""
        start = Start(Job(self, objective, optimizer, rules, x, f, g, record_x, keep))
        work, rows, xs = start.arrays(1, start.capacity())
        start.fill(work[0], rows[0], xs[0])
        if start.ending is not None:
            return start.result(work[0], rows[0], xs[0], None)
        floats, ints = np.empty(6), np.zeros(6, dtype=np.int64)
        loop = self.loop()  # before self.params: a formula's function is loaded with it
        from ._compiled_history import Growing  # Numba's, imported with the loop

        with Growing(rows[0], xs[0]) as history:  # the arrays it ended in, grown or not
            loop.run(
                work[0], rows[0], xs[0], f, self.params, *self.kernels, start.h,
                start.schedule, start.clip, start.lower, start.upper, *start.rules(), floats,
                ints,
            )  # fmt: skip
        return start.result(work[0], history[0], history[1], (floats, ints))

    @staticmethod
    def many(jobs: list[Job]) -> list[Result]:
        """The runs of ``jobs``, those of one problem, method and set of rules in one
        parallel call, the others one by one (see the module docstring)."""
        return many(jobs)


def _function(text: str, key: str, path: Path) -> Any:
    """The ``value_and_grad`` of a formula's module ``text`` as the loops' first-class
    function (its machine code's address): compiled once per process, or loaded from the
    disk cache at ``path``."""
    function = _FUNCTIONS.get(key)
    if function is None:
        module = _LOADED.get(key)
        if module is None:
            module = _LOADED[key] = _load(text, path, None)
        function = _FUNCTIONS[key] = _first_class(module.value_and_grad, SIGNATURE)
    return function


@functools.cache
def _lbfgs_kernels() -> tuple[Any, ...]:
    """L-BFGS's kernels as the loop calls them, by address (see
    :data:`~descend.engines._compiled_search.ADDRESSED`): compiled once for all loops, or
    loaded from Numba's cache."""
    from . import _compiled_search as search

    return tuple(_first_class(getattr(search, name), s) for name, s in search.ADDRESSED.items())


def _first_class(dispatcher: Any, signature: str) -> Any:
    """The compiled ``dispatcher`` for ``signature`` as a first-class function, which a loop
    calls through its address (compiled now, or loaded from Numba's cache)."""
    from numba.core import sigutils, typing

    arguments, returns = sigutils.normalize_signature(signature)
    return _addressed()(dispatcher.get_compile_result(typing.signature(returns, *arguments)))


@functools.cache
def _addressed() -> type:
    """Numba's CompileResultWAP with its Numba type made once: Numba types such an argument
    anew on every call of a loop (10 µs here, a tenth of a short run's call)."""
    from numba.core import types
    from numba.core.types.function_type import CompileResultWAP
    from numba.extending import typeof_impl

    class Addressed(CompileResultWAP):
        def __init__(self, cres: Any) -> None:
            super().__init__(cres)
            self.numba_type = types.FunctionType(self.signature())

    typeof_impl.register(Addressed)(lambda value, context: value.numba_type)
    return Addressed


@functools.lru_cache(maxsize=256)
def _module(objective: str, method: str, features: source.Features, name: str) -> tuple[str, str]:
    """The generated module's source and the hash that names it (made once per process:
    a sweep prepares the same module for each of its runs)."""
    text = source.module_source(objective, method, features, name, cache=name != "njit")
    return text, _digest(text)


def _digest(text: str) -> str:
    """The hash that names a generated module of source ``text`` (see :func:`_salt`)."""
    return hashlib.sha256((text + _salt()).encode()).hexdigest()[:20]


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


def _projection_reasons(project: Any, optimizer: Optimizer) -> list[str]:
    """Why ``project=`` rules the compiled loop out (none: [])."""
    if project is None:
        return []
    if type(project) not in (Box, NonNegative):
        return [f"project={project!r:.60} (the compiled projections are box and nonnegative)"]
    if optimizer.uses_fun:
        return [f"project= with {optimizer.name!r} (its projected search is not compiled)"]
    return []


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
    """The formula's own module source, made once per formula in a process."""
    key = (formula.text, formula.variables)
    if key not in _FORMULAS:
        _FORMULAS[key] = formula_source(formula)
    return _FORMULAS[key]


def _is_njit(fun: Any) -> bool:
    """Whether ``fun`` is a Numba dispatcher (without importing Numba)."""
    return type(fun).__module__.startswith("numba.") and hasattr(fun, "py_func")


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except ValueError:  # sys.modules["numba"] is None: imports of it are blocked
        return False


def _load(text: str, path: Path, user: tuple[Any, Any] | None) -> Any:
    """The generated module ``text``: from the file ``path`` (written if
    missing, so that Numba caches its machine code beside it), or, for the user's own
    functions or when there is no cache (the folder cannot be written, or Numba finds no
    folder it may keep its cache in), compiled in memory."""
    name = f"descend_compiled_{path.stem}"
    if user is None:
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                partial.write_text(text)
                os.replace(partial, path)  # whole or not at all, for a process reading it
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        except (OSError, RuntimeError) as error:  # no cache: the module compiled in memory
            if isinstance(error, RuntimeError) and "cannot cache" not in str(error):
                raise  # only Numba's "cannot cache function ...: no locator available"
            sys.modules.pop(name, None)
            text = text.replace("cache=True", "cache=False")
    namespace: dict[str, Any] = {"__name__": name}
    if user is not None:
        namespace["user_fun"], namespace["user_grad"] = user
    exec(compile(text, f"<{name}>", "exec"), namespace)
    return types.SimpleNamespace(**namespace)


@functools.cache
def _salt() -> str:
    """What a generated module's machine code holds besides its own text: the files it
    imports and how NumPy's dot sums here. A change to either gives every module a new
    name, so no stale machine code is loaded."""
    here = Path(__file__).parent
    names = ("kernels", "zoo", "search", "history")
    parts = [(here / f"_compiled_{name}.py").read_bytes() for name in names]
    parts.append(str(small_dot_tail()).encode())
    return hashlib.sha256(b"".join(parts)).hexdigest()


ENGINE = CompiledEngine()
