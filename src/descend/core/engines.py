"""The table of engines that ``minimize(..., engine=...)`` dispatches to.

The Python loop (:mod:`descend.core.loop`) is the engine ``"python"``, the default. Other
ways to run the same loop live above core, in :mod:`descend.engines`, so core never
imports them: ``descend/__init__.py`` registers a *loader* for each by name
(:func:`register_engine`), called only when a run asks for that engine, so that
``import descend`` loads none of them (nor Numba). ``"auto"`` takes the first registered
engine that can run the problem and expects to repay its start-up, else Python.

An engine is an object with ``prepare(objective, optimizer, rules, options)``, called
before any evaluation of ``fun``: it returns the reason it cannot run the problem (a
str), or a prepared run, callable as ``run(objective, optimizer, rules, x, f, g,
record_x, keep) -> Result`` once f and g at the start are known, with
``worth(max_iter) -> bool`` saying whether its start-up is repaid over ``max_iter``
updates. ``rules`` is :func:`descend.core.minimize.stopping_rules`'s dict; ``options``
holds minimize's other settings that an engine may refuse.

Many runs in one call: inside :func:`deferred`, a ``minimize`` whose engine's prepared
run has a ``many(jobs) -> list[Result]`` (a static method) does not run; it returns its
:class:`Job` instead, and :func:`finish` then hands every deferred job of that engine to
one ``many`` call (the compiled engine runs them in parallel), putting each Result in
its job's place. :func:`descend.sweep` and :func:`descend.multistart` run this way.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, cast

from descend._validate import closest
from descend.core.result import Result

__all__ = [
    "Engine", "Job", "Prepared", "deferred", "dispatch", "engine_names", "finish",
    "register_engine", "select_engine",
]  # fmt: skip


class Prepared(Protocol):
    """A run an engine has prepared (compiled, loaded) for one problem."""

    def worth(self, max_iter: int) -> bool: ...

    def __call__(
        self, objective: Any, optimizer: Any, rules: dict[str, Any], x: Any, f: float, g: Any,
        record_x: bool, keep: str,
    ) -> Result: ...  # fmt: skip


class Engine(Protocol):
    def prepare(
        self, objective: Any, optimizer: Any, rules: dict[str, Any], options: dict[str, Any]
    ) -> Prepared | str: ...


@dataclasses.dataclass(eq=False)
class Job:
    """A prepared run with all it needs to start: ``prepared(objective, ...)`` as called."""

    prepared: Prepared
    objective: Any
    optimizer: Any
    rules: dict[str, Any]
    x: Any
    f: float
    g: Any
    record_x: bool
    keep: str

    def __call__(self) -> Result:
        return self.prepared(
            self.objective, self.optimizer, self.rules, self.x, self.f, self.g, self.record_x,
            self.keep,
        )  # fmt: skip


_LOADERS: dict[str, Callable[[], Engine]] = {}
# The jobs put off by minimize inside deferred(): None outside it.
_DEFERRED: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar(
    "descend_deferred", default=None
)


def register_engine(name: str, loader: Callable[[], Engine]) -> None:
    """Make ``engine=name`` run through the engine that ``loader()`` returns (called on
    first use; registering a name again replaces its loader)."""
    if not isinstance(name, str) or name in ("python", "auto"):
        raise ValueError(f"an engine's name must be a new str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {loader!r:.60}")
    _LOADERS[name] = loader


def engine_names() -> tuple[str, ...]:
    """The values ``engine=`` accepts: ``"python"``, the registered engines, ``"auto"``."""
    return ("python", *_LOADERS, "auto")


def select_engine(
    engine: Any, objective: Any, optimizer: Any, rules: dict[str, Any], **options: Any
) -> Prepared | None:
    """The prepared run of ``engine`` for this problem, or None for the Python loop.

    Raises
    ------
    ValueError
        ``engine`` names no engine, or the engine named cannot run this problem (the
        message says why, and that ``engine="python"`` runs it).
    """
    names = engine_names()
    if engine not in names:
        hint = closest(engine, names) if isinstance(engine, str) else ""
        raise ValueError(
            f"engine must be {', '.join(repr(n) for n in names)}, got {engine!r}{hint}"
        )
    if engine == "python":
        return None
    chosen = [engine] if engine != "auto" else list(_LOADERS)
    for name in chosen:
        prepared = _LOADERS[name]().prepare(objective, optimizer, rules, options)
        if isinstance(prepared, str):
            if engine == "auto":
                continue  # auto falls back without a word
            raise ValueError(
                f"engine={engine!r} cannot run this problem: {prepared}; engine='python' "
                "(the default) runs it"
            )
        if engine != "auto" or prepared.worth(rules["max_iter"]):
            return prepared
    return None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within this block, ``minimize`` returns the :class:`Job` of a run whose engine runs
    many at once, in place of its Result; pass what it returned to :func:`finish`."""
    token = _DEFERRED.set([])
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def dispatch(job: Job) -> Result:
    """``job()``, or, inside :func:`deferred` and when its engine runs many at once, the
    job itself, to be run by :func:`finish`."""
    pending = _DEFERRED.get()
    if pending is None or not hasattr(type(job.prepared), "many"):
        return job()
    pending.append(job)
    return cast(Result, job)  # a placeholder that finish() replaces


def finish(outcomes: Sequence[Result | Job]) -> list[Result]:
    """``outcomes`` with every :class:`Job` replaced by its Result, the jobs of each engine
    run by one call of its ``many``."""
    results: list[Any] = list(outcomes)
    by_engine: dict[type, list[int]] = {}
    for i, outcome in enumerate(results):
        if isinstance(outcome, Job):
            by_engine.setdefault(type(outcome.prepared), []).append(i)
    for kind, places in by_engine.items():
        ran = kind.many([results[i] for i in places])  # type: ignore[attr-defined]
        for i, res in zip(places, ran, strict=True):
            results[i] = res
    return results
